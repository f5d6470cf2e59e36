//! export of an RPM payload: packages built here with the rpm crate and
//! installed by the real `rpm` into a --root tree; the image holds the
//! service's package and what it requires, found through rpmdb's
//! Providename and Basenames indexes, and nothing else of the tree.
mod harness;
use harness::*;
use rpm::{Dependency, FileOptions, PackageBuilder};
use std::path::Path;
use std::process::Command;

const UNIT: &str = "[Unit]\nDescription=tiny\n[Service]\nType=simple\nExecStart=/usr/bin/tinysvc --port 7070\n\
Environment=MODE=fast\nUser=root\n";

fn package(
    name: &str,
    files: &[(&str, &[u8], u32)],
    requires: &[&str],
    provides: &[&str],
    dir: &Path,
) -> std::path::PathBuf {
    let mut b = PackageBuilder::new(name, "1.0", "MIT", "x86_64", "test package");
    for (path, content, mode) in files {
        let mut o = FileOptions::new(*path).permissions(*mode as u16);
        if path.starts_with("/etc/") {
            o = o.config().noreplace();
        }
        b.with_file_contents(content.to_vec(), o).unwrap();
    }
    for r in requires {
        b.requires(Dependency::any(*r));
    }
    for p in provides {
        b.provides(Dependency::any(*p));
    }
    let path = dir.join(format!("{name}.rpm"));
    b.build().unwrap().write_file(&path).unwrap();
    path
}

#[test]
fn an_rpm_sandbox_exports_its_package_and_what_it_requires() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let lib =
        package("tinylib", &[("/usr/lib64/libtiny.so.1", b"lib", 0o755)], &[], &["libtiny.so.1()(64bit)"], t.path());
    let shell = package("tinysh", &[("/usr/bin/tinysh", b"#!sh", 0o755)], &[], &[], t.path());
    let other = package("unrelated", &[("/usr/bin/unrelated", b"no", 0o755)], &[], &[], t.path());
    let svc = package(
        "tinysvc",
        &[
            ("/usr/lib/systemd/system/tinysvc.service", UNIT.as_bytes(), 0o644),
            ("/usr/bin/tinysvc", b"#!/usr/bin/tinysh\n", 0o4755),
            ("/etc/tinysvc.conf", b"port 7070\n", 0o644),
        ],
        &["libtiny.so.1()(64bit)", "/usr/bin/tinysh", "rpmlib(CompressedFileNames)", "nothing-provides-this"],
        &[],
        t.path(),
    );
    for p in [&lib, &shell, &other, &svc] {
        rpm_root(&root, "-i", &[p]);
    }
    let out = tool_root(&root, &["create", "-u", "tinysvc", "t1"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = tool_root(&root, &["export", "t1", "--explain", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let pkgs: Vec<(String, String)> = plan["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["why"].as_str().unwrap().to_string()))
        .collect();
    assert!(pkgs.contains(&("tinylib".into(), "tinysvc".into())), "{pkgs:?}");
    assert!(pkgs.contains(&("tinysh".into(), "tinysvc".into())), "{pkgs:?}");
    assert!(!pkgs.iter().any(|(n, _)| n == "unrelated"), "{pkgs:?}");
    assert_eq!(plan["unmet"], serde_json::json!(["nothing-provides-this"]), "rpmlib() is rpm's own");
    assert_eq!(plan["exec_start"][0]["why"], "/usr/bin/tinysvc --port 7070", "{plan}");

    let image = t.path().join("t1.tar");
    let out = tool_root(&root, &["export", "t1", "--oci-image", image.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let x = t.path().join("x");
    std::fs::create_dir(&x).unwrap();
    assert!(Command::new("tar").arg("-xf").arg(&image).arg("-C").arg(&x).status().unwrap().success());
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(x.join("index.json")).unwrap()).unwrap();
    let blob = |d: &serde_json::Value| x.join("blobs/sha256").join(&d.as_str().unwrap()[7..]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(&index["manifests"][0]["digest"])).unwrap()).unwrap();
    let mut names = Vec::new();
    for l in manifest["layers"].as_array().unwrap() {
        let out = Command::new("tar").arg("-tvf").arg(blob(&l["digest"])).output().unwrap();
        names.extend(stdout(&out).lines().map(String::from));
    }
    let has = |p: &str| names.iter().any(|l| l.ends_with(&format!(" {p}")) || l.contains(&format!(" {p} -> ")));
    for p in [
        "usr/bin/tinysvc",
        "usr/lib64/libtiny.so.1",
        "usr/bin/tinysh",
        "etc/tinysvc.conf",
        "usr/sbin/sandbox-service-init",
        "etc/passwd",
    ] {
        assert!(has(p), "{p} missing:\n{}", names.join("\n"));
    }
    assert!(!has("usr/bin/unrelated"), "{}", names.join("\n"));
    // The set-uid bit does not travel: the sandbox's /usr is nosuid.
    let svc_line = names.iter().find(|l| l.ends_with(" usr/bin/tinysvc")).unwrap();
    assert!(svc_line.starts_with("-rwxr-xr-x"), "{svc_line}");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(&manifest["config"]["digest"])).unwrap()).unwrap();
    assert_eq!(config["config"]["Labels"]["io.sandbox-service.package.tinylib"], "1.0-1 (rpm)", "{config}");
}
