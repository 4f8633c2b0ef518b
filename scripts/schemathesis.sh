#!/usr/bin/env bash
# Outside fuzzing: schemathesis (from PyPI) against the example server's own
# GET /openapi.json, on a free loopback port over a fresh SQLite file.
# Every documented operation is called with generated valid and invalid
# input, anonymously and with a signed-in user's credentials (a session
# cookie with its CSRF token, and a bearer token); every answer must be a
# non-5xx that the document allows (status, content type, body schema).
#
#   scripts/schemathesis.sh [extra `st run` options]
#
# SCHEMATHESIS_MAX_EXAMPLES (default 100) bounds the cases per operation.
# The venv is kept in target/ (SCHEMATHESIS_VENV to move it); .ci/run
# installs it, and tests/tests/schemathesis.rs runs this script.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

venv=${SCHEMATHESIS_VENV:-${CARGO_TARGET_DIR:-target}/schemathesis-venv}
case $venv in /*) ;; *) venv=$root/$venv ;; esac
if [ ! -x "$venv/bin/st" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis>=4,<5"
fi

# EXAMPLE_BINARY: a built example server (the Rust test passes its own).
binary=${EXAMPLE_BINARY:-}
if [ -z "$binary" ]; then
  cargo build --quiet -p example-web-and-api
  binary=${CARGO_TARGET_DIR:-target}/debug/example-web-and-api
fi

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

export DATABASE_URL="sqlite://$work/example.db"
export CRUDAUTH_SECRET_KEY=schemathesis-secret-key-of-at-least-32-bytes
# The second factor's routes too (the key: 32 bytes, in base64).
export CRUDAUTH_MFA_KEY=c2NoZW1hdGhlc2lzLW1mYS1rZXktb2YtMzItYnl0ZXM=
export RUST_LOG=error
# The signed-in user is a superuser (made by the admin command), so that
# superuser-only routes are reached too.
password="schemathesis passphrase"
printf '%s\n' "$password" | "$binary" create-user --superuser --email fuzz@example.com

CRUDAUTH_ADDR=127.0.0.1:0 "$binary" >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$work/stdout" 2>/dev/null && break
  sleep 0.1
done
base=$(sed -n 's/^listening on //p' "$work/stdout")
[ -n "$base" ] || { echo "the example did not start:" >&2; cat "$work/stderr" >&2; exit 1; }
echo "example server at $base"

# The user's credentials: a session (cookie and CSRF token) and a bearer token.
login=$(curl -fsS -D "$work/login.headers" -H 'content-type: application/json' \
  -d "{\"username\":\"fuzz@example.com\",\"password\":\"$password\"}" "$base/login")
csrf=$(printf '%s' "$login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')
session=$(grep -i '^set-cookie: [^=]*session_id=' "$work/login.headers" | head -n1 | sed 's/^[^:]*: [^=]*=//; s/;.*//')
token=$(curl -fsS -H 'content-type: application/json' \
  -d "{\"username\":\"fuzz@example.com\",\"password\":\"$password\"}" "$base/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

status=0
run() {
  # From the scratch directory: schemathesis keeps its case cache in
  # the working directory, which is not the repository's to hold.
  (cd "$work" && ST_SESSION=$session ST_CSRF=$csrf ST_TOKEN=$token \
    "$venv/bin/st" --config-file "$root/scripts/schemathesis.toml" run "$base/openapi.json" \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-100}" \
    --workers 1 \
    --seed 1 \
    "$@") || status=$?
}
# First every route that leaves the credentials alive, so that the guarded
# routes are reached signed in; then everything, the routes that end
# sessions and tokens included (the credentials die on the way, which the
# document allows for: 401).
echo "== pass 1: signed in, session-ending routes excluded"
run --exclude-path-regex '^/(logout|logout-all|change-password)$' "$@"
echo "== pass 2: every route"
run "$@"

if grep -q 'panicked' "$work/stderr"; then
  echo "the server panicked:" >&2
  cat "$work/stderr" >&2
  status=1
fi
exit "$status"
