//! A throwaway systemd for tests: PID 1 of new pid, mount, ipc, uts and net
//! namespaces, on an overlay of the host root whose writes go to a tmpfs.
//! Tests run real `systemctl` and `sandbox-service` inside it; when it is
//! dropped, everything it wrote is gone and the host is untouched.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sandbox-service");

pub struct Systemd {
    unshare: Child,
    pub pid: u32,
}

/// The checkout's target directory: shared with every harness, so the
/// binary under test and files handed in are visible inside.
pub fn target_dir() -> PathBuf {
    Path::new(BIN).ancestors().nth(2).expect("target/<profile>/bin").to_path_buf()
}

impl Systemd {
    pub fn boot() -> Systemd {
        assert!(nix_is_root(), "the harness needs root (CI runs as root)");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/harness/start.sh");
        let log = std::fs::File::create(target_dir().join(format!("harness-{}.log", std::process::id()))).unwrap();
        let unshare = Command::new("setsid")
            .arg("sh")
            .arg(&script)
            .arg(target_dir())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("running unshare");
        let deadline = Instant::now() + Duration::from_secs(30);
        // start.sh execs unshare, whose forked child is PID 1 of the new
        // namespaces; start.sh's own children (mkdir...) come before.
        let pid = loop {
            let comm = std::fs::read_to_string(format!("/proc/{}/comm", unshare.id())).unwrap_or_default();
            let children =
                std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", unshare.id())).unwrap_or_default();
            if let Some(p) = children.split_whitespace().next().filter(|_| comm.trim() == "unshare") {
                break p.parse::<u32>().unwrap();
            }
            assert!(Instant::now() < deadline, "unshare did not start");
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut s = Systemd { unshare, pid };
        loop {
            // Not through enter.sh: until boot.sh has mounted the harness's
            // own cgroup hierarchies, /sys/fs/cgroup inside is the host's.
            let out = Command::new("nsenter")
                .args(["-t", &s.pid.to_string(), "-a", "--", "systemctl", "is-system-running"])
                .stdin(Stdio::null())
                .output()
                .expect("running nsenter");
            let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if state == "running" || state == "degraded" {
                break;
            }
            if let Ok(Some(st)) = s.unshare.try_wait() {
                panic!("the test systemd exited ({st}); see {}", target_dir().display());
            }
            assert!(Instant::now() < deadline, "systemd did not come up: {state}");
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    /// Runs a command inside, in all the harness's namespaces and in its
    /// admin cgroup (enter.sh).
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .args(["-t", &self.pid.to_string(), "-a", "--", "sh", "-c", ENTER, "enter"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running nsenter")
    }

    pub fn sh(&self, script: &str) -> Output {
        self.run(&["/bin/sh", "-c", script])
    }

    /// Runs sandbox-service inside with `args`.
    pub fn tool(&self, args: &[&str]) -> Output {
        let mut v = vec![BIN];
        v.extend_from_slice(args);
        self.run(&v)
    }

    /// Like `tool`, and asserts success.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.tool(args);
        assert!(out.status.success(), "sandbox-service {args:?} failed: {}{}", stdout(&out), stderr(&out));
        stdout(&out)
    }

    /// Like `sh`, and asserts success.
    pub fn sh_ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(out.status.success(), "`{script}` failed: {}{}", stdout(&out), stderr(&out));
        stdout(&out)
    }

    pub fn exists(&self, path: &str) -> bool {
        self.run(&["test", "-e", path]).status.success() || self.run(&["test", "-L", path]).status.success()
    }
}

impl Drop for Systemd {
    fn drop(&mut self) {
        // SIGTERM makes systemd re-execute; SIGKILL on PID 1 ends the namespace.
        let _ = Command::new("kill").args(["-9", &self.pid.to_string()]).status();
        let _ = self.unshare.wait();
        let list = target_dir().join(format!("harness-{}.cgroups", self.unshare.id()));
        let cleanup = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/harness/cleanup.sh");
        let st = Command::new("sh").arg(cleanup).arg(&list).status();
        if !std::thread::panicking() {
            assert!(st.is_ok_and(|s| s.success()), "the harness's cgroups were left behind ({})", list.display());
        }
    }
}

/// enter.sh, passed inline: the checkout itself may not be visible inside.
const ENTER: &str = include_str!("enter.sh");

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

/// Runs sandbox-service on the host against an offline tree (`--root`).
pub fn tool_root(root: &Path, args: &[&str]) -> Output {
    Command::new(BIN).arg("--root").arg(root).args(args).stdin(Stdio::null()).output().expect("running sandbox-service")
}

impl Systemd {
    /// The unit's journal, message text only.
    pub fn journal(&self, unit: &str) -> String {
        stdout(&self.run(&["journalctl", "-u", unit, "--no-pager", "-o", "cat", "-q"]))
    }

    /// `systemctl show -p KEY --value UNIT`.
    pub fn prop(&self, unit: &str, key: &str) -> String {
        stdout(&self.run(&["systemctl", "show", "-p", key, "--value", unit])).trim().to_string()
    }

    /// The body of http://127.0.0.1:PORT/ inside the harness's network.
    pub fn http(&self, port: u16) -> String {
        self.sh_ok(&format!("curl -sS --max-time 5 -w '%{{http_code}}' http://127.0.0.1:{port}/"))
    }

    /// Waits until `cond` holds for the output of `script`, up to 10 s.
    pub fn wait_for(&self, script: &str, cond: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = stdout(&self.sh(script));
            if cond(&out) || Instant::now() > deadline {
                return out;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A path inside sandbox `name`'s private tree, as the harness sees it.
pub fn tree(name: &str, path: &str) -> String {
    format!("/var/lib/sandbox-service/{name}/tree{path}")
}

impl Systemd {
    /// Creates apache2 sandbox `name` (with `create_args` too) and makes
    /// it listen on `port` and serve `page`, through its own /etc/apache2.
    pub fn apache2_sandbox(&self, create_args: &[&str], name: &str, port: u16, page: &str) {
        let mut args = vec!["create"];
        args.extend_from_slice(create_args);
        args.extend_from_slice(&["-u", "apache2", "-p", "/var/www", name]);
        self.ok(&args);
        self.sh_ok(&format!(
            "sed -i 's/^Listen 80$/Listen {port}/' {ports} && sed -i 's/<VirtualHost \\*:80>/<VirtualHost *:{port}>/' {site} \
             && echo '{page}' > {index}",
            ports = tree(name, "/etc/apache2/ports.conf"),
            site = tree(name, "/etc/apache2/sites-available/000-default.conf"),
            index = tree(name, "/var/www/html/index.html"),
        ));
    }
}

/// The real `rpm` on a --root tree, as Fedora keeps its database
/// (/usr/lib/sysimage/rpm): `op` (-i, -U) of `pkgs`, no dependencies,
/// scripts or signatures checked.
pub fn rpm_root(root: &Path, op: &str, pkgs: &[&Path]) {
    let out = Command::new("rpm")
        .arg("--root")
        .arg(root)
        .args(["--dbpath", "/usr/lib/sysimage/rpm", op, "--nodeps", "--noscripts", "--nodigest", "--nosignature"])
        .args(pkgs)
        .output()
        .expect("running rpm");
    assert!(out.status.success(), "rpm {op} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// The probe program (examples/probe.rs), built by cargo test.
pub fn probe_binary() -> PathBuf {
    target_dir().join(Path::new(BIN).parent().unwrap().file_name().unwrap()).join("examples/probe")
}
