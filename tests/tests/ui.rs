//! Compile-time behaviour of the macros: every documented form compiles,
//! every misuse fails with the committed message and span.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/authed/pass/*.rs");
    t.compile_fail("ui/authed/fail/*.rs");
    t.pass("ui/auth_user/pass/*.rs");
    t.compile_fail("ui/auth_user/fail/*.rs");
}
