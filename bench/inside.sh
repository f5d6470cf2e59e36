#!/bin/bash
# Runs inside the throwaway systemd booted by bench/run; see there.
# BIN: the sandbox-service binary; OUT: where results go; QUICK=1: smoke.
set -euo pipefail
cd "$OUT"
if [ "$QUICK" = 1 ]; then RUNS="-w 0 -r 2"; FEW="-w 0 -r 2"; KEYS="$FEW"; SCALE=5; else RUNS="-w 5 -r 100"; FEW="-w 1 -r 20"; KEYS="-w 1 -r 60"; SCALE=200; fi
hf() { local name=$1; shift; hyperfine -N --style basic $RUNS --export-json "$OUT/$name.json" "$@" > "$OUT/$name.txt"; }
hf_few() { local name=$1; shift; hyperfine -N --style basic $FEW --export-json "$OUT/$name.json" "$@" > "$OUT/$name.txt"; }
# An RSA key's prime search takes 60 to 370 ms here, at random: what makes
# one (create -u apache2, and its floor) is run more often, so that the
# difference of the two medians is ours and not the draw.
hf_keys() { local name=$1; shift; hyperfine -N --style basic $KEYS --export-json "$OUT/$name.json" "$@" > "$OUT/$name.txt"; }
say() { echo "bench: $*" >&2; }
# hardening UNIT: the systemd settings a sandbox unit confines its runtime
# with (its [Service] lines but how it runs the runtime, and ReadWritePaths=,
# which is the sandbox's own tree): what a bare unit gets to measure the
# floor systemd's side of a sandbox start sets.
hardening() {
    systemctl cat "$1" | sed -n '/^\[Service\]/,/^\[/p' | grep -v -e '^#' -e '^\[' -e '^$' \
        -e '^Type=' -e '^NotifyAccess=' -e '^Exec' -e '^KillMode=' -e '^TimeoutStopSec=' -e '^Restart=' -e '^ReadWritePaths='
}

# A root for crun and nspawn: the host's /usr and /etc come in as binds.
mkdir -p rootfs/{usr,etc,proc,dev,sys,tmp,run}
for l in bin sbin lib lib64; do [ -e "rootfs/$l" ] || ln -s "usr/$l" "rootfs/$l"; done
make_bundle() {  # make_bundle DIR WITH_SECCOMP
    mkdir -p "$1" && (cd "$1" && rm -f config.json && crun spec)
    python3 - "$1/config.json" "$2" "$OUT/seccomp.json" "$OUT/rootfs" <<'PY'
import json, sys
path, with_seccomp, profile, rootfs = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
c = json.load(open(path))
caps = ["CAP_" + n for n in "CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE".split()]
c["root"] = {"path": rootfs, "readonly": True}
p = c["process"]
p["terminal"] = False
p["args"] = ["/bin/true"]
p["noNewPrivileges"] = True
p["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
c["hostname"] = "bench"
c["mounts"] = [m for m in c["mounts"] if m["destination"] in ("/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys")]
c["mounts"] += [
    {"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]},
    {"destination": "/etc", "type": "bind", "source": "/etc", "options": ["rbind", "ro"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]},
    {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]},
]
lin = c["linux"]
lin["namespaces"] = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "cgroup")]
lin.pop("uidMappings", None); lin.pop("gidMappings", None)
if with_seccomp:
    lin["seccomp"] = json.load(open(profile))
else:
    lin.pop("seccomp", None)
json.dump(c, open(path, "w"), indent=1)
PY
}
make_bundle "$OUT/crun-seccomp" 1
make_bundle "$OUT/crun-plain" 0

say "1/8 launch of /bin/true"
BWRAP='bwrap --unshare-pid --unshare-ipc --unshare-uts --unshare-cgroup --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/sbin /sbin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --ro-bind /etc /etc --proc /proc --dev /dev --tmpfs /tmp --tmpfs /run --new-session --die-with-parent /bin/true'
$BIN -q create g-true -- /bin/true
$BIN run g-true 2>/dev/null
# The floor of our shape: bwrap whose command is a PID 1 of its own that
# forks the real one and waits, as the shim does (dash: the exit after it
# keeps it from exec'ing /bin/true in its place). Three process images,
# as ours are (run, the shim, /bin/true): each costs 0.7 ms on a VM.
BWRAP_INIT="${BWRAP% /bin/true} /bin/sh -c '/bin/true; exit \$?'"
hf launch \
    -n sandbox-service "$BIN run g-true" \
    -n bwrap "$BWRAP" \
    -n "bwrap, an init forking the command" "$BWRAP_INIT" \
    -n crun-seccomp "crun run --bundle $OUT/crun-seccomp bench-a" \
    -n crun-no-seccomp "crun run --bundle $OUT/crun-plain bench-b" \
    -n systemd-nspawn "systemd-nspawn --register=no --quiet -D $OUT/rootfs --bind-ro=/usr --bind-ro=/etc /bin/true" \
    -n unshare "unshare -fpmiu --mount-proc /bin/true" \
    -n /bin/true "/bin/true"
