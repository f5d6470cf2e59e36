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
