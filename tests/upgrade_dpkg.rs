//! upgrade and diff on apache2, in the throwaway systemd: a newer apache2
//! .deb is built here from the installed package's own files (with
//! changes to its conffiles, one added and one dropped) and installed
//! with the real `dpkg -i` into the harness's overlay; the sandbox is
//! brought forward with a 3-way merge per file and still serves.
mod harness;
use harness::*;

/// `newer PKG EDITS`: builds PKG VERSION+sbx1 from what dpkg installed of
/// it, runs the command EDITS (a shell function) on its tree ($d),
/// installs it with `dpkg -i` and prints the new version.
const NEWER: &str = r#"set -e
newer() {
    pkg=$1; d=/tmp/$pkg-newer; rm -rf $d; mkdir -p $d/DEBIAN
    dpkg-query -L $pkg | while read -r p; do
        # Files and links to files; directories (/lib is a link to one) come with them.
        if [ -f "$p" ] && { [ ! -L "$p" ] || [ ! -d "$p" ]; }; then mkdir -p "$d$(dirname "$p")"; cp -a "$p" "$d$p"; fi
    done
    if [ -f /var/lib/dpkg/info/$pkg.conffiles ]; then cp /var/lib/dpkg/info/$pkg.conffiles $d/DEBIAN/conffiles; fi
    eval "$2"
    dpkg-query -W -f='Package: ${Package}
Version: ${Version}+sbx1
Architecture: ${Architecture}
Maintainer: test
Source: apache2
Description: updated by the test
' $pkg > $d/DEBIAN/control
    dpkg-deb --build --root-owner-group $d /tmp/$pkg-newer.deb >/dev/null
    dpkg -i --no-triggers /tmp/$pkg-newer.deb >/dev/null
    dpkg-query -W -f='${Version}' $pkg
}
"#;

/// What the update changes in apache2's conffiles: one line each in
/// apache2.conf, ports.conf and magic, one file added, one dropped.
const APACHE2_EDITS: &str = "sed -i 's/^KeepAlive On$/KeepAlive Off/' $d/etc/apache2/apache2.conf
sed -i 's/^Listen 80$/Listen 81/' $d/etc/apache2/ports.conf
echo '# changed by the update' >> $d/etc/apache2/magic
echo '# new in the update' > $d/etc/apache2/conf-available/sbx-new.conf
rm $d/etc/apache2/conf-available/localized-error-pages.conf
sed -i '/localized-error-pages/d' $d/DEBIAN/conffiles
echo /etc/apache2/conf-available/sbx-new.conf >> $d/DEBIAN/conffiles";

