//! The logrotate configuration a sandbox rotates with: the host's
//! /etc/logrotate.conf (its defaults: how often, how many, compression),
//! with each `include` of /etc/logrotate.d narrowed to the sandbox's own
//! files there. logrotate run as root ignores a file whose owner is not
//! root, and through the sandbox's /etc (seen as other users see it, or
//! through a user namespace) the host's files belong to nobody: the
//! sandbox's copy of the host's file is written by the runtime at start,
//! owned by root inside, and the rules of other packages, whose logs are
//! not in the sandbox, are left out rather than ignored with an error.

use crate::plan::PrivatePath;

/// Its name in the sandbox's run directory (runtime::rootfs::RUN_DIR).
pub const FILE: &str = "logrotate.conf";

/// The sandbox's configuration from the host's `host_conf`.
pub fn for_sandbox(host_conf: &str, private: &[PrivatePath]) -> String {
    let mut out = String::from("# The host's /etc/logrotate.conf, for this sandbox's own rules (sandbox-service).\n");
    for line in host_conf.lines() {
        let mut words = line.split_whitespace();
        let narrowed = match (words.next(), words.next(), words.next()) {
            // Kept whole where the directory is the sandbox's own copy.
            (Some("include"), Some(dir), None) => Some(dir.trim_end_matches('/'))
                .filter(|d| !private.iter().any(|p| crate::rootpath::is_under(d, &p.path))),
            _ => None,
        };
        let Some(dir) = narrowed else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        out.push_str(&format!("# {line}: the sandbox's own files there\n"));
        let mut own: Vec<&str> = private
            .iter()
            .map(|p| p.path.as_str())
            .filter(|p| *p != dir && crate::rootpath::is_under(p, dir))
            .collect();
        own.sort_unstable();
        for p in own {
            out.push_str(&format!("include {p}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Kind;

    #[test]
    fn keeps_the_defaults_and_includes_only_the_sandboxs_rules() {
        let host = "weekly\nrotate 4\ncreate\ninclude /etc/logrotate.d\n/var/log/wtmp {\n missingok\n}\n";
        let own = |p: &str| PrivatePath { path: p.into(), kind: Kind::File, reasons: vec![] };
        let private = vec![own("/etc/logrotate.d/apache2"), own("/etc/apache2"), own("/etc/logrotate.d.bak/x")];
        let c = for_sandbox(host, &private);
        assert!(c.contains("weekly\nrotate 4\ncreate\n") && c.contains("/var/log/wtmp {\n missingok\n}\n"), "{c}");
        assert!(c.contains("include /etc/logrotate.d/apache2\n"), "{c}");
        assert!(!c.contains("include /etc/logrotate.d\n") && !c.contains("logrotate.d.bak"), "{c}");
        // A sandbox of logrotate's own package has the directory as its own.
        let whole = vec![PrivatePath { path: "/etc/logrotate.d".into(), kind: Kind::Dir, reasons: vec![] }];
        assert!(for_sandbox(host, &whole).contains("\ninclude /etc/logrotate.d\n"));
    }
}
