//! The service's unix sockets on the host: the sandbox's /run at
//! /run/sandbox-service/NAME/run while it runs, and publish-socket=.
//! The host's own clients (apache2, mysql, socat) are the clients.
mod harness;
use harness::*;

/// A host apache2 vhost on PORT whose PHP goes to the FastCGI socket SOCK.
fn php_vhost(s: &Systemd, port: u16, sock: &str) {
    s.sh_ok(&format!(
        "printf 'Listen {port}\\n<VirtualHost *:{port}>\\nProxyPassMatch \"^/(.*\\\\.php)$\" \
         \"unix:{sock}|fcgi://localhost/var/www/html/$1\"\\n</VirtualHost>\\n' > /etc/apache2/sites-enabled/php{port}.conf"
    ));
}

#[test]
fn the_hosts_web_server_serves_two_sandboxed_php_fpm_pools() {
    let s = Systemd::boot();
    for n in ["site1", "site2"] {
        let publish = format!("/run/php/{n}.sock:/run/php/php8.2-fpm.sock");
        s.ok(&["create", "-u", "php8.2-fpm", "--publish-socket", &publish, n]);
        s.sh_ok(&format!("echo '<?php echo \"php of {n}\\n\";' > {}", tree(n, "/var/www/html/index.php")));
        s.ok(&["start", n]);
    }
    let st = s.ok(&["status", "site1"]);
    assert!(st.contains("/run/php/site1.sock") && st.contains("/run/sandbox-service/site1/run"), "{st}");
    // The host socket has the pool's owner and mode (www-data, 0660).
    let ls = s.sh_ok("stat -c '%U:%G %a %F' /run/php/site1.sock");
    assert_eq!(ls.trim(), "www-data:www-data 660 socket", "{ls}");
    s.sh_ok("a2enmod -q proxy_fcgi");
    php_vhost(&s, 8181, "/run/php/site1.sock");
    php_vhost(&s, 8182, "/run/php/site2.sock");
    s.sh_ok("systemctl restart apache2.service");
    let page = |port: u16| s.sh_ok(&format!("curl -sS -m 5 http://127.0.0.1:{port}/index.php"));
    assert_eq!(page(8181), "php of site1\n");
    assert_eq!(page(8182), "php of site2\n");
    // Restarted sandboxes, apache2 untouched: its next request finds the new socket.
    let apache = s.prop("apache2.service", "MainPID");
    s.ok(&["restart", "site1"]);
    s.ok(&["restart", "site2"]);
    assert_eq!(page(8181), "php of site1\n");
    assert_eq!(page(8182), "php of site2\n");
    assert_eq!(s.prop("apache2.service", "MainPID"), apache);
    // A host path that is taken is refused at create.
    let o = s.tool(&["create", "-u", "php8.2-fpm", "--publish-socket", "/run/php/site1.sock:/run/php/x.sock", "s3"]);
    assert!(!o.status.success() && stderr(&o).contains("sandbox 'site1' publishes /run/php/site1.sock"), "{o:?}");
    s.sh_ok("touch /run/taken.sock");
    let o = s.tool(&["create", "-u", "php8.2-fpm", "--publish-socket", "/run/taken.sock:/run/php/x.sock", "s3"]);
    assert!(!o.status.success() && stderr(&o).contains("/run/taken.sock exists on the host"), "{o:?}");
    // Stop and delete leave no socket and no directory.
    s.ok(&["stop", "site1"]);
    let gone = s.sh("test -e /run/php/site1.sock || test -e /run/sandbox-service/site1/run");
    assert!(!gone.status.success(), "site1's sockets outlived its stop");
    assert_eq!(page(8182), "php of site2\n");
    s.ok(&["delete", "--force", "site2"]);
    s.ok(&["delete", "site1"]);
    let left = s.sh_ok("ls /run/php /run/sandbox-service; ls /etc/systemd/system | grep sandbox-service- || true");
    assert!(!left.contains("site1") && !left.contains("site2"), "{left}");
}

