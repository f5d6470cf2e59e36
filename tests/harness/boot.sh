#!/bin/sh
# Runs as PID 1 of fresh pid, mount, ipc, uts and net namespaces (see
# harness/mod.rs): builds an overlay of the host root whose writes land in
# a tmpfs, pivots into it and becomes systemd. Nothing reaches the host.
set -eu
SHARE="$1"          # a host directory to see at the same path inside
mount --make-rprivate /
B=/mnt
mount -t tmpfs -o mode=0700 harness "$B"
mkdir "$B/upper" "$B/work" "$B/merged"
mount -t overlay overlay -o "lowerdir=/,upperdir=$B/upper,workdir=$B/work" "$B/merged"
M="$B/merged"
mount --rbind /dev "$M/dev"
mount -t proc proc "$M/proc"
mount --rbind /sys "$M/sys"
mount -t tmpfs -o mode=0755 tmpfs "$M/run"
mount -t tmpfs -o mode=1777 tmpfs "$M/tmp"
mkdir -p "$M$SHARE"
mount --rbind "$SHARE" "$M$SHARE"
mkdir -p "$M/.old-root"
cd "$M"
pivot_root . .old-root
umount -l /.old-root
rmdir /.old-root
ip link set lo up
export container=sandbox-service-test
exec /lib/systemd/systemd --system --unit=basic.target
