//! The shim runs a service's own unit as systemd would: each Type=, the
//! Exec* hooks, environment, user, directories, signals; and the
//! container settings of create (capabilities, limits, update).
mod harness;
use harness::*;

/// Installs a unit of the admin's own in the harness and sandboxes it.
fn own_unit(s: &Systemd, unit: &str, body: &str, name: &str, extra: &[&str]) {
    s.sh_ok(&format!("cat > /etc/systemd/system/{unit} <<'EOF'\n[Service]\n{body}\nEOF\nsystemctl daemon-reload"));
    let mut args = vec!["create", "--no-package", "-u", unit];
    args.extend_from_slice(extra);
    args.push(name);
    s.ok(&args);
}

#[test]
fn notify_service_with_hooks_environment_user_and_directories() {
    let s = Systemd::boot();
    s.sh_ok("echo 'FROMFILE=from-the-file' > /etc/nt.env");
    own_unit(
        &s,
        "nt.service",
        "Type=notify\nEnvironment=MSG=hello\nEnvironmentFile=/etc/nt.env\nUser=nobody\nWorkingDirectory=/tmp\nUMask=0077\n\
         RuntimeDirectory=nt\nExecStartPre=/bin/sh -c 'echo pre $MSG'\nExecStartPre=-/bin/false\n\
         ExecStart=/bin/sh -c 'echo \"user $(id -un) dir $(pwd) umask $(umask) rundir $(stat -c %%U /run/nt)\"; sleep 0.5; \
         systemd-notify --ready --status=\"serving $FROMFILE\"; exec sleep 1000'\n\
         ExecStartPost=/bin/sh -c 'echo post-start $MAINPID'\n\
         ExecStop=/bin/sh -c 'echo stopping; kill $MAINPID'\nExecStopPost=/bin/sh -c 'echo post-stop'",
        "nt1",
        &[],
    );
    s.ok(&["start", "nt1"]);
    // start returned only after READY=1, which came half a second in.
    assert_eq!(s.prop("nt@nt1.service", "ActiveState"), "active");
    assert_eq!(s.prop("nt@nt1.service", "StatusText"), "serving from-the-file");
    let j = s.journal("nt@nt1.service");
    assert!(j.contains("pre hello"), "{j}");
    assert!(j.contains("user nobody dir /tmp umask 0077 rundir nobody"), "{j}");
    assert!(j.lines().any(|l| l.starts_with("post-start ") && l.len() > "post-start ".len()), "{j}");
    s.ok(&["stop", "nt1"]);
    let j = s.journal("nt@nt1.service");
    assert!(j.contains("stopping") && j.contains("post-stop"), "{j}");
    assert_eq!(s.prop("nt@nt1.service", "Result"), "success");
}

#[test]
fn oneshot_remain_after_exit_and_signal_forwarding() {
    let s = Systemd::boot();
    own_unit(
        &s,
        "one.service",
        "Type=oneshot\nRemainAfterExit=yes\nExecStart=/bin/echo once\nExecStart=/bin/echo twice",
        "o1",
        &[],
    );
    s.ok(&["start", "o1"]);
    assert_eq!(s.prop("one@o1.service", "ActiveState"), "active");
    let j = s.journal("one@o1.service");
    assert!(j.contains("once") && j.contains("twice"), "{j}");
    s.ok(&["stop", "o1"]);

    own_unit(&s, "quick.service", "Type=oneshot\nExecStart=/bin/echo done", "q1", &[]);
    s.ok(&["start", "q1"]);
    assert_eq!(s.prop("quick@q1.service", "Result"), "success");

    own_unit(
        &s,
        "sig.service",
        "Type=simple\nExecStart=/bin/sh -c 'trap \"echo got-usr1\" USR1; echo trapping; while :; do sleep 0.1; done'",
        "s1",
        &[],
    );
    s.ok(&["start", "s1"]);
    s.wait_for("journalctl -u sig@s1 -o cat -q --no-pager", |j| j.contains("trapping"));
    s.sh_ok("systemctl kill --kill-who=main -s SIGUSR1 sig@s1.service");
    let j = s.wait_for("journalctl -u sig@s1 -o cat -q --no-pager", |j| j.contains("got-usr1"));
    assert!(j.contains("got-usr1"), "{j}");
    s.ok(&["stop", "s1"]);
}

