//! Finding a unit's file and drop-ins along systemd's search path.

use crate::layout::Layout;
use crate::names::ServiceName;
use crate::rootpath;
use crate::unitfile::UnitFile;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// systemd's system unit search path, highest priority first
/// (systemd.unit(5)), with the generators' directories: a unit that
/// systemd-sysv-generator made from an /etc/init.d script starts with
/// `systemctl start` like any other, and so is found like any other.
pub const SEARCH_PATH: &[&str] = &[
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/run/systemd/generator.early",
    "/etc/systemd/system",
    "/etc/systemd/system.attached",
    "/run/systemd/system",
    "/run/systemd/system.attached",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
    "/run/systemd/generator.late",
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

/// The first file named `unit` along the search path.
fn find(layout: &Layout, unit: &str) -> Option<PathBuf> {
    SEARCH_PATH.iter().map(|d| Path::new(d).join(unit)).find(|c| std::fs::symlink_metadata(layout.host(c)).is_ok())
}

/// Resolves `name` the way systemd would load it: first match on the search
/// path (for an instance without a file of its own, its template's), then
/// the `.d/*.conf` drop-ins of the template and of the unit itself (by file
/// name, highest-priority directory winning).
pub fn resolve(layout: &Layout, name: &ServiceName) -> Result<ResolvedUnit> {
    let root = layout.root();
    let template = name.template_unit();
    let fragment = find(layout, &name.unit)
        .or_else(|| template.as_deref().filter(|t| *t != name.unit).and_then(|t| find(layout, t)));
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
    let mut names: Vec<&str> = template.iter().map(String::as_str).filter(|t| *t != name.unit).collect();
    names.push(&name.unit);
    for unit in names {
        for dir in SEARCH_PATH.iter().rev() {
            let d = Path::new(dir).join(format!("{unit}.d"));
            let Ok(rd) = std::fs::read_dir(layout.host(&d)) else { continue };
            for ent in rd.flatten() {
                let fname = ent.file_name().to_string_lossy().into_owned();
                if fname.ends_with(".conf") {
                    by_name.insert(fname.clone(), d.join(fname));
                }
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

impl ResolvedUnit {
    /// The unit's text as systemd loads it: the fragment, then each drop-in.
    pub fn text(&self, layout: &Layout) -> Result<String> {
        let mut text = std::fs::read_to_string(layout.host(&self.real_fragment))
            .with_context(|| format!("reading {}", self.real_fragment.display()))?;
        for d in &self.dropins {
            text.push('\n');
            text.push_str(
                &std::fs::read_to_string(layout.host(d)).with_context(|| format!("reading {}", d.display()))?,
            );
        }
        Ok(text)
    }
}

/// The services `unit` pulls in when it is started: its Wants=,
/// Requires=, BindsTo= and Upholds=, and the links in its .wants/ and
/// .requires/ directories along the search path, generators' included
/// (tor's generator makes tor.service.wants/tor@default.service).
pub fn pulled_services(layout: &Layout, unit: &ResolvedUnit) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in ["Wants", "Requires", "BindsTo", "Upholds"] {
        out.extend(unit.file.get_words("Unit", key));
    }
    let mut names = vec![unit.name.unit.clone()];
    names.extend(unit.name.template_unit().filter(|t| *t != unit.name.unit));
    for n in &names {
        for dir in SEARCH_PATH {
            for kind in ["wants", "requires"] {
                let Ok(rd) = std::fs::read_dir(layout.host(Path::new(dir).join(format!("{n}.{kind}")))) else {
                    continue;
                };
                out.extend(rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()));
            }
        }
    }
    out.retain(|d| d.ends_with(".service"));
    out.sort();
    out.dedup();
    out
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