#[test]
fn an_apache2_update_is_merged_into_its_sandbox_which_still_serves() {
    let sys = Systemd::boot();
    sys.apache2_sandbox(&[], "up1", 8091, "up1 page");
    let conf = tree("up1", "/etc/apache2/apache2.conf");
    sys.sh_ok(&format!("sed -i 's/^Timeout 300$/Timeout 301/' {conf}"));

    // diff: the admin's change, against what the sandbox got.
    let d = sys.ok(&["diff", "up1", "/etc/apache2"]);
    assert!(
        d.contains("/etc/apache2/apache2.conf: changed by the admin (configuration), differs from the host's"),
        "{d}"
    );
    assert!(d.contains("-Timeout 300\n+Timeout 301\n"), "{d}");
    assert!(d.contains("/etc/apache2/ports.conf: changed by the admin"), "{d}");
    assert!(!d.contains("/etc/apache2/magic"), "{d}");
    let none = sys.ok(&["upgrade", "up1"]);
    assert!(none.contains("up1: up to date with its packages"), "{none}");

    let version = sys.sh_ok(&format!("{NEWER}\nedits() {{\n{APACHE2_EDITS}\n}}\nnewer apache2 edits"));
    assert!(version.trim().ends_with("+sbx1"), "{version}");

    let dry = sys.ok(&["upgrade", "--dry-run", "up1"]);
    assert!(dry.contains(&format!("-> {}", version.trim())), "{dry}");
    assert!(dry.contains("-KeepAlive On\n+KeepAlive Off\n"), "{dry}");
    assert!(!sys.sh_ok(&format!("cat {conf}")).contains("KeepAlive Off"), "--dry-run changed the sandbox");

    let out = sys.tool(&["upgrade", "up1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    let now = sys.sh_ok(&format!("cat {conf}"));
    assert!(now.contains("Timeout 301") && now.contains("KeepAlive Off"), "both changes merged: {now}");
    assert!(said.contains("/etc/apache2/apache2.conf: merged"), "{said}");
    // The same line changed in both: the sandbox's kept, the package's beside it.
    assert!(said.contains("/etc/apache2/ports.conf: CONFLICT"), "{said}");
    assert!(sys.sh_ok(&format!("cat {}", tree("up1", "/etc/apache2/ports.conf"))).contains("Listen 8091"));
    assert!(sys.sh_ok(&format!("cat {}", tree("up1", "/etc/apache2/ports.conf.dpkg-dist"))).contains("Listen 81"));
    assert!(stderr(&out).contains("1 conflict(s)"), "{}", stderr(&out));
    assert!(sys.sh_ok(&format!("tail -1 {}", tree("up1", "/etc/apache2/magic"))).contains("# changed by the update"));
    assert!(sys.exists(&tree("up1", "/etc/apache2/conf-available/sbx-new.conf")));
    assert!(sys.exists(&tree("up1", "/etc/apache2/conf-available/localized-error-pages.conf")));
    assert!(said.contains("localized-error-pages.conf: left as it is (no longer in apache2"), "{said}");

    // Upgraded, it starts and serves its own page.
    sys.ok(&["start", "up1"]);
    assert!(sys.http(8091).contains("up1 page"));

    // security: read from the running service, against the bare unit.
    let sec = sys.ok(&["security", "up1"]);
    assert!(sec.contains("sandbox up1 from its running process"), "{sec}");
    assert!(sec.contains("bare apache2.service from its unit file"), "{sec}");
    let j: serde_json::Value = serde_json::from_str(&sys.ok(&["security", "--json", "up1"])).unwrap();
    let item = |id: &str| j["items"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap().clone();
    for id in ["seccomp", "no_new_privs", "pidns", "mountns", "devices", "usr", "tmp", "kernel"] {
        assert_eq!(item(id)["sandbox"], true, "{id}: {j}");
    }
    // Debian's apache2.service has PrivateTmp= and nothing else of these.
    assert_eq!(item("tmp")["bare"], true, "{j}");
    for id in ["seccomp", "no_new_privs", "pidns", "devices"] {
        assert_eq!(item(id)["bare"], false, "{id}: {j}");
    }
    let (ours, bare) = (j["sandbox"]["score"].as_f64().unwrap(), j["bare"]["score"].as_f64().unwrap());
    assert!(ours < bare, "the sandbox {ours}, bare {bare}");
    assert!(sec.contains(&format!("exposure: sandbox {ours:.1}")), "{sec}");

    // Restart-needed: the host's apache2-bin is updated under the running
    // sandbox, which still runs the old, deleted /usr/sbin/apache2.
    assert!(!sys.ok(&["status", "up1"]).contains("restart needed"));
    assert!(sys.ok(&["restart", "--needed"]).contains("no running sandbox needs a restart"));
    let bin = sys.sh_ok(&format!("{NEWER}\nnewer apache2-bin :"));
    assert!(bin.trim().ends_with("+sbx1"), "{bin}");
    let st = sys.ok(&["status", "up1"]);
    assert!(st.contains("restart needed: it still runs") && st.contains("/usr/sbin/apache2"), "{st}");
    assert!(sys.ok(&["list"]).contains("[restart needed]"));
    let j: serde_json::Value = serde_json::from_str(&sys.ok(&["list", "--json"])).unwrap();
    assert!(j[0]["restart_needed"].as_array().unwrap().iter().any(|f| f == "/usr/sbin/apache2"), "{j}");
    let before = sys.prop("apache2@up1.service", "MainPID");
    let r = sys.ok(&["restart", "--needed"]);
    assert!(r.contains("up1: restart needed") && r.contains("restarted apache2@up1.service"), "{r}");
    assert_ne!(sys.prop("apache2@up1.service", "MainPID"), before);
    assert!(!sys.ok(&["status", "up1"]).contains("restart needed"));
    assert!(sys.http(8091).contains("up1 page"));
    // apache2-bin's update changed none of the sandbox's files: recorded only.
    let bin_up = sys.ok(&["upgrade", "--all"]);
    assert!(bin_up.contains("up1: apache2-bin ") && bin_up.contains("none of the sandbox's files changed"), "{bin_up}");
    let again = sys.ok(&["upgrade", "--all"]);
    assert!(again.contains("up1: up to date with its packages"), "{again}");
}
