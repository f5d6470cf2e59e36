//! create from an RPM payload: packages built here with the rpm crate,
//! installed by the real `rpm` into a --root tree (Fedora's rpmdb place),
//! then sandboxed from that tree. Nothing outside the temp root changes.
mod harness;
use harness::*;
use rpm::{FileOptions, PackageBuilder};
use std::path::Path;

const UNIT: &str = "[Unit]\nDescription=tiny\n[Service]\nType=simple\nExecStart=/usr/bin/tinysvc\n\
StateDirectory=tinysvc\nLogsDirectory=tinysvc\nEnvironmentFile=-/etc/sysconfig/tinysvc\nPIDFile=/run/tinysvc/pid\n";

/// Builds the package, then rewrites its header's SOURCERPM (the rpm crate
/// always writes "(none)") so that sibling packages share a source.
fn build(
    name: &str,
    source: Option<&str>,
    files: &[(&str, &str, bool)],
    dirs: &[&str],
    out: &Path,
) -> std::path::PathBuf {
    let mut b = PackageBuilder::new(name, "1.0", "MIT", "noarch", "test package");
    for d in dirs {
        b.with_dir_entry(FileOptions::dir(*d).permissions(0o755)).unwrap();
    }
    for (path, content, config) in files {
        let o = FileOptions::new(*path).permissions(0o644);
        let o = if *config { o.config().noreplace() } else { o };
        b.with_file_contents(content.as_bytes().to_vec(), o).unwrap();
    }
    let mut pkg = b.build().unwrap();
    if let Some(src) = source {
        let entries = pkg.metadata.header.get_all_entries().unwrap();
        let entries = entries.into_iter().filter(|(tag, _)| *tag != rpm::IndexTag::RPMTAG_HEADERIMMUTABLE as u32).map(
            |(tag, data)| {
                let data = if tag == rpm::IndexTag::RPMTAG_SOURCERPM as u32 {
                    rpm::IndexData::StringTag(format!("{src}-1.0-1.src.rpm"))
                } else {
                    data
                };
                rpm::HeaderEntry { tag, data }
            },
        );
        pkg.metadata.header = rpm::Header::from_entries(entries, rpm::IndexTag::RPMTAG_HEADERIMMUTABLE);
    }
    let path = out.join(format!("{name}.rpm"));
    pkg.write_file(&path).unwrap();
    path
}

#[test]
fn rpm_payload_is_found_and_cloned() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    let pkgs = t.path().join("pkgs");
    std::fs::create_dir_all(&pkgs).unwrap();
    let main = build(
        "tinysvc",
        Some("tinysvc"),
        &[
            ("/usr/lib/systemd/system/tinysvc.service", UNIT, false),
            ("/usr/bin/tinysvc", "#!/bin/sh\n", false),
            ("/etc/tinysvc/tinysvc.conf", "port=8080\n", true),
            ("/etc/tinysvc/conf.d/a.conf", "a=1\n", true),
            ("/etc/sysconfig/tinysvc", "TINYSVC_SPOOL=/var/spool/tinysvc\n", true),
            ("/etc/logrotate.d/tinysvc", "/var/log/tinysvc/*.log {}\n", true),
        ],
        &["/etc/tinysvc", "/etc/tinysvc/conf.d", "/var/spool/tinysvc"],
        &pkgs,
    );
    let data = build(
        "tinysvc-data",
        Some("tinysvc"),
        &[("/var/lib/tinysvc/seed.db", "seed\n", false)],
        &["/var/lib/tinysvc"],
        &pkgs,
    );
    let other = build(
        "othersvc",
        None,
        &[("/etc/othersvc.conf", "x\n", true), ("/etc/logrotate.d/othersvc", "y\n", true)],
        &[],
        &pkgs,
    );
    std::fs::create_dir_all(&root).unwrap();
    rpm_root(&root, "-i", &[&main, &data, &other]);
    assert!(root.join("usr/lib/sysimage/rpm/rpmdb.sqlite").exists());
    // An admin's local change after installation comes along too.
    std::fs::write(root.join("etc/tinysvc/conf.d/local.conf"), "local\n").unwrap();

    let out = tool_root(&root, &["create", "-u", "tinysvc", "--explain", "t1"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let explain = stdout(&out);
    assert!(explain.contains("package tinysvc 1.0-1 (rpm)"), "{explain}");
    assert!(explain.contains("package tinysvc-data 1.0-1 (rpm): built from source package tinysvc"), "{explain}");
    assert!(!explain.contains("othersvc"), "{explain}");
    assert!(stderr(&out).contains("--root given"), "{}", stderr(&out));

    let tree = root.join("var/lib/sandbox-service/t1/tree");
    for p in [
        "etc/tinysvc/tinysvc.conf",
        "etc/tinysvc/conf.d/a.conf",
        "etc/tinysvc/conf.d/local.conf",
        "etc/sysconfig/tinysvc",
        "etc/logrotate.d/tinysvc",
        "var/lib/tinysvc/seed.db",
        "var/spool/tinysvc",
        "var/log/tinysvc",
    ] {
        assert!(tree.join(p).exists(), "{p} missing");
    }
    for p in ["usr", "etc/othersvc.conf", "etc/logrotate.d/othersvc"] {
        assert!(!tree.join(p).exists(), "{p} must not be cloned");
    }
    assert!(explain.contains("/var/log/tinysvc (dir, created empty): LogsDirectory= of tinysvc.service"), "{explain}");
    assert!(explain.contains("named by TINYSVC_SPOOL in /etc/sysconfig/tinysvc"), "{explain}");
    assert!(explain.contains("runtime  /run/tinysvc (in the sandbox's own /run): holds PIDFile="), "{explain}");

    // Config flags and digests come from the rpm header.
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("var/lib/sandbox-service/t1/manifest.json")).unwrap())
            .unwrap();
    let conf =
        m["plan"]["files"].as_array().unwrap().iter().find(|f| f["path"] == "/etc/tinysvc/tinysvc.conf").unwrap();
    assert_eq!(conf["package"], "tinysvc");
    assert_eq!(conf["config"], true);
    assert!(conf["digest"].as_str().unwrap().starts_with("sha2_256:"), "{conf}");

    // Units were written into the tree, not the host.
    assert!(root.join("etc/systemd/system/tinysvc@t1.service").exists());
    assert!(root.join("etc/systemd/system/tinysvc-sandboxes.target").exists());
    assert!(root.join("etc/sandbox-service/t1.sandbox").exists());
    assert!(!Path::new("/etc/sandbox-service/t1.sandbox").exists());
}

