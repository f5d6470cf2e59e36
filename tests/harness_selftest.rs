//! The harness itself: a real systemd answers, and writes stay inside.
mod harness;
use harness::*;

#[test]
fn boots_systemd_and_keeps_the_host_clean() {
    let s = Systemd::boot();
    let out = s.sh_ok("systemctl show -p Version --value; cat /proc/1/comm");
    assert!(out.contains("systemd"), "{out}");
    s.sh_ok("echo inside > /etc/harness-probe");
    assert!(s.exists("/etc/harness-probe"));
    drop(s);
    assert!(!std::path::Path::new("/etc/harness-probe").exists(), "a harness write reached the host");
}
