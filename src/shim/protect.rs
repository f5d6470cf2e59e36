//! The unit's own file-system hardening, stacked on the sandbox's Landlock
//! domain for each of its commands but `+` ones: ProtectSystem=,
//! ReadWritePaths=, ReadOnlyPaths=, InaccessiblePaths=, NoExecPaths= and
//! ExecPaths=. systemd makes them with mounts; inside the sandbox there is
//! no mounting, so they become Landlock rules, which stack (a domain can
//! only be narrowed): the service writes, reads and executes no more than
//! the sandbox lets it and no more than its unit lets it.

use super::service::Service;
use anyhow::{Context, Result};
use landlock::{path_beneath_rules, AccessFs, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, ABI};
use std::path::{Path, PathBuf};

/// What the unit says, paths expanded; `-` (may be missing) stripped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Protect {
    /// ProtectSystem=: "yes", "full" or "strict".
    pub system: Option<String>,
    pub read_write: Vec<String>,
    pub read_only: Vec<String>,
    pub inaccessible: Vec<String>,
    pub exec: Vec<String>,
    pub no_exec: Vec<String>,
}

impl Protect {
    pub fn is_empty(&self) -> bool {
        let s = self.system.as_deref();
        (s.is_none() || s == Some("yes"))
            && self.read_only.is_empty()
            && self.inaccessible.is_empty()
            && self.no_exec.is_empty()
    }
}

/// The directories under `dir` that hold none of `out_paths`, plus the
/// way down to each of them: every place beneath `dir` but those. Read
/// at start, so the sandbox's own root is what is divided.
fn all_but(dir: &Path, out_paths: &[PathBuf]) -> Vec<PathBuf> {
    if out_paths.iter().any(|o| o == dir) {
        return vec![];
    }
    if !out_paths.iter().any(|o| o.starts_with(dir)) {
        return vec![dir.to_path_buf()];
    }
    let mut keep = Vec::new();
    // The files directly in `dir` are kept one by one; its subtrees are
    // divided further where an excluded path lies in them.
    let Ok(rd) = std::fs::read_dir(dir) else { return keep };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            keep.extend(all_but(&p, out_paths));
        } else if !out_paths.contains(&p) {
            keep.push(p);
        }
    }
    keep
}

fn paths(v: &[String]) -> Vec<PathBuf> {
    v.iter().map(PathBuf::from).collect()
}

/// The service's own Landlock ruleset, ready to be put in force in the
/// child (restrict_self) right before exec; None when the unit asks for
/// nothing the sandbox does not do already.
pub fn ruleset(s: &Service) -> Result<Option<RulesetCreated>> {
    let p = &s.protect;
    if p.is_empty() {
        return Ok(None);
    }
    let abi = ABI::V4;
    let write = AccessFs::from_write(abi);
    let read = AccessFs::from_read(abi) & !AccessFs::Execute;
    let mut handled = write;
    if !p.inaccessible.is_empty() {
        handled |= read;
    }
    if !p.no_exec.is_empty() {
        handled |= AccessFs::Execute;
    }
    let mut rs =
        Ruleset::default().handle_access(handled).context("Landlock: ruleset")?.create().context("Landlock: create")?;
    let root = Path::new("/");
    // Writes: strict allows only what the unit names and what systemd
    // keeps writable; full takes /usr, /boot and /etc away; ReadOnlyPaths=
    // and InaccessiblePaths= take themselves away.
    let mut no_write: Vec<PathBuf> = paths(&p.read_only);
    no_write.extend(paths(&p.inaccessible));
    let writable: Vec<PathBuf> = if p.system.as_deref() == Some("strict") {
        let mut w: Vec<PathBuf> = paths(&p.read_write);
        w.extend(["/dev", "/proc", "/sys"].map(PathBuf::from));
        for (base, names, _) in &s.directories {
            w.extend(names.iter().map(|n| Path::new(base).join(n)));
        }
        // systemd's PrivateTmp= mounts a writable /tmp over the read-only one.
        if s.private_tmp {
            w.extend(["/tmp", "/var/tmp"].map(PathBuf::from));
        }
        w.into_iter().filter(|x| !no_write.iter().any(|n| x.starts_with(n))).collect()
    } else {
        if p.system.as_deref() == Some("full") {
            no_write.extend(["/usr", "/boot", "/efi", "/etc"].map(PathBuf::from));
        }
        let mut w = all_but(root, &no_write);
        // ReadWritePaths= beneath a read-only one is writable again.
        w.extend(paths(&p.read_write).into_iter().filter(|x| !p.inaccessible.iter().any(|i| x.starts_with(i))));
        w
    };
    rs = rs.add_rules(path_beneath_rules(existing(&writable), write)).context("Landlock: write rules")?;
    if !p.inaccessible.is_empty() {
        rs = rs
            .add_rules(path_beneath_rules(existing(&all_but(root, &paths(&p.inaccessible))), read))
            .context("Landlock: read rules")?;
    }
    if !p.no_exec.is_empty() {
        let mut x = all_but(root, &paths(&p.no_exec));
        x.extend(paths(&p.exec));
        rs = rs.add_rules(path_beneath_rules(existing(&x), AccessFs::Execute)).context("Landlock: execute rules")?;
    }
    Ok(Some(rs))
}

fn existing(v: &[PathBuf]) -> Vec<PathBuf> {
    v.iter().filter(|p| p.symlink_metadata().is_ok()).cloned().collect()
}

/// In the child: the ruleset in force.
pub fn enforce(rs: RulesetCreated) -> Result<()> {
    rs.restrict_self().context("Landlock: the unit's own restrictions")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_but_a_few_paths() {
        let t = tempfile::tempdir().unwrap();
        for d in ["usr/bin", "etc/x", "var/lib/a", "var/lib/b", "var/log"] {
            std::fs::create_dir_all(t.path().join(d)).unwrap();
        }
        std::fs::write(t.path().join("var/lib/file"), "").unwrap();
        let mut got = all_but(t.path(), &[t.path().join("usr"), t.path().join("var/lib/a")]);
        got.sort();
        let rel: Vec<String> = got.iter().map(|p| p.strip_prefix(t.path()).unwrap().display().to_string()).collect();
        assert_eq!(rel, vec!["etc", "var/lib/b", "var/lib/file", "var/log"]);
        assert!(all_but(t.path(), &[t.path().to_path_buf()]).is_empty());
    }
}
