//! Long copies report progress on a terminal, and only there.
mod harness;
use harness::*;

#[test]
fn a_long_copy_shows_progress_on_a_terminal_only() {
    let s = Systemd::boot();
    s.sh_ok("mkdir -p /var/lib/big && cd /var/lib/big && for d in $(seq 60); do mkdir $d; for f in $(seq 200); do echo $f > $d/$f; done; done");
    // script(1) gives the command a terminal; the report is one rewritten line.
    let tty = s.sh_ok(&format!("script -qec '{BIN} create -p /var/lib/big p1 -- /bin/true' /dev/null"));
    assert!(tty.contains("\rcopying the private paths: "), "{tty:?}");
    assert!(tty.contains("\r\x1b[K"), "the line is cleared at the end: {tty:?}");
    // Without a terminal: not a byte of it.
    let out = s.tool(&["create", "-p", "/var/lib/big", "p2", "--", "/bin/true"]);
    assert!(out.status.success());
    assert!(!stderr(&out).contains("copying") && !stdout(&out).contains("copying"), "{}", stderr(&out));
}
