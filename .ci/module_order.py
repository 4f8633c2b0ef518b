#!/usr/bin/env python3
"""Checks that the runtime crate's modules depend one way.

lib.rs declares the top-level modules in order; a module (its file or its
folder) may name only modules declared above it, through `crate::x` or
`super::x` paths in `use` lines or code. Prints the edges that point
upwards (none when the order holds) and exits non-zero if there are any.
"""
import pathlib
import re
import sys

src = pathlib.Path(__file__).resolve().parent.parent / "crudauth" / "src"
lib = (src / "lib.rs").read_text()
order = re.findall(r"^mod (\w+);", lib, re.M)
rank = {name: i for i, name in enumerate(order)}


def files_of(module):
    single = src / f"{module}.rs"
    folder = src / module
    if single.exists():
        return [single]
    return sorted(folder.rglob("*.rs"))


def strip_tests(text):
    # Unit tests may reach anywhere in the crate.
    cut = text.find("#[cfg(test)]")
    cut2 = text.find("#[cfg(all(test")
    cuts = [c for c in (cut, cut2) if c >= 0]
    return text[: min(cuts)] if cuts else text


bad = []
for module in order:
    for path in files_of(module):
        text = strip_tests(path.read_text())
        text = re.sub(r"//.*", "", text)
        used = set(re.findall(r"\bcrate::(\w+)", text))
        # `use crate::{a, b::c}` groups
        for group in re.findall(r"\bcrate::\{([^}]*)\}", text, re.S):
            used.update(re.findall(r"(?:^|,)\s*(\w+)", group))
        for other in sorted(used):
            if other in rank and rank[other] > rank[module]:
                bad.append(f"{path.relative_to(src)}: {module} uses {other}, declared below it")

for line in bad:
    print(line)
print(f"{len(order)} modules, {len(bad)} upward dependencies")
sys.exit(1 if bad else 0)
