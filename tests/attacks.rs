//! Attacks from root inside a running sandbox on the host (issue 15), each
//! run for real under the harness's systemd: the default must stop them.
mod harness;
use harness::*;

/// Puts the probe (examples/probe.rs) at /var/lib/probe/probe in sandbox
/// `name`, which has that directory private.
fn give_probe(s: &Systemd, name: &str) {
    s.sh_ok(&format!("install -D -m 0755 {} {}", probe_binary().display(), tree(name, "/var/lib/probe/probe")));
}

/// The probe's `devices` attack inside `name`: (its summary line, the
/// writable directories it found).
fn device_attack(s: &Systemd, name: &str) -> (String, String) {
    let out = s.tool(&["execute", name, "--", "/var/lib/probe/probe", "devices"]);
    let text = stdout(&out);
    assert!(out.status.success(), "a device node opened inside {name}:\n{text}{}", stderr(&out));
    let line = |p: &str| text.lines().find(|l| l.starts_with(p)).unwrap_or_default().to_string();
    (line("devices:"), line("writable:"))
}

#[test]
fn device_nodes_of_the_host_cannot_be_made_or_opened() {
    let s = Systemd::boot();
    s.ok(&["create", "-u", "apache2", "-p", "/var/www", "-p", "/var/lib/probe", "web1"]);
    assert_eq!(s.prop("apache2@web1.service", "DevicePolicy"), "closed");
    s.ok(&["start", "web1"]);
    give_probe(&s, "web1");
    // The default: no CAP_MKNOD, so not one node is made anywhere.
    let (summary, dirs) = device_attack(&s, "web1");
    for d in ["/etc/apache2", "/var/www", "/var/log/apache2", "/tmp", "/run", "/dev/shm", "/var/tmp"] {
        assert!(dirs.split(' ').any(|w| w == d), "{d} not tried: {dirs}");
    }
    assert!(summary.contains(" 0 made, 0 opened"), "{summary}");
    assert!(!summary.starts_with("devices: 0 dirs") && !summary.contains(" 0 devices"), "{summary}");

    // CAP_MKNOD given back by the admin: the device list still refuses
    // every node (mknod is the 'm' access the list never grants).
    s.sh_ok("sed -i 's/^capabilities-add=.*/capabilities-add=CAP_MKNOD/' /etc/sandbox-service/web1.sandbox");
    s.ok(&["update", "web1"]);
    s.ok(&["restart", "web1"]);
    let caps = s.ok(&["execute", "web1", "--", "grep", "CapEff", "/proc/self/status"]);
    assert!(caps.contains("a80405fb"), "CAP_MKNOD was not given: {caps}");
    let (summary, _) = device_attack(&s, "web1");
    assert!(summary.contains(" 0 made, 0 opened"), "{summary}");
    // And the service still has what it needs.
    assert_eq!(s.http(80), s.sh_ok("cat /var/www/html/index.html").to_string() + "200");
    s.ok(&["stop", "web1"]);

    // Started by hand outside its unit (here in a scope): `run` installs
    // the same list itself, in a cgroup of its own that goes with it.
    s.ok(&["create", "--cap-add", "CAP_MKNOD", "-p", "/var/tmp", "c1", "--", "/var/lib/probe/probe", "devices"]);
    give_probe(&s, "c1");
    let out = s.run(&["systemd-run", "--scope", "-q", BIN, "run", "c1"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains(" 0 made, 0 opened") && !text.contains(" 0 dirs"), "{text}");
    // The same on a host without the unified hierarchy: the v1 devices
    // controller holds the list.
    let out = s.sh(&format!(
        "unshare -m sh -c 'umount -l /sys/fs/cgroup/unified && exec systemd-run --scope -q {BIN} -v run c1'"
    ));
    let text = stdout(&out) + &stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("through the cgroup v1 devices controller"), "{text}");
    assert!(text.contains(" 0 made, 0 opened") && !text.contains(" 0 dirs"), "{text}");
    let left = s.sh_ok("find /sys/fs/cgroup -name 'sandbox-service-c1*'");
    assert!(left.trim().is_empty(), "run left its cgroup behind: {left}");
}