#[test]
fn a_unit_no_package_owns_needs_dash_p() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let pkgs = root.join("pkgs");
    std::fs::create_dir_all(&pkgs).unwrap();
    let p = build("payload", None, &[("/etc/payload/p.conf", "p\n", true)], &["/etc/payload"], &pkgs);
    rpm_root(root, "-i", &[&p]);
    std::fs::create_dir_all(root.join("etc/systemd/system")).unwrap();
    std::fs::write(root.join("etc/systemd/system/handmade.service"), "[Service]\nExecStart=/bin/true\n").unwrap();

    let out = tool_root(root, &["create", "-u", "handmade", "h1"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("owned by no installed package") && err.contains("-P PACKAGE"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let out = tool_root(root, &["create", "-u", "handmade", "-P", "payload", "h1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(root.join("var/lib/sandbox-service/h1/tree/etc/payload/p.conf").exists());
}

/// An RPM service for real: built here, installed by `rpm` into the
/// harness's root (its overlay, not the host's), sandboxed and started
/// under the harness's systemd, answering from its private /etc.
#[test]
fn an_rpm_service_is_sandboxed_started_and_answers() {
    let mut b = PackageBuilder::new("rpmweb", "1.0", "MIT", "noarch", "a tiny web service");
    let unit = "[Unit]\nDescription=rpmweb\n[Service]\nExecStart=/usr/bin/rpmweb\nStateDirectory=rpmweb\n";
    let script = "#!/bin/sh\nexec socat TCP-LISTEN:8088,reuseaddr,fork SYSTEM:'cat /etc/rpmweb/page'\n";
    for (path, content, mode, config) in [
        ("/usr/lib/systemd/system/rpmweb.service", unit, 0o644, false),
        ("/usr/bin/rpmweb", script, 0o755, false),
        ("/etc/rpmweb/page", "the package's page\n", 0o644, true),
    ] {
        let o = FileOptions::new(path).permissions(mode);
        let o = if config { o.config().noreplace() } else { o };
        b.with_file_contents(content.as_bytes().to_vec(), o).unwrap();
    }
    b.with_dir_entry(FileOptions::dir("/etc/rpmweb").permissions(0o755)).unwrap();
    let rpm_file = target_dir().join(format!("rpmweb-{}.rpm", std::process::id()));
    b.build().unwrap().write_file(&rpm_file).unwrap();

    let s = Systemd::boot();
    s.sh_ok(&format!(
        "rpm --dbpath /usr/lib/sysimage/rpm -i --nodeps --noscripts --nodigest --nosignature {} && systemctl daemon-reload",
        rpm_file.display()
    ));
    let _ = std::fs::remove_file(&rpm_file);
    assert!(s.sh_ok("rpm --dbpath /usr/lib/sysimage/rpm -qf /usr/bin/rpmweb").starts_with("rpmweb-1.0"));
    let out = s.ok(&["create", "-u", "rpmweb", "--explain", "r1"]);
    assert!(out.contains("package rpmweb 1.0-1 (rpm)") && out.contains("/etc/rpmweb"), "{out}");
    s.sh_ok(&format!("echo 'the sandbox page' > {}", tree("r1", "/etc/rpmweb/page")));
    s.ok(&["start", "r1"]);
    let got = s.wait_for("socat -u TCP:127.0.0.1:8088 - 2>/dev/null || true", |o| o.contains("page"));
    assert_eq!(got, "the sandbox page\n", "{}", s.journal("rpmweb@r1.service"));
    assert_eq!(s.sh_ok("cat /etc/rpmweb/page"), "the package's page\n", "the host's copy changed");
    s.ok(&["stop", "r1"]);
    assert_eq!(s.prop("rpmweb@r1.service", "Result"), "success");
}
