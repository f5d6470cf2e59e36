#!/usr/bin/env python3
"""Builds the markdown table of bench/run's results: medians, ratios, targets."""
import json, os, platform, statistics, subprocess, sys, time

out = sys.argv[1]
check = "--no-targets" not in sys.argv

def hf(name):
    path = os.path.join(out, name + ".json")
    return {r["command"]: r for r in json.load(open(path))["results"]}

def ms(r):
    return r["median"] * 1000

rows, verdicts, floors = [], [], []
def target(what, ratio, limit, unit="x"):
    ok = ratio <= limit
    verdicts.append(f"| {what} | {ratio:.2f}{unit} | ≤ {limit}{unit} | {'met' if ok else 'MISSED by %.2f%s' % (ratio - limit, unit)} |")
def floor(what, bound, floor_value, ours_value, unit="x"):
    """A measured floor under a target: what the same measure costs with
    only what bounds it (`bound`), and ours against that."""
    floors.append(f"| {what} | {bound} | {floor_value:.2f}{unit} | {ours_value:.2f}{unit} |")

launch = hf("launch")
ours = ms(launch["sandbox-service"])
print(f"## sandbox-service benchmarks\n")
print(f"{time.strftime('%Y-%m-%d')} on {platform.node()}: {platform.machine()}, kernel {platform.release()}, "
      f"{os.cpu_count()} CPUs. Medians of hyperfine runs; raw JSON in target/bench/.\n")
print("### 1. Launch of /bin/true with full confinement\n\n| command | median ms | ratio to sandbox-service |\n|---|---:|---:|")
for name, r in sorted(launch.items(), key=lambda kv: ms(kv[1])):
    print(f"| {name} | {ms(r):.2f} | {ms(r) / ours:.2f} |")
target("launch / bwrap", ours / ms(launch["bwrap"]), 1.0)
shaped = ms(launch["bwrap, an init forking the command"])
floor("launch / bwrap", "bwrap with a PID 1 that forks the command and waits, as the shim does (three images)",
      shaped / ms(launch["bwrap"]), ours / shaped)
target("launch / crun with seccomp", ours / ms(launch["crun-seccomp"]), 0.25)
floor("launch / crun with seccomp", "the same three-image bwrap (crun compiles the filter at each start)",
      shaped / ms(launch["crun-seccomp"]), ours / shaped)
big = hf("launch-big-etc")
print("\n/etc with 20,000 more entries (every tenth mode 0600):\n\n| command | median ms | ratio to the same on today's /etc |\n|---|---:|---:|")
for name, r in sorted(big.items(), key=lambda kv: ms(kv[1])):
    print(f"| {name} | {ms(r):.2f} | {ms(r) / ms(launch[name]):.2f} |")
target("launch on the big /etc / bwrap there", ms(big["sandbox-service"]) / ms(big["bwrap"]), 1.0)
target("launch on the big /etc / launch on today's", ms(big["sandbox-service"]) / ours, 1.1)
big_shaped = ms(big["bwrap, an init forking the command"])
floor("launch on the big /etc / bwrap there", "the three-image bwrap on the big /etc",
      big_shaped / ms(big["bwrap"]), ms(big["sandbox-service"]) / big_shaped)
# What the bigger /etc costs a launch that does nothing with it: bwrap's own
# ratio between the two runs (page cache, the disk behind the harness).
bwrap_growth = ms(big["bwrap"]) / ms(launch["bwrap"])
floor("launch on the big /etc / launch on today's", "bwrap's own ratio between the two hosts, in the same run",
      bwrap_growth, ms(big["sandbox-service"]) / ours / bwrap_growth)

print("\n### 2. create and delete (in the throwaway systemd)\n\n| command | median ms |\n|---|---:|")
for name in ("create-apache2", "create-nginx", "create-memcached", "delete", "daemon-reload"):
    for cmd, r in hf(name).items():
        print(f"| {cmd} | {ms(r):.1f} |")