#[test]
fn a_process_left_by_execute_holds_no_descriptor_of_the_callers() {
    let s = Systemd::boot();
    s.apache2_sandbox(&[], "web1", 80, "web1");
    s.ok(&["start", "web1"]);
    // Output to a host file the sandbox cannot see, a background process
    // left running with the command's stdout and stderr.
    s.sh_ok(&format!("{BIN} execute web1 -- sh -c 'sleep 1000 & echo $!' > /root/out 2>/root/err"));
    let leftover = s.sh_ok("pgrep -x sleep").trim().to_string();
    assert!(!leftover.is_empty() && !leftover.contains('\n'), "one sleep expected: {leftover}");
    for fd in [1, 2] {
        let target = s.sh_ok(&format!("readlink /proc/{leftover}/fd/{fd}"));
        assert!(target.starts_with("pipe:"), "fd {fd} of a process left inside is {target}");
    }
    // A process left reading its stdin gets EOF when execute ends: what
    // the caller writes later never reaches it.
    let got = s.sh_ok(&format!(
        "rm -f /root/feed; mkfifo /root/feed; exec 3<>/root/feed
         {BIN} execute web1 -- sh -c '(cat > /tmp/got) <&0 & echo first >&2' <&3
         echo late >&3; sleep 0.5
         {BIN} execute web1 -- sh -c 'cat /tmp/got; pgrep -x cat || echo no-cat-left'"
    ));
    assert!(!got.contains("late"), "a process inside read the caller's later input: {got}");
    assert!(got.contains("no-cat-left"), "the reader inside did not get EOF: {got}");
    // Still a relay: stdin in, stdout and stderr out, the exit status back.
    let out = s.sh(&format!("echo hello | {BIN} execute web1 -- sh -c 'cat; echo oops >&2; exit 3'"));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "hello\n");
    assert!(stderr(&out).contains("oops"), "{}", stderr(&out));
}

#[test]
fn a_postrotate_script_that_never_returns_stops_nothing_but_its_own_rotation() {
    let s = Systemd::boot();
    s.apache2_sandbox(&[], "l1", 8081, "l1");
    s.apache2_sandbox(&[], "l2", 8082, "l2");
    // Root inside l1 makes its rotation hang forever (written before the
    // start: sed -i replaces the file that a running sandbox has bound).
    s.sh_ok(&format!(
        "sed -i 's/^\\(\\s*\\)postrotate$/&\\n\\1\\1sleep 1000/' {}",
        tree("l1", "/etc/logrotate.d/apache2")
    ));
    assert!(s.sh_ok(&format!("cat {}", tree("l1", "/etc/logrotate.d/apache2"))).contains("sleep 1000"));
    s.sh_ok("systemctl start apache2@l1.service apache2@l2.service");
    for n in ["l1", "l2"] {
        s.sh_ok(&format!(
            "echo x >> {}; printf 'logrotate state -- version 2\\n\"/var/log/apache2/access.log\" 2020-1-1-0:0:0\\n' > {}",
            tree(n, "/var/log/apache2/access.log"),
            tree(n, "/var/lib/logrotate/status")
        ));
    }
    let t = std::time::Instant::now();
    let out = s.tool(&["logrotate", "--timeout", "2s"]);
    let elapsed = t.elapsed();
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("l1: logrotate ended after --timeout 2s"), "{err}");
    assert!(err.contains("logrotate failed in 1 of 2 sandboxes: l1"), "{err}");
    assert!(stdout(&out).contains("l2: logs rotated"), "{}", stdout(&out));
    assert!(elapsed < std::time::Duration::from_secs(30), "took {elapsed:?}");
    // Nothing of l1's hung rotation is left running.
    let left = s.wait_for("pgrep -x sleep || true", |o| o.trim().is_empty());
    assert!(left.trim().is_empty(), "the hung postrotate is still running: {left}");
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/units/sandbox-service-logrotate.service"))
        .unwrap();
    assert!(unit.lines().any(|l| l.starts_with("TimeoutStartSec=")), "{unit}");
    s.sh_ok("systemctl stop apache2@l1.service apache2@l2.service");
}

