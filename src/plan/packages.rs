//! The service's packages' own files under /etc and /var: a directory of
//! theirs is private whole, unless it is shared (a hierarchy directory, or
//! one an unrelated package has files in); in a shared one only their own
//! entries are private.

use super::hierarchy::hierarchy;
use super::{in_scope, is_runtime, Builder, Kind};
use crate::payload::{Databases, PackageInfo, PkgFile};
use crate::rootpath::ancestors;
use crate::secrets::secret;
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the packages brought to the plan besides their private paths.
pub struct Payload {
    /// Every package file under /etc, /var and /run: path -> (package, file).
    pub entries: BTreeMap<String, (String, PkgFile)>,
    /// Their tmpfiles.d files by name, with the package.
    pub tmpfiles: Vec<(String, String)>,
    /// Their sysusers.d files, with the package.
    pub sysusers: Vec<(String, String)>,
}

pub fn read(b: &mut Builder, dbs: Option<&Databases>, packages: &[(PackageInfo, String)]) -> Result<Payload> {
    // 1. The packages' entries under /etc and /var; their tmpfiles.d and
    // sysusers.d files, wherever they are.
    let mut entries: BTreeMap<String, (String, PkgFile)> = BTreeMap::new();
    let mut tmpfiles = Vec::new();
    let mut sysusers = Vec::new();
    for (p, _) in packages {
        let dbs = dbs.expect("packages come from a database");
        for f in dbs.files(p)? {
            if let Some(name) = super::tmpfiles::conf_name(&f.path) {
                tmpfiles.push((name.to_string(), p.name.clone()));
            } else if super::sysusers::is_conf(&f.path) {
                sysusers.push((f.path.clone(), p.name.clone()));
            }
            let path = b.canonical(&f.path)?;
            if in_scope(&path) || is_runtime(&path) {
                entries.entry(path).or_insert((p.name.clone(), f));
            }
        }
    }

    // 2. Which of the directories involved are shared, and why.
    let set_names: BTreeSet<(String, &str)> = packages.iter().map(|(p, _)| (p.name.clone(), p.db)).collect();
    let set_provides: BTreeSet<&str> =
        packages.iter().flat_map(|(p, _)| p.provides.iter().map(String::as_str)).collect();
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for path in entries.keys() {
        dirs.extend(ancestors(path).filter(|a| in_scope(a)).map(str::to_string));
        if b.lstat(path).is_some_and(|m| m.is_dir()) {
            dirs.insert(path.clone());
        }
    }
    // Hierarchy directories are shared whatever the databases say: do not ask.
    let asked: BTreeSet<String> = dirs.iter().filter(|d| hierarchy(d).is_none()).cloned().collect();
    let owners = match dbs {
        Some(dbs) => dbs.file_owners_in(&asked)?,
        None => BTreeMap::new(),
    };
    let mut addon_cache: HashMap<(String, &str), bool> = HashMap::new();
    for d in &dirs {
        if let Some(why) = hierarchy(d) {
            b.shared_reason.insert(d.clone(), why.to_string());
            continue;
        }
        let mut unrelated = Vec::new();
        for (o, db) in owners.get(d).into_iter().flatten() {
            if set_names.contains(&(o.clone(), *db)) {
                continue;
            }
            // A package that depends on the service (an apache2 module) is
            // part of its configuration, not a reason to share.
            let addon = match addon_cache.get(&(o.clone(), *db)) {
                Some(&a) => a,
                None => {
                    let a = dbs
                        .expect("owners come from a database")
                        .info_in(db, o)?
                        .is_some_and(|i| i.depends.iter().any(|dep| set_provides.contains(dep.as_str())));
                    addon_cache.insert((o.clone(), *db), a);
                    a
                }
            };
            if !addon {
                unrelated.push(o.clone());
            }
        }
        if !unrelated.is_empty() {
            b.shared_reason.insert(d.clone(), format!("also holds files of {}", unrelated.join(", ")));
        }
    }

    // 3. The packages' own directories whole; their entries in shared ones.
    for (path, (pkg, f)) in &entries {
        if b.covered(path) {
            continue;
        }
        if let Some(s) = secret(path) {
            b.skip(path, format!("owned by {pkg}, but it holds {s}: never cloned"));
            continue;
        }
        if is_runtime(path) {
            b.add(path, Kind::Runtime, format!("owned by {pkg}; /run is private to each sandbox at run time"));
            continue;
        }
        let Some(m) = b.lstat(path) else {
            let why = if f.ghost { "declared %ghost by" } else { "listed by" };
            b.skip(path, format!("{why} {pkg}, but absent on the host"));
            continue;
        };
        if m.is_dir() {
            if !b.shared_reason.contains_key(path) {
                b.add(path, Kind::Dir, format!("directory of {pkg}"));
            }
            continue;
        }
        let parent = path.rsplit_once('/').map_or("/", |(p, _)| p);
        let in_shared = match b.shared_reason.get(parent) {
            Some(r) => format!("{pkg}'s entry in shared {parent} ({r})"),
            None => format!("file of {pkg}"),
        };
        let conf = if f.config { " [config]" } else { "" };
        let kind = if m.file_type().is_symlink() {
            Kind::Symlink
        } else if m.is_file() {
            Kind::File
        } else {
            b.skip(path, format!("{in_shared}, but it is a socket, fifo or device"));
            continue;
        };
        b.add(path, kind, format!("{in_shared}{conf}"));
    }

    Ok(Payload { entries, tmpfiles, sysusers })
}
