//! Why a sandboxed start failed, when the service said it: a path it could
//! not open that the host has and the sandbox does not (no metadata named
//! it), with the command that adds it. Read from the unit's journal.

use crate::layout::Layout;
use crate::plan::hierarchy::hierarchy;
use crate::plan::Plan;
use crate::rootpath::{ancestors, is_under};

/// What a line says when a file was not there.
const NOT_FOUND: &[&str] = &[
    "No such file or directory",
    "not found",
    "cannot open",
    "can't open",
    "could not open",
    "failed to open",
    "does not exist",
    "cannot access",
    "unable to open",
];

/// The absolute paths under /etc or /var that lines reporting a missing
/// file name, once each, in order.
pub fn missing_paths(journal: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in journal.lines() {
        let lower = line.to_ascii_lowercase();
        if !NOT_FOUND.iter().any(|m| lower.contains(&m.to_ascii_lowercase())) {
            continue;
        }
        for w in line.split(|c: char| {
            c.is_whitespace() || matches!(c, '\'' | '"' | '`' | '(' | ')' | '[' | ']' | ',' | '<' | '>' | '=')
        }) {
            let w = w.trim_end_matches([':', '.', ';', '!']).trim_end_matches('/');
            if (w.starts_with("/etc/") || w.starts_with("/var/"))
                && !w.contains(['*', '$', '%'])
                && !out.iter().any(|o| o == w)
            {
                out.push(w.to_string());
            }
        }
    }
    out
}

/// The path to add for a missing `p`: the entry right below the hierarchy
/// directory it is in (a service's own directory), or `p` itself.
fn what_to_add(p: &str) -> String {
    let mut best = p.to_string();
    for a in std::iter::once(p).chain(ancestors(p)) {
        let parent = a.rsplit_once('/').map_or("/", |(d, _)| if d.is_empty() { "/" } else { d });
        if hierarchy(parent).is_some() || parent == "/etc" || parent == "/var" {
            best = a.to_string();
            break;
        }
    }
    best
}

/// One line each: what the log says is missing, and the fix.
pub fn hints(layout: &Layout, name: &str, plan: &Plan, journal: &str) -> Vec<String> {
    let mut out = Vec::new();
    let private = |p: &str| plan.private.iter().any(|x| is_under(p, &x.path));
    for p in missing_paths(journal) {
        if private(&p) {
            continue;
        }
        let add = what_to_add(&p);
        if std::fs::symlink_metadata(layout.host(&add)).is_err() || private(&add) {
            continue;
        }
        let hint = match crate::secrets::secret(&add) {
            Some(what) => format!("{p} is missing inside: {add} holds {what}, which no sandbox is given"),
            None => format!("{p} is missing inside but the host has {add}: sandbox-service update -p {add} {name}"),
        };
        if !out.contains(&hint) {
            out.push(hint);
        }
    }
    out
}

/// The unit's last log lines (its own and its processes'), for `hints`.
pub fn journal(unit: &str, lines: usize) -> String {
    std::process::Command::new("journalctl")
        .args(["-u", unit, "-n", &lines.to_string(), "--no-pager", "-o", "cat", "-q"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_the_usual_complaints() {
        let j = "*** FATAL CONFIG FILE ERROR ***\n>>> 'dir /var/lib/redis'\nNo such file or directory\n\
            ERROR: failed to open error_log (/var/log/php8.2-fpm.log): No such file or directory (2)\n\
            cat: /var/lib/needed/file: No such file or directory\n\
            ssl_key: Can't open file /etc/dovecot/private/dovecot.key: No such file or directory\n\
            Started /usr/bin/x\n";
        assert_eq!(
            missing_paths(j),
            vec!["/var/log/php8.2-fpm.log", "/var/lib/needed/file", "/etc/dovecot/private/dovecot.key"]
        );
        assert_eq!(what_to_add("/var/lib/needed/file"), "/var/lib/needed");
        assert_eq!(what_to_add("/var/log/php8.2-fpm.log"), "/var/log/php8.2-fpm.log");
        assert_eq!(what_to_add("/etc/dovecot/private/dovecot.key"), "/etc/dovecot");
    }
}
