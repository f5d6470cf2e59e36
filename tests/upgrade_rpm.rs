//! upgrade and diff on an RPM payload: a package built here with the rpm
//! crate, installed by the real `rpm` into a --root tree, sandboxed, then
//! upgraded with `rpm -U` of a newer build; the sandbox is brought forward
//! with a 3-way merge per file. Nothing outside the temp root changes.
mod harness;
use harness::*;
use rpm::{FileOptions, PackageBuilder};
use std::path::{Path, PathBuf};
use std::process::Command;

const UNIT: &str = "[Unit]\nDescription=tiny\n[Service]\nType=simple\nExecStart=/usr/bin/tinysvc\n\
StateDirectory=tinysvc\n";

fn build(version: &str, files: &[(&str, &str)], out: &Path) -> PathBuf {
    let mut b = PackageBuilder::new("tinysvc", version, "MIT", "noarch", "test package");
    for d in ["/etc/tinysvc", "/etc/tinysvc/conf.d"] {
        b.with_dir_entry(FileOptions::dir(d).permissions(0o755)).unwrap();
    }
    b.with_file_contents(UNIT.as_bytes().to_vec(), FileOptions::new("/usr/lib/systemd/system/tinysvc.service"))
        .unwrap();
    b.with_file_contents(b"#!/bin/sh\n".to_vec(), FileOptions::new("/usr/bin/tinysvc").permissions(0o755)).unwrap();
    for (path, content) in files {
        b.with_file_contents(
            content.as_bytes().to_vec(),
            FileOptions::new(*path).permissions(0o644).config().noreplace(),
        )
        .unwrap();
    }
    let path = out.join(format!("tinysvc-{version}.rpm"));
    b.build().unwrap().write_file(&path).unwrap();
    path
}

const BASE: &str = "a\nb\nc\nd\ne\n";

struct Setup {
    _t: tempfile::TempDir,
    root: PathBuf,
    tree: PathBuf,
}