strace -f -c -o "$OUT/profile-strace.txt" "$BIN" run g-true 2>/dev/null || true
# The second host: 20,000 more entries in /etc (200 directories of 100
# files, every tenth file mode 0600, which the sandbox must not read). The
# harness's /etc is its own copy: nothing of the host's changes.
BIG=/etc/bench-big
for d in $(seq 200); do
    mkdir -p "$BIG/d$d"
    (cd "$BIG/d$d" && touch $(seq -f f%g 100) && chmod 600 $(seq -f f%g 10 10 100))
done
# The harness's /etc is on disk: written back now, not during the runs.
sync
say "1/8 launch with $(find /etc | wc -l) entries in /etc"
hf launch-big-etc \
    -n sandbox-service "$BIN run g-true" \
    -n bwrap "$BWRAP" \
    -n "bwrap, an init forking the command" "$BWRAP_INIT"
# The rule holds on the big host: a 0600 file there is unreadable inside.
echo bench-secret > $BIG/d1/f10
$BIN -q create g-cat -- /bin/cat $BIG/d1/f10
case "$($BIN run g-cat 2>/dev/null || true)" in
    *bench-secret*) echo "bench: $BIG/d1/f10 (mode 0600) was readable in a sandbox" >&2; exit 1 ;;
esac
$BIN -q delete g-cat
rm -rf "$BIG"

say "2/8 create and delete"
hf_keys create-apache2 --prepare "sh -c '$BIN -q delete --force w1 >/dev/null 2>&1 || true'" -n "create -u apache2" "$BIN -q create -u apache2 w1"
hf_few create-nginx --prepare "sh -c '$BIN -q delete --force s1 >/dev/null 2>&1 || true'" -n "create -u nginx" "$BIN -q create -u nginx s1"
# A service whose package makes no key: what is ours in a create, with no prime search in it.
hf_few create-memcached --prepare "sh -c '$BIN -q delete --force m1 >/dev/null 2>&1 || true'" -n "create -u memcached (no key to make)" "$BIN -q create -u memcached m1"
$BIN -q delete --force m1
hf_few delete --prepare "sh -c '$BIN -q create d1 -- /bin/true'" -n "delete" "$BIN -q delete d1"
hf_few daemon-reload -n "systemctl daemon-reload" "systemctl daemon-reload"
# create's floor: the sandbox's own key, RSA 2048 as the host's snakeoil,
# and its certificate, made by the one command create runs for them.
hf_keys keygen -n "openssl req RSA 2048 key and certificate" \
    "openssl req -x509 -nodes -sha256 -days 3650 -newkey RSA -pkeyopt rsa_keygen_bits:2048 -keyout /dev/null -out /dev/null -subj /CN=w1 -addext subjectAltName=DNS:w1"

say "3/8 execute"
$BIN -q create g-exec -- /bin/sleep infinity
systemctl start g-exec.service
SHIM=$(cut -d" " -f1 /run/sandbox-service/g-exec.pid)
# execute's floor: nsenter -a from a shell that first joins the sandbox's
# cgroups, as execute does (so the unit's limits and `systemctl stop` hold
# what is run there) and nsenter does not; the first move waits for the
# kernel's RCU grace period. The same cgroup files execute writes: those of
# the shim's this shell is not in.
U=/sys/fs/cgroup/unified; [ -e /sys/fs/cgroup/cgroup.controllers ] && U=/sys/fs/cgroup
JOIN=$(awk -F: -v u="$U" 'NR == FNR { mine[$0] = 1; next } !($0 in mine) {
    c = $2; sub(/^name=/, "", c); printf "%s%s/cgroup.procs ", ($1 == "0") ? u : "/sys/fs/cgroup/" c, $3 }' \
    /proc/self/cgroup "/proc/$SHIM/cgroup")
hf execute -n "sandbox-service execute" "$BIN execute g-exec -- /bin/true" -n "nsenter -a" "nsenter -a -t $SHIM /bin/true" \
    -n "sh, then nsenter -a" "sh -c 'exec nsenter -a -t $SHIM /bin/true'" \
    -n "sh joining the cgroups, then nsenter -a" "sh -c 'for f in $JOIN; do echo \$\$ > \$f; done; exec nsenter -a -t $SHIM /bin/true'"
systemctl stop g-exec.service