#[test]
fn connect_returns_and_restores_the_terminal_while_a_process_inside_holds_it() {
    let s = Systemd::boot();
    s.ok(&["create", "k1", "--", "/bin/sleep", "1000"]);
    s.ok(&["start", "k1"]);
    s.sh_ok(&format!(
        "tmux new-session -d -s t -x 100 -y 30 'stty -a > /root/before; {BIN} connect k1; echo EXITED-$?; stty -a > /root/after; sleep 30'"
    ));
    let screen = |want: &str| s.wait_for("tmux capture-pane -p -t t", |o| o.contains(want));
    screen("root@k1");
    // A job left in the background holds the shell's terminal open.
    s.sh_ok("tmux send-keys -t t 'sleep 1000 & exit' Enter");
    let out = screen("EXITED-");
    assert!(out.contains("EXITED-0"), "connect did not return: {out}");
    let (before, after) = (s.sh_ok("cat /root/before"), s.wait_for("cat /root/after", |o| !o.is_empty()));
    assert_eq!(before, after, "the terminal was not restored");
    s.sh_ok("tmux kill-server");
    s.ok(&["stop", "k1"]);
}

#[test]
fn a_process_of_another_sandbox_on_a_recycled_pid_is_not_taken_for_the_init() {
    let s = Systemd::boot();
    for n in ["a1", "b1"] {
        s.ok(&["create", "-p", "/var/lib/probe", n, "--", "/bin/sleep", "1000"]);
        give_probe(&s, n);
        s.ok(&["start", n]);
    }
    // In b1, a process whose argv says it is a1's init.
    s.ok(&["execute", "b1", "--", "sh", "-c", "/var/lib/probe/probe forge a1 & sleep 0.2"]);
    let forged = s.wait_for("pgrep -f '^sandbox-service-init --name a1 forged' || true", |o| !o.trim().is_empty());
    let forged = forged.trim();
    assert!(!forged.is_empty() && !forged.contains('\n'), "the forged init did not start: {forged}");
    // a1's run dies without cleaning up, and its init's pid comes back as
    // the forged process: the pid file left behind now names it.
    let recorded = s.sh_ok("cat /run/sandbox-service/a1.pid");
    let start = recorded.split_whitespace().nth(1).expect("the pid file records a start time").to_string();
    s.ok(&["stop", "a1"]);
    s.sh_ok(&format!("echo '{forged} {start}' > /run/sandbox-service/a1.pid"));
    let out = s.tool(&["execute", "a1", "--", "hostname"]);
    assert!(!out.status.success(), "execute ran in a process of b1's: {}", stdout(&out));
    assert!(!stdout(&out).contains("b1"), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("sandbox 'a1' is not running") && err.contains("which is another process now"), "{err}");
    // The same file in the old form (a bare pid) is refused too.
    s.sh_ok(&format!("echo '{forged}' > /run/sandbox-service/a1.pid"));
    let err = stderr(&s.tool(&["execute", "a1", "--", "hostname"]));
    assert!(err.contains("old or broken form"), "{err}");
    // A start clears what was left, and the sandbox is reached again.
    s.ok(&["start", "a1"]);
    assert_eq!(s.ok(&["execute", "a1", "--", "hostname"]).trim(), "a1");
    s.sh_ok("systemctl stop a1.service b1.service");
}

