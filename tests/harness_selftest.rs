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

/// `forget.sh`, which boot.sh runs on the overlay, against a root holding
/// what a host with sandbox-service has: `make install` under two
/// prefixes, a sandbox that `create` made, an installed .deb's dpkg
/// record. Everything of ours goes; everything else stays.
#[test]
fn the_harness_forgets_what_the_host_has_of_sandbox_service() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let release = target_dir().join("release");
    let here = env!("CARGO_MANIFEST_DIR");
    for prefix in ["/usr", "/usr/local"] {
        let out = std::process::Command::new("make")
            .args(["-s", "-C", here, "install-files"])
            .arg(format!("RELEASE={}", release.display()))
            .arg(format!("DESTDIR={}", root.display()))
            .arg(format!("PREFIX={prefix}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "make install-files: {}", stderr(&out));
    }
    let out = tool_root(root, &["create", "site1", "--", "/bin/true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let unit = root.join("etc/systemd/system/site1.service");
    assert!(unit.exists(), "create wrote no unit");
    let sys = root.join("etc/systemd/system");
    std::fs::create_dir_all(sys.join("multi-user.target.wants")).unwrap();
    std::os::unix::fs::symlink("/etc/systemd/system/site1.service", sys.join("multi-user.target.wants/site1.service"))
        .unwrap();
    // The admin's own, to keep.
    std::fs::write(sys.join("other.service"), "[Service]\nExecStart=/bin/true\n").unwrap();
    std::os::unix::fs::symlink("/etc/systemd/system/other.service", sys.join("multi-user.target.wants/other.service"))
        .unwrap();
    let dpkg = root.join("var/lib/dpkg");
    std::fs::create_dir_all(dpkg.join("info")).unwrap();
    std::fs::write(
        dpkg.join("status"),
        "Package: nginx\nStatus: install ok installed\nVersion: 1\n\n\
         Package: sandbox-service\nStatus: install ok installed\nVersion: 0.1.0\n\n\
         Package: sandbox-service-extra\nStatus: install ok installed\nVersion: 2\n\n",
    )
    .unwrap();
    std::fs::write(dpkg.join("info/sandbox-service.list"), "/usr/bin/sandbox-service\n").unwrap();
    std::fs::write(dpkg.join("info/nginx.list"), "/usr/sbin/nginx\n").unwrap();

    let out =
        std::process::Command::new("sh").arg(format!("{here}/tests/harness/forget.sh")).arg(root).output().unwrap();
    assert!(out.status.success(), "forget.sh: {}", stderr(&out));

    let left: Vec<String> = walkdir::WalkDir::new(root)
        .into_iter()
        .flatten()
        .map(|e| e.path().strip_prefix(root).unwrap().display().to_string())
        .filter(|p| p.contains("sandbox-service") || p.contains("site1"))
        .collect();
    assert!(left.is_empty(), "left of sandbox-service: {left:?}");
    assert!(sys.join("other.service").exists());
    assert!(std::fs::symlink_metadata(sys.join("multi-user.target.wants/other.service")).is_ok());
    assert!(dpkg.join("info/nginx.list").exists());
    let status = std::fs::read_to_string(dpkg.join("status")).unwrap();
    assert!(!status.contains("Package: sandbox-service\n"), "{status}");
    assert!(status.contains("Package: nginx\n") && status.contains("Package: sandbox-service-extra\n"), "{status}");
}
