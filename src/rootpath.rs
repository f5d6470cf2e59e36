//! Resolving paths inside a tree the way a process chrooted into it would,
//! so that an absolute symlink under `--root` never escapes to the host.

use std::io;
use std::path::{Component, Path, PathBuf};

const MAX_LINKS: usize = 40;

/// Resolves every symlink in `abs` (absolute, as seen inside `root`),
/// keeping the result inside the tree. Components that do not exist are
/// kept as written. With `follow_last` false a final symlink is kept.
pub fn resolve(root: &Path, abs: &Path, follow_last: bool) -> io::Result<PathBuf> {
    let mut pending: Vec<String> = components(abs);
    pending.reverse();
    let mut cur = PathBuf::from("/");
    let mut links = 0;
    while let Some(comp) = pending.pop() {
        match comp.as_str() {
            "." => continue,
            ".." => {
                cur.pop();
                continue;
            }
            _ => {}
        }
        let next = cur.join(&comp);
        let is_last = pending.is_empty();
        let real = host(root, &next);
        match std::fs::symlink_metadata(&real) {
            Ok(m) if m.file_type().is_symlink() && (follow_last || !is_last) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(io::Error::other(format!("too many symlinks in {}", abs.display())));
                }
                let target = std::fs::read_link(&real)?;
                if target.is_absolute() {
                    cur = PathBuf::from("/");
                }
                let mut t = components(&target);
                t.reverse();
                pending.extend(t);
            }
            Ok(_) => cur = next,
            Err(e) if e.kind() == io::ErrorKind::NotFound => cur = next,
            Err(e) => return Err(e),
        }
    }
    Ok(cur)
}

fn components(p: &Path) -> Vec<String> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

fn host(root: &Path, abs: &Path) -> PathBuf {
    root.join(abs.strip_prefix("/").unwrap_or(abs))
}

/// Other spellings of `abs` on a merged-/usr system: `/lib/x` is also
/// `/usr/lib/x`, and a package database may record either.
pub fn usr_aliases(abs: &str) -> Vec<String> {
    let mut out = vec![abs.to_string()];
    for top in ["/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/"] {
        if abs.starts_with(top) {
            out.push(format!("/usr{abs}"));
        } else if let Some(rest) = abs.strip_prefix("/usr").filter(|r| r.starts_with(top)) {
            out.push(rest.to_string());
        }
    }
    out
}

/// `path` is `top` or beneath it, by components.
pub fn is_under(path: &str, top: &str) -> bool {
    path == top || (top == "/" && path.starts_with('/')) || path.strip_prefix(top).is_some_and(|r| r.starts_with('/'))
}

/// The ancestors of an absolute path, nearest first, "/" left out.
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut cur = path;
    std::iter::from_fn(move || {
        let (parent, _) = cur.rsplit_once('/')?;
        cur = parent;
        (!parent.is_empty()).then_some(parent)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn beneath_by_components() {
        assert!(is_under("/etc/apache2", "/etc") && is_under("/etc", "/etc"));
        assert!(!is_under("/etcetera", "/etc") && !is_under("/etc", "/etc/apache2"));
        assert!(is_under("/var/x", "/") && is_under("/", "/"));
    }

    #[test]
    fn symlinks_stay_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("usr/lib/systemd/system")).unwrap();
        std::fs::create_dir_all(r.join("run/lock")).unwrap();
        std::fs::create_dir_all(r.join("var")).unwrap();
        symlink("usr/lib", r.join("lib")).unwrap();
        symlink("/run", r.join("var/run")).unwrap();
        symlink("../run/lock", r.join("var/lock")).unwrap();
        symlink("/../../../etc/passwd", r.join("escape")).unwrap();
        let p = |s: &str| resolve(r, Path::new(s), true).unwrap();
        assert_eq!(p("/lib/systemd/system/a.service"), PathBuf::from("/usr/lib/systemd/system/a.service"));
        assert_eq!(p("/var/run/apache2"), PathBuf::from("/run/apache2"));
        assert_eq!(p("/var/lock/apache2"), PathBuf::from("/run/lock/apache2"));
        assert_eq!(p("/escape"), PathBuf::from("/etc/passwd"));
        assert_eq!(resolve(r, Path::new("/var/run"), false).unwrap(), PathBuf::from("/var/run"));
    }

    #[test]
    fn symlink_loops_are_reported() {
        let t = tempfile::tempdir().unwrap();
        symlink("b", t.path().join("a")).unwrap();
        symlink("a", t.path().join("b")).unwrap();
        assert!(resolve(t.path(), Path::new("/a/x"), true).is_err());
    }

    #[test]
    fn merged_usr_aliases() {
        assert_eq!(
            usr_aliases("/lib/systemd/system/a.service"),
            vec!["/lib/systemd/system/a.service", "/usr/lib/systemd/system/a.service"]
        );
        assert_eq!(
            usr_aliases("/usr/lib/systemd/system/a.service"),
            vec!["/usr/lib/systemd/system/a.service", "/lib/systemd/system/a.service"]
        );
        assert_eq!(usr_aliases("/etc/x"), vec!["/etc/x"]);
    }
}
