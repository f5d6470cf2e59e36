#!/bin/sh
# Runs as PID 1 of fresh pid, mount, ipc, uts, net and cgroup namespaces
# (start.sh, harness/mod.rs): builds an overlay of the host root whose writes land in
# a tmpfs, pivots into it and becomes systemd. Nothing reaches the host.
set -eu
SHARE="$1"          # a host directory to see at the same path inside
ETC="$2"            # a copy of the host's /etc, to be the harness's
mount --make-rprivate /
B=/mnt
mount -t tmpfs -o mode=0700 harness "$B"
mkdir "$B/upper" "$B/work" "$B/merged"
mount -t overlay overlay -o "lowerdir=/,upperdir=$B/upper,workdir=$B/work" "$B/merged"
M="$B/merged"
# /etc is start.sh's copy on the share's disk, as a host's /etc is on
# ext4, xfs or btrfs, not on an overlay: overlayfs cannot be idmapped, and
# that is how a sandbox sees /etc (src/runtime/othersview.rs). Bound before
# forget.sh edits it.
mount --bind "$ETC" "$M/etc"
# Whatever sandbox-service the host has installed or made is not the test's.
sh "$(dirname "$0")/forget.sh" "$M"
mount --rbind /dev "$M/dev"
mount -t proc proc "$M/proc"
mount --rbind /sys "$M/sys"
# The cgroup hierarchies again, mounted from inside our cgroup namespace
# (start.sh): each shows the harness's own subtree as its root.
cg="$M/sys/fs/cgroup"
if [ "$(stat -f -c %T /sys/fs/cgroup)" = tmpfs ]; then
    mount -t tmpfs -o mode=0755,size=64k cgroups "$cg"
    for l in /sys/fs/cgroup/*; do [ -L "$l" ] && ln -s "$(readlink "$l")" "$cg/${l##*/}"; done
fi
grep -E ' - cgroup2? ' /proc/self/mountinfo | while read -r line; do
    mp=$(echo "$line" | cut -d' ' -f5)
    case "$mp" in /sys/fs/cgroup*) ;; *) continue ;; esac
    rest=${line#* - }
    fstype=${rest%% *}
    # v1: the controllers name the hierarchy; cgroup2 takes the superblock as it is.
    opts=""
    [ "$fstype" = cgroup ] && opts=$(echo "${rest##* }" | sed 's/^r[ow],\{0,1\}//')
    mkdir -p "$M$mp"
    mount -t "$fstype" ${opts:+-o "$opts"} "$fstype" "$M$mp"
done
mount -t tmpfs -o mode=0755 tmpfs "$M/run"
mount -t tmpfs -o mode=1777 tmpfs "$M/tmp"
mkdir -p "$M$SHARE"
mount --rbind "$SHARE" "$M$SHARE"
mkdir -p "$M/.old-root"
cd "$M"
pivot_root . .old-root
umount -l /.old-root
rmdir /.old-root
# Shared, as systemd makes / at boot on a host (in a container it leaves
# it): a unit's mount namespace then receives what the host mounts later,
# as a sandbox's /run at /run/sandbox-service/NAME/run. Only within this
# namespace: the host's mounts were made private above.
mount --make-rshared /
ip link set lo up
export container=sandbox-service-test
exec /lib/systemd/systemd --system --unit=basic.target
