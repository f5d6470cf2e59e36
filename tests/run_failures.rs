//! What systemd sees when a sandboxed service fails, and when a sandbox
//! cannot start: a failed unit, the reason in its journal, nothing left.
mod harness;
use harness::*;

#[test]
fn a_crash_fails_the_unit_with_its_status_and_restart_on_failure_restarts_it() {
    let s = Systemd::boot();
    s.ok(&["create", "crash1", "--", "/bin/sh", "-c", "echo dying; exit 7"]);
    let out = s.run(&["systemctl", "start", "crash1.service"]);
    // Type=notify: READY=1 came at exec; the exit comes right after.
    let st = s.wait_for("systemctl is-active crash1.service", |o| o.trim() == "failed");
    assert_eq!(st.trim(), "failed", "{}{}", stderr(&out), s.journal("crash1.service"));
    assert_eq!(s.prop("crash1.service", "ExecMainStatus"), "7");
    assert_eq!(s.prop("crash1.service", "Result"), "exit-code");
    assert!(s.journal("crash1.service").contains("dying"), "the service's output reaches the host journal");

    // A drop-in, as an admin would write: fail twice, then run.
    s.ok(&[
        "create",
        "-p",
        "/var/lib/count",
        "flaky1",
        "--",
        "/bin/sh",
        "-c",
        "n=$(cat /var/lib/count/n 2>/dev/null || echo 0); echo $((n+1)) > /var/lib/count/n; \
         [ $n -ge 2 ] && exec sleep 1000; exit 9",
    ]);
    s.sh_ok("mkdir -p /etc/systemd/system/flaky1.service.d && printf '[Service]\\nRestart=on-failure\\nRestartSec=100ms\\n' \
             > /etc/systemd/system/flaky1.service.d/restart.conf && systemctl daemon-reload");
    let _ = s.run(&["systemctl", "start", "flaky1.service"]);
    let n = s.wait_for("systemctl show -p NRestarts --value flaky1.service", |o| o.trim() == "2");
    assert_eq!(n.trim(), "2", "{}", s.journal("flaky1.service"));
    let st = s.wait_for("systemctl is-active flaky1.service", |o| o.trim() == "active");
    assert_eq!(st.trim(), "active");
    s.sh_ok("systemctl stop flaky1.service");
}

/// Starts `unit`, which must fail with `message` in its journal, leaving
/// nothing mounted.
fn fails_to_start(s: &Systemd, name: &str, message: &str) {
    let before = s.sh_ok("wc -l < /proc/self/mountinfo");
    let unit = format!("{name}.service");
    let out = s.run(&["systemctl", "start", &unit]);
    assert!(!out.status.success(), "{name} started");
    assert_eq!(s.prop(&unit, "ActiveState"), "failed");
    assert!(s.journal(&unit).contains(message), "{}", s.journal(&unit));
    // Our own start says the same, from the config or the unit's last log lines.
    let out = s.tool(&["start", name]);
    assert!(!out.status.success(), "{name} started");
    assert!(stderr(&out).contains(message), "{}", stderr(&out));
    assert_eq!(s.sh_ok("wc -l < /proc/self/mountinfo"), before, "nothing mounted on the host");
    assert!(s.sh_ok(&format!("ls -A /run/sandbox-service/{name} 2>/dev/null || true")).trim().is_empty());
}

#[test]
fn bad_configs_fail_the_unit_with_a_clear_message() {
    let s = Systemd::boot();
    for n in ["gone1", "odd1", "dup1", "dup2"] {
        s.ok(&["create", n, "--", "/bin/sleep", "1000"]);
    }
    s.sh_ok("rm -rf /var/lib/sandbox-service/gone1");
    fails_to_start(&s, "gone1", "state directory /var/lib/sandbox-service/gone1 of sandbox 'gone1' is missing");

    s.sh_ok("sed -i 's/^\\[limits\\]/[limits]\\nflavour=mint/' /etc/sandbox-service/odd1.sandbox");
    fails_to_start(&s, "odd1", "unknown key 'flavour' in [limits]");

    let label = s.sh_ok("sed -n 's/^label=//p' /etc/sandbox-service/dup1.sandbox");
    s.sh_ok(&format!("sed -i 's/^label=.*/label={}/' /etc/sandbox-service/dup2.sandbox", label.trim()));
    fails_to_start(&s, "dup2", "is also used by sandbox 'dup1'");

    // A stop on a sandbox that is not running is no error; an unknown name is.
    let out = s.tool(&["start", "nosuch"]);
    assert_eq!(stderr(&out).trim(), "sandbox-service: error: no sandbox named 'nosuch': see sandbox-service list");
}

