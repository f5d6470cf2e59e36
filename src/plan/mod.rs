//! Which paths are private to a sandbox, and why.
//!
//! The decision is derived from package metadata and the unit's own
//! directives, never guessed from directory names alone:
//! - a directory under /etc or /var that the service's packages own is
//!   private whole (content a maintainer script made comes along), unless it
//!   is shared: a hierarchy directory (FHS and distribution conventions,
//!   `HIERARCHY`), an /etc drop-in directory (`*.d`), or a directory in
//!   which an installed package unrelated to the service has files (one that
//!   depends on the service, such as an apache2 module, is not unrelated);
//! - inside a shared directory only the packages' own entries are private;
//! - what the unit declares (`StateDirectory=` and friends, `PIDFile=`,
//!   `EnvironmentFile=`) and the directories its environment files name are
//!   private too;
//! - host secrets (`SECRETS`) are never cloned, whoever owns them.
//!
//! The plan is a value: `--explain` prints it, create clones from it and
//! stores it in the manifest, so the three never disagree.

pub mod hierarchy;

use crate::layout::Layout;
use crate::payload::{Databases, PackageInfo, PkgFile};
use crate::rootpath::{self, ancestors, is_under};
use crate::secrets::secret;
use crate::unitfile::Specifiers;
use crate::unitpath::ResolvedUnit;
use anyhow::{bail, Result};
use hierarchy::hierarchy;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// Where logrotate keeps its state; every service sandbox has its own.
pub const LOGROTATE_STATE: &str = "/var/lib/logrotate";

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A directory cloned whole.
    Dir,
    File,
    Symlink,
    /// Declared by the unit but absent on the host: created empty.
    EmptyDir,
    /// Lives under /run, which is private to each sandbox at run time.
    Runtime,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PrivatePath {
    pub path: String,
    pub kind: Kind,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Note {
    pub path: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct Plan {
    pub units: Vec<String>,
    pub packages: Vec<PlannedPackage>,
    pub private: Vec<PrivatePath>,
    /// Shared directories the packages have entries in, with the reason.
    pub shared: Vec<Note>,
    /// Paths considered and not cloned, with the reason.
    pub skipped: Vec<Note>,
    /// The package files that are in the private tree, with their digests.
    pub files: Vec<PayloadFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PayloadFile {
    pub path: String,
    pub package: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub config: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlannedPackage {
    pub name: String,
    pub version: String,
    pub db: String,
    pub why: String,
}

/// A unit to sandbox with the specifier values it will run with.
pub struct UnitInput<'a> {
    pub unit: &'a ResolvedUnit,
    pub spec: Specifiers,
}

/// The packages whose payload a sandbox gets: each unit's owner with the
/// other packages of its source, plus the `-P` packages as named.
/// `unpackaged_ok`: a unit owned by no package is the admin's own (its
/// directives and `-p` paths still make the plan); otherwise that is an error.
pub fn resolve_packages(
    dbs: &Databases,
    units: &[UnitInput],
    extra: &[String],
    unpackaged_ok: bool,
) -> Result<Vec<(PackageInfo, String)>> {
    let mut out: Vec<(PackageInfo, String)> = Vec::new();
    let mut push = |p: PackageInfo, why: String| {
        if !out.iter().any(|(q, _)| q.name == p.name && q.db == p.db) {
            out.push((p, why));
        }
    };
    for u in units {
        let mut spellings = rootpath::usr_aliases(&u.unit.real_fragment.to_string_lossy());
        spellings.extend(rootpath::usr_aliases(&u.unit.fragment.to_string_lossy()));
        spellings.sort();
        spellings.dedup();
        let owners = dbs.owners(&spellings)?;
        if owners.is_empty() {
            if extra.is_empty() && !unpackaged_ok {
                bail!(
                    "unit {} ({}) is owned by no installed package: name the packages to clone with -P PACKAGE, \
                     or pass --no-package if it is your own unit",
                    u.unit.name.unit,
                    u.unit.real_fragment.display()
                );
            }
            continue;
        }
        for owner in owners {
            let owner_name = owner.name.clone();
            for p in dbs.with_siblings(&owner)? {
                let why = if p.name == owner_name {
                    format!("owns {}", u.unit.real_fragment.display())
                } else {
                    format!("built from source package {} like {owner_name}", p.source)
                };
                push(p, why);
            }
        }
    }
    for name in extra {
        match dbs.info(name)? {
            Some(p) => push(p, "named with -P".into()),
            None => bail!(
                "package '{name}' is not installed (looked in {}): check the name with dpkg -l or rpm -q",
                dbs.kinds().join(" and ")
            ),
        }
    }
    Ok(out)
}

fn in_scope(path: &str) -> bool {
    (is_under(path, "/etc") || is_under(path, "/var")) && path != "/etc" && path != "/var"
}

fn is_runtime(path: &str) -> bool {
    is_under(path, "/run")
}

struct Builder<'a> {
    layout: &'a Layout,
    private: BTreeMap<String, PrivatePath>,
    skipped: BTreeMap<String, String>,
    shared_reason: BTreeMap<String, String>,
}

impl Builder<'_> {
    fn covered(&self, path: &str) -> bool {
        ancestors(path)
            .any(|a| self.private.get(a).is_some_and(|p| matches!(p.kind, Kind::Dir | Kind::EmptyDir | Kind::Runtime)))
    }

    fn add(&mut self, path: &str, kind: Kind, why: String) {
        let e = self.private.entry(path.to_string()).or_insert(PrivatePath {
            path: path.to_string(),
            kind,
            reasons: vec![],
        });
        if !e.reasons.contains(&why) {
            e.reasons.push(why);
        }
    }

    fn skip(&mut self, path: &str, why: String) {
        self.skipped.entry(path.to_string()).or_insert(why);
    }

    /// Resolves symlinked parents (/var/run -> /run) inside the tree.
    fn canonical(&self, path: &str) -> Result<String> {
        Ok(rootpath::resolve(self.layout.root(), Path::new(path), false)?.to_string_lossy().into_owned())
    }

    fn lstat(&self, path: &str) -> Option<std::fs::Metadata> {
        std::fs::symlink_metadata(self.layout.host(path)).ok()
    }

    /// A path the unit or an environment file names: private as it is on
    /// the host, created empty when `create_dir` and absent.
    fn add_named(&mut self, path: &str, why: String, create_dir: bool) -> Result<()> {
        let path = self.canonical(path.trim_end_matches('/'))?;
        // Already private for another reason (maybe created empty): one more reason.
        if let Some(kind) = self.private.get(&path).map(|p| p.kind) {
            self.add(&path, kind, why);
            return Ok(());
        }
        if let Some(s) = secret(&path) {
            self.skip(&path, format!("{why}, but it holds {s}: never cloned"));
            return Ok(());
        }
        if is_runtime(&path) {
            self.add(&path, Kind::Runtime, why);
            return Ok(());
        }
        if !in_scope(&path) {
            self.skip(&path, format!("{why}, but only /etc, /var and /run can be private"));
            return Ok(());
        }
        if let Some(reason) = self.shared_reason.get(&path).cloned().or_else(|| hierarchy(&path).map(str::to_string)) {
            self.skip(&path, format!("{why}, but it is a shared directory ({reason})"));
            return Ok(());
        }
        match self.lstat(&path) {
            Some(m) if m.is_dir() => self.add(&path, Kind::Dir, why),
            Some(m) if m.file_type().is_symlink() => self.add(&path, Kind::Symlink, why),
            Some(m) if m.is_file() => self.add(&path, Kind::File, why),
            Some(_) => self.skip(&path, format!("{why}, but it is a socket, fifo or device")),
            None if create_dir => self.add(&path, Kind::EmptyDir, why),
            None => self.skip(&path, format!("{why}, but it does not exist on the host")),
        }
        Ok(())
    }
}

/// Builds the plan for `units` and `packages` (from `resolve_packages`),
/// plus `extra` paths the admin named with `--private`.
pub fn build(
    layout: &Layout,
    dbs: Option<&Databases>,
    units: &[UnitInput],
    packages: &[(PackageInfo, String)],
    extra: &[String],
) -> Result<Plan> {
    let mut b = Builder { layout, private: BTreeMap::new(), skipped: BTreeMap::new(), shared_reason: BTreeMap::new() };

    // 1. The packages' entries under /etc and /var.
    let mut entries: BTreeMap<String, (String, PkgFile)> = BTreeMap::new();
    for (p, _) in packages {
        let dbs = dbs.expect("packages come from a database");
        for f in dbs.files(p)? {
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

    // 4. What each unit declares, and what its environment files name.
    let mut env_files: Vec<(String, String)> = Vec::new();
    // (variable, value, where it was set) of every environment assignment.
    let mut assignments: Vec<(String, String, String)> = Vec::new();
    for u in units {
        let f = &u.unit.file;
        let name = &u.spec.unit;
        for (key, base) in [
            ("StateDirectory", "/var/lib"),
            ("LogsDirectory", "/var/log"),
            ("CacheDirectory", "/var/cache"),
            ("ConfigurationDirectory", "/etc"),
            ("RuntimeDirectory", "/run"),
        ] {
            for w in f.get_words("Service", key) {
                let w = u.spec.expand(&w)?;
                let rel = w.split(':').next().unwrap_or(&w).trim_matches('/');
                if rel.is_empty() || rel.split('/').any(|c| c == ".." || c == ".") {
                    b.skip(&format!("{base}/{rel}"), format!("{key}={w} of {name} is not a plain relative path"));
                    continue;
                }
                b.add_named(&format!("{base}/{rel}"), format!("{key}= of {name}"), true)?;
            }
        }
        for env in f.get_all("Service", "Environment") {
            for word in shell_words::split(&u.spec.expand(env)?).unwrap_or_default() {
                if let Some((k, v)) = word.split_once('=') {
                    assignments.push((k.to_string(), v.to_string(), format!("Environment= of {name}")));
                }
            }
        }
        if let Some(pid) = f.get("Service", "PIDFile") {
            let pid = u.spec.expand(pid)?;
            let dir = Path::new(&pid).parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            let canon = b.canonical(&dir)?;
            let own_dir = if is_runtime(&canon) {
                canon != "/run"
            } else {
                in_scope(&canon) && !b.shared_reason.contains_key(&canon)
            };
            if own_dir {
                b.add_named(&dir, format!("holds PIDFile= of {name}"), true)?;
            } else {
                b.add_named(&pid, format!("PIDFile= of {name}"), false)?;
            }
        }
        for ef in f.get_all("Service", "EnvironmentFile") {
            let optional = ef.starts_with('-');
            let p = u.spec.expand(ef.trim_start_matches('-'))?;
            let canon = b.canonical(&p)?;
            if b.lstat(&canon).is_none() && optional {
                b.skip(&canon, format!("EnvironmentFile=- of {name}: optional and absent on the host"));
                continue;
            }
            b.add_named(&p, format!("EnvironmentFile= of {name}"), false)?;
            env_files.push((canon, format!("EnvironmentFile= of {name}")));
        }
    }
    for (path, (pkg, f)) in &entries {
        let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
        if f.config && (path.ends_with("/envvars") || parent == "/etc/default" || parent == "/etc/sysconfig") {
            env_files.push((path.clone(), format!("environment file of {pkg}")));
        }
    }
    // A file named by EnvironmentFile= and shipped as a conffile is read once.
    let mut seen = BTreeSet::new();
    env_files.retain(|(f, _)| seen.insert(f.clone()));
    for (file, what) in env_files {
        let Ok(text) = std::fs::read_to_string(layout.host(&file)) else { continue };
        for (var, value) in crate::envfile::env_assignments(&text) {
            assignments.push((var, value, format!("{file} ({what})")));
        }
    }
    for (var, value, place) in assignments {
        for word in value.split_whitespace().filter(|w| w.starts_with('/')) {
            let canon = b.canonical(word.trim_end_matches('/'))?;
            if !(in_scope(&canon) || is_runtime(&canon)) || b.covered(&canon) {
                continue;
            }
            b.add_named(word, format!("named by {var} in {place}"), false)?;
        }
    }

    for p in extra {
        if !p.starts_with('/') {
            bail!("--private {p}: give an absolute path");
        }
        b.add_named(p, "named with --private".into(), true)?;
    }

    // logrotate's state: a service sandbox rotates its own logs (the
    // logrotate hook runs logrotate inside it), never with the host's state.
    if !units.is_empty() && !b.private.contains_key(LOGROTATE_STATE) {
        b.add(
            LOGROTATE_STATE,
            Kind::EmptyDir,
            "logrotate's state for this sandbox's own logs (the logrotate hook)".into(),
        );
    }

    // Drop entries a private directory already covers.
    let paths: Vec<String> = b.private.keys().cloned().collect();
    for p in paths {
        if b.covered(&p) {
            b.private.remove(&p);
        }
    }

    let files = entries
        .iter()
        .filter(|(p, _)| (b.private.contains_key(*p) || b.covered(p)) && b.lstat(p).is_some_and(|m| !m.is_dir()))
        .map(|(p, (pkg, f))| PayloadFile {
            path: p.clone(),
            package: pkg.clone(),
            config: f.config,
            digest: f.digest.clone(),
        })
        .collect();
    let mut shared: BTreeMap<String, String> = BTreeMap::new();
    for p in b.private.keys() {
        for a in ancestors(p) {
            if let Some(r) = b.shared_reason.get(a) {
                shared.insert(a.to_string(), r.clone());
            }
        }
    }
    Ok(Plan {
        units: units.iter().map(|u| u.unit.name.unit.clone()).collect(),
        packages: packages
            .iter()
            .map(|(p, why)| PlannedPackage {
                name: p.name.clone(),
                version: p.version.clone(),
                db: p.db.into(),
                why: why.clone(),
            })
            .collect(),
        private: b.private.into_values().collect(),
        shared: shared.into_iter().map(|(path, why)| Note { path, why }).collect(),
        skipped: b.skipped.into_iter().map(|(path, why)| Note { path, why }).collect(),
        files,
    })
}

impl Plan {
    /// The human explanation `--explain` prints: one line a path (the
    /// container's mount rules follow it, from runtime::rootfs::explain).
    pub fn explain(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "units: {}",
            if self.units.is_empty() { "(none: a command sandbox)".into() } else { self.units.join(" ") }
        );
        for p in &self.packages {
            let _ = writeln!(s, "package {} {} ({}): {}", p.name, p.version, p.db, p.why);
        }
        for p in &self.private {
            let (tag, kind) = match p.kind {
                Kind::Runtime => ("runtime", "in the sandbox's own /run"),
                Kind::Dir => ("private", "dir"),
                Kind::EmptyDir => ("private", "dir, created empty"),
                Kind::File => ("private", "file"),
                Kind::Symlink => ("private", "symlink"),
            };
            let _ = writeln!(s, "{tag:8} {} ({kind}): {}", p.path, p.reasons.join("; "));
        }
        for n in &self.shared {
            let _ = writeln!(s, "shared   {}: {}", n.path, n.why);
        }
        for n in &self.skipped {
            let _ = writeln!(s, "skipped  {}: {}", n.path, n.why);
        }
        s
    }

    /// Paths to clone, in order (parents before children).
    pub fn clones(&self) -> impl Iterator<Item = &PrivatePath> {
        self.private.iter().filter(|p| p.kind != Kind::Runtime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_and_hierarchy() {
        assert!(in_scope("/etc/apache2") && in_scope("/var/www"));
        assert!(!in_scope("/etc") && !in_scope("/etcetera/x") && !in_scope("/usr/share/x"));
        assert_eq!(ancestors("/etc/apache2/x").collect::<Vec<_>>(), vec!["/etc/apache2", "/etc"]);
    }
}