#[test]
fn capabilities_and_limits_from_create_and_update() {
    let s = Systemd::boot();
    s.ok(&[
        "create",
        "--cap-drop",
        "kill",
        "--cap-add",
        "CAP_SYS_PTRACE",
        "--memory",
        "64M",
        "--tasks",
        "32",
        "caps1",
        "--",
        "/bin/sh",
        "-c",
        "grep CapBnd /proc/self/status; exec sleep 1000",
    ]);
    s.ok(&["start", "caps1"]);
    let j = s.wait_for("journalctl -u caps1 -o cat -q --no-pager", |j| j.contains("CapBnd"));
    // The default a00405fb without KILL (bit 5), with SYS_PTRACE (bit 19).
    assert!(j.contains("CapBnd:\t00000000a00c05db"), "{j}");
    assert_eq!(s.prop("caps1.service", "MemoryMax"), "67108864");
    assert_eq!(s.prop("caps1.service", "TasksMax"), "32");

    s.sh_ok("sed -i 's/^memory=.*/memory=32M/' /etc/sandbox-service/caps1.sandbox");
    let out = s.ok(&["update", "caps1"]);
    assert!(out.contains("limits apply now"), "{out}");
    assert_eq!(s.prop("caps1.service", "MemoryMax"), "33554432");
    s.ok(&["stop", "caps1"]);

    let out = s.tool(&["create", "--cap-add", "CAP_FLY", "bad1", "--", "/bin/true"]);
    assert_eq!(
        stderr(&out).trim(),
        "sandbox-service: error: unknown capability 'CAP_FLY': see capabilities(7), e.g. CAP_NET_ADMIN"
    );
}

#[test]
fn exec_type_kill_modes_stop_timeout_and_success_exit_status() {
    let s = Systemd::boot();
    // Type=exec: a start whose program cannot be executed fails the start
    // itself (Type=simple would report it started).
    own_unit(&s, "ex.service", "Type=exec\nExecStart=/usr/bin/no-such-program", "ex1", &[]);
    assert!(!s.run(&["systemctl", "start", "ex@ex1.service"]).status.success());
    own_unit(&s, "ex2.service", "Type=exec\nExecStart=/bin/sleep 1000", "ex2", &[]);
    s.ok(&["start", "ex2"]);
    assert_eq!(s.prop("ex2@ex2.service", "ActiveState"), "active");
    s.ok(&["stop", "ex2"]);
    // KillMode=: a child that says when it gets SIGTERM. control-group
    // sends it to every process; mixed only to the main one.
    let body = |mode: &str| {
        format!(
            "KillMode={mode}\nExecStart=/bin/sh -c '(trap \"echo child-got-term; exit 0\" TERM; while :; do sleep 0.1; done) & \
             echo started; wait'"
        )
    };
    for (unit, mode, told) in [("kcg.service", "control-group", true), ("kmx.service", "mixed", false)] {
        own_unit(&s, unit, &body(mode), mode, &[]);
        let u = format!("{}@{mode}.service", unit.trim_end_matches(".service"));
        s.ok(&["start", mode]);
        s.wait_for(&format!("journalctl -u {u} -o cat -q --no-pager"), |j| j.contains("started"));
        s.ok(&["stop", mode]);
        let j = s.journal(&u);
        assert_eq!(j.contains("child-got-term"), told, "KillMode={mode}:\n{j}");
    }
    // TimeoutStopSec=: a service that ignores SIGTERM is killed after it.
    own_unit(
        &s,
        "stubborn.service",
        "TimeoutStopSec=2\nExecStart=/bin/sh -c 'trap \"echo ignoring\" TERM; echo up; while :; do sleep 0.1; done'",
        "st1",
        &[],
    );
    s.ok(&["start", "st1"]);
    s.wait_for("journalctl -u stubborn@st1 -o cat -q --no-pager", |j| j.contains("up"));
    let t = std::time::Instant::now();
    s.ok(&["stop", "st1"]);
    let took = t.elapsed();
    assert!(
        took >= std::time::Duration::from_secs(2) && took < std::time::Duration::from_secs(15),
        "stop took {took:?}"
    );
    let j = s.journal("stubborn@st1.service");
    assert!(j.contains("ignoring") && j.contains("still running after 2s, killing"), "{j}");
    assert_eq!(s.sh_ok("pgrep -fc 'trap \"echo ignorin[g]' || true").trim(), "0");
    // SuccessExitStatus=: exit 42 counts as success.
    for (unit, extra, result) in [("se.service", "SuccessExitStatus=42\n", "success"), ("sf.service", "", "exit-code")]
    {
        own_unit(&s, unit, &format!("{extra}ExecStart=/bin/sh -c 'exit 42'"), "e1", &[]);
        let u = format!("{}@e1.service", unit.trim_end_matches(".service"));
        let _ = s.run(&["systemctl", "start", &u]);
        let st = s.wait_for(&format!("systemctl show -p Result --value {u}"), |o| o.trim() == result);
        assert_eq!(st.trim(), result, "{u}: {}", s.journal(&u));
        s.sh_ok(&format!("systemctl reset-failed {u} 2>/dev/null || true"));
        s.ok(&["delete", "--force", "e1"]);
    }
}

