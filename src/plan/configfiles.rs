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
}