say "4/8 memory of the shim"
rss() { awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} END {printf "{\"rss_kib\": %d, \"pss_kib\": %d}", r, p}' "/proc/$1/smaps_rollup"; }
$BIN -q create -u apache2 rss1
systemctl start apache2@rss1.service
RUN=$(systemctl show -p MainPID --value apache2@rss1.service)
SHIM=$(cut -d" " -f1 /run/sandbox-service/rss1.pid)
tini -s -- sleep infinity & TINI=$!
sleep 0.3
{
    echo "{\"sandbox-service-init (apache2 running)\": $(rss "$SHIM"),"
    echo " \"sandbox-service run (host side)\": $(rss "$RUN"),"
    echo " \"tini (sleep running)\": $(rss "$TINI"),"
    # conmon supervises a container that podman set up; alone it has nothing to run.
    if command -v conmon >/dev/null; then echo " \"conmon\": \"installed, not measured: it needs a podman-made container\"}"; else echo " \"conmon\": \"not installed\"}"; fi
} > "$OUT/memory.json"
kill "$TINI"; systemctl stop apache2@rss1.service

say "5/8 start to first HTTP 200"
$BIN -q create -u apache2 -p /var/www web1
sed -i 's/^Listen 80$/Listen 8081/' /var/lib/sandbox-service/web1/tree/etc/apache2/ports.conf
sed -i 's/:80>/:8081>/' /var/lib/sandbox-service/web1/tree/etc/apache2/sites-available/000-default.conf
# The floor: the host's apache2 with the sandbox unit's systemd settings
# (and write access to what apache2 writes, as the sandbox has to its tree).
mkdir -p /etc/systemd/system/apache2-hardened.service.d /run/apache2 /var/lock/apache2
cp /lib/systemd/system/apache2.service /etc/systemd/system/apache2-hardened.service
{ echo "[Service]"; hardening apache2@web1.service
  echo "ReadWritePaths=-/var/log/apache2 -/run/apache2 -/var/lock/apache2 -/var/cache/apache2"; } \
    > /etc/systemd/system/apache2-hardened.service.d/sandbox-hardening.conf
systemctl daemon-reload
hf_few start-to-200 \
    --prepare "sh -c 'systemctl stop apache2@web1.service apache2.service apache2-hardened.service; systemctl reset-failed apache2@web1.service apache2.service apache2-hardened.service 2>/dev/null || true'" \
    -n "sandboxed apache2@web1" "sh -c 'systemctl start apache2@web1 && until curl -sf -o /dev/null http://127.0.0.1:8081/; do :; done'" \
    -n "bare apache2" "sh -c 'systemctl start apache2 && until curl -sf -o /dev/null http://127.0.0.1:80/; do :; done'" \
    -n "bare apache2, the sandbox unit's hardening" "sh -c 'systemctl start apache2-hardened && until curl -sf -o /dev/null http://127.0.0.1:80/; do :; done'"
systemctl stop apache2@web1.service apache2.service apache2-hardened.service

say "6/8 scale: $SCALE creates, then list"
# The floor of a create's growth: systemd loading a new unit file (as
# create's announce does) costs more the more unit files it has to look
# through. Microseconds of `busctl call LoadUnit` for 20 new files each.
unit_load() {  # unit_load TAG: appends "TAG MICROSECONDS" per new unit
    for i in $(seq 20); do
        printf '[Service]\nExecStart=/bin/true\n' > "/etc/systemd/system/bench-load-$1-$i.service"
        t0=$(date +%s%N)
        busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager \
            LoadUnit s "bench-load-$1-$i.service" > /dev/null
        t1=$(date +%s%N)
        echo "$1 $(( (t1 - t0) / 1000 ))" >> "$OUT/unit-load.txt"
    done
    rm -f /etc/systemd/system/bench-load-"$1"-*.service
}
: > "$OUT/scale.txt"; : > "$OUT/unit-load.txt"
unit_load before
for i in $(seq "$SCALE"); do
    t0=$(date +%s%N); $BIN -q create "n$i" -- /bin/true; t1=$(date +%s%N)
    echo "$i $(( (t1 - t0) / 1000 ))" >> "$OUT/scale.txt"
done
unit_load after
hf_few list -n "list ($SCALE sandboxes)" "$BIN list"
for i in $(seq "$SCALE"); do $BIN -q delete "n$i"; done

say "7/8 network=private: start cost, and each forwarding path's latency"
$BIN -q create --network private g-priv -- /bin/true
$BIN run g-priv 2>/dev/null
# A network namespace is torn down by the kernel after its last process,
# in the background (cleanup_net): back to back, each start would compete
# for the CPUs with the last one's teardown. The pause lets it finish, for
# every command alike.
hf net-start --prepare "sleep 0.3" \
    -n "network=host" "$BIN run g-true" \
    -n "network=private" "$BIN run g-priv" \
    -n "systemd-nspawn" "systemd-nspawn --register=no --quiet -D $OUT/rootfs --bind-ro=/usr --bind-ro=/etc /bin/true" \
    -n "systemd-nspawn --network-veth" "systemd-nspawn --register=no --quiet --network-veth -D $OUT/rootfs --bind-ro=/usr --bind-ro=/etc /bin/true"