#[test]
fn two_services_in_one_sandbox_both_run_and_stop() {
    let s = Systemd::boot();
    for (u, word) in [("one.service", "first"), ("two.service", "second")] {
        s.sh_ok(&format!(
            "cat > /etc/systemd/system/{u} <<'EOF'\n[Service]\nExecStart=/bin/sh -c 'echo {word} $(hostname); exec sleep 1000'\nEOF\nsystemctl daemon-reload"
        ));
    }
    s.ok(&["create", "--no-package", "-u", "one", "-u", "two", "duo"]);
    s.ok(&["start", "duo"]);
    let j = s.wait_for("journalctl -u duo -o cat -q --no-pager", |j| j.contains("first") && j.contains("second"));
    assert!(j.contains("first duo") && j.contains("second duo"), "{j}");
    // Both in one pid namespace, under one init.
    let ps = s.ok(&["execute", "duo", "--", "ps", "-e", "-o", "comm="]);
    assert_eq!(ps.lines().filter(|l| *l == "sleep").count(), 2, "{ps}");
    s.ok(&["stop", "duo"]);
    assert_eq!(s.prop("duo.service", "Result"), "success");
}

#[test]
fn limits_hold_the_service_memory_tasks_and_cpu() {
    let s = Systemd::boot();
    // MemoryMax=: 200 MB written does not fit in 32 MB.
    s.ok(&[
        "create",
        "--memory",
        "32M",
        "mem1",
        "--",
        "/usr/bin/python3",
        "-c",
        "b = b'x' * 200_000_000; print('survived')",
    ]);
    let _ = s.run(&["systemctl", "start", "mem1.service"]);
    let r =
        s.wait_for("systemctl show -p Result --value mem1.service", |o| o.trim() != "success" && !o.trim().is_empty());
    let j = s.journal("mem1.service");
    assert!(!j.contains("survived"), "200 MB fit under MemoryMax=32M:\n{j}");
    assert!(
        r.trim() == "oom-kill" || j.contains("Killed") || j.contains("status 137") || r.trim() == "exit-code",
        "{r} {j}"
    );
    // TasksMax=: the 9th process cannot be made.
    s.ok(&[
        "create",
        "--tasks",
        "8",
        "tasks1",
        "--",
        "/bin/sh",
        "-c",
        "for i in $(seq 20); do sleep 100 & done 2>&1; echo forks-done; wait",
    ]);
    s.ok(&["start", "tasks1"]);
    let j = s.wait_for("journalctl -u tasks1 -o cat -q --no-pager", |j| j.contains("forks-done"));
    assert!(j.contains("Resource temporarily unavailable") || j.contains("Cannot fork"), "{j}");
    s.ok(&["stop", "tasks1"]);
    // CPUQuota=: two busy loops for 3 s get about half a CPU, not two.
    // The harness's systemd keeps no CPU accounting: bash's `time` counts.
    s.ok(&[
        "create",
        "--cpu",
        "50%",
        "cpu1",
        "--",
        "/bin/bash",
        "-c",
        "TIMEFORMAT='cpu %U %S'; time (timeout 3 sh -c 'while :; do :; done' & timeout 3 sh -c 'while :; do :; done'; wait)",
    ]);
    s.ok(&["start", "cpu1"]);
    let j = s.wait_for("journalctl -u cpu1 -o cat -q --no-pager", |j| j.contains("cpu "));
    let line = j.lines().find(|l| l.starts_with("cpu ")).unwrap_or_default();
    let used: f64 = line.split_whitespace().skip(1).filter_map(|w| w.parse::<f64>().ok()).sum();
    assert!(used > 0.5 && used < 2.5, "CPUQuota=50% let two busy loops use {used} s of CPU in 3 s: {line}");
}
