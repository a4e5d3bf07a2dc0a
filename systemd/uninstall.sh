#!/usr/bin/env bash
# Remove the broadcaster service: the unit, /opt/broadcaster and its state.
#   sudo systemd/uninstall.sh            keep /etc/broadcaster and the user
#   sudo systemd/uninstall.sh --purge    remove those too
#   add --root DIR to work on another root, as install.sh does
set -euo pipefail

root=""
purge=0
while [ $# -gt 0 ]; do
    case "$1" in
        --root) root="${2:?--root needs a directory}"; shift 2 ;;
        --root=*) root="${1#--root=}"; shift ;;
        --purge) purge=1; shift ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        *) echo "uninstall.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done
root="${root%/}"
say() { printf '\033[1m[uninstall]\033[0m %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { echo "uninstall.sh: run it as root" >&2; exit 1; }

if [ -n "$root" ]; then
    systemctl --root="$root" disable broadcaster.service >/dev/null 2>&1 || true
elif [ -d /run/systemd/system ]; then
    systemctl disable --now broadcaster.service 2>/dev/null || true
fi
rm -f "$root/etc/systemd/system/broadcaster.service"
[ -z "$root" ] && [ -d /run/systemd/system ] && systemctl daemon-reload
rm -rf "$root/opt/broadcaster" "$root/var/lib/broadcaster"
say "removed the service and /opt/broadcaster"
if [ "$purge" -eq 1 ]; then
    rm -rf "$root/etc/broadcaster" "$root/etc/default/broadcaster"
    if grep -q '^broadcaster:' "$root/etc/passwd"; then
        userdel ${root:+--root "$root"} broadcaster
    fi
    say "removed the config and the user"
else
    say "kept /etc/broadcaster and the user broadcaster (--purge removes them)"
fi