#[test]
fn clone_copies_a_hostile_tree_as_it_is_and_never_a_running_one() {
    let s = Systemd::boot();
    s.apache2_sandbox(&[], "src1", 8081, "src1");
    s.ok(&["start", "src1"]);
    // Root inside plants links out, a FIFO where a config file was (one
    // apache2 does not read: its own stop would hang on it), a 10 GB
    // sparse file and a hard link.
    s.ok(&[
        "execute",
        "src1",
        "--",
        "sh",
        "-c",
        "cd /var/www && ln -s / root-link && ln -s /etc/shadow shadow-link && truncate -s 10G sparse \
         && echo data > a && ln a b && rm /etc/apache2/magic && mkfifo /etc/apache2/magic",
    ]);
    // Running, under systemd or by hand: refused.
    let err = stderr(&s.tool(&["clone", "src1", "dst1"]));
    assert!(err.contains("sandbox 'src1' is running"), "{err}");
    s.ok(&["stop", "src1"]);
    s.sh_ok(&format!("systemd-run --unit bare-src1 {BIN} run src1"));
    s.wait_for("test -e /run/sandbox-service/src1.pid && echo up", |o| o.contains("up"));
    let err = stderr(&s.tool(&["clone", "src1", "dst1"]));
    assert!(err.contains("running outside its unit"), "{err}");
    s.sh_ok("systemctl stop bare-src1");
    assert!(!s.exists("/etc/sandbox-service/dst1.sandbox"));

    let t = std::time::Instant::now();
    s.ok(&["clone", "src1", "dst1"]);
    assert!(t.elapsed() < std::time::Duration::from_secs(20), "clone took {:?}", t.elapsed());
    let www = tree("dst1", "/var/www");
    assert_eq!(s.sh_ok(&format!("readlink {www}/root-link")).trim(), "/");
    assert_eq!(s.sh_ok(&format!("readlink {www}/shadow-link")).trim(), "/etc/shadow");
    let (size, alloc) = {
        let o = s.sh_ok(&format!("stat -c '%s %b' {www}/sparse"));
        let v: Vec<u64> = o.split_whitespace().map(|x| x.parse().unwrap()).collect();
        (v[0], v[1] * 512)
    };
    assert_eq!(size, 10 << 30);
    assert!(alloc < 1 << 20, "the sparse file took {alloc} bytes in the clone");
    assert_eq!(
        s.sh_ok(&format!("stat -c %i {www}/a")),
        s.sh_ok(&format!("stat -c %i {www}/b")),
        "a hard link was split"
    );
    assert!(!s.exists(&tree("dst1", "/etc/apache2/magic")), "the FIFO was copied");
    // Nothing of the host's came along.
    assert!(s.sh_ok(&format!("find {} -type f -name shadow", tree("dst1", ""))).trim().is_empty());
}

#[test]
fn a_copy_that_does_not_fit_is_refused_before_it_starts() {
    let root = tempfile::tempdir().unwrap();
    let small = root.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let st = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=24m", "tmpfs"]).arg(&small).status();
    assert!(st.unwrap().success());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _u = Unmount(small.clone());
    let data = small.join("var/lib/data");
    std::fs::create_dir_all(&data).unwrap();
    // 14 MiB of real data: a second copy cannot fit in the 24 MiB.
    std::fs::write(data.join("blob"), vec![7u8; 14 << 20]).unwrap();
    let out = tool_root(&small, &["create", "-p", "/var/lib/data", "big1", "--", "/bin/true"]);
    assert!(!out.status.success(), "the first copy should not fit either: {}", stdout(&out));
    assert!(stderr(&out).contains("free some space first"), "{}", stderr(&out));
    let left = std::fs::read_dir(small.join("etc/sandbox-service")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "create left a config behind");
    assert_eq!(
        std::fs::read_dir(small.join("var/lib/sandbox-service"))
            .map(|d| d.flatten().filter(|e| !e.file_name().to_string_lossy().starts_with('.')).count())
            .unwrap_or(0),
        0,
        "create left state behind"
    );
}

