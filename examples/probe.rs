//! A test program for tests/run_confinement.rs, run as a generic sandbox's
//! command: it looks at the container from the inside and prints one line
//! per check, `ok NAME` or `FAIL NAME: detail`, then `probe: N failed`.
//! Usage: probe HOSTNAME PRIVATE_DIR

use nix::libc;
use std::fs;
use std::io::ErrorKind;

struct Probe {
    failed: usize,
}

impl Probe {
    fn check(&mut self, name: &str, ok: bool, detail: impl std::fmt::Display) {
        if ok {
            println!("ok {name}");
        } else {
            self.failed += 1;
            println!("FAIL {name}: {detail}");
        }
    }
}

fn status_field(key: &str) -> String {
    let s = fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines().find_map(|l| l.strip_prefix(&format!("{key}:")).map(|v| v.trim().to_string())).unwrap_or_default()
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Writes a new file in `dir`; the error kind if it cannot.
fn try_write(dir: &str) -> Result<(), String> {
    let p = format!("{dir}/.probe-{}", std::process::id());
    match fs::write(&p, b"x") {
        Ok(()) => {
            let _ = fs::remove_file(&p);
            Ok(())
        }
        Err(e) => Err(format!("{e}")),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (host, private) = (&args[1], &args[2]);
    let mut p = Probe { failed: 0 };

    let cmdline = fs::read("/proc/1/cmdline").unwrap_or_default();
    p.check("pid1-is-shim", cmdline.starts_with(b"sandbox-service-init\0"), String::from_utf8_lossy(&cmdline));
    let me = std::process::id() as i32;
    // SAFETY: plain syscalls with no pointers.
    let sid = unsafe { libc::getsid(0) };
    p.check("own-session", sid == me, format!("sid {sid}, pid {me}"));
    let hn = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
    p.check("hostname", &hn == host, &hn);
    let hosts = fs::read_to_string("/etc/hosts").unwrap_or_default();
    p.check("hosts-entry", hosts.contains(&format!("127.0.1.1\t{host}")), &hosts);

    for (k, want) in [
        ("CapBnd", "00000000a80425fb"),
        ("CapEff", "00000000a80425fb"),
        ("CapPrm", "00000000a80425fb"),
        ("CapInh", "0000000000000000"),
        ("CapAmb", "0000000000000000"),
        ("NoNewPrivs", "1"),
        ("Seccomp", "2"),
    ] {
        let v = status_field(k);
        p.check(k, v == want, format!("{v}, want {want}"));
    }

    // SAFETY: each call passes valid pointers or none; failures are the point.
    unsafe {
        let r = libc::mount(c"none".as_ptr(), c"/tmp".as_ptr(), c"tmpfs".as_ptr(), 0, std::ptr::null());
        p.check("mount-denied", r != 0 && errno() == libc::EPERM, format!("rc {r} errno {}", errno()));
        let r = libc::unshare(libc::CLONE_NEWNS);
        p.check("unshare-denied", r != 0 && errno() == libc::EPERM, format!("rc {r} errno {}", errno()));
        let r = libc::unshare(libc::CLONE_NEWUSER);
        p.check("userns-denied", r != 0 && errno() == libc::EPERM, format!("rc {r} errno {}", errno()));
        // keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
        let r = libc::syscall(libc::SYS_keyctl, 0, -3, 0);
        p.check("keyctl-denied", r < 0 && errno() == libc::EPERM, format!("rc {r} errno {}", errno()));
        let r = libc::ptrace(libc::PTRACE_ATTACH, 1, 0, 0);
        p.check("ptrace-pid1-denied", r < 0, format!("rc {r} errno {}", errno()));
        let r = libc::syscall(libc::SYS_bpf, 0, 0, 0);
        p.check("bpf-denied", r < 0 && errno() == libc::EPERM, format!("rc {r} errno {}", errno()));
    }

    let sys = fs::write("/proc/sys/kernel/hostname", "evil");
    p.check("proc-sys-read-only", sys.is_err(), format!("{sys:?}"));
    for f in ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/etc/shadow", "/etc/gshadow"] {
        match fs::read(f) {
            Ok(b) => p.check(&format!("masked {f}"), b.is_empty(), format!("{} bytes readable", b.len())),
            Err(e) if e.kind() == ErrorKind::NotFound => println!("ok masked {f} (absent)"),
            Err(e) => p.check(&format!("masked {f}"), true, e),
        }
    }
    let fw = fs::read_dir("/sys/firmware").map(|d| d.count()).unwrap_or(0);
    p.check("sys-firmware-masked", fw == 0, format!("{fw} entries"));
    let ssh = fs::read_dir("/etc/ssh").map(|d| d.count()).unwrap_or(0);
    p.check("ssh-keys-masked", ssh == 0, format!("{ssh} entries"));

    for (dir, writable) in [
        ("/usr", false),
        ("/usr/bin", false),
        ("/etc", false),
        ("/", false),
        ("/var/lib", false),
        ("/var", false),
        ("/tmp", true),
        ("/run", true),
        ("/var/tmp", true),
        ("/dev/shm", true),
        (private.as_str(), true),
    ] {
        let r = try_write(dir);
        p.check(
            &format!("write {dir} {}", if writable { "allowed" } else { "denied" }),
            r.is_ok() == writable,
            format!("{r:?}"),
        );
    }
    // /var is the sandbox's own and mounted writable: only Landlock stops this.
    let ll = fs::create_dir("/var/lib/not-private");
    p.check(
        "landlock-in-force",
        ll.as_ref().is_err_and(|e| e.kind() == ErrorKind::PermissionDenied),
        format!("{ll:?}"),
    );

    let home = fs::read_dir("/home").map(|d| d.count()).unwrap_or(99);
    p.check("home-empty", home == 0, format!("{home} entries"));
    let mut devs: Vec<String> = fs::read_dir("/dev")
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    devs.sort();
    let want = [
        "console", "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty",
        "urandom", "zero",
    ];
    p.check("dev-minimal", devs == want, format!("{devs:?}"));
    let fds: Vec<String> = fs::read_dir("/proc/self/fd")
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    // 0, 1, 2 and the directory being listed.
    p.check("no-leaked-fds", fds.len() <= 4, format!("{fds:?}"));
    let exe = fs::OpenOptions::new().write(true).open("/proc/1/exe");
    p.check("pid1-exe-not-writable", exe.is_err(), "opened /proc/1/exe for writing");

    println!("probe: {} failed", p.failed);
    std::process::exit(if p.failed == 0 { 0 } else { 1 });
}