$BIN -q create -u apache2 --network private --publish 8085:80 nat1
$BIN -q create -u apache2 --network private --publish 8086:80 --socket-activate act1
for n in nat1 act1; do echo ok > "/var/lib/sandbox-service/$n/tree/var/www/html/small.txt"; done
$BIN -q start nat1; $BIN -q start act1
A=$(sed -n 's/^address=//p' /etc/sandbox-service/nat1.sandbox)
N=$([ "$QUICK" = 1 ] && echo 50 || echo 5000)
ab_path() {  # ab_path NAME URL: one connection per request, one at a time
    curl -sf -o /dev/null "$2"   # the socket-activated one starts here, not in the count
    ab -q -n "$N" -c 1 "$2" > "$OUT/ab-$1.txt"
}
ab_path direct "http://$A:80/small.txt"
ab_path nat-loopback "http://127.0.0.1:8085/small.txt"
ab_path proxy-loopback6 "http://[::1]:8085/small.txt"
ab_path socket-activated "http://127.0.0.1:8086/small.txt"
$BIN -q stop nat1; $BIN -q stop act1

say "8/8 scale: $SCALE memcached sandboxes started by one target, against $SCALE bare units"
for i in $(seq "$SCALE"); do
    $BIN -q create -u memcached "mc$i"
    # memcached's postinst writes /etc/memcached.conf: no package lists it,
    # so it is shared until made private (README: update -p).
    $BIN -q update -p /etc/memcached.conf "mc$i"
    sed -i "s/^-p 11211$/-p $((20000 + i))/" "/var/lib/sandbox-service/mc$i/tree/etc/memcached.conf"
    cat > "/etc/systemd/system/bare-mc$i.service" <<EOF
[Unit]
PartOf=bare-mc.target
[Service]
ExecStart=/usr/bin/memcached -m 64 -p $((30000 + i)) -u memcache -l 127.0.0.1
[Install]
WantedBy=bare-mc.target
EOF
    mkdir -p /etc/systemd/system/bare-mc.target.wants
    ln -sf "../bare-mc$i.service" "/etc/systemd/system/bare-mc.target.wants/bare-mc$i.service"
done
printf '[Unit]\nDescription=%s bare memcached\n' "$SCALE" > /etc/systemd/system/bare-mc.target
# The floor: the same bare units with the sandbox unit's systemd settings.
# Every port is below the ephemeral range (32768-): scale.py's probes would
# otherwise hold some of them as their source ports.
H=$(hardening memcached@mc1.service)
for i in $(seq "$SCALE"); do
    printf '[Unit]\nPartOf=hard-mc.target\n[Service]\nExecStart=/usr/bin/memcached -m 64 -p %s -u memcache -l 127.0.0.1\n%s\n[Install]\nWantedBy=hard-mc.target\n' \
        $((12000 + i)) "$H" > "/etc/systemd/system/hard-mc$i.service"
    mkdir -p /etc/systemd/system/hard-mc.target.wants
    ln -sf "../hard-mc$i.service" "/etc/systemd/system/hard-mc.target.wants/hard-mc$i.service"
done
printf '[Unit]\nDescription=%s hardened bare memcached\n' "$SCALE" > /etc/systemd/system/hard-mc.target
systemctl daemon-reload
python3 "$OUT/scale.py" memcached-sandboxes.target 20001 "$SCALE" "$OUT/scale-sandboxes.json"
python3 "$OUT/scale.py" bare-mc.target 30001 "$SCALE" "$OUT/scale-bare.json"
python3 "$OUT/scale.py" hard-mc.target 12001 "$SCALE" "$OUT/scale-hardened.json"
# Each running sandbox's /run is a mount on the host (issue 18), and systemd
# (252) reads the whole mount table for each mount it makes for a unit: the
# same hardened units, started with as many tmpfs mounts on the host.
for i in $(seq "$SCALE"); do
    mkdir -p "/run/bench-mounts/m$i" && mount -t tmpfs -o size=1m,nosuid,nodev,noexec tmpfs "/run/bench-mounts/m$i"
done
python3 "$OUT/scale.py" hard-mc.target 12001 "$SCALE" "$OUT/scale-hardened-mounts.json"
for i in $(seq "$SCALE"); do umount "/run/bench-mounts/m$i"; done
rm -r /run/bench-mounts
say "done"