/// tinysvc 1.0 installed and sandboxed as t1, the sandbox's files changed
/// as an admin would, then tinysvc 2.0 installed with `rpm -U`.
fn setup() -> Setup {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let v1 = build(
        "1.0",
        &[
            ("/etc/tinysvc/tinysvc.conf", BASE),
            ("/etc/tinysvc/other.conf", "x\n"),
            ("/etc/tinysvc/same.conf", "same\n"),
            ("/etc/tinysvc/plain.conf", "old plain\n"),
            ("/etc/tinysvc/gone.conf", "old\n"),
        ],
        t.path(),
    );
    rpm_root(&root, "-i", &[&v1]);
    let out = tool_root(&root, &["create", "-u", "tinysvc", "t1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tree = root.join("var/lib/sandbox-service/t1/tree");
    std::fs::write(tree.join("etc/tinysvc/tinysvc.conf"), "A\nb\nc\nd\ne\n").unwrap();
    std::fs::write(tree.join("etc/tinysvc/other.conf"), "mine\n").unwrap();
    std::fs::write(tree.join("etc/tinysvc/same.conf"), "changed here only\n").unwrap();
    let v2 = build(
        "2.0",
        &[
            ("/etc/tinysvc/tinysvc.conf", "a\nb\nc\nd\nE\n"),
            ("/etc/tinysvc/other.conf", "theirs\n"),
            ("/etc/tinysvc/same.conf", "same\n"),
            ("/etc/tinysvc/plain.conf", "new plain\n"),
            ("/etc/tinysvc/conf.d/new.conf", "new=1\n"),
        ],
        t.path(),
    );
    rpm_root(&root, "-U", &[&v2]);
    Setup { _t: t, root, tree }
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn an_rpm_upgrade_is_merged_into_the_sandbox() {
    let s = setup();
    let (root, tree) = (&s.root, &s.tree);
    let before = read(root.join("var/lib/sandbox-service/t1/manifest.json"));

    // --dry-run: the plan as unified diffs, and nothing changed.
    let out = tool_root(root, &["upgrade", "--dry-run", "t1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    assert!(plan.contains("t1: tinysvc 1.0-1 -> 2.0-1"), "{plan}");
    assert!(plan.contains("/etc/tinysvc/tinysvc.conf: merged"), "{plan}");
    assert!(plan.contains("--- a/etc/tinysvc/tinysvc.conf\n+++ b/etc/tinysvc/tinysvc.conf\n"), "{plan}");
    assert!(plan.contains("-e\n+E\n"), "{plan}");
    assert!(plan.contains("/etc/tinysvc/other.conf: CONFLICT"), "{plan}");
    assert_eq!(read(tree.join("etc/tinysvc/plain.conf")), "old plain\n");
    assert!(!tree.join("etc/tinysvc/conf.d/new.conf").exists());
    assert_eq!(read(root.join("var/lib/sandbox-service/t1/manifest.json")), before);

    let out = tool_root(root, &["upgrade", "t1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    // Changed in both, on different lines: both changes.
    assert_eq!(read(tree.join("etc/tinysvc/tinysvc.conf")), "A\nb\nc\nd\nE\n");
    // Changed in both, on the same line: the sandbox's kept, the new one beside.
    assert_eq!(read(tree.join("etc/tinysvc/other.conf")), "mine\n");
    assert_eq!(read(tree.join("etc/tinysvc/other.conf.rpmnew")), "theirs\n");
    assert!(stderr(&out).contains("1 conflict(s)"), "{}", stderr(&out));
    // Changed only in the sandbox: kept.
    assert_eq!(read(tree.join("etc/tinysvc/same.conf")), "changed here only\n");
    // Unchanged in the sandbox: the new version.
    assert_eq!(read(tree.join("etc/tinysvc/plain.conf")), "new plain\n");
    // New in the package: made.
    assert_eq!(read(tree.join("etc/tinysvc/conf.d/new.conf")), "new=1\n");
    // Gone from the package: reported, never removed.
    assert_eq!(read(tree.join("etc/tinysvc/gone.conf")), "old\n");
    assert!(said.contains("/etc/tinysvc/gone.conf: left as it is (no longer in tinysvc 2.0-1"), "{said}");
    let m: serde_json::Value =
        serde_json::from_str(&read(root.join("var/lib/sandbox-service/t1/manifest.json"))).unwrap();
    assert_eq!(m["plan"]["packages"][0]["version"], "2.0-1");

    // Brought forward: a second upgrade has nothing to do.
    let again = stdout(&tool_root(root, &["upgrade", "t1"]));
    assert!(again.contains("t1: up to date with its packages"), "{again}");

    // diff: against the new base, the sandbox's own changes only.
    let out = tool_root(root, &["diff", "t1", "/etc/tinysvc"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let d = stdout(&out);
    assert!(
        d.contains("/etc/tinysvc/tinysvc.conf: changed by the admin (configuration), differs from the host's"),
        "{d}"
    );
    assert!(d.contains("-a\n+A\n"), "{d}");
    assert!(!d.contains("/etc/tinysvc/plain.conf"), "an unchanged file is listed only with --all: {d}");
    let whole = stdout(&tool_root(root, &["diff", "t1"]));
    assert!(whole.contains("/etc/tinysvc/tinysvc.conf: changed by the admin"), "{whole}");
    let all = stdout(&tool_root(root, &["diff", "--all", "t1", "/etc/tinysvc"]));
    assert!(all.contains("/etc/tinysvc/plain.conf: unchanged since create"), "{all}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&tool_root(root, &["diff", "--json", "t1", "/etc/tinysvc/other.conf"]))).unwrap();
    assert_eq!(json[0]["status"], "changed-config", "{json}");
    assert_eq!(json[0]["host"], "differs", "{json}");

    // The package removed from the host: its files in the sandbox stay, said each time.
    let out = Command::new("rpm")
        .arg("--root")
        .arg(root)
        .args(["--dbpath", "/usr/lib/sysimage/rpm", "-e", "--nodeps", "--noscripts", "tinysvc"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for _ in 0..2 {
        let gone = stdout(&tool_root(root, &["upgrade", "t1"]));
        assert!(gone.contains("t1: up to date with its packages"), "{gone}");
        assert!(
            gone.contains("tinysvc 2.0-1 is no longer installed on the host: its files in the sandbox stay"),
            "{gone}"
        );
    }
    assert_eq!(read(tree.join("etc/tinysvc/tinysvc.conf")), "A\nb\nc\nd\nE\n");
}

#[test]
fn security_of_a_stopped_sandbox_comes_from_its_configuration() {
    let s = setup();
    let out = tool_root(&s.root, &["security", "t1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sec = stdout(&out);
    assert!(sec.contains("sandbox t1 from its configuration (it is not running)"), "{sec}");
    assert!(sec.contains("bare tinysvc.service from its unit file"), "{sec}");
    // The bare unit sets nothing: every item exposed.
    assert!(sec.contains("bare tinysvc.service 10.0 UNSAFE"), "{sec}");
    assert!(sec.contains("fix: shares the host's network: create --network private"), "{sec}");
    let j: serde_json::Value =
        serde_json::from_str(&stdout(&tool_root(&s.root, &["security", "--json", "t1"]))).unwrap();
    assert!(j["sandbox"]["score"].as_f64().unwrap() < 10.0, "{j}");
}

#[test]
fn a_failing_upgrade_changes_nothing() {
    let s = setup();
    let (root, tree) = (&s.root, &s.tree);
    // Something in the way of the fourth file's temporary: the new file
    // and the conflict's copy before it are staged by then.
    std::fs::create_dir(tree.join("etc/tinysvc/.plain.conf.sandbox-service-new")).unwrap();
    let manifest = read(root.join("var/lib/sandbox-service/t1/manifest.json"));
    let out = tool_root(root, &["upgrade", "t1"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("upgrading t1: nothing of it was changed"), "{err}");
    assert!(err.contains(".plain.conf.sandbox-service-new"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Nothing half-made: the files before it in the plan are as they were.
    assert_eq!(read(tree.join("etc/tinysvc/plain.conf")), "old plain\n");
    assert_eq!(read(tree.join("etc/tinysvc/tinysvc.conf")), "A\nb\nc\nd\ne\n");
    assert!(!tree.join("etc/tinysvc/other.conf.rpmnew").exists());
    assert!(!tree.join("etc/tinysvc/conf.d/new.conf").exists());
    let left: Vec<_> = walkdir::WalkDir::new(root.join("var/lib/sandbox-service"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && e.file_name().to_string_lossy().contains("sandbox-service-new"))
        .collect();
    assert!(left.is_empty(), "temporaries left: {left:?}");
    assert_eq!(read(root.join("var/lib/sandbox-service/t1/manifest.json")), manifest);
    assert!(std::fs::read_dir(root.join("var/lib/sandbox-service/.staging")).unwrap().next().is_none());
    // Out of the way, it goes through.
    std::fs::remove_dir(tree.join("etc/tinysvc/.plain.conf.sandbox-service-new")).unwrap();
    let out = tool_root(root, &["upgrade", "t1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(read(tree.join("etc/tinysvc/conf.d/new.conf")), "new=1\n");
}

#[test]
fn upgrade_and_diff_say_what_is_wrong_with_bad_input() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("var/lib/dpkg")).unwrap();
    std::fs::write(t.path().join("var/lib/dpkg/status"), "").unwrap();
    for (args, want) in [
        (&["upgrade"][..], "name the sandboxes to upgrade, or give --all"),
        (&["upgrade", "nosuch"][..], "nosuch"),
        (&["diff", "nosuch"][..], "nosuch"),
        (&["security", "nosuch"][..], "nosuch"),
        (&["restart", "--needed"][..], "--root cannot be used here"),
    ] {
        let out = tool_root(t.path(), args);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

/// rpmsvc VERSION for the harness: its program is the host's sleep (with
/// `tail` appended, which changes the file and not what it does), its
/// page a %config file.
fn rpmsvc(version: &str, tail: &[u8], page: &str) -> PathBuf {
    let mut b = PackageBuilder::new("rpmsvc", version, "MIT", "noarch", "a sleeping service");
    let unit = "[Unit]\nDescription=rpmsvc\n[Service]\nExecStart=/usr/bin/rpmsvc infinity\n";
    let mut program = std::fs::read("/usr/bin/sleep").unwrap();
    program.extend_from_slice(tail);
    b.with_file_contents(unit.as_bytes().to_vec(), FileOptions::new("/usr/lib/systemd/system/rpmsvc.service")).unwrap();
    b.with_file_contents(program, FileOptions::new("/usr/bin/rpmsvc").permissions(0o755)).unwrap();
    b.with_dir_entry(FileOptions::dir("/etc/rpmsvc").permissions(0o755)).unwrap();
    b.with_file_contents(page.as_bytes().to_vec(), FileOptions::new("/etc/rpmsvc/page").config().noreplace()).unwrap();
    let path = target_dir().join(format!("rpmsvc-{version}-{}.rpm", std::process::id()));
    b.build().unwrap().write_file(&path).unwrap();
    path
}

#[test]
fn an_rpm_update_under_a_running_sandbox_needs_its_restart_and_its_upgrade() {
    let s = Systemd::boot();
    let rpm_in = |op: &str, pkg: &Path| {
        s.sh_ok(&format!(
            "rpm --dbpath /usr/lib/sysimage/rpm {op} --nodeps --noscripts --nodigest --nosignature {} && systemctl daemon-reload",
            pkg.display()
        ));
        let _ = std::fs::remove_file(pkg);
    };
    rpm_in("-i", &rpmsvc("1.0", b"", "a\nb\nc\nd\ne\n"));
    s.ok(&["create", "-u", "rpmsvc", "q1"]);
    s.sh_ok(&format!("printf 'A\\nb\\nc\\nd\\ne\\n' > {}", tree("q1", "/etc/rpmsvc/page")));
    s.ok(&["start", "q1"]);
    assert!(!s.ok(&["status", "q1"]).contains("restart needed"));

    rpm_in("-U", &rpmsvc("2.0", b"\0updated", "a\nb\nc\nd\nE\n"));
    let st = s.ok(&["status", "q1"]);
    assert!(st.contains("restart needed: it still runs /usr/bin/rpmsvc"), "{st}");
    let up = s.ok(&["upgrade", "q1"]);
    assert!(up.contains("q1: rpmsvc 1.0-1 -> 2.0-1") && up.contains("/etc/rpmsvc/page: merged"), "{up}");
    assert!(up.contains("restart it for the service to read its files"), "{up}");
    assert_eq!(s.sh_ok(&format!("cat {}", tree("q1", "/etc/rpmsvc/page"))), "A\nb\nc\nd\nE\n");
    let r = s.ok(&["restart", "--needed"]);
    assert!(r.contains("q1: restart needed") && r.contains("restarted rpmsvc@q1.service"), "{r}");
    assert!(!s.ok(&["status", "q1"]).contains("restart needed"));
    assert_eq!(s.prop("rpmsvc@q1.service", "ActiveState"), "active");
}
