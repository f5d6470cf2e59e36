#!/bin/sh
# Starts a throwaway systemd (boot.sh) in a cgroup subtree of its own: a
# cgroup "sandbox-service-test-PID" beneath where the caller is, in every
# hierarchy, made the root of a new cgroup namespace. What the systemd
# inside makes (system.slice, the units' cgroups, a sandbox's device filter)
# lands there, never in the host's hierarchies, and two harnesses never
# share a cgroup. The list of what was made goes to SHARE/harness-PID.cgroups
# for the caller to remove (cleanup.sh) once the harness is gone, with the
# harness's copy of /etc beside it.
# Usage: tests/harness/start.sh SHARE_DIR
set -eu
share=$1
here=$(cd "$(dirname "$0")" && pwd)
name=sandbox-service-test-$$
list="$share/harness-$$.cgroups"
: > "$list"
while IFS=: read -r id ctrl path; do
    if [ "$id" = 0 ]; then
        if [ -f /sys/fs/cgroup/unified/cgroup.procs ]; then mnt=/sys/fs/cgroup/unified; else mnt=/sys/fs/cgroup; fi
    else
        mnt=/sys/fs/cgroup/${ctrl#name=}
    fi
    [ -f "$mnt/cgroup.procs" ] || continue
    dir="$mnt${path%/}/$name"
    mkdir "$dir"
    echo "$dir" >> "$list"
    # A v1 cpuset starts with no CPUs and no memory nodes: take the parent's.
    for f in cpuset.cpus cpuset.mems; do
        [ -f "$dir/$f" ] && cat "$(dirname "$dir")/$f" > "$dir/$f"
    done
    echo $$ > "$dir/cgroup.procs"
done < /proc/self/cgroup
# The harness's /etc (boot.sh): a copy with the host's modes, beside the
# list, removed with the cgroups by cleanup.sh.
etc="$share/harness-$$.etc"
cp -a /etc "$etc"
exec unshare -fpmiunC -- sh "$here/boot.sh" "$share" "$etc"
