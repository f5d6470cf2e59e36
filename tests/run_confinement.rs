//! A generic sandbox running tests' probe program (examples/probe.rs) checks
//! its confinement from the inside, under the harness's real systemd.
mod harness;
use harness::*;

#[test]
fn the_probe_finds_every_default_in_force() {
    let s = Systemd::boot();
    let probe = probe_binary();
    assert!(probe.exists(), "{} not built (cargo test builds examples)", probe.display());
    // What the masks are about, on the harness's host side: an ssh host
    // key and a user's home with a file, so the checks cannot pass on a
    // host that has neither.
    s.sh_ok("mkdir -p /etc/ssh /home/alice && echo secret > /etc/ssh/ssh_host_probe_key && chmod 600 /etc/ssh/ssh_host_probe_key && echo x > /home/alice/notes");
    s.ok(&["create", "-p", "/var/lib/probe", "box1", "--", "/var/lib/probe/probe", "box1", "/var/lib/probe"]);
    // The command must be inside the sandbox: put it in its private path.
    s.sh_ok(&format!("install -m 0755 {} /var/lib/sandbox-service/box1/tree/var/lib/probe/probe", probe.display()));
    // A host process on an abstract unix socket, which the sandbox's shared
    // network namespace holds; it answers from the harness itself.
    s.sh_ok("systemd-run -q --unit abstract-listener socat ABSTRACT-LISTEN:sandbox-service-probe-host,fork SYSTEM:'echo hi'");
    let hi =
        s.wait_for("socat - ABSTRACT-CONNECT:sandbox-service-probe-host </dev/null 2>&1 || true", |o| o.contains("hi"));
    assert!(hi.contains("hi"), "the listener does not answer on the host: {hi}");
    let out = s.run(&["systemctl", "start", "box1.service"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = s.wait_for("journalctl -u box1 -o cat -q --no-pager", |j| j.contains("probe: "));
    let checks = log.lines().filter(|l| l.starts_with("ok ") || l.starts_with("FAIL ")).count();
    assert!(checks >= 40, "too few checks ran:\n{log}");
    assert!(log.contains("probe: 0 failed"), "{log}");
    for planted in ["ok ssh-keys-masked", "ok home-empty", "ok pid1-not-dumpable", "ok shim-mount-read-only"] {
        assert!(log.contains(planted), "{planted} did not run:\n{log}");
    }
    // The probe exits 0, and the unit ends cleanly with it.
    let st = s.wait_for("systemctl is-active box1.service", |o| o.trim() == "inactive");
    assert_eq!(st.trim(), "inactive", "{}", s.journal("box1.service"));
    assert_eq!(s.prop("box1.service", "ExecMainStatus"), "0");
    // The same, started by hand outside the unit (a scope): the unit's
    // ProtectSystem= no longer makes the host's files read-only for `run`,
    // so only the runtime's own defences hold (the shim's read-only mount).
    let out = s.run(&["systemd-run", "--scope", "-q", BIN, "run", "box1"]);
    let bare = stdout(&out);
    assert!(out.status.success() && bare.contains("probe: 0 failed"), "{bare}{}", stderr(&out));
    assert!(bare.contains("ok shim-mount-read-only"), "{bare}");
    assert!(!log.contains("FAIL"), "{log}");
}

fn interfaces(s: &Systemd, unit: &str) -> Vec<String> {
    let log = s.wait_for(&format!("journalctl -u {unit} -o cat -q --no-pager"), |j| j.contains("lo:"));
    let mut v: Vec<String> = log
        .lines()
        .filter_map(|l| l.trim().split_once(':'))
        // "  lo: 1234 5 ..." lines of /proc/net/dev, nothing else.
        .filter(|(n, rest)| !n.contains(' ') && rest.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .map(|(n, _)| n.to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn network_none_has_only_loopback() {
    let s = Systemd::boot();
    // An interface the harness's own network has, so "host" can be told apart.
    s.sh_ok("ip link add v0 type veth peer name v1");
    for name in ["net1", "net2"] {
        s.ok(&["create", name, "--", "/bin/sh", "-c", "cat /proc/net/dev; exec sleep 1000"]);
    }
    s.sh_ok("sed -i 's/^network=host/network=none/' /etc/sandbox-service/net1.sandbox");
    // The unit says what namespaces the runtime may make: it must follow.
    let out = s.tool(&["start", "net1"]);
    assert!(stderr(&out).contains("run sandbox-service update net1"), "{}", stderr(&out));
    s.ok(&["update", "net1"]);
    s.sh_ok("systemctl start net1.service net2.service");
    assert_eq!(interfaces(&s, "net1.service"), vec!["lo"]);
    assert_eq!(interfaces(&s, "net2.service"), vec!["lo", "v0", "v1"]);
    s.sh_ok("systemctl stop net1.service net2.service");
}

#[test]
fn private_users_map_root_to_a_unique_unprivileged_range() {
    let s = Systemd::boot();
    s.ok(&[
        "create",
        "--private-users",
        "-p",
        "/var/lib/data",
        "u1",
        "--",
        "/bin/sh",
        "-c",
        "cat /proc/self/uid_map; touch /var/lib/data/made; exec sleep 1000",
    ]);
    s.ok(&["create", "--private-users", "u2", "--", "/bin/sleep", "1000"]);
    let base = |n: &str| -> u32 {
        s.sh_ok(&format!("sed -n 's/^private-users=//p' /etc/sandbox-service/{n}.sandbox")).trim().parse().unwrap()
    };
    let (b1, b2) = (base("u1"), base("u2"));
    assert!(b1 != b2 && b1 >= 524288 && b2 >= 524288 && b1 % 65536 == 0, "{b1} {b2}");
    s.ok(&["start", "u1"]);
    let j = s.wait_for("journalctl -u u1 -o cat -q --no-pager", |j| j.contains("65536"));
    let map: Vec<&str> = j.lines().find(|l| l.contains("65536")).unwrap().split_whitespace().collect();
    assert_eq!(map, vec!["0", &b1.to_string(), "65536"], "{j}");
    // On the host, the sandbox's root is that unprivileged uid, and so are its files.
    let pid = s.prop("u1.service", "MainPID");
    let sleeper = s.sh_ok(&format!("cat /proc/{pid}/task/{pid}/children"));
    let shim = sleeper.split_whitespace().next().unwrap();
    let uid = s.sh_ok(&format!("stat -c %u /proc/{shim}"));
    assert_eq!(uid.trim(), b1.to_string());
    let made = "/var/lib/sandbox-service/u1/tree/var/lib/data/made";
    let owner = s.wait_for(&format!("stat -c %u {made}"), |o| !o.trim().is_empty());
    assert_eq!(owner.trim(), b1.to_string());
    s.ok(&["stop", "u1"]);

    // A clone is another user: its own range, its files moved to it.
    s.ok(&["clone", "u1", "u3"]);
    let b3 = base("u3");
    assert!(b3 != b1 && b3 != b2);
    let owner = s.sh_ok("stat -c %u /var/lib/sandbox-service/u3/tree/var/lib/data/made");
    assert_eq!(owner.trim(), b3.to_string());
}

#[test]
fn tcp_ports_beyond_bind_ports_and_connect_ports_are_refused() {
    let s = Systemd::boot();
    // Two host listeners; the sandbox may connect to the first only.
    for p in [8093, 8094] {
        s.sh_ok(&format!("systemd-run -q --unit listen-{p} socat TCP-LISTEN:{p},reuseaddr,fork SYSTEM:'echo hi-{p}'"));
        let hi = s.wait_for(&format!("socat - TCP:127.0.0.1:{p} </dev/null 2>&1 || true"), |o| o.contains("hi"));
        assert!(hi.contains(&format!("hi-{p}")), "the host's listener on {p} does not answer: {hi}");
    }
    s.ok(&[
        "create",
        "--bind-ports",
        "8091",
        "--connect-ports",
        "8093",
        "ports1",
        "--",
        "/bin/sh",
        "-c",
        "socat TCP-LISTEN:8092 /dev/null; echo service-bind-8092-rc=$?; exec sleep 1000",
    ]);
    assert!(s.sh_ok("cat /etc/sandbox-service/ports1.sandbox").contains("bind-ports=8091\nconnect-ports=8093\n"));
    s.ok(&["start", "ports1"]);
    let j = s.wait_for("journalctl -u ports1 -o cat -q --no-pager", |j| j.contains("service-bind-8092-rc="));
    assert!(j.contains("Permission denied") && j.contains("service-bind-8092-rc=1"), "{j}");
    // The same rules hold for what execute runs.
    let bind = |p: u16| s.sh(&format!("{BIN} execute ports1 -- timeout 1 socat TCP-LISTEN:{p},reuseaddr /dev/null"));
    assert_eq!(bind(8091).status.code(), Some(124), "8091 is allowed: it listens until the timeout");
    let o = bind(8092);
    assert!(o.status.code() == Some(1) && stderr(&o).contains("Permission denied"), "{o:?}");
    let connect = |p: u16| s.sh(&format!("{BIN} execute ports1 -- socat - TCP:127.0.0.1:{p} </dev/null"));
    assert!(stdout(&connect(8093)).contains("hi-8093"));
    let o = connect(8094);
    assert!(!stdout(&o).contains("hi") && stderr(&o).contains("Permission denied"), "{o:?}");
    let st = s.ok(&["status", "--explain", "ports1"]);
    assert!(st.contains("bind-ports: 8091 only (Landlock)") && st.contains("connect-ports: 8093 only"), "{st}");
    s.ok(&["stop", "ports1"]);
}

#[test]
fn bind_ports_auto_takes_the_ports_apache2s_configuration_names() {
    let s = Systemd::boot();
    let out = s.ok(&["create", "-u", "apache2", "--bind-ports", "auto", "--explain", "web1"]);
    assert!(out.contains("port     80/tcp: 'Listen 80' in /etc/apache2/ports.conf"), "{out}");
    assert!(out.contains("bind-ports: 80 443 only (Landlock)"), "{out}");
    s.ok(&["start", "web1"]);
    assert!(s.http(80).ends_with("200"));
    s.ok(&["stop", "web1"]);
    // Listening elsewhere is what the rule refuses.
    s.sh_ok(&format!("sed -i 's/^Listen 80$/Listen 8085/' {}", tree("web1", "/etc/apache2/ports.conf")));
    assert!(!s.run(&["systemctl", "start", "apache2@web1.service"]).status.success());
    assert!(s.journal("apache2@web1.service").contains("Permission denied: AH00072: make_sock: could not bind"));
    // A service whose configuration names no port: auto cannot guess.
    let o = s.tool(&["create", "--bind-ports", "auto", "c1", "--", "/bin/true"]);
    assert!(!o.status.success() && stderr(&o).contains("names no TCP port"), "{o:?}");
}

/// /etc is seen as other users of the host see it: what the host keeps from
/// them is unreadable to root inside, including a file made or chmod'ed
/// after create, and after start, with nothing walked at start. Where /etc
/// cannot be idmapped (an overlay), the same rule holds by masks.
#[test]
fn etc_is_what_other_users_of_the_host_may_read() {
    let s = Systemd::boot();
    s.sh_ok("mkdir -m 0750 /etc/vault && echo own > /etc/vault/own.conf && echo open > /etc/probe-open");
    s.ok(&["create", "-p", "/etc/vault/own.conf", "etc1", "--", "/bin/sleep", "1000"]);
    let explain = s.ok(&["create", "--explain", "--dry-run", "etc2", "--", "/bin/true"]);
    assert!(explain.contains("others   /etc: seen as other users"), "{explain}");
    // Made after create, as an admin would.
    s.sh_ok("echo later > /etc/probe-later && chmod 600 /etc/probe-later");
    s.ok(&["start", "etc1"]);
    let cat = |p: &str| s.tool(&["execute", "etc1", "--", "/bin/cat", p]);
    let later = cat("/etc/probe-later");
    assert!(!later.status.success() && stderr(&later).contains("Permission denied"), "{later:?}");
    assert_eq!(stdout(&cat("/etc/probe-open")), "open\n");
    // The sandbox's own file beneath a directory others cannot search is
    // there (the directory masked with a place for it), and nothing else.
    assert_eq!(stdout(&cat("/etc/vault/own.conf")), "own\n");
    let ls = s.tool(&["execute", "etc1", "--", "/bin/ls", "-A", "/etc/vault"]);
    assert_eq!(stdout(&ls), "own.conf\n", "{}", stderr(&ls));
    // Changed on the host while the sandbox runs: in force at once.
    s.sh_ok("chmod 600 /etc/probe-open");
    let now = cat("/etc/probe-open");
    assert!(!now.status.success() && stderr(&now).contains("Permission denied"), "{now:?}");
    s.sh_ok("chmod 644 /etc/probe-open");
    assert_eq!(stdout(&cat("/etc/probe-open")), "open\n");
    s.ok(&["stop", "etc1"]);

    // An /etc that cannot be idmapped: the walk at start masks instead.
    s.sh_ok("mkdir /run/ov /run/ov/u /run/ov/w && mount -t overlay overlay -o lowerdir=/etc,upperdir=/run/ov/u,workdir=/run/ov/w /etc");
    let explain = s.ok(&["create", "--explain", "--dry-run", "etc2", "--", "/bin/true"]);
    assert!(explain.contains("walked   /etc: /etc cannot be idmapped here"), "{explain}");
    assert!(explain.contains("masked   /etc/probe-later: the host keeps it from other users"), "{explain}");
    s.ok(&["start", "etc1"]);
    let later = cat("/etc/probe-later");
    assert!(later.status.success() && stdout(&later).is_empty(), "masked: reads empty {later:?}");
    assert_eq!(stdout(&cat("/etc/vault/own.conf")), "own\n");
    s.ok(&["stop", "etc1"]);
}