#[test]
fn scratch_mounts_inside_hold_no_more_than_their_size() {
    let s = Systemd::boot();
    s.ok(&["create", "t1", "--", "/bin/sleep", "1000"]);
    s.sh_ok("sed -i 's/^tmp-size=.*/tmp-size=8M/; s/^shm-size=.*/shm-size=4M/' /etc/sandbox-service/t1.sandbox");
    s.ok(&["start", "t1"]);
    // Root inside fills its scratch space: the limit holds, not the host's RAM.
    for (dir, mib) in [("/tmp", 8), ("/dev/shm", 4)] {
        let out = s.tool(&[
            "execute",
            "t1",
            "--",
            "sh",
            "-c",
            &format!("dd if=/dev/zero of={dir}/fill bs=1M 2>&1; du -k {dir}/fill"),
        ]);
        let text = stdout(&out);
        assert!(text.contains("No space left on device"), "{dir}: {text}");
        let kib: u64 = text.lines().last().unwrap().split_whitespace().next().unwrap().parse().unwrap();
        assert!(kib <= mib * 1024, "{dir} took {kib} KiB");
    }
    // Every scratch tmpfs has a size, the defaults included.
    let mounts = s.ok(&["execute", "t1", "--", "cat", "/proc/self/mountinfo"]);
    for dir in ["/tmp", "/run", "/home", "/root", "/dev/shm"] {
        let line =
            mounts.lines().find(|l| l.split(' ').nth(4) == Some(dir)).unwrap_or_else(|| panic!("{dir}: {mounts}"));
        assert!(line.contains(",size=") && line.contains("nr_inodes="), "{line}");
    }
    s.ok(&["stop", "t1"]);
}

/// The lines of the probe's unit-checks in a unit's journal: name -> allowed.
fn checks(journal: &str) -> std::collections::BTreeMap<String, bool> {
    journal
        .lines()
        .filter_map(|l| {
            let (verdict, name) = l.split_once(' ')?;
            match verdict {
                "allowed" => Some((name.to_string(), true)),
                "denied" => Some((name.to_string(), false)),
                _ => None,
            }
        })
        .collect()
}

fn status(journal: &str, key: &str) -> String {
    journal.lines().find_map(|l| l.strip_prefix(&format!("status {key} "))).unwrap_or_default().to_string()
}

fn cap_subset(inner: &str, outer: &str) -> bool {
    let (a, b) = (u64::from_str_radix(inner, 16).unwrap(), u64::from_str_radix(outer, 16).unwrap());
    a & !b == 0
}

