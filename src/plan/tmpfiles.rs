//! tmpfiles.d(5) of the service's packages: what systemd-tmpfiles makes at
//! boot for them (haproxy's `d /run/haproxy 2775 haproxy haproxy`). A
//! sandbox's /run is fresh at every start and its /var is its own, so the
//! lines for /run, /var and /tmp are kept in the plan and applied inside at
//! each start by the host's own systemd-tmpfiles (the shim runs it); their
//! /var paths are private, their /run paths runtime, and the users and
//! groups they name are the service's.

use crate::layout::Layout;
use serde::{Deserialize, Serialize};

/// Where systemd looks for tmpfiles.d files, highest priority first: a
/// file in an earlier directory overrides one of the same name later.
pub const SEARCH_PATH: &[&str] =
    &["/etc/tmpfiles.d", "/run/tmpfiles.d", "/usr/local/lib/tmpfiles.d", "/usr/lib/tmpfiles.d", "/lib/tmpfiles.d"];

/// One line kept for the sandbox, with the file it came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Line {
    pub line: String,
    pub file: String,
}

/// What a line says, as far as planning needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: char,
    pub path: String,
    pub user: Option<String>,
    pub group: Option<String>,
}

/// The name a package file has as a tmpfiles.d file, if it is one.
pub fn conf_name(path: &str) -> Option<&str> {
    let (dir, name) = path.rsplit_once('/')?;
    (SEARCH_PATH.contains(&dir) && name.ends_with(".conf")).then_some(name)
}

/// The file systemd reads for `name`: the first along the search path
/// (an admin's /etc/tmpfiles.d/NAME.conf overrides the package's); None
/// if that one is a link to /dev/null (masked).
pub fn effective(layout: &Layout, name: &str) -> Option<String> {
    for dir in SEARCH_PATH {
        let p = format!("{dir}/{name}");
        match std::fs::symlink_metadata(layout.host(&p)) {
            Ok(m) if m.file_type().is_symlink() => {
                let t = std::fs::read_link(layout.host(&p)).ok()?;
                return (t != std::path::Path::new("/dev/null")).then_some(p);
            }
            Ok(_) => return Some(p),
            Err(_) => {}
        }
    }
    None
}

/// The few specifiers a path can use that need no unit: systemd's fixed
/// directories. A path with another specifier is not planned from (the
/// line is still applied inside, where systemd-tmpfiles expands it).
fn expand(path: &str) -> Option<String> {
    let mut out = String::new();
    let mut it = path.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        out.push_str(match it.next()? {
            '%' => "%",
            't' => "/run",
            'S' => "/var/lib",
            'C' => "/var/cache",
            'L' => "/var/log",
            'T' => "/tmp",
            'V' => "/var/tmp",
            _ => return None,
        });
    }
    Some(out)
}

/// Parses one line; None for comments, blanks and what cannot be read.
pub fn parse(line: &str) -> Option<Entry> {
    let l = line.trim();
    if l.is_empty() || l.starts_with('#') {
        return None;
    }
    let words = shell_words::split(l).ok()?;
    let kind = words.first()?.chars().next()?;
    let path = expand(words.get(1)?)?;
    let field =
        |i: usize| words.get(i).filter(|w| *w != "-" && !w.is_empty()).map(|w| w.trim_start_matches(':').to_string());
    Some(Entry { kind, path, user: field(3), group: field(4) })
}

/// Whether the sandbox keeps a line: only its own /run, /var and /tmp
/// can take them (/etc is the host's and read-only; /dev, /proc and /sys
/// are the kernel's).
pub fn applies(e: &Entry) -> bool {
    ["/run", "/var", "/tmp"].iter().any(|top| crate::rootpath::is_under(&e.path, top))
}

/// The kinds that make a directory (d D e v q Q) or a file (f F).
pub fn makes_dir(e: &Entry) -> bool {
    matches!(e.kind, 'd' | 'D' | 'e' | 'v' | 'q' | 'Q')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_lines_read_as_systemd_reads_them() {
        let e = parse("d /run/haproxy 2775 haproxy haproxy -").unwrap();
        assert_eq!(
            e,
            Entry {
                kind: 'd',
                path: "/run/haproxy".into(),
                user: Some("haproxy".into()),
                group: Some("haproxy".into())
            }
        );
        let e = parse("    d /run/php              0755 www-data www-data -   -").unwrap();
        assert_eq!(e.path, "/run/php");
        let e = parse("d /var/log/postgresql 1775 root postgres - -").unwrap();
        assert_eq!((e.user.as_deref(), e.group.as_deref()), (Some("root"), Some("postgres")));
        assert!(applies(&e) && makes_dir(&e));
        let e = parse("d %t/foo 0755 - - -").unwrap();
        assert_eq!((e.path.as_str(), e.user), ("/run/foo", None));
        assert!(parse("d %h/x 0755 - - -").is_none(), "a specifier that needs a user");
        assert!(parse("# comment").is_none() && parse("").is_none());
        assert!(!applies(&parse("w /proc/sys/vm/overcommit_memory - - - - 1").unwrap()));
        assert!(!applies(&parse("L /etc/mtab - - - - ../proc/self/mounts").unwrap()));
        assert_eq!(conf_name("/usr/lib/tmpfiles.d/haproxy.conf"), Some("haproxy.conf"));
        assert_eq!(conf_name("/usr/share/doc/haproxy.conf"), None);
    }

    #[test]
    fn an_admins_file_overrides_and_dev_null_masks() {
        let t = tempfile::tempdir().unwrap();
        let l = Layout::new(Some(t.path()));
        std::fs::create_dir_all(t.path().join("usr/lib/tmpfiles.d")).unwrap();
        std::fs::create_dir_all(t.path().join("etc/tmpfiles.d")).unwrap();
        std::fs::write(t.path().join("usr/lib/tmpfiles.d/a.conf"), "d /run/a").unwrap();
        assert_eq!(effective(&l, "a.conf").as_deref(), Some("/usr/lib/tmpfiles.d/a.conf"));
        std::fs::write(t.path().join("etc/tmpfiles.d/a.conf"), "d /run/b").unwrap();
        assert_eq!(effective(&l, "a.conf").as_deref(), Some("/etc/tmpfiles.d/a.conf"));
        std::fs::remove_file(t.path().join("etc/tmpfiles.d/a.conf")).unwrap();
        std::os::unix::fs::symlink("/dev/null", t.path().join("etc/tmpfiles.d/a.conf")).unwrap();
        assert_eq!(effective(&l, "a.conf"), None);
    }
}
