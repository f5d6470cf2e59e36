//! All-or-nothing and concurrency, on offline trees (--root), so nothing
//! here touches the host: parallel creates get distinct labels; a create
//! killed or failing half-way leaves no config, state, unit or label.
mod harness;
use harness::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn nothing_of(root: &Path, name: &str) {
    assert!(!root.join(format!("etc/sandbox-service/{name}.sandbox")).exists(), "config of {name} left behind");
    assert!(!root.join(format!("var/lib/sandbox-service/{name}")).exists(), "state of {name} left behind");
    assert!(!root.join(format!("etc/systemd/system/{name}.service")).exists(), "unit of {name} left behind");
}

fn staging_is_empty(root: &Path) -> bool {
    std::fs::read_dir(root.join("var/lib/sandbox-service/.staging")).map_or(true, |mut d| d.next().is_none())
}

/// `n` creates of command sandbox PREFIX0.. under `root` at once, each
/// with `extra` options; every one must succeed.
fn parallel_creates(root: &Path, n: usize, prefix: &str, extra: &[&str]) {
    let children: Vec<_> = (0..n)
        .map(|i| {
            Command::new(BIN)
                .arg("--root")
                .arg(root)
                .args(["-q", "create"])
                .args(extra)
                .args([&format!("{prefix}{i}"), "--", "/bin/true"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn fifty_parallel_creates_get_fifty_distinct_labels() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    parallel_creates(root, 50, "p", &[]);
    let list: serde_json::Value = serde_json::from_str(&stdout(&tool_root(root, &["list", "--json"]))).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 50, "every config parses");
    let labels: BTreeSet<&str> = list.iter().map(|s| s["label"].as_str().unwrap()).collect();
    assert_eq!(labels.len(), 50, "labels must be unique: {labels:?}");
    assert!(staging_is_empty(root));
}

/// A tree with a private directory big enough that cloning it takes a while.
fn big_tree(root: &Path) {
    let big = root.join("var/big");
    for d in 0..40 {
        let dir = big.join(format!("d{d}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..500 {
            std::fs::write(dir.join(format!("f{f}")), "x").unwrap();
        }
    }
}

/// Starts a create of `name` with the big directory and waits until it is cloning.
fn create_mid_clone(root: &Path, name: &str) -> std::process::Child {
    let child = Command::new(BIN)
        .arg("--root")
        .arg(root)
        .args(["create", "-p", "/var/big", name, "--", "/bin/true"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cloning = root.join(format!("var/lib/sandbox-service/.staging/{name}/state/tree/var/big"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cloning.exists() {
        assert!(Instant::now() < deadline, "create never started cloning");
        std::thread::sleep(Duration::from_millis(1));
    }
    child
}

#[test]
fn a_create_killed_mid_clone_leaves_nothing_and_the_name_stays_usable() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    big_tree(root);
    let mut child = create_mid_clone(root, "k1");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    nothing_of(root, "k1");
    assert_eq!(stdout(&tool_root(root, &["list", "--json"])).trim(), "[]");
    // The next command under the lock clears the journal; the name is free.
    let out = tool_root(root, &["create", "k1", "--", "/bin/true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(staging_is_empty(root), "the killed create's staging was not cleaned up");
    assert!(!root.join("var/lib/sandbox-service/k1/tree/var/big").exists());
}

#[test]
fn an_interrupted_create_rolls_back_at_once() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    big_tree(root);
    let child = create_mid_clone(root, "i1");
    nix_kill(child.id(), "INT");
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("interrupted"), "{err}");
    nothing_of(root, "i1");
    assert!(staging_is_empty(root), "an interrupted create cleans up after itself");
}

#[test]
fn a_create_failing_after_the_clone_rolls_everything_back() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    std::fs::create_dir_all(root.join("var/data")).unwrap();
    std::fs::write(root.join("var/data/f"), "x").unwrap();
    // The unit directory is a file: staging the unit, after the clone, fails.
    std::fs::create_dir_all(root.join("etc/systemd")).unwrap();
    std::fs::write(root.join("etc/systemd/system"), "not a directory").unwrap();
    let out = tool_root(root, &["create", "-p", "/var/data", "late", "--", "/bin/true"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("etc/systemd/system/.late.service"), "failed somewhere else: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    nothing_of(root, "late");
    assert!(staging_is_empty(root));
    std::fs::remove_file(root.join("etc/systemd/system")).unwrap();
    let out = tool_root(root, &["create", "-p", "/var/data", "late", "--", "/bin/true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(root.join("var/lib/sandbox-service/late/tree/var/data/f").exists());
}

fn nix_kill(pid: u32, sig: &str) {
    assert!(Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status().unwrap().success());
}

/// The disk full where the config and units go, after the tree was copied
/// (in the harness's own mount namespace: small tmpfs mounts, nothing of
/// the host): create and clone fail with the file and the errno named, and
/// leave nothing: no config, state, staging or unit.
#[test]
fn create_and_clone_on_a_full_disk_fail_cleanly_and_leave_nothing() {
    let s = Systemd::boot();
    s.sh_ok("mkdir -p /tmp/r/etc /tmp/r/var/lib/data && head -c 300000 /dev/urandom > /tmp/r/var/lib/data/blob");
    let root = ["--root", "/tmp/r"];
    let ok = s.tool(&[&root[..], &["-q", "create", "-p", "/var/lib/data", "k1", "--", "/bin/true"]].concat());
    assert!(ok.status.success(), "{}", stderr(&ok));
    // /etc of that root: full to the last page.
    s.sh_ok("mkdir -p /tmp/etc-full && mount -t tmpfs -o size=256k tmpfs /tmp/etc-full && cp -a /tmp/r/etc/. /tmp/etc-full/ \
             && mount --bind /tmp/etc-full /tmp/r/etc && (head -c 1M /dev/zero > /tmp/r/etc/fill || true)");
    for args in [&["create", "-p", "/var/lib/data", "k2", "--", "/bin/true"][..], &["clone", "k1", "k2"]] {
        let out = s.tool(&[&root[..], args].concat());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("No space left on device") && err.contains("/tmp/r/"), "{args:?}: {err}");
        assert_eq!(err.lines().filter(|l| l.contains("error")).count(), 1, "{err}");
        for p in ["etc/sandbox-service/k2.sandbox", "var/lib/sandbox-service/k2", "etc/systemd/system/k2.service"] {
            assert!(!s.exists(&format!("/tmp/r/{p}")), "{args:?} left {p}");
        }
        let staged = s.sh_ok("ls -A /tmp/r/var/lib/sandbox-service/.staging 2>/dev/null || true");
        assert!(staged.trim().is_empty(), "{args:?} left staging: {staged}");
    }
    // Room again: the same commands work, and k1 was never touched.
    s.sh_ok("rm /tmp/r/etc/fill");
    let again = s.tool(&[&root[..], &["-q", "clone", "k1", "k2"]].concat());
    assert!(again.status.success(), "{}", stderr(&again));
}

/// network=private's addresses are allocated under the state lock, as
/// labels are: twenty creates at once get twenty, and delete frees one.
#[test]
fn twenty_parallel_private_creates_get_twenty_distinct_addresses() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    parallel_creates(root, 20, "n", &["--network", "private"]);
    let addr = |n: &str| {
        std::fs::read_to_string(root.join(format!("etc/sandbox-service/{n}.sandbox")))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("address=").map(str::to_string))
            .unwrap()
    };
    let all: BTreeSet<String> = (0..20).map(|i| addr(&format!("n{i}"))).collect();
    assert_eq!(all.len(), 20, "{all:?}");
    let freed = addr("n7");
    assert!(tool_root(root, &["-q", "delete", "n7"]).status.success());
    assert!(tool_root(root, &["-q", "create", "--network", "private", "again", "--", "/bin/true"]).status.success());
    assert_eq!(addr("again"), freed);
}