#[test]
fn a_sandboxed_service_is_never_less_confined_than_its_unit_bare() {
    let s = Systemd::boot();
    // A unit hardened as Debian's redis-server.service is, running the probe
    // (with SystemCallErrorNumber= so a refused call is seen, not fatal).
    s.sh_ok(&format!(
        "install -D -m 0755 {} /var/lib/probe/probe && mkdir -p /var/lib/probe/rw && chown nobody:nogroup /var/lib/probe/rw",
        probe_binary().display()
    ));
    s.sh_ok(
        "cat > /etc/systemd/system/hardened.service <<'EOF'
[Service]
Type=oneshot
User=nobody
Group=nogroup
ExecStart=/var/lib/probe/probe unit-checks /var/lib/probe/rw
CapabilityBoundingSet=
NoNewPrivileges=true
SystemCallFilter=@system-service
SystemCallFilter=~ @privileged @resources
SystemCallErrorNumber=EPERM
SystemCallArchitectures=native
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
MemoryDenyWriteExecute=true
RestrictRealtime=true
RestrictSUIDSGID=true
LockPersonality=true
RestrictNamespaces=true
ProtectSystem=strict
ReadWritePaths=/var/lib/probe/rw
NoExecPaths=/
ExecPaths=/var/lib/probe /usr/lib /lib
PrivateDevices=true
ProtectKernelModules=true
ProtectClock=true
EOF
systemctl daemon-reload",
    );
    s.sh_ok("systemctl start hardened.service");
    let bare = s.journal("hardened.service");
    s.ok(&["create", "--no-package", "-u", "hardened", "-p", "/var/lib/probe", "h1"]);
    s.sh_ok("systemctl start hardened@h1.service");
    let boxed = s.journal("hardened@h1.service");
    let (b, x) = (checks(&bare), checks(&boxed));
    assert!(b.len() >= 15 && b.keys().eq(x.keys()), "bare:\n{bare}\nsandboxed:\n{boxed}");
    assert!(
        b["write-rw-path"] && x["write-rw-path"] && b["socket-af-inet"],
        "the comparison must allow something: {b:?}"
    );
    for (check, allowed) in &b {
        assert!(*allowed || !x[check], "{check}: refused bare, allowed sandboxed\nbare:\n{bare}\nsandboxed:\n{boxed}");
    }
    assert!(cap_subset(&status(&boxed, "CapBnd"), &status(&bare, "CapBnd")), "{boxed}");
    assert!(cap_subset(&status(&boxed, "CapEff"), &status(&bare, "CapEff")), "{boxed}");
    assert_eq!(status(&boxed, "NoNewPrivs"), status(&bare, "NoNewPrivs"));
    let filters = |j: &str| status(j, "Seccomp_filters").parse::<u32>().unwrap();
    assert!(
        filters(&boxed) >= filters(&bare),
        "fewer seccomp filters sandboxed: {} < {}",
        filters(&boxed),
        filters(&bare)
    );

    // Debian's own redis-server, bare and sandboxed, seen from /proc.
    let proc_status = |s: &Systemd| {
        let st = s.wait_for("cat /proc/$(pgrep -x redis-server)/status", |o| o.contains("Seccomp_filters"));
        let f = |k: &str| st.lines().find_map(|l| l.strip_prefix(&format!("{k}:"))).unwrap_or("").trim().to_string();
        (f("CapBnd"), f("CapEff"), f("NoNewPrivs"), f("Seccomp_filters").parse::<u32>().unwrap_or(0))
    };
    s.sh_ok("systemctl start redis-server");
    let bare = proc_status(&s);
    s.sh_ok("systemctl stop redis-server");
    s.ok(&["create", "-u", "redis-server", "r1"]);
    s.sh_ok("systemctl start redis-server@r1.service");
    let boxed = proc_status(&s);
    assert!(cap_subset(&boxed.0, &bare.0) && cap_subset(&boxed.1, &bare.1), "bare {bare:?} sandboxed {boxed:?}");
    assert_eq!(boxed.2, bare.2);
    assert!(boxed.3 >= bare.3, "bare {bare:?} sandboxed {boxed:?}");
    assert_eq!(s.sh_ok("redis-cli ping").trim(), "PONG");
    s.sh_ok("systemctl stop redis-server@r1.service");
}

#[test]
fn systemd_sees_the_confinement_of_a_sandboxs_unit() {
    let s = Systemd::boot();
    s.apache2_sandbox(&[], "web1", 8081, "web1 page");
    let score = |unit: &str| -> f64 {
        let out = s.sh_ok(&format!("systemd-analyze security {unit} --no-pager"));
        let last = out.lines().rev().find(|l| l.contains("Overall exposure level")).unwrap_or_default().to_string();
        last.rsplit(": ").next().and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()).unwrap_or(99.0)
    };
    let (boxed, bare) = (score("apache2@web1.service"), score("apache2.service"));
    assert!(boxed <= 5.0, "apache2@web1.service: exposure {boxed}");
    assert!(boxed < bare, "no better than the bare unit: {boxed} against {bare}");
    // And it still works under all of it.
    s.ok(&["start", "web1"]);
    assert_eq!(s.http(8081), "web1 page\n200");
    s.ok(&["stop", "web1"]);
}

