//! Paths the service's own configuration names under /var: where its data,
//! web root or spool is (`dir /var/lib/redis`, `root /var/www/html;`,
//! `datadir = /var/lib/mysql`). /etc paths are left alone: the host's /etc
//! is visible read-only anyway, and its own /etc files are private already.
//! Comments are skipped; each absolute word is a candidate.

/// A configuration file larger than this is no hand-written one.
pub const MAX_SIZE: u64 = 1 << 20;

/// The /var paths `text` names, in order, once each.
pub fn var_paths(text: &str) -> Vec<String> {
    paths_under(text, "/var/")
}

/// The /etc paths `text` names (for the keys it points to).
pub fn etc_paths(text: &str) -> Vec<String> {
    paths_under(text, "/etc/")
}

/// The TCP ports `text` says a service listens on: the words after a
/// directive named `listen`, `bind` or `…port` (`Listen 80`, `listen
/// [::]:80;`, `bind *:443`, `port = 5432`, `http_port 3128`) that are a
/// port or ADDRESS:PORT, with the line they came from. Comments and
/// commented-out defaults do not count: what is not written is not known.
pub fn listen_ports(text: &str) -> Vec<(u16, String)> {
    let mut out: Vec<(u16, String)> = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with(['#', ';']) || l.starts_with("//") {
            continue;
        }
        let mut words = l.split(|c: char| c.is_whitespace() || c == '=').filter(|w| !w.is_empty());
        let Some(key) = words.next() else { continue };
        let key = key.to_ascii_lowercase();
        if !(key == "listen" || key == "bind" || key.ends_with("port")) {
            continue;
        }
        for w in words {
            let w = w.trim_matches(|c: char| matches!(c, '"' | '\'' | ';' | ','));
            if let Some(p) = port_of(w).filter(|p| *p > 0) {
                if !out.iter().any(|(q, _)| *q == p) {
                    out.push((p, l.to_string()));
                }
            }
        }
    }
    out
}

/// `80`, `*:80`, `0.0.0.0:80`, `[::]:80`, `:::80`, `:80` → 80; an address
/// alone (`127.0.0.1`, `-::1`) → None.
fn port_of(w: &str) -> Option<u16> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if digits(w) {
        return w.parse().ok();
    }
    let (host, port) = w.rsplit_once(':')?;
    let host_ok = matches!(host, "" | "*" | "::")
        || (host.starts_with('[') && host.ends_with(']'))
        || host.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_ipv4());
    (host_ok && digits(port)).then(|| port.parse().ok()).flatten()
}

fn paths_under(text: &str, top: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let l = line.trim_start();
        if l.starts_with('#') || l.starts_with(';') || l.starts_with("//") {
            continue;
        }
        for word in l.split(|c: char| c.is_whitespace() || c == '=' || c == ',') {
            let w = word.trim_matches(|c: char| matches!(c, '"' | '\'' | ';' | '<' | '>' | '(' | ')' | '{' | '}'));
            let w = w.trim_end_matches('/');
            if !w.starts_with(top) || w.contains(['*', '?', '$', '%', '[']) || w.split('/').any(|c| c == "..") {
                continue;
            }
            if !out.iter().any(|o| o == w) {
                out.push(w.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_var_paths_in_the_usual_syntaxes() {
        let nginx = "server {\n\troot /var/www/html;\n\t# root /var/www/old;\n\tlisten 80;\n}\n";
        assert_eq!(var_paths(nginx), vec!["/var/www/html"]);
        let redis =
            "dir /var/lib/redis\nlogfile /var/log/redis/redis-server.log\npidfile /run/redis/redis-server.pid\n";
        assert_eq!(var_paths(redis), vec!["/var/lib/redis", "/var/log/redis/redis-server.log"]);
        let mysql = "[mysqld]\ndatadir                 = /var/lib/mysql\n; datadir = /var/lib/x\n";
        assert_eq!(var_paths(mysql), vec!["/var/lib/mysql"]);
        let apache = "<VirtualHost *:80>\n\tDocumentRoot /var/www/html\n\tErrorLog ${APACHE_LOG_DIR}/error.log\n";
        assert_eq!(var_paths(apache), vec!["/var/www/html"]);
        assert!(var_paths("x /var/log/*.log\ny /var/lib/../etc\n").is_empty());
    }

    #[test]
    fn finds_listen_ports_and_nothing_else() {
        let ports = |t: &str| listen_ports(t).into_iter().map(|(p, _)| p).collect::<Vec<_>>();
        assert_eq!(ports("Listen 80\n<IfModule ssl_module>\n\tListen 443\n</IfModule>\n"), vec![80, 443]);
        assert_eq!(ports("server {\n\tlisten 80 default_server;\n\tlisten [::]:80 default_server;\n"), vec![80]);
        assert_eq!(ports("bind 127.0.0.1 -::1\nport 6379\ntcp-backlog 511\n"), vec![6379]);
        assert_eq!(ports("port = 5432\t\t\t\t# (change requires restart)\n#port = 5433\n"), vec![5432]);
        assert_eq!(ports("frontend f\n  bind *:8080\n  bind :::8443 v4v6\n  bind 10.0.0.1:81\n"), vec![8080, 8443, 81]);
        assert_eq!(ports("http_port 3128\n# port 99\n; Port 98\n"), vec![3128]);
        assert!(ports("#port = 3306\nmax_connections = 100\nbind-address = 127.0.0.1\nlisten 0\n").is_empty());
    }
}