create_ms = ms(next(iter(hf("create-apache2").values())))
target("create -u apache2", create_ms, 100, " ms")
keygen_ms = ms(next(iter(hf("keygen").values())))
print(f"| openssl req: an RSA 2048 key and its certificate (the sandbox's own; the floor) | {keygen_ms:.1f} |")
floor("create -u apache2", "its RSA 2048 key and certificate alone", keygen_ms, create_ms - keygen_ms, " ms")

ex = hf("execute")
print("\n### 3. execute into a running sandbox\n\n| command | median ms |\n|---|---:|")
for cmd, r in ex.items():
    print(f"| {cmd} | {ms(r):.2f} |")
target("execute / nsenter -a", ms(ex["sandbox-service execute"]) / ms(ex["nsenter -a"]), 1.5)
joined = ms(ex["sh joining the cgroups, then nsenter -a"])
floor("execute / nsenter -a", "nsenter -a from a shell that joins the sandbox's cgroups first",
      joined / ms(ex["nsenter -a"]), ms(ex["sandbox-service execute"]) / joined)

mem = json.load(open(os.path.join(out, "memory.json")))
print("\n### 4. Memory\n\n| process | RSS KiB | PSS KiB |\n|---|---:|---:|")
for name, m in mem.items():
    if not isinstance(m, dict):
        print(f"| {name} | {m} | |")
    else:
        print(f"| {name} | {m['rss_kib']} | {m['pss_kib']} |")
target("shim RSS", mem["sandbox-service-init (apache2 running)"]["rss_kib"] / 1024, 1.0, " MiB")

st = hf("start-to-200")
print("\n### 5. systemctl start to first HTTP 200\n\n| command | median ms |\n|---|---:|")
for cmd, r in st.items():
    print(f"| {cmd} | {ms(r):.1f} |")
target("sandboxed / bare start-to-200", ms(st["sandboxed apache2@web1"]) / ms(st["bare apache2"]), 1.2)
hardened = ms(st["bare apache2, the sandbox unit's hardening"])
floor("sandboxed / bare start-to-200", "bare apache2 with the sandbox unit's systemd settings",
      hardened / ms(st["bare apache2"]), ms(st["sandboxed apache2@web1"]) / hardened)

