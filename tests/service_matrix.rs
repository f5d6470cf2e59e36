//! Ordinary Debian daemons, each sandboxed the way an admin would try it:
//! `create -u UNIT NAME` with no flags and no edits, then systemctl. Each
//! runs bare first in the same throwaway systemd, so a failure of the
//! environment is told apart from one of the sandbox. One test a daemon,
//! each in a harness of its own: they run in parallel.
mod harness;
use harness::*;

/// How a daemon is asked whether it answers, over its own protocol.
struct Daemon {
    unit: &'static str,
    /// The process that must be gone after a stop.
    process: &'static str,
    /// A shell command that prints the answer; `{x}` is replaced by how a
    /// command reaches the service: "" bare, "sandbox-service execute NAME --"
    /// sandboxed (for what listens on a unix socket in the sandbox's /run).
    ask: &'static str,
    /// What the answer holds.
    want: &'static str,
    /// More to check of the running sandbox (named "box").
    also: Option<fn(&Systemd)>,
}

/// Asks until the answer comes (a daemon may be up before it answers:
/// dovecot's auth process starts on the first login), up to 20 s.
fn answers(s: &Systemd, d: &Daemon, via: &str) -> String {
    let cmd = d.ask.replace("{x}", via);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = s.sh(&cmd);
        let text = stdout(&out) + &stderr(&out);
        if text.contains(d.want) || std::time::Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn nothing_left(s: &Systemd, d: &Daemon, unit: &str) {
    let ps = s.wait_for(&format!("pgrep -x '{}' || true", d.process), |o| o.trim().is_empty());
    assert!(ps.trim().is_empty(), "{} still runs after the stop of {unit}: {ps}", d.process);
    let cg = s.prop(unit, "ControlGroup");
    if !cg.is_empty() {
        let procs = s.sh_ok(&format!("cat /sys/fs/cgroup/unified{cg}/cgroup.procs 2>/dev/null || true"));
        assert!(procs.trim().is_empty(), "{unit}'s cgroup still holds {procs}");
    }
}

fn sandboxed_untouched(d: Daemon) {
    let s = Systemd::boot();
    let bare = s.run(&["systemctl", "start", d.unit]);
    assert!(bare.status.success(), "the bare {} does not start here: {}", d.unit, stderr(&bare));
    let text = answers(&s, &d, "");
    assert!(text.contains(d.want), "the bare {} does not answer: {text}", d.unit);
    s.sh_ok(&format!("systemctl stop {}", d.unit));
    nothing_left(&s, &d, d.unit);

    let name = "box";
    let out = s.tool(&["create", "-u", d.unit, name]);
    assert!(out.status.success(), "create -u {}: {}", d.unit, stderr(&out));
    let unit = format!("{}@{name}.service", d.unit.split('@').next().unwrap());
    let via = format!("{BIN} execute {name} --");
    for (verb, step) in [("start", "started"), ("restart", "restarted")] {
        let out = s.run(&["systemctl", verb, &unit]);
        assert!(out.status.success(), "systemctl {verb} {unit}: {}\n{}", stderr(&out), s.journal(&unit));
        let text = answers(&s, &d, &via);
        assert!(text.contains(d.want), "{unit}, {step}, does not answer: {text}\n{}", s.journal(&unit));
    }
    if let Some(f) = d.also {
        f(&s);
    }
    s.sh_ok(&format!("systemctl stop {unit}"));
    assert_eq!(s.prop(&unit, "ActiveState"), "inactive");
    nothing_left(&s, &d, &unit);
}

#[test]
fn apache2() {
    sandboxed_untouched(Daemon {
        unit: "apache2",
        process: "apache2",
        ask: "curl -s -o /dev/null -w 'HTTP %{http_code}' http://127.0.0.1/",
        want: "HTTP 200",
        also: None,
    });
}

#[test]
fn nginx() {
    sandboxed_untouched(Daemon {
        unit: "nginx",
        process: "nginx",
        ask: "curl -s -o /dev/null -w 'HTTP %{http_code}' http://127.0.0.1/",
        want: "HTTP 200",
        also: None,
    });
}

#[test]
fn redis_server() {
    sandboxed_untouched(Daemon {
        unit: "redis-server",
        process: "redis-server",
        ask: "redis-cli ping",
        want: "PONG",
        also: None,
    });
}

#[test]
fn mariadb_server() {
    sandboxed_untouched(Daemon {
        unit: "mariadb",
        process: "mariadbd",
        // SQL over its unix socket (in the sandbox's own /run), as root.
        ask: "{x} mariadb -N -e 'select 6*7'",
        want: "42",
        also: None,
    });
}

#[test]
fn postgresql() {
    sandboxed_untouched(Daemon {
        unit: "postgresql@15-main",
        process: "postgres",
        ask: "{x} setpriv --reuid postgres --regid postgres --init-groups psql -Atc 'select 6*7'",
        want: "42",
        also: None,
    });
}

#[test]
fn haproxy() {
    sandboxed_untouched(Daemon {
        unit: "haproxy",
        process: "haproxy",
        ask: "echo 'show info' | {x} socat - /run/haproxy/admin.sock",
        want: "Name: HAProxy",
        also: None,
    });
}

#[test]
fn php_fpm() {
    sandboxed_untouched(Daemon {
        unit: "php8.2-fpm",
        process: "php-fpm8.2",
        // A FastCGI request for a script that is not there: FPM itself answers.
        ask: "{x} env SCRIPT_FILENAME=/nowhere.php SCRIPT_NAME=/nowhere.php REQUEST_METHOD=GET \
              cgi-fcgi -bind -connect /run/php/php8.2-fpm.sock",
        want: "Primary script unknown",
        also: None,
    });
}

#[test]
fn dovecot_imapd() {
    sandboxed_untouched(Daemon {
        unit: "dovecot",
        process: "dovecot",
        ask: "(sleep 1; printf 'a LOGOUT\\r\\n') | timeout 5 nc -q2 127.0.0.1 143",
        want: "Dovecot (Debian) ready",
        also: Some(|s| {
            // The certificate it shows is its own, made at create for its
            // name and for a key of its own, not the host's snakeoil.
            let shown = s.sh_ok(
                "openssl s_client -starttls imap -connect 127.0.0.1:143 </dev/null 2>/dev/null \
                 | openssl x509 -noout -subject -pubkey",
            );
            let host = s.sh_ok("openssl pkey -in /etc/ssl/private/ssl-cert-snakeoil.key -pubout");
            let own = s.sh_ok(&format!("openssl pkey -in {} -pubout", tree("box", "/etc/dovecot/private/dovecot.key")));
            assert!(shown.contains("subject=CN = box"), "{shown}");
            assert!(shown.contains(own.trim()) && !shown.contains(host.trim()), "{shown}");
        }),
    });
}

#[test]
fn vsftpd() {
    sandboxed_untouched(Daemon {
        unit: "vsftpd",
        process: "vsftpd",
        ask: "printf 'QUIT\\r\\n' | timeout 5 nc -q2 127.0.0.1 21",
        want: "220 (vsFTPd",
        also: None,
    });
}

#[test]
fn openssh_server_with_host_keys_of_its_own() {
    sandboxed_untouched(Daemon {
        unit: "ssh",
        process: "sshd",
        ask: "timeout 5 nc -q1 127.0.0.1 22 </dev/null",
        want: "SSH-2.0-OpenSSH",
        also: Some(|s| {
            // What the sandbox's sshd shows the world is not the host's key.
            let shown = s.sh_ok("ssh-keyscan -t ed25519 127.0.0.1 2>/dev/null | cut -d' ' -f3");
            let host = s.sh_ok("cut -d' ' -f2 /etc/ssh/ssh_host_ed25519_key.pub");
            assert!(!shown.trim().is_empty() && shown.trim() != host.trim(), "the sandbox shows the host's key");
            let own = s.sh_ok(&format!("cut -d' ' -f2 {}", tree("box", "/etc/ssh/ssh_host_ed25519_key.pub")));
            assert_eq!(shown.trim(), own.trim(), "the key shown is not the sandbox's own");
            let mode = s.sh_ok(&format!("stat -c %a {}", tree("box", "/etc/ssh/ssh_host_ed25519_key")));
            assert_eq!(mode.trim(), "600");
            // Every other sandbox has the host's /etc/ssh masked.
            s.ok(&["create", "-u", "redis-server", "other"]);
            let seen = s.sh(&format!("{BIN} execute other -- ls -A /etc/ssh"));
            assert!(stdout(&seen).trim().is_empty(), "another sandbox sees {}", stdout(&seen));
        }),
    });
}

#[test]
fn tor_and_the_instance_its_generator_pulls() {
    // tor.service is a oneshot whose generator adds tor@default.service.
    sandboxed_untouched(Daemon {
        unit: "tor",
        process: "tor",
        ask: "timeout 5 nc -zv 127.0.0.1 9050",
        want: "succeeded",
        also: Some(|s| {
            let cfg = s.sh_ok("cat /etc/sandbox-service/box.sandbox");
            assert!(cfg.contains("pulled=tor@default.service"), "{cfg}");
        }),
    });
}

#[test]
fn postfix_and_its_instance() {
    sandboxed_untouched(Daemon {
        unit: "postfix",
        process: "master",
        ask: "(sleep 1; printf 'QUIT\\r\\n') | timeout 5 nc -q2 127.0.0.1 25",
        want: "ESMTP Postfix",
        also: None,
    });
}

#[test]
fn bind9_named() {
    sandboxed_untouched(Daemon {
        unit: "named",
        process: "named",
        ask: "dig +short +time=2 +tries=1 @127.0.0.1 localhost",
        want: "127.0.0.1",
        also: None,
    });
}

#[test]
fn unbound_with_a_helper_unit_whose_condition_fails() {
    sandboxed_untouched(Daemon {
        unit: "unbound",
        process: "unbound",
        ask: "dig +short +time=2 +tries=1 @127.0.0.1 localhost",
        want: "127.0.0.1",
        also: Some(|s| {
            let j = s.journal("unbound@box.service");
            assert!(j.contains("unbound-resolvconf.service: ConditionFileIsExecutable=/sbin/resolvconf failed"), "{j}");
        }),
    });
}

#[test]
fn dnsmasq() {
    sandboxed_untouched(Daemon {
        unit: "dnsmasq",
        process: "dnsmasq",
        ask: "dig +short +time=2 +tries=1 @127.0.0.1 localhost",
        want: "127.0.0.1",
        also: None,
    });
}

#[test]
fn lighttpd() {
    sandboxed_untouched(Daemon {
        unit: "lighttpd",
        process: "lighttpd",
        ask: "curl -s -o /dev/null -w 'HTTP %{http_code}' http://127.0.0.1/",
        want: "HTTP 200",
        also: None,
    });
}

#[test]
fn squid() {
    sandboxed_untouched(Daemon {
        unit: "squid",
        process: "squid",
        ask: "curl -sI http://127.0.0.1:3128/",
        want: "Server: squid",
        also: None,
    });
}

#[test]
fn two_redis_side_by_side_each_with_its_own_data_and_logs() {
    let s = Systemd::boot();
    for (n, port) in [("r1", 6380), ("r2", 6381)] {
        s.ok(&["create", "-u", "redis-server", n]);
        // Only the private configuration changes.
        s.sh_ok(&format!("sed -i 's/^port 6379$/port {port}/' {}", tree(n, "/etc/redis/redis.conf")));
    }
    s.sh_ok("systemctl start redis-server@r1.service redis-server@r2.service");
    for (n, port) in [("r1", 6380), ("r2", 6381)] {
        assert_eq!(s.sh_ok(&format!("redis-cli -p {port} ping")).trim(), "PONG");
        s.sh_ok(&format!("redis-cli -p {port} set owner {n} && redis-cli -p {port} save"));
    }
    for (n, other) in [("r1", "r2"), ("r2", "r1")] {
        let dump = s.sh_ok(&format!("cat {}", tree(n, "/var/lib/redis/dump.rdb")));
        assert!(dump.contains(n) && !dump.contains(&format!("owner\u{2}{other}")), "{n}'s data: {dump:?}");
        let log = s.sh_ok(&format!("cat {}", tree(n, "/var/log/redis/redis-server.log")));
        assert!(log.contains("Ready to accept connections"), "{n} logs elsewhere: {log}");
    }
    assert!(!s.exists("/var/lib/redis/dump.rdb"), "a sandbox wrote the host's redis data");
    s.sh_ok("systemctl stop redis-server@r1.service redis-server@r2.service");
}
