//! create/list/status/delete/clone on Debian's real apache2 and nginx
//! packages, inside a throwaway systemd (installed on the host by .ci/run).
mod harness;
use harness::*;

const STATE: &str = "/var/lib/sandbox-service";

#[test]
fn apache2_sandbox_has_its_package_payload_and_nothing_else() {
    let s = Systemd::boot();
    let out = s.ok(&["create", "-u", "apache2", "web1"]);
    assert!(out.contains("created sandbox web1: unit apache2@web1.service"), "{out}");

    // The package's own directories whole, with postinst-made content.
    for p in [
        "/etc/apache2/apache2.conf",
        "/etc/apache2/ports.conf",
        "/etc/apache2/mods-enabled",
        "/var/www/html/index.html",
        "/var/log/apache2",
        "/var/lib/apache2",
        "/etc/logrotate.d/apache2",
        "/etc/cron.daily/apache2",
    ] {
        assert!(s.exists(&tree("web1", p)), "{p} missing from the sandbox");
    }
    let link = s.sh_ok(&format!("readlink {}", tree("web1", "/etc/apache2/sites-enabled/000-default.conf")));
    assert_eq!(link.trim(), "../sites-available/000-default.conf");
    // Owner, group and mode as on the host (/var/log/apache2 is root:adm 0750).
    let host = s.sh_ok("stat -c '%U:%G %a %Y' /var/log/apache2");
    assert_eq!(s.sh_ok(&format!("stat -c '%U:%G %a %Y' {}", tree("web1", "/var/log/apache2"))), host);

    // Shared directories are not copied whole; other packages and the host's secrets stay out.
    for p in [
        "/usr",
        "/etc/nginx",
        "/etc/passwd",
        "/etc/shadow",
        "/etc/logrotate.d/nginx",
        "/etc/logrotate.d/dpkg",
        "/etc/default/nginx",
        "/var/lib/dpkg",
        "/var/log/nginx",
    ] {
        assert!(!s.exists(&tree("web1", p)), "{p} must not be in an apache2 sandbox");
    }

    // The units exist and systemd loaded them.
    let cat = s.sh_ok("systemctl cat apache2@web1.service");
    assert!(cat.contains(&format!("ExecStart={BIN} run web1")), "{cat}");
    let show = s.sh_ok("systemctl show -p LoadState,FragmentPath,ReloadPropagatedFrom,PartOf apache2@web1.service");
    assert!(show.contains("LoadState=loaded"), "{show}");
    assert!(show.contains("FragmentPath=/etc/systemd/system/apache2@web1.service"), "{show}");
    assert!(show.contains("ReloadPropagatedFrom=apache2.service"), "{show}");
    assert!(show.contains("PartOf=apache2-sandboxes.target"), "{show}");
    // Other instances still use the package's own template.
    let other = s.sh_ok("systemctl show -p FragmentPath apache2@other.service");
    assert!(other.contains("/systemd/system/apache2@.service"), "{other}");
    let wants = s.sh_ok("systemctl show -p Wants apache2-sandboxes.target");
    assert!(wants.contains("apache2@web1.service"), "{wants}");

    // status and list report it.
    let st = s.ok(&["status", "web1", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&st).unwrap();
    assert_eq!(v["unit"], "apache2@web1.service");
    assert_eq!(v["active_state"], "inactive");
    assert!(v["label"].as_str().unwrap().starts_with("s0:c"), "{st}");
    let explain = s.ok(&["status", "web1", "--explain"]);
    assert!(explain.contains("private  /etc/apache2 (dir): directory of apache2"), "{explain}");
    assert!(explain.contains("shared   /etc/logrotate.d:"), "{explain}");
    // The runtime's rules follow, with the host's secrets by name.
    assert!(explain.contains("masked   /etc/shadow: password hashes"), "{explain}");
    assert!(explain.contains("own      /var: the sandbox's state directory"), "{explain}");
    let list: serde_json::Value = serde_json::from_str(&s.ok(&["list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    // The manifest records package, version and the dpkg digest of conffiles.
    let m: serde_json::Value = serde_json::from_str(&s.sh_ok(&format!("cat {STATE}/web1/manifest.json"))).unwrap();
    let conf =
        m["plan"]["files"].as_array().unwrap().iter().find(|f| f["path"] == "/etc/apache2/apache2.conf").unwrap();
    assert_eq!(conf["package"], "apache2");
    assert_eq!(conf["config"], true);
    assert!(conf["digest"].as_str().unwrap().starts_with("md5:"));
}

#[test]
fn nginx_sandbox_and_the_host_are_separate() {
    let s = Systemd::boot();
    // -C is accepted for virt-sandbox-service users: copying is the default.
    let explain = s.ok(&["create", "-C", "-u", "nginx.service", "--explain", "site2"]);
    assert!(explain.contains("package nginx-common"), "{explain}");
    assert!(s.exists(&tree("site2", "/etc/nginx/nginx.conf")));
    assert!(s.exists(&tree("site2", "/etc/nginx/sites-enabled/default")));
    assert!(!s.exists(&tree("site2", "/etc/apache2")));
    assert!(s.sh_ok("systemctl show -p LoadState nginx@site2.service").contains("loaded"));
    // A change inside the sandbox's copy leaves the host's file alone.
    s.sh_ok(&format!("echo '# changed' >> {}", tree("site2", "/etc/nginx/nginx.conf")));
    assert!(!s.sh_ok("cat /etc/nginx/nginx.conf").contains("# changed"));
}

#[test]
fn delete_and_clone_round_trips() {
    let s = Systemd::boot();
    s.ok(&["create", "-u", "apache2", "a1"]);
    let out = s.ok(&["clone", "a1", "a2"]);
    assert!(out.contains("cloned sandbox a1 to a2"), "{out}");
    assert!(s.exists(&tree("a2", "/etc/apache2/apache2.conf")));
    // The clone descends from what a1 got: diff and upgrade have its base.
    s.sh_ok(&format!("sed -i 's/^Timeout 300$/Timeout 302/' {}", tree("a1", "/etc/apache2/apache2.conf")));
    s.ok(&["clone", "a1", "a3"]);
    let d = s.ok(&["diff", "a3", "/etc/apache2/apache2.conf"]);
    assert!(d.contains("-Timeout 300\n+Timeout 302\n"), "{d}");
    s.ok(&["delete", "a3"]);
    let l1: serde_json::Value = serde_json::from_str(&s.ok(&["status", "a1", "--json"])).unwrap();
    let l2: serde_json::Value = serde_json::from_str(&s.ok(&["status", "a2", "--json"])).unwrap();
    assert_ne!(l1["label"], l2["label"], "a clone gets its own label");
    // Each has a key of its own, and a certificate of that key for its name.
    let pubkey =
        |n: &str| s.sh_ok(&format!("openssl pkey -in {} -pubout", tree(n, "/etc/ssl/private/ssl-cert-snakeoil.key")));
    for n in ["a1", "a2"] {
        let c = s.sh_ok(&format!(
            "openssl x509 -in {} -noout -subject -pubkey",
            tree(n, "/etc/ssl/certs/ssl-cert-snakeoil.pem")
        ));
        assert!(c.contains(&format!("subject=CN = {n}\n")) && c.contains(pubkey(n).trim()), "{n}: {c}");
    }
    assert_ne!(pubkey("a1"), pubkey("a2"), "a clone shares its source's key");
    // Its base holds its own key and certificate: they are no change of the admin's.
    for p in ["/etc/ssl/private/ssl-cert-snakeoil.key", "/etc/ssl/certs/ssl-cert-snakeoil.pem"] {
        let d = s.ok(&["diff", "a2", p]);
        assert!(!d.contains("changed by the admin"), "{p}: {d}");
        assert!(s.ok(&["diff", "--all", "a2", p]).contains("unchanged since create"), "{p}");
    }
    assert!(s.sh_ok("systemctl show -p LoadState apache2@a2.service").contains("loaded"));
    let wants = s.sh_ok("systemctl show -p Wants apache2-sandboxes.target");
    assert!(wants.contains("apache2@a1.service") && wants.contains("apache2@a2.service"), "{wants}");

    s.ok(&["delete", "a1"]);
    assert!(!s.exists("/etc/sandbox-service/a1.sandbox"));
    assert!(!s.exists(&format!("{STATE}/a1")));
    assert!(!s.exists("/etc/systemd/system/apache2@a1.service"));
    assert!(!s.exists("/etc/systemd/system/apache2-sandboxes.target.wants/apache2@a1.service"));
    assert!(s.exists("/etc/systemd/system/apache2-sandboxes.target"), "a2 still needs the target");
    s.ok(&["delete", "a2"]);
    assert!(!s.exists("/etc/systemd/system/apache2-sandboxes.target"), "the last sandbox takes the target along");
    assert!(!s.exists("/etc/systemd/system/apache2-sandboxes.target.wants"));
    assert_eq!(s.ok(&["list", "--json"]).trim(), "[]");
    // The name is free again.
    s.ok(&["create", "-u", "apache2", "a1"]);
}

#[test]
fn delete_refuses_a_running_sandbox_unless_forced() {
    let s = Systemd::boot();
    s.ok(&["create", "-u", "apache2", "busy"]);
    // Really running: its mounts, runtime files and machine registration
    // exist, and must all go with it.
    s.ok(&["start", "busy"]);
    assert!(s.http(80).ends_with("200"));
    s.wait_for("machinectl list --no-legend --no-pager", |o| o.contains("busy"));
    assert!(s.exists("/run/sandbox-service/busy.pid"));
    let out = s.tool(&["delete", "busy"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("sandbox 'busy' is running") && err.contains("--force"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(s.exists("/etc/sandbox-service/busy.sandbox"));
    s.ok(&["delete", "--force", "busy"]);
    assert!(!s.exists("/etc/sandbox-service/busy.sandbox"));
    let st = s.sh_ok("systemctl show -p ActiveState --value apache2@busy.service");
    assert!(st.trim() == "inactive" || st.trim().is_empty(), "{st}");
    let ps = s.wait_for("pgrep -a apache2 || true", |o| o.trim().is_empty());
    assert!(ps.trim().is_empty(), "{ps}");
    assert!(!s.sh_ok("cat /proc/self/mountinfo").contains("sandbox-service/busy"));
    let left = s.sh_ok("ls -a /run/sandbox-service | grep busy || true");
    assert!(left.trim().is_empty(), "runtime files left: {left}");
    let m = s.wait_for("machinectl list --no-legend --no-pager", |o| !o.contains("busy"));
    assert!(!m.contains("busy"), "{m}");
    assert!(!s.exists("/var/lib/sandbox-service/busy") && !s.exists("/etc/systemd/system/apache2@busy.service"));
}

#[test]
fn a_template_unit_runs_with_the_sandbox_name_as_instance() {
    let s = Systemd::boot();
    let out = s.ok(&["create", "-u", "apache2@", "--explain", "w3"]);
    // Specifiers expand to the instance: the template names /etc/apache2-%i.
    assert!(
        out.contains("skipped  /etc/apache2-w3: holds ConditionPathIsDirectory=/etc/apache2-w3 of apache2@w3.service"),
        "{out}"
    );
    assert!(out.contains("private  /etc/apache2 (dir)"), "{out}");
    let st: serde_json::Value = serde_json::from_str(&s.ok(&["status", "w3", "--json"])).unwrap();
    assert_eq!(st["unit"], "apache2@w3.service");
    assert_eq!(st["services"][0], "apache2@.service");
    let show = s.sh_ok("systemctl show -p LoadState,ReloadPropagatedFrom apache2@w3.service");
    assert!(show.contains("LoadState=loaded") && show.contains("ReloadPropagatedFrom=apache2.service"), "{show}");
}

/// Debian's own multi-instance recipe (setup-instance makes /etc/apache2-www
/// and /var/log/apache2-www), then `-u apache2@`: the instance's log
/// directory comes from envvars as the shell evaluates it with the
/// unit's APACHE_CONFDIR, and the sandbox serves its page.
#[test]
fn a_template_instance_from_setup_instance_starts_and_serves() {
    let s = Systemd::boot();
    s.sh_ok("sh /usr/share/doc/apache2/examples/setup-instance www >/dev/null");
    let out = s.ok(&["create", "-u", "apache2@", "--explain", "www"]);
    assert!(out.contains("private  /etc/apache2-www (dir)"), "{out}");
    assert!(
        out.contains("private  /var/log/apache2-www (dir): named by APACHE_LOG_DIR in /etc/apache2/envvars"),
        "{out}"
    );
    s.sh_ok(&format!("sed -i 's/^Listen 80$/Listen 8084/' {}", tree("www", "/etc/apache2-www/ports.conf")));
    s.sh_ok(&format!("echo 'page of the www instance' > {}", tree("www", "/var/www/html/index.html")));
    s.ok(&["start", "www"]);
    assert_eq!(s.http(8084), "page of the www instance\n200");
    s.sh_ok("curl -s http://127.0.0.1:8084/ >/dev/null");
    // The *:80 site does not match :8084: the server-wide log has it.
    let logs = s.sh_ok(&format!("cat {}/*.log", tree("www", "/var/log/apache2-www")));
    assert!(logs.contains("GET / "), "{logs}");
    s.ok(&["stop", "www"]);
    assert_eq!(s.prop("apache2@www.service", "Result"), "success");
}