#[test]
fn the_shared_network_and_signals_reach_nothing_outside_the_sandbox() {
    let s = Systemd::boot();
    // A host process on an abstract unix socket: abstract names belong to
    // the network namespace the sandbox shares, and no mount hides them.
    s.sh_ok("systemd-run -q --unit abstract-listener socat ABSTRACT-LISTEN:attack-abstract,fork SYSTEM:'echo hi'");
    let hi = s.wait_for("socat - ABSTRACT-CONNECT:attack-abstract </dev/null 2>&1 || true", |o| o.contains("hi"));
    assert!(hi.contains("hi"), "the listener does not answer on the host: {hi}");
    // The service looks for a process execute started and tries to signal
    // it; `slee[p]` keeps its own command line from matching.
    s.ok(&[
        "create",
        "sig1",
        "--",
        "/bin/sh",
        "-c",
        "while :; do p=$(pgrep -f 'slee[p] 4242' | head -n1); \
         if [ -n \"$p\" ]; then kill -0 $p 2>/dev/null && echo reached || echo refused; fi; sleep 0.2; done",
    ]);
    s.ok(&["start", "sig1"]);
    let out = s.sh(&format!("{BIN} execute sig1 -- socat - ABSTRACT-CONNECT:attack-abstract </dev/null"));
    assert!(!out.status.success() && !stdout(&out).contains("hi"), "execute reached the host's socket: {out:?}");
    assert!(stderr(&out).contains("Operation not permitted"), "{}", stderr(&out));
    // A process of execute's, left inside: the service cannot signal it...
    s.sh_ok(&format!("setsid {BIN} execute sig1 -- sleep 4242 >/dev/null 2>&1 < /dev/null &"));
    let j = s.wait_for("journalctl -u sig1 -o cat -q --no-pager", |j| j.contains("reached") || j.contains("refused"));
    assert!(j.contains("refused") && !j.contains("reached"), "{j}");
    // ...while an admin's command still signals the service (a reload, a kill).
    let o = s.sh(&format!("{BIN} execute sig1 -- sh -c 'kill -0 $(pgrep -o -x sh) && echo signalled'"));
    assert!(stdout(&o).contains("signalled"), "{o:?}");
    // The stop does not wait for what it cannot signal: it ends with the namespace.
    let t = std::time::Instant::now();
    s.ok(&["stop", "sig1"]);
    assert!(t.elapsed() < std::time::Duration::from_secs(20), "stop took {:?}", t.elapsed());
    let left = s.wait_for("pgrep -f 'slee[p] 4242' || true", |o| o.trim().is_empty());
    assert!(left.trim().is_empty(), "execute's process outlived the sandbox: {left}");
}

