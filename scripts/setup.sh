#!/usr/bin/env bash
# Set up everything broadcaster needs on Debian 12 / Raspberry Pi OS (Bookworm):
# system packages, a virtualenv in .venv, the package itself, and the listener page's npm
# packages in node_modules (the WebAssembly Opus decoder, pinned by package-lock.json).
#   scripts/setup.sh          runtime only
#   scripts/setup.sh --dev    also what the test suite needs (PulseAudio, Chromium, Firefox ESR,
#                             WebKitGTK's WebDriver and MiniBrowser, Xvfb, Node.js, dev extras, the
#                             type checker and puppeteer-core in tools/node_modules, nats-server
#                             for the edges' tests)
#   scripts/setup.sh --bench  also what `python -m bench.peers` compares with (Icecast2, DarkIce, snapserver)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dev=0
bench=0
for arg in "$@"; do
    case "$arg" in
        --dev) dev=1 ;;
        --bench) bench=1 ;;
        *) printf 'usage: %s [--dev] [--bench]\n' "$0" >&2; exit 2 ;;
    esac
done

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

runtime_pkgs=(python3 python3-venv python3-dev gcc libopus0 portaudio19-dev libasound2-plugins alsa-utils)
# The page is tested in three engines: Chromium, Firefox ESR and WebKitGTK (WebKitWebDriver
# drives its MiniBrowser, which needs a display: Xvfb). Debian's builds, never a download.
dev_pkgs=(pulseaudio pulseaudio-utils chromium firefox-esr webkit2gtk-driver xvfb nodejs systemd
          iproute2 mosquitto ffmpeg opus-tools nats-server)
bench_pkgs=(icecast2 darkice snapserver)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        say "need root to install system packages: run as root or install sudo"; exit 1; fi
}

missing=()
wanted=("${runtime_pkgs[@]}")
[ "$dev" -eq 1 ] && wanted+=("${dev_pkgs[@]}")
[ "$bench" -eq 1 ] && wanted+=("${bench_pkgs[@]}")
for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js from another source (nvm, NodeSource) counts as present.
if [ "$dev" -eq 1 ] && command -v node >/dev/null; then
    missing=("${missing[@]/nodejs}")
fi
# npm installs the page's WebAssembly Opus decoder; Node.js from NodeSource brings its own.
command -v npm >/dev/null || missing+=(npm)
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing system packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

py="${PYTHON:-python3}"
if [ ! -x "$here/.venv/bin/python" ]; then
    say "creating virtualenv in .venv"
    "$py" -m venv "$here/.venv"
fi
stamp="$here/.venv/.installed-$dev"
if [ ! -f "$stamp" ] || [ "$here/pyproject.toml" -nt "$stamp" ]; then
    say "installing the broadcaster package into .venv"
    target="$here"
    [ "$dev" -eq 1 ] && target="$here[dev]"
    log="$here/.venv/pip.log"
    if ! { "$here/.venv/bin/python" -m pip install --upgrade pip &&
           "$here/.venv/bin/python" -m pip install -e "$target"; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        say "pip failed (full log: $log)"
        exit 1
    fi
    touch "$stamp"
fi

# npm_ci DIR LOG: install DIR's npm packages as its package-lock.json pins them (no install
# scripts, and never a browser download: the tests drive the browsers Debian installed).
npm_ci() {
    if ! (cd "$1" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund) >"$2" 2>&1; then
        tail -n 30 "$2" >&2
        say "npm ci failed (full log: $2)"
        exit 1
    fi
}

# The page's third-party browser code: never in git, served by the app from node_modules.
if [ ! -f "$here/node_modules/opus-decoder/dist/opus-decoder.min.js" ] ||
   [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
    say "installing the page's npm packages into node_modules"
    npm_ci "$here" "$here/.venv/npm.log"
fi

# The test suite's own npm tools (the type checker; puppeteer-core, which drives Firefox), in
# tools/node_modules: never shipped.
if [ "$dev" -eq 1 ] && { [ ! -x "$here/tools/node_modules/.bin/tsc" ] ||
        [ ! -f "$here/tools/node_modules/puppeteer-core/package.json" ] ||
        [ "$here/tools/package-lock.json" -nt "$here/tools/node_modules/.package-lock.json" ]; }; then
    say "installing the test tools into tools/node_modules"
    npm_ci "$here/tools" "$here/.venv/npm-tools.log"
fi