#[test]
fn a_hundred_start_stop_cycles_leave_nothing_behind() {
    let s = Systemd::boot();
    s.ok(&["create", "cyc1", "--", "/bin/sleep", "1000"]);
    // A second runtime for a running sandbox is refused, not stacked.
    s.ok(&["start", "cyc1"]);
    let out = s.tool(&["run", "cyc1"]);
    assert_eq!(
        stderr(&out).trim(),
        "sandbox-service: error: sandbox 'cyc1' is already running, or being cloned or deleted: stop it first \
         (sandbox-service stop cyc1), or wait for the other command"
    );
    s.ok(&["stop", "cyc1"]);
    let ns_before = s.sh_ok("ls -l /proc/[0-9]*/ns/mnt 2>/dev/null | sed 's/.*-> //' | sort -u | wc -l");
    let mounts_before = s.sh_ok("cat /proc/self/mountinfo");
    for i in 0..100 {
        let out = s.run(&["systemctl", "start", "cyc1.service"]);
        assert!(out.status.success(), "start {i}: {}", stderr(&out));
        let out = s.run(&["systemctl", "stop", "cyc1.service"]);
        assert!(out.status.success(), "stop {i}: {}", stderr(&out));
    }
    assert_eq!(s.prop("cyc1.service", "Result"), "success");
    assert!(s.sh_ok("pgrep -a sleep || true").trim().is_empty());
    assert_eq!(s.sh_ok("cat /proc/self/mountinfo"), mounts_before);
    let ns_after = s.sh_ok("ls -l /proc/[0-9]*/ns/mnt 2>/dev/null | sed 's/.*-> //' | sort -u | wc -l");
    assert_eq!(ns_after, ns_before, "no mount namespace outlives its sandbox");
}

#[test]
fn apache2_killed_by_a_signal_is_seen_as_such_and_restarted_on_abort() {
    let s = Systemd::boot();
    s.ok(&["create", "-u", "apache2", "ab1"]);
    // apache2.service says Restart=on-abort; the sandbox's unit takes it over.
    assert_eq!(s.prop("apache2@ab1.service", "Restart"), "on-abort");
    s.ok(&["start", "ab1"]);
    let run = s.prop("apache2@ab1.service", "MainPID");
    let shim = s.sh_ok(&format!("cat /proc/{run}/task/{run}/children")).trim().to_string();
    let apache = s.sh_ok(&format!("cat /proc/{shim}/task/{shim}/children")).trim().to_string();
    assert_eq!(s.sh_ok(&format!("cat /proc/{apache}/comm")).trim(), "apache2");
    s.sh_ok(&format!("kill -SEGV {apache}"));
    let n = s.wait_for("systemctl show -p NRestarts --value apache2@ab1.service", |o| o.trim() == "1");
    assert_eq!(n.trim(), "1", "{}", s.journal("apache2@ab1.service"));
    let j = s.journal("apache2@ab1.service");
    assert!(j.contains("code=killed, status=11/SEGV"), "{j}");
    let st = s.wait_for("systemctl is-active apache2@ab1.service", |o| o.trim() == "active");
    assert_eq!(st.trim(), "active");
    assert_eq!(s.http(80), s.sh_ok("cat /var/lib/sandbox-service/ab1/tree/var/www/html/index.html") + "200");
    s.ok(&["stop", "ab1"]);
}