#[test]
fn host_clients_reach_a_sandboxed_database_and_an_admin_socket() {
    let s = Systemd::boot();
    s.ok(&["create", "-u", "mariadb", "--publish-socket", "/run/db1.sock:/run/mysqld/mysqld.sock", "db1"]);
    s.ok(&["create", "-u", "haproxy", "hap1"]);
    s.ok(&["start", "db1"]);
    s.ok(&["start", "hap1"]);
    // Through its runtime directory, and through the published socket.
    for sock in ["/run/sandbox-service/db1/run/mysqld/mysqld.sock", "/run/db1.sock"] {
        let q = s.sh_ok(&format!("mysql --socket={sock} -N -e 'select 6*7'"));
        assert_eq!(q.trim(), "42", "mysql through {sock}");
    }
    let info = s.sh_ok("echo 'show info' | socat - UNIX-CONNECT:/run/sandbox-service/hap1/run/haproxy/admin.sock");
    assert!(info.contains("Name: HAProxy"), "{info}");
    // Fresh at each start: what was there before is gone after a restart.
    s.sh_ok("touch /run/sandbox-service/hap1/run/left-from-before");
    s.ok(&["restart", "hap1"]);
    let o = s.sh("test -e /run/sandbox-service/hap1/run/left-from-before");
    assert!(!o.status.success(), "the runtime directory was not made fresh");
    for n in ["db1", "hap1"] {
        s.ok(&["stop", n]);
    }
    let o = s.sh("find /run/sandbox-service/db1 /run/sandbox-service/hap1 -mindepth 1; test -e /run/db1.sock");
    assert!(stdout(&o).trim().is_empty() && !o.status.success(), "left after stop: {o:?}");
}

#[test]
fn a_link_planted_where_a_socket_is_published_leads_nowhere_on_the_host() {
    let s = Systemd::boot();
    // A host daemon's socket, which the sandbox would like host clients to reach.
    s.sh_ok("systemd-run -q --unit host-secret socat UNIX-LISTEN:/run/host-secret.sock,fork SYSTEM:'echo host-secret'");
    s.wait_for("socat - UNIX-CONNECT:/run/host-secret.sock </dev/null 2>&1 || true", |o| o.contains("host-secret"));
    s.ok(&[
        "create",
        "--publish-socket",
        "/run/evil.sock:/run/app/app.sock",
        "evil",
        "--",
        "/bin/sh",
        "-c",
        "mkdir -p /run/app /run/dir && ln -s /run/host-secret.sock /run/app/app.sock && \
         ln -s /run /run/dir/up && exec sleep infinity",
    ]);
    // The sandbox runs, but its socket is refused, and start says so.
    let o = s.tool(&["start", "evil"]);
    assert!(!o.status.success() && stderr(&o).contains("did not"), "{o:?}");
    assert_eq!(s.prop("evil.service", "ActiveState"), "active");
    // Host clients looking through the runtime directory: the links are not followed.
    for p in ["app/app.sock", "dir/up/host-secret.sock"] {
        let o = s.sh(&format!("socat -T 2 - UNIX-CONNECT:/run/sandbox-service/evil/run/{p} </dev/null"));
        assert!(!stdout(&o).contains("host-secret"), "{p} led to the host's socket: {o:?}");
        assert!(stderr(&o).contains("Too many levels of symbolic links"), "{p}: {o:?}");
    }
    // And no host socket is published for a link.
    let unit = "sandbox-service-evil@unix-run-evil.sock.socket";
    let st = s.wait_for(&format!("systemctl is-active {unit} || true"), |o| o.trim() == "failed");
    assert_eq!(st.trim(), "failed", "{}", s.journal(unit));
    assert!(s.journal(unit).contains("is not published"), "{}", s.journal(unit));
    let o = s.sh("socat -T 2 - UNIX-CONNECT:/run/evil.sock </dev/null");
    assert!(!stdout(&o).contains("host-secret"), "{o:?}");
    s.ok(&["stop", "evil"]);
    s.ok(&["delete", "evil"]);
    let left = s.sh_ok("ls -A /run/sandbox-service; test -e /run/evil.sock && echo evil.sock || true");
    assert!(!left.contains("evil"), "{left}");
}
