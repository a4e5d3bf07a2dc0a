#!/usr/bin/env bash
# Set everything up (first run only) and start the broadcaster.
# Extra arguments go to the broadcaster, e.g. scripts/run.sh --source tone:1000 --port 8080
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
config="$here/configs/broadcaster.toml"
[ -f "$here/broadcaster.toml" ] && config="$here/broadcaster.toml"  # a local, untracked override
exec "$here/.venv/bin/broadcaster" --config "$config" "$@"