#[test]
fn a_missing_path_is_named_with_the_command_that_adds_it() {
    let s = Systemd::boot();
    s.sh_ok("mkdir -p /var/lib/needed && echo needed-content > /var/lib/needed/file");
    s.ok(&["create", "d1", "--", "/bin/cat", "/var/lib/needed/file"]);
    s.run(&["systemctl", "start", "d1.service"]);
    let st = s.wait_for(&format!("{BIN} status d1"), |o| o.contains("hint:"));
    assert!(
        st.contains("hint:     /var/lib/needed/file is missing inside but the host has /var/lib/needed: sandbox-service update -p /var/lib/needed d1"),
        "{st}"
    );
    let json: serde_json::Value = serde_json::from_str(&s.ok(&["status", "--json", "d1"])).unwrap();
    assert_eq!(json["hints"].as_array().map(Vec::len), Some(1), "{json}");
    // The planner's rules hold for update -p: no secret, no shared directory.
    let out = s.tool(&["update", "-p", "/etc/shadow", "-p", "/var/lib", "d1"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("never cloned") && err.contains("shared directory"), "{err}");
    // The fix as the hint says it, with nothing deleted.
    let out = s.ok(&["update", "-p", "/var/lib/needed", "d1"]);
    assert!(out.contains("added /var/lib/needed to sandbox d1"), "{out}");
    s.sh_ok("systemctl start d1.service");
    let j = s.wait_for("journalctl -u d1 -o cat -q --no-pager", |j| j.contains("needed-content"));
    assert!(j.contains("needed-content"), "{j}");
    let st = s.ok(&["status", "--json", "d1"]);
    assert!(st.contains("\"/var/lib/needed\""), "the manifest records it: {st}");
    // Once there, it is not added twice.
    let out = s.tool(&["update", "-p", "/var/lib/needed", "d1"]);
    assert!(stderr(&out).contains("has it already"), "{}", stderr(&out));
}

/// `run` SIGKILLed at every point of its mount setup, a hundred times:
/// no mount, cgroup or process of the sandbox is left, and the unit starts.
#[test]
fn run_killed_during_its_setup_a_hundred_times_leaves_nothing() {
    let s = Systemd::boot();
    s.ok(&["create", "k1", "--", "/bin/sleep", "1000"]);
    // Kill after 0 to 19 ms: before, during and after the mounts (a
    // whole start takes a few ms).
    let out = s.sh(&format!(
        "for i in $(seq 100); do \
           systemd-run --scope -q {BIN} run k1 >/dev/null 2>&1 & p=$!; \
           usleep=$(( (i * 7) % 20 )); sleep 0.$(printf %03d $usleep); kill -9 $p; wait $p 2>/dev/null; \
         done; echo done"
    ));
    assert!(stdout(&out).contains("done"), "{out:?}");
    let procs = s
        .wait_for("pgrep -af 'sandbox-service-ini[t] --name k1|slee[p] 1000|sandbox-service ru[n] k1' || true", |o| {
            o.trim().is_empty()
        });
    assert!(procs.trim().is_empty(), "left running: {procs}");
    let mounts = s.sh_ok("grep -c 'sandbox-service/k1' /proc/self/mountinfo || true");
    assert_eq!(mounts.trim(), "0", "mounts left");
    let cg =
        s.wait_for("find /sys/fs/cgroup -name '*sandbox-service-k1*' 2>/dev/null || true", |o| o.trim().is_empty());
    assert!(cg.trim().is_empty(), "cgroups left: {cg}");
    s.ok(&["start", "k1"]);
    assert_eq!(s.prop("k1.service", "ActiveState"), "active");
    s.ok(&["stop", "k1"]);
}

/// systemd re-executed under running sandboxes: they keep running and
/// answer to reload, execute and stop as before.
#[test]
fn sandboxes_survive_a_daemon_reexec_and_stay_controllable() {
    let s = Systemd::boot();
    s.apache2_sandbox(&[], "x1", 8081, "x1 page");
    s.ok(&["create", "x2", "--", "/bin/sleep", "1000"]);
    s.ok(&["start", "x1"]);
    s.ok(&["start", "x2"]);
    let main = s.prop("apache2@x1.service", "MainPID");
    s.sh_ok("systemctl daemon-reexec");
    let up = s.wait_for("systemctl is-system-running 2>&1 || true", |o| !o.contains("Failed to connect"));
    assert!(!up.contains("Failed to connect"), "{up}");
    assert_eq!(s.prop("apache2@x1.service", "ActiveState"), "active");
    assert_eq!(s.prop("apache2@x1.service", "MainPID"), main, "systemd lost track of the runtime");
    assert_eq!(s.prop("x2.service", "ActiveState"), "active");
    assert_eq!(s.http(8081), "x1 page\n200");
    s.sh_ok("systemctl reload apache2@x1.service");
    assert_eq!(s.ok(&["execute", "x1", "--", "hostname"]), "x1\n");
    s.ok(&["stop", "x1"]);
    s.ok(&["stop", "x2"]);
    assert_eq!(s.prop("apache2@x1.service", "Result"), "success");
    assert_eq!(s.prop("x2.service", "ActiveState"), "inactive");
}
