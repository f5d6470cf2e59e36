//! Debian's real apache2 and nginx, each run in a sandbox by the harness's
//! systemd: own content, reload, stop, side by side, host untouched.
mod harness;
use harness::*;

/// No process of the sandbox and nothing of it mounted, seen from the harness.
fn assert_gone(s: &Systemd, name: &str, program: &str) {
    let ps = s.wait_for(&format!("pgrep -a {program} || true"), |o| o.trim().is_empty());
    assert!(ps.trim().is_empty(), "{program} still running after stop: {ps}");
    let mounts = s.sh_ok("cat /proc/self/mountinfo");
    assert!(!mounts.contains(&format!("/run/sandbox-service/{name}")), "{mounts}");
    assert!(!mounts.contains("/var/lib/sandbox-service/"), "{mounts}");
}

#[test]
fn apache2_serves_its_own_page_reloads_and_stops() {
    let s = Systemd::boot();
    s.apache2_sandbox(&[], "web1", 80, "web1 own page");
    s.ok(&["start", "web1"]);
    let body = s.http(80);
    assert_eq!(body, "web1 own page\n200", "the host's page is different: {body}");
    assert_eq!(s.prop("apache2@web1.service", "ActiveState"), "active");

    // A changed config in the sandbox, then reload: the graceful restart
    // inside picks it up, with the same main process on the host.
    let main = s.prop("apache2@web1.service", "MainPID");
    s.sh_ok(&format!(
        "echo 'Header always set X-Sandbox web1' >> {}",
        tree("web1", "/etc/apache2/conf-enabled/security.conf")
    ));
    s.sh_ok(&format!(
        "ln -s ../mods-available/headers.load {}",
        tree("web1", "/etc/apache2/mods-enabled/headers.load")
    ));
    s.sh_ok("systemctl reload apache2@web1.service");
    let hdr = s.wait_for("curl -sI http://127.0.0.1/", |o| o.contains("X-Sandbox: web1"));
    assert!(
        hdr.contains("X-Sandbox: web1"),
        "reload did not reach apache2 inside: {hdr}\n{}",
        s.journal("apache2@web1.service")
    );
    assert_eq!(s.prop("apache2@web1.service", "MainPID"), main);

    let st = s.ok(&["status", "web1"]);
    assert!(st.contains("running:  pid ") && st.contains("memory "), "{st}");
    s.ok(&["stop", "web1"]);
    assert_eq!(s.prop("apache2@web1.service", "ActiveState"), "inactive");
    assert_eq!(s.prop("apache2@web1.service", "Result"), "success");
    assert_gone(&s, "web1", "apache2");
    // The sandbox's logs went to its own /var/log, not the host's.
    assert!(s.sh_ok(&format!("cat {}", tree("web1", "/var/log/apache2/access.log"))).contains("GET / "));
    assert!(!s.exists("/var/log/apache2/access.log") || s.sh_ok("cat /var/log/apache2/access.log").is_empty());
}

#[test]
fn two_apache2_sandboxes_side_by_side_and_the_host_untouched() {
    let s = Systemd::boot();
    let host_ports = s.sh_ok("cat /etc/apache2/ports.conf");
    s.apache2_sandbox(&[], "a1", 8081, "page of a1");
    s.apache2_sandbox(&[], "a2", 8082, "page of a2");
    s.sh_ok("systemctl start apache2@a1.service apache2@a2.service");
    assert_eq!(s.http(8081), "page of a1\n200");
    assert_eq!(s.http(8082), "page of a2\n200");
    assert_eq!(s.prop("apache2.service", "ActiveState"), "inactive");
    assert_eq!(s.sh_ok("cat /etc/apache2/ports.conf"), host_ports);
    // Each runs in its own pid namespace: their apache2 processes differ.
    let ns = |u: &str| {
        let pid = s.prop(u, "MainPID");
        s.sh_ok(&format!("readlink /proc/$(cat /proc/{pid}/task/{pid}/children | cut -d' ' -f1)/ns/pid"))
    };
    assert_ne!(ns("apache2@a1.service"), ns("apache2@a2.service"));
    // Each writes only its own log: a request to one shows in its log alone.
    s.sh_ok(
        "curl -s http://127.0.0.1:8081/probe-of-a1 >/dev/null; curl -s http://127.0.0.1:8082/probe-of-a2 >/dev/null",
    );
    s.sh_ok("systemctl stop apache2@a1.service apache2@a2.service");
    let log = |n: &str| s.sh_ok(&format!("cat {}", tree(n, "/var/log/apache2/access.log")));
    let (l1, l2) = (log("a1"), log("a2"));
    assert!(l1.contains("probe-of-a1") && !l1.contains("probe-of-a2"), "a1's log: {l1}");
    assert!(l2.contains("probe-of-a2") && !l2.contains("probe-of-a1"), "a2's log: {l2}");
    assert_gone(&s, "a1", "apache2");
}

#[test]
fn nginx_serves_its_own_page_reloads_and_stops() {
    let s = Systemd::boot();
    s.ok(&["create", "-u", "nginx", "-p", "/var/www", "site1"]);
    s.sh_ok(&format!("echo 'site1 nginx page' > {}", tree("site1", "/var/www/html/index.html")));
    s.sh_ok(&format!("rm -f {}", tree("site1", "/var/www/html/index.nginx-debian.html")));
    s.ok(&["start", "site1"]);
    assert_eq!(s.http(80), "site1 nginx page\n200");
    s.sh_ok(&format!(
        "sed -i 's|^\\s*root /var/www/html;|\\0\\n\\tadd_header X-Site site1;|' {}",
        tree("site1", "/etc/nginx/sites-available/default")
    ));
    s.sh_ok("systemctl reload nginx@site1.service");
    let hdr = s.wait_for("curl -sI http://127.0.0.1/", |o| o.contains("X-Site: site1"));
    assert!(hdr.contains("X-Site: site1"), "{hdr}\n{}", s.journal("nginx@site1.service"));
    s.ok(&["stop", "site1"]);
    assert_eq!(s.prop("nginx@site1.service", "Result"), "success");
    assert_gone(&s, "site1", "nginx");
}

#[test]
fn apache2_runs_in_a_user_namespace() {
    let s = Systemd::boot();
    // Root in a user namespace cannot bind the host's ports below 1024.
    s.apache2_sandbox(&["--private-users"], "u1", 8080, "u1 page");
    s.ok(&["start", "u1"]);
    assert_eq!(s.http(8080), "u1 page\n200");
    let base = s.sh_ok("sed -n 's/^private-users=//p' /etc/sandbox-service/u1.sandbox");
    // www-data (33) inside is base+33 on the host.
    let uids = s.sh_ok("ps -o uid= -C apache2 | sort -u");
    let want = base.trim().parse::<u32>().unwrap() + 33;
    assert!(uids.split_whitespace().any(|u| u == want.to_string()), "{uids}");
    s.ok(&["stop", "u1"]);
    assert_gone(&s, "u1", "apache2");
}
