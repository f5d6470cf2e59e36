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
    s.ok(&["restart", "web1"]);
    let caps = s.ok(&["execute", "web1", "--", "grep", "CapEff", "/proc/self/status"]);
    assert!(caps.contains("a80425fb"), "CAP_MKNOD was not given: {caps}");
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
    let left = s.sh_ok("find /sys/fs/cgroup -name 'sandbox-service-c1*'");
    assert!(left.trim().is_empty(), "run left its cgroup behind: {left}");
}
