#!/usr/bin/env python3
"""bench/scale.py TARGET FIRST_PORT N OUT_JSON: starts TARGET (systemctl, in
the throwaway systemd), times until N services answer on 127.0.0.1 ports
FIRST_PORT.., and adds up the PSS of every process of sandbox-service's own
(the host-side `run` and the shim inside) while they run."""
import json, os, socket, subprocess, sys, time

target, first, n, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
pending = set(range(first, first + n))
t0 = time.monotonic()
subprocess.run(["systemctl", "start", "--no-block", target], check=True)
deadline = t0 + 300
while pending and time.monotonic() < deadline:
    for port in list(pending):
        s = socket.socket()
        s.settimeout(0.2)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(b"version\r\n")
            if s.recv(64).startswith(b"VERSION"):
                pending.discard(port)
        except OSError:
            pass
        finally:
            s.close()
    if pending:
        time.sleep(0.01)
elapsed = time.monotonic() - t0

def pss_kib(pid):
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

ours = {"sandbox-service": 0, "sandbox-service-init": 0}
counts = dict.fromkeys(ours, 0)
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        continue
    # The shim's argv[0] is its name; `run`'s is the binary, then "run".
    exe = os.path.basename(argv[0].decode(errors="replace"))
    if exe == "sandbox-service" and argv[1:2] != [b"run"]:
        continue
    if exe in ours:
        ours[exe] += pss_kib(pid)
        counts[exe] += 1
json.dump({"target": target, "n": n, "answered": n - len(pending), "seconds": elapsed,
           "pss_kib": ours, "processes": counts}, open(out, "w"))
subprocess.run(["systemctl", "stop", target], check=True)
# `stop` returns with the target's job: wait for its units too, so the next
# measure starts on a quiet host (a stopping sandbox still holds its mounts).
while subprocess.run(["systemctl", "list-units", "--no-legend", "--state=deactivating"],
                     capture_output=True, text=True).stdout.strip() and time.monotonic() < deadline + 120:
    time.sleep(0.1)