/// A directory of the sandbox's private /etc swapped, from inside, for a
/// link to a host directory that holds a file of the same name as a
/// private path beneath it: the next start must not mount the host's
/// file, and a clone must not write its new key there.
#[test]
fn a_private_directory_swapped_for_a_link_reaches_nothing_of_the_host() {
    let s = Systemd::boot();
    s.ok(&["create", "-u", "dovecot", "d1"]);
    let plan = s.ok(&["status", "--explain", "d1"]);
    assert!(plan.contains("/etc/dovecot/private/dovecot.key"), "{plan}");
    // On the harness's side (the host, for the sandbox): a secret of the same name.
    s.sh_ok(
        "mkdir -p /root/secret && echo host-secret > /root/secret/dovecot.key && chmod 600 /root/secret/dovecot.key",
    );
    s.ok(&["start", "d1"]);
    s.ok(&[
        "execute",
        "d1",
        "--",
        "sh",
        "-c",
        "mv /etc/dovecot/private /etc/dovecot/was && ln -s /root/secret /etc/dovecot/private",
    ]);
    s.ok(&["stop", "d1"]);
    // Restarted, the link resolves inside (to the sandbox's empty /root),
    // never on the host.
    s.run(&["systemctl", "start", "dovecot@d1.service"]);
    assert!(s.journal("dovecot@d1.service").contains("Can't open file /etc/dovecot/private/dovecot.pem"));
    s.sh_ok("systemctl stop dovecot@d1.service");
    assert_eq!(s.sh_ok("cat /root/secret/dovecot.key"), "host-secret\n");
    // clone copies the link as a link, and refuses to make its key through it.
    let o = s.tool(&["clone", "d1", "d2"]);
    assert!(!o.status.success() && stderr(&o).contains("symbolic link"), "{o:?}");
    assert_eq!(s.sh_ok("cat /root/secret/dovecot.key; ls /root/secret"), "host-secret\ndovecot.key\n");
    assert!(!s.exists("/var/lib/sandbox-service/d2"), "a failed clone left its state");
}

/// Links, a FIFO and a 10 GB sparse file planted from inside an apache2
/// sandbox, then every host-side command that touches its tree: nothing
/// of the host changes, nothing hangs, nothing is copied in full.
#[test]
fn host_side_commands_are_immune_to_a_hostile_tree() {
    let s = Systemd::boot();
    s.apache2_sandbox(&[], "h1", 8081, "h1");
    s.ok(&["start", "h1"]);
    s.ok(&[
        "execute",
        "h1",
        "--",
        "sh",
        "-c",
        "mv /var/lib /var/lib.was && ln -s /etc /var/lib; \
         rm -rf /var/log/apache2 && ln -s /etc /var/log/apache2; \
         ln -s / /var/www/to-root; mkfifo /etc/apache2/fifo.conf; truncate -s 10G /var/www/sparse",
    ]);
    let etc_before = s.sh_ok("ls -la --time-style=+%s /etc | grep -v sandbox-service");
    // logrotate runs inside: its rotation of "/var/log/apache2" is the sandbox's read-only /etc.
    s.tool(&["logrotate", "h1"]);
    // status reads nothing it could hang on.
    let st = s.sh(&format!("timeout 20 {BIN} status h1"));
    assert!(st.status.success(), "{st:?}");
    s.ok(&["stop", "h1"]);
    // update -p through the planted /var/lib -> /etc: refused, the host's /etc untouched.
    let o = s.tool(&["update", "-p", "/var/lib/evil", "h1"]);
    assert!(!o.status.success() && stderr(&o).contains("symbolic link"), "{o:?}");
    assert!(!s.exists("/etc/evil"), "update -p wrote through a planted link into the host's /etc");
    assert_eq!(
        s.sh_ok("ls -la --time-style=+%s /etc | grep -v sandbox-service"),
        etc_before,
        "the host's /etc changed"
    );
    // clone keeps the sparse file sparse, the links links, and skips the FIFO.
    s.ok(&["clone", "h1", "h2"]);
    let du = s.sh_ok("du -k /var/lib/sandbox-service/h2/tree/var/www/sparse | cut -f1");
    assert!(du.trim().parse::<u64>().unwrap() < 1024, "the 10 GB hole was written out: {du} KiB");
    assert_eq!(s.sh_ok("readlink /var/lib/sandbox-service/h2/tree/var/www/to-root"), "/\n");
    // delete follows no link: the host's / and /etc are still there.
    s.ok(&["delete", "h2"]);
    s.ok(&["delete", "h1"]);
    assert!(s.exists("/etc/passwd") && s.exists("/usr/bin/env") && s.exists("/etc/apache2/apache2.conf"));
    assert_eq!(
        s.sh_ok("ls -la --time-style=+%s /etc | grep -v sandbox-service"),
        etc_before,
        "the host's /etc changed"
    );
}
