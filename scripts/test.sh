#!/usr/bin/env bash
# Set up everything the tests need (first run only), then run the whole suite:
# lint and types, the JavaScript unit tests, and pytest (unit, real HTTP, virtual
# microphone through PyAudio, the page in headless Chromium, Firefox ESR and WebKitGTK).
# Extra arguments go to pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh" --dev
cd "$here"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "ruff"
.venv/bin/ruff check broadcaster tests bench
step "mypy"
.venv/bin/mypy
step "tsc (the listener page's JavaScript types)"
tools/node_modules/.bin/tsc -p tsconfig.json
step "node --test"
node --test tests/js/
step "pytest"
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure" >&2
    exit 1
fi
exit "$rc"
