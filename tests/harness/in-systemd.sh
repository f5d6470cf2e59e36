#!/bin/bash
# Runs a command inside a throwaway systemd (boot.sh, the same harness the
# Rust tests use) and exits with its status; nothing reaches the host.
# Usage: tests/harness/in-systemd.sh SHARE_DIR LOG_FILE COMMAND [ARGS...]
# SHARE_DIR is the one host directory visible inside, at the same path.
set -euo pipefail
share=$1 log=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
setsid sh "$here/start.sh" "$share" > "$log" 2>&1 &
unshare_pid=$!
pid=""
trap 'kill -9 "${pid:-0}" 2>/dev/null; wait "$unshare_pid" 2>/dev/null || true; sh "$here/cleanup.sh" "$share/harness-$unshare_pid.cgroups"' EXIT
for _ in $(seq 300); do
    # start.sh execs unshare; its forked child is PID 1 inside.
    [ "$(cat "/proc/$unshare_pid/comm" 2>/dev/null)" = unshare ] &&
        pid=$(cat "/proc/$unshare_pid/task/$unshare_pid/children" 2>/dev/null | awk '{print $1}')
    [ -n "$pid" ] && break
    sleep 0.01
done
[ -n "$pid" ] || { echo "in-systemd: the throwaway systemd did not start (see $log)" >&2; exit 1; }
for _ in $(seq 300); do
    st=$(nsenter -t "$pid" -a systemctl is-system-running 2>/dev/null || true)
    if [ "$st" = running ] || [ "$st" = degraded ]; then break; fi
    sleep 0.05
done
nsenter -t "$pid" -a -- sh -c "$(cat "$here/enter.sh")" enter "$@"
