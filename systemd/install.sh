#!/usr/bin/env bash
# Install broadcaster as a systemd service (run as root, from a checkout of the repository):
#
#   sudo systemd/install.sh            install or upgrade, enable and (re)start the service
#   sudo systemd/install.sh --root DIR install into another root (an image being built):
#                                      no apt, no running systemd, the unit is only enabled
#
# It creates the system user `broadcaster` (in the `audio` group), a virtualenv in
# /opt/broadcaster/venv with the package and the listener page's npm packages (the WebAssembly
# Opus decoder, in venv/share/broadcaster: from the checkout's node_modules when
# scripts/setup.sh made it, else by npm ci), /etc/broadcaster/broadcaster.toml (only if there
# is none: your config is never overwritten), /etc/default/broadcaster (likewise) and the unit.
# Running it again changes nothing unless the source or the unit changed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root=""
while [ $# -gt 0 ]; do
    case "$1" in
        --root) root="${2:?--root needs a directory}"; shift 2 ;;
        --root=*) root="${1#--root=}"; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done
root="${root%/}"

say() { printf '\033[1m[install]\033[0m %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { echo "install.sh: run it as root (sudo $0)" >&2; exit 1; }

prefix="$root/opt/broadcaster"
venv="$prefix/venv"
etc="$root/etc/broadcaster"
unit_dir="$root/etc/systemd/system"
packages=(python3 python3-venv python3-dev gcc libopus0 portaudio19-dev libasound2-plugins alsa-utils)
# The page's npm packages: the app serves them from $vendor/node_modules (see broadcaster/app.py).
vendor="$venv/share/broadcaster"
decoder_js="node_modules/opus-decoder/dist/opus-decoder.min.js"
checkout_npm=0  # the checkout's node_modules is complete and newer than the lock
[ -f "$here/$decoder_js" ] && ! [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ] &&
    checkout_npm=1
vendor_current=0
cmp -s "$here/package-lock.json" "$vendor/package-lock.json" && [ -f "$vendor/$decoder_js" ] &&
    vendor_current=1
[ "$vendor_current" -eq 0 ] && [ "$checkout_npm" -eq 0 ] && ! command -v npm >/dev/null &&
    packages+=(npm)

# -- system packages (not into another root: that is the image builder's job) ----------
if [ -z "$root" ]; then
    missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        say "installing system packages: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

# -- the user ---------------------------------------------------------------------------
root_args=()
[ -n "$root" ] && root_args=(--root "$root")
if ! grep -q '^broadcaster:' "$root/etc/passwd"; then
    say "creating system user broadcaster (group audio)"
    useradd "${root_args[@]}" --system --user-group --groups audio \
        --home-dir /var/lib/broadcaster --no-create-home --shell /usr/sbin/nologin \
        --comment "broadcaster service" broadcaster
fi

# -- the package, in its own virtualenv -------------------------------------------------
# The stamp is a hash of the source: the same source is not installed twice.
source_id="$(cd "$here" && find broadcaster listener_web pyproject.toml -type f \
             -not -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum |
             sha256sum | cut -c1-16)"
stamp="$prefix/installed-from"
package_changed=0
if [ ! -x "$venv/bin/broadcaster" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$source_id" ]; then
    package_changed=1
    say "installing the package into ${venv#"$root"}"
    mkdir -p "$prefix"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    log="$prefix/pip.log"
    if ! { "$venv/bin/python" -m pip install --upgrade pip &&
           "$venv/bin/python" -m pip install --upgrade "$here"; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        say "pip failed (full log: $log)"
        exit 1
    fi
    echo "$source_id" >"$stamp"
fi

# -- the page's npm packages, beside the package in the virtualenv --------------------------
if [ "$vendor_current" -eq 0 ]; then
    say "installing the page's npm packages into ${vendor#"$root"}"
    rm -rf "$vendor.new"
    mkdir -p "$vendor.new"
    install -m 0644 "$here/package.json" "$here/package-lock.json" "$vendor.new/"
    log="$prefix/npm.log"
    if [ "$checkout_npm" -eq 1 ]; then
        cp -R "$here/node_modules" "$vendor.new/"
    elif ! command -v npm >/dev/null; then
        say "npm is missing: the page plays only in browsers with WebCodecs (install npm, run again)"
    elif ! (cd "$vendor.new" && npm ci --ignore-scripts --no-audit --no-fund) >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        say "npm ci failed (full log: $log)"
        exit 1
    fi
    if [ -f "$vendor.new/$decoder_js" ]; then
        rm -rf "$vendor"
        mv "$vendor.new" "$vendor"
    else
        rm -rf "$vendor.new"
    fi
fi

# -- config: the user's is never overwritten ---------------------------------------------
install -d -m 0755 "$etc"
if [ ! -e "$etc/broadcaster.toml" ]; then
    say "writing ${etc#"$root"}/broadcaster.toml (edit it, then: systemctl reload broadcaster)"
    install -m 0644 "$here/configs/broadcaster.toml" "$etc/broadcaster.toml"
fi
if [ ! -e "$root/etc/default/broadcaster" ]; then
    install -d -m 0755 "$root/etc/default"
    cat >"$root/etc/default/broadcaster" <<'EOF'
# Extra command-line arguments for the broadcaster service, e.g.
#   BROADCASTER_ARGS="--source mic:USB --port 8080"
BROADCASTER_ARGS=""
EOF
fi

# -- the unit ----------------------------------------------------------------------------
install -d -m 0755 "$unit_dir"
unit_changed=0
if ! cmp -s "$here/systemd/broadcaster.service" "$unit_dir/broadcaster.service"; then
    say "installing the unit ${unit_dir#"$root"}/broadcaster.service"
    install -m 0644 "$here/systemd/broadcaster.service" "$unit_dir/broadcaster.service"
    unit_changed=1
fi

if [ -n "$root" ]; then
    systemctl --root="$root" enable broadcaster.service >/dev/null 2>&1 ||
        systemctl --root="$root" enable broadcaster.service
    say "installed into $root; the service starts when that system boots"
    exit 0
fi
if [ ! -d /run/systemd/system ]; then
    say "systemd is not running here: the unit is installed but nothing was started"
    exit 0
fi
[ "$unit_changed" -eq 1 ] && systemctl daemon-reload
systemctl enable --now broadcaster.service
if [ "$package_changed" -eq 1 ] || [ "$unit_changed" -eq 1 ]; then
    systemctl restart broadcaster.service  # an upgrade: run the new code
fi
port="$(sed -n 's/^port *= *\([0-9]*\).*/\1/p' "$etc/broadcaster.toml" | head -n1)"
say "running: open http://$(hostname).local:${port:-8000}/ · logs: journalctl -u broadcaster -f"
