//! Finding a unit's file and drop-ins along systemd's search path.

use crate::layout::Layout;
use crate::names::ServiceName;
use crate::rootpath;
use crate::unitfile::UnitFile;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// systemd's system unit search path, highest priority first.
pub const SEARCH_PATH: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

#[derive(Debug, Clone)]
pub struct ResolvedUnit {
    pub name: ServiceName,
    /// The unit file as found on the search path (inside the tree).
    pub fragment: PathBuf,
    /// The file it is, with symlinks resolved: what a package owns.
    pub real_fragment: PathBuf,
    pub dropins: Vec<PathBuf>,
    pub file: UnitFile,
}

/// Resolves `name` the way systemd would load it: first match on the search
/// path, then its `.d/*.conf` drop-ins (by file name, highest-priority
/// directory winning), including the template's drop-ins for a template.
pub fn resolve(layout: &Layout, name: &ServiceName) -> Result<ResolvedUnit> {
    let root = layout.root();
    let mut fragment = None;
    for dir in SEARCH_PATH {
        let cand = Path::new(dir).join(&name.unit);
        if std::fs::symlink_metadata(layout.host(&cand)).is_ok() {
            fragment = Some(cand);
            break;
        }
    }
    let Some(fragment) = fragment else {
        bail!(
            "unit {} not found in {} under {}: check the name, or install its package",
            name.unit,
            SEARCH_PATH.join(", "),
            root.display()
        );
    };
    let real_fragment =
        rootpath::resolve(root, &fragment, true).with_context(|| format!("resolving {}", fragment.display()))?;
    if real_fragment == Path::new("/dev/null") {
        bail!("unit {} is masked ({} -> /dev/null): unmask it first", name.unit, fragment.display());
    }
    let text = std::fs::read_to_string(layout.host(&real_fragment))
        .with_context(|| format!("reading unit file {}", real_fragment.display()))?;
    let mut file = UnitFile::parse(&text).with_context(|| format!("parsing {}", real_fragment.display()))?;

    let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in SEARCH_PATH.iter().rev() {
        let d = layout.host(Path::new(dir).join(format!("{}.d", name.unit)));
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for ent in rd.flatten() {
            let fname = ent.file_name().to_string_lossy().into_owned();
            if fname.ends_with(".conf") {
                by_name.insert(fname.clone(), Path::new(dir).join(format!("{}.d", name.unit)).join(fname));
            }
        }
    }
    let dropins: Vec<PathBuf> = by_name.into_values().collect();
    for d in &dropins {
        let t = std::fs::read_to_string(layout.host(d)).with_context(|| format!("reading drop-in {}", d.display()))?;
        file.append(&t).with_context(|| format!("parsing drop-in {}", d.display()))?;
    }
    Ok(ResolvedUnit { name: name.clone(), fragment, real_fragment, dropins, file })
}

/// Whether a unit file for `unit` exists anywhere on the search path.
pub fn exists(layout: &Layout, unit: &str) -> bool {
    SEARCH_PATH.iter().any(|d| std::fs::symlink_metadata(layout.host(Path::new(d).join(unit))).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, p: &str, s: &str) {
        let f = root.join(p.trim_start_matches('/'));
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, s).unwrap();
    }

    #[test]
    fn etc_wins_and_dropins_apply_in_name_order() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(r, "/usr/lib/systemd/system/foo.service", "[Service]\nExecStart=/usr/bin/foo\nType=simple\n");
        write(r, "/usr/lib/systemd/system/foo.service.d/20-b.conf", "[Service]\nType=forking\n");
        write(r, "/etc/systemd/system/foo.service.d/10-a.conf", "[Service]\nType=notify\n");
        write(r, "/etc/systemd/system/foo.service.d/20-b.conf", "[Service]\nType=oneshot\n");
        let l = Layout::new(Some(r));
        let u = resolve(&l, &ServiceName::parse("foo").unwrap()).unwrap();
        assert_eq!(u.fragment, PathBuf::from("/usr/lib/systemd/system/foo.service"));
        assert_eq!(u.dropins.len(), 2);
        assert_eq!(u.file.get("Service", "Type"), Some("oneshot"));
        write(r, "/etc/systemd/system/foo.service", "[Service]\nExecStart=/etc/foo\n");
        let u = resolve(&l, &ServiceName::parse("foo").unwrap()).unwrap();
        assert_eq!(u.fragment, PathBuf::from("/etc/systemd/system/foo.service"));
    }

    #[test]
    fn missing_and_masked_units_are_errors() {
        let t = tempfile::tempdir().unwrap();
        let l = Layout::new(Some(t.path()));
        let e = resolve(&l, &ServiceName::parse("nope").unwrap()).unwrap_err().to_string();
        assert!(e.contains("nope.service not found"), "{e}");
        std::fs::create_dir_all(t.path().join("etc/systemd/system")).unwrap();
        std::os::unix::fs::symlink("/dev/null", t.path().join("etc/systemd/system/m.service")).unwrap();
        let e = resolve(&l, &ServiceName::parse("m").unwrap()).unwrap_err().to_string();
        assert!(e.contains("masked"), "{e}");
    }
}