scale = [int(l.split()[1]) / 1000 for l in open(os.path.join(out, "scale.txt")) if l.strip()]
k = max(1, min(10, len(scale) // 4))
first, last = statistics.median(scale[:k]), statistics.median(scale[-k:])
print(f"\n### 6. Scale: {len(scale)} creates\n\n| | ms |\n|---|---:|")
print(f"| median of the first {k} creates | {first:.1f} |\n| median of the last {k} creates | {last:.1f} |")
for cmd, r in hf("list").items():
    print(f"| {cmd} | {ms(r):.1f} |")
loads = {}
for l in open(os.path.join(out, "unit-load.txt")):
    tag, us = l.split()
    loads.setdefault(tag, []).append(int(us) / 1000)
before, after = statistics.median(loads["before"]), statistics.median(loads["after"])
print(f"| systemd loading a new unit file (busctl LoadUnit), before the creates | {before:.1f} |")
print(f"| the same with the {len(scale)} sandboxes' units there | {after:.1f} |")
target(f"create #{len(scale)} / create #1 (medians of {k})", last / first, 1.2)
# What any new unit costs systemd more with that many units there, on
# top of the first create: the growth that is not ours.
grown = first + max(0.0, after - before)
floor(f"create #{len(scale)} / create #1", "create #1 plus systemd's growth in loading a new unit",
      grown / first, last / grown)

ns = hf("net-start")
print("\n### 7. network=private\n\nStart of a /bin/true sandbox (`run`), and the peer's with and without a veth:\n")
print("| command | median ms |\n|---|---:|")
for cmd, r in ns.items():
    print(f"| {cmd} | {ms(r):.2f} |")
extra = ms(ns["network=private"]) - ms(ns["network=host"])
print(f"\nnetwork=private costs {extra:.2f} ms more than network=host; --network-veth costs systemd-nspawn "
      f"{ms(ns['systemd-nspawn --network-veth']) - ms(ns['systemd-nspawn']):.2f} ms more.\n")
target("network=private start - network=host start", extra, 3.0, " ms")

def ab(name):
    text = open(os.path.join(out, f"ab-{name}.txt")).read()
    mean = next(float(l.split()[3]) for l in text.splitlines() if l.startswith("Time per request") and "(mean)" in l)
    rps = next(float(l.split()[3]) for l in text.splitlines() if l.startswith("Requests per second"))
    return mean, rps
print("A small GET (3 bytes), one new connection per request, one at a time (`ab -c 1`), through each path:\n")
print("| path | mean ms per request | requests/s | ratio to direct |\n|---|---:|---:|---:|")
direct = ab("direct")[0]
paths = [("direct", "to the sandbox's address, no forwarding"), ("nat-loopback", "127.0.0.1:HOSTPORT, destination NAT"),
         ("proxy-loopback6", "[::1]:HOSTPORT, systemd-socket-proxyd"), ("socket-activated", "socket-activated, systemd-socket-proxyd")]
for name, what in paths:
    mean, rps = ab(name)
    print(f"| {what} | {mean:.3f} | {rps:.0f} | {mean / direct:.2f} |")
    if name != "direct":
        target(f"latency {name} / direct", mean / direct, 1.2)

sb = json.load(open(os.path.join(out, "scale-sandboxes.json")))
bare = json.load(open(os.path.join(out, "scale-bare.json")))
n = sb["n"]
ours_kib = sum(sb["pss_kib"].values())
print(f"\n### 8. Scale: {n} memcached sandboxes started by one target\n")
print("| | sandboxes | bare units |\n|---|---:|---:|")
print(f"| answering | {sb['answered']} of {n} | {bare['answered']} of {n} |")
print(f"| seconds until all answer | {sb['seconds']:.2f} | {bare['seconds']:.2f} |")
print(f"| PSS of ours, all (run + shim) | {ours_kib} KiB | |")
print(f"| PSS of ours per sandbox | {ours_kib / n:.0f} KiB (run {sb['pss_kib']['sandbox-service'] / n:.0f}, shim "
      f"{sb['pss_kib']['sandbox-service-init'] / n:.0f}) | |")
hard = json.load(open(os.path.join(out, "scale-hardened.json")))
hard_m = json.load(open(os.path.join(out, "scale-hardened-mounts.json")))
print(f"| seconds, bare units with the sandbox unit's systemd settings | | {hard['seconds']:.2f} ({hard['answered']} answered) |")
print(f"| the same, with {n} tmpfs mounts on the host (as {n} sandboxes' /run) | | {hard_m['seconds']:.2f} ({hard_m['answered']} answered) |")
target(f"{n} sandboxes / {n} bare units, until all answer", sb["seconds"] / bare["seconds"], 1.3)
floor(f"{n} sandboxes / {n} bare units", "the bare units with the sandbox unit's systemd settings",
      hard["seconds"] / bare["seconds"], sb["seconds"] / hard["seconds"])
floor(f"{n} sandboxes / {n} bare units", f"the same, with {n} mounts on the host",
      hard_m["seconds"] / bare["seconds"], sb["seconds"] / hard_m["seconds"])
target(f"PSS of ours per sandbox at {n}", ours_kib / n / 1024, 1.0, " MiB")

missed = [v.split(" | ")[0].lstrip("| ") for v in verdicts if "MISSED" in v]
print("\n### Targets\n")
print(f"**{len(missed)} of {len(verdicts)} targets MISSED**" + (": " + "; ".join(missed) if missed else "") + "\n")
print("| measure | today | target | |\n|---|---:|---:|---|")
print("\n".join(verdicts))
print("\nMeasured floors: the same measure with only what bounds it, and ours against that floor.\n")
print("| target | bounded by | floor (same unit as the target) | ours over the floor |\n|---|---|---:|---:|")
print("\n".join(floors))
if missed:
    # Benchmarks stay out of pass/fail; the miss is said where it is seen.
    print(f"bench: {len(missed)} of {len(verdicts)} targets MISSED: {'; '.join(missed)}"
          + ("" if check else " (a --quick run: figures are indicative only)"), file=sys.stderr)
    if check:
        print("\n(see docs/benchmarks.md for why each missed target is missed)")
