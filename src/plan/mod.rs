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

pub mod accounts;
pub mod configfiles;
mod envscript;
pub mod hierarchy;
pub mod keys;
mod ownership;
mod packages;
mod statoverride;
mod sysusers;
pub mod tmpfiles;
mod unit;

use crate::layout::Layout;
use crate::payload::{Databases, PackageInfo};
use crate::rootpath::{self, ancestors, is_under};
use crate::secrets::secret;
use crate::unitfile::Specifiers;
use crate::unitpath::ResolvedUnit;
use accounts::{Accounts, ServiceIds};
use anyhow::{bail, Result};
use hierarchy::hierarchy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// The sandbox's own key or certificate, made at create in place of
    /// the host's (keys.rs); never copied.
    Key,
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
    /// The packages' tmpfiles.d lines for /run, /var and /tmp, applied
    /// inside at each start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfiles: Vec<tmpfiles::Line>,
    /// The service's key links into the host's secrets, and what the
    /// sandbox gets instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<keys::KeyPlan>,
    /// The services the named units pull in that are the same packages,
    /// run with them (tor's tor@default.service), each with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pulled: Vec<Note>,
    /// Container settings its units ask for (`network=none` for a unit with
    /// PrivateNetwork=yes), each with why; `create` applies them unless told
    /// otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container: Vec<Note>,
    /// TCP ports the packages' configuration says the service listens on,
    /// each with where; `--bind-ports auto` restricts binding to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortNote>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PortNote {
    pub port: u16,
    pub why: String,
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

/// The packages that own `u`'s unit file (by any spelling of its path).
pub fn unit_owners(dbs: &Databases, u: &ResolvedUnit) -> Result<Vec<PackageInfo>> {
    let mut spellings = rootpath::usr_aliases(&u.real_fragment.to_string_lossy());
    spellings.extend(rootpath::usr_aliases(&u.fragment.to_string_lossy()));
    spellings.sort();
    spellings.dedup();
    dbs.owners(&spellings)
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
        let mut owners = unit_owners(dbs, u.unit)?;
        let mut owned_what = u.unit.real_fragment.display().to_string();
        // A generated unit belongs to no package; what it was made from does
        // (systemd-sysv-generator's units name their /etc/init.d script).
        if owners.is_empty() {
            if let Some(src) = u.unit.file.get("Unit", "SourcePath") {
                owners = dbs.owners(&rootpath::usr_aliases(src))?;
                owned_what = format!("{src}, which {} was generated from", u.unit.fragment.display());
            }
        }
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
                    format!("owns {owned_what}")
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

pub(crate) fn in_scope(path: &str) -> bool {
    (is_under(path, "/etc") || is_under(path, "/var")) && path != "/etc" && path != "/var"
}

pub(crate) fn is_runtime(path: &str) -> bool {
    is_under(path, "/run")
}

pub(crate) struct Builder<'a> {
    pub(crate) layout: &'a Layout,
    pub(crate) private: BTreeMap<String, PrivatePath>,
    skipped: BTreeMap<String, String>,
    pub(crate) shared_reason: BTreeMap<String, String>,
    /// Paths an instance unit names through %i or %I, with where.
    pub(crate) instance_paths: Vec<(String, String)>,
}

impl Builder<'_> {
    pub(crate) fn covered(&self, path: &str) -> bool {
        ancestors(path)
            .any(|a| self.private.get(a).is_some_and(|p| matches!(p.kind, Kind::Dir | Kind::EmptyDir | Kind::Runtime)))
    }

    pub(crate) fn add(&mut self, path: &str, kind: Kind, why: String) {
        let e = self.private.entry(path.to_string()).or_insert(PrivatePath {
            path: path.to_string(),
            kind,
            reasons: vec![],
        });
        if !e.reasons.contains(&why) {
            e.reasons.push(why);
        }
    }

    pub(crate) fn skip(&mut self, path: &str, why: String) {
        self.skipped.entry(path.to_string()).or_insert(why);
    }

    /// Resolves symlinked parents (/var/run -> /run) inside the tree.
    pub(crate) fn canonical(&self, path: &str) -> Result<String> {
        Ok(rootpath::resolve(self.layout.root(), Path::new(path), false)?.to_string_lossy().into_owned())
    }

    pub(crate) fn lstat(&self, path: &str) -> Option<std::fs::Metadata> {
        std::fs::symlink_metadata(self.layout.host(path)).ok()
    }

    /// A directory many packages or services share: never private whole.
    pub(crate) fn is_shared(&self, path: &str) -> bool {
        self.shared_reason.contains_key(path) || hierarchy(path).is_some()
    }

    /// Weak evidence (what a service user owns, a home, a path a config
    /// file names): private as `add_named` would make it, unless strong
    /// evidence names something beneath it, which then is all that is
    /// private (PostgreSQL's unit names /var/lib/postgresql/15/main: the
    /// other clusters in /var/lib/postgresql, which its user owns too, stay
    /// out). Never created when absent.
    pub(crate) fn add_weak(&mut self, path: &str, why: String) -> Result<()> {
        let path = self.canonical(path.trim_end_matches('/'))?;
        if !in_scope(&path) || self.covered(&path) || self.private.contains_key(&path) {
            if self.private.contains_key(&path) {
                let kind = self.private[&path].kind;
                self.add(&path, kind, why);
            }
            return Ok(());
        }
        if let Some(inner) = self.private.keys().find(|p| crate::rootpath::is_under(p, &path) && **p != path) {
            let inner = inner.clone();
            self.skip(&path, format!("{why}, but only {inner} beneath it is named by the unit or the packages"));
            return Ok(());
        }
        self.add_named(&path, why, false)
    }

    /// A path the unit or an environment file names: private as it is on
    /// the host, created empty when `create_dir` and absent.
    pub(crate) fn add_named(&mut self, path: &str, why: String, create_dir: bool) -> Result<()> {
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
    let mut b = Builder {
        layout,
        private: BTreeMap::new(),
        skipped: BTreeMap::new(),
        shared_reason: BTreeMap::new(),
        instance_paths: Vec::new(),
    };

    // 1-3. The packages' own files and directories.
    let payload = packages::read(&mut b, dbs, packages)?;
    let entries = &payload.entries;

    // 4. What the units declare, and whom they run as.
    let acc = Accounts::read(layout);
    let mut ids = ServiceIds::default();
    unit::read(&mut b, units, entries, &mut ids, &acc)?;

    // 5. tmpfiles.d: made at each start inside; what they name under /var
    // is private, under /run runtime; the users they name are the service's.
    let mut tmpfiles_lines = Vec::new();
    for (name, pkg) in &payload.tmpfiles {
        let Some(file) = tmpfiles::effective(layout, name) else {
            b.skip(&format!("/etc/tmpfiles.d/{name}"), format!("tmpfiles.d file of {pkg}, masked on the host"));
            continue;
        };
        let Ok(text) = std::fs::read_to_string(layout.host(&file)) else { continue };
        for line in text.lines() {
            let Some(e) = tmpfiles::parse(line) else { continue };
            let why = format!("{file} of {pkg}");
            if !tmpfiles::applies(&e) {
                b.skip(
                    &e.path,
                    format!("named by {why}, but a sandbox has only its own /run, /var and /tmp to make it in"),
                );
                continue;
            }
            tmpfiles_lines.push(tmpfiles::Line { line: line.trim().to_string(), file: file.clone() });
            if let Some(u) = &e.user {
                ids.add_user(&acc, u, &why);
            }
            if let Some(g) = &e.group {
                ids.add_group(&acc, g, &why);
            }
            if crate::rootpath::is_under(&e.path, "/tmp") {
                continue;
            }
            b.add_named(&e.path, format!("made by {why} at each start"), tmpfiles::makes_dir(&e))?;
        }
    }

    // 6. sysusers.d and dpkg's statoverrides: more of the service's users.
    let mut homes = Vec::new();
    for (path, pkg) in &payload.sysusers {
        let Ok(text) = std::fs::read_to_string(layout.host(path)) else { continue };
        for e in sysusers::parse(&text) {
            let why = format!("{path} of {pkg}");
            match e {
                sysusers::Entry::User { name, home } => {
                    ids.add_user(&acc, &name, &why);
                    homes.extend(home.map(|h| (h, format!("home of user {name} ({why})"))));
                }
                sysusers::Entry::Group { name } => ids.add_group(&acc, &name, &why),
            }
        }
    }
    for o in statoverride::read(layout) {
        if let Some((pkg, _)) = entries.get(&o.path) {
            let why = format!("dpkg-statoverride of {}, a path of {pkg}", o.path);
            ids.add_user(&acc, &o.user, &why);
            ids.add_group(&acc, &o.group, &why);
        }
    }
    for (path, (pkg, f)) in entries {
        let why = format!("owner of {path} in {pkg}");
        if let Some(u) = &f.user {
            ids.add_user(&acc, u, &why);
        }
        if let Some(g) = &f.group {
            ids.add_group(&acc, g, &why);
        }
    }

    // 7. Weak evidence, narrowed by the strong: what the service's users
    // own in the hierarchy directories, their homes, the /var paths the
    // packages' configuration names.
    let mut weak: Vec<(String, String)> = ownership::owned(layout, &ids);
    for u in acc.users.iter().filter(|u| ids.uids.contains_key(&u.uid)) {
        homes.push((u.home.clone(), format!("home of {}", ids.uids[&u.uid])));
    }
    weak.extend(homes);
    let mut ports: Vec<PortNote> = Vec::new();
    for (path, (pkg, f)) in entries {
        if !f.config {
            continue;
        }
        let host = layout.host(path);
        if !std::fs::symlink_metadata(&host).is_ok_and(|m| m.is_file() && m.len() <= configfiles::MAX_SIZE) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&host) else { continue };
        for named in configfiles::var_paths(&text) {
            weak.push((named, format!("named in {path}, a configuration file of {pkg}")));
        }
        for (port, line) in configfiles::listen_ports(&text) {
            if !ports.iter().any(|p| p.port == port) {
                ports.push(PortNote { port, why: format!("'{line}' in {path}, a configuration file of {pkg}") });
            }
        }
    }
    ports.sort_by_key(|p| p.port);
    for (path, why) in weak {
        b.add_weak(&path, why)?;
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

    // An instance's own paths: a directory that holds them holds the other
    // instances' too, and is private only down to them.
    let wide: Vec<(String, String)> = b
        .private
        .keys()
        .filter_map(|d| {
            b.instance_paths
                .iter()
                .find(|(p, _)| p != d && crate::rootpath::is_under(p, d))
                .map(|(p, _)| (d.clone(), p.clone()))
        })
        .collect();
    for (d, inner) in wide {
        if let Some(pp) = b.private.remove(&d) {
            b.skip(
                &d,
                format!(
                    "{}, but the instance's own {inner} is beneath it: only that is private",
                    pp.reasons.join("; ")
                ),
            );
        }
    }
    for (p, why) in b.instance_paths.clone() {
        b.add_named(&p, why, false)?;
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
    // The service's keys among the host's secrets: where the sandbox's own
    // go outside its private directories, they are private paths of their own.
    let found = keys::find(layout, &b.private.values().cloned().collect::<Vec<_>>());
    for k in &found {
        let why = k.explain();
        for at in std::iter::once(&k.path).chain(k.certs.iter().map(|(l, _)| l)) {
            if !b.covered(at) {
                b.private
                    .insert(at.clone(), PrivatePath { path: at.clone(), kind: Kind::Key, reasons: vec![why.clone()] });
            }
        }
    }
    let private: Vec<PrivatePath> = b.private.into_values().collect();
    let mut container = Vec::new();
    for u in units {
        let f = &u.unit.file;
        let on = |k: &str| f.get("Service", k).is_some_and(|v| matches!(v, "yes" | "true" | "1" | "on"));
        if on("PrivateNetwork") {
            container.push(Note { path: "network=none".into(), why: format!("PrivateNetwork=yes of {}", u.spec.unit) });
        }
        if on("PrivateUsers") {
            container.push(Note { path: "private-users".into(), why: format!("PrivateUsers=yes of {}", u.spec.unit) });
        }
    }
    Ok(Plan {
        pulled: Vec::new(),
        container,
        ports,
        keys: found,
        tmpfiles: tmpfiles_lines,
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
        private,
        shared: shared.into_iter().map(|(path, why)| Note { path, why }).collect(),
        skipped: b.skipped.into_iter().map(|(path, why)| Note { path, why }).collect(),
        files,
    })
}

/// The private paths `extra` adds to `plan`, under the rules `build`
/// uses (no secret, no shared directory, nothing outside /etc and /var),
/// each with `why`; what the plan covers already gives nothing. The
/// notes say what was not added and why.
pub fn extend(layout: &Layout, plan: &Plan, extra: &[String], why: &str) -> Result<(Vec<PrivatePath>, Vec<Note>)> {
    let mut b = Builder {
        layout,
        private: plan.private.iter().map(|p| (p.path.clone(), p.clone())).collect(),
        skipped: BTreeMap::new(),
        shared_reason: plan.shared.iter().map(|n| (n.path.clone(), n.why.clone())).collect(),
        instance_paths: Vec::new(),
    };
    for p in extra {
        if !p.starts_with('/') {
            bail!("{p}: give an absolute path");
        }
        let canon = b.canonical(p.trim_end_matches('/'))?;
        if b.covered(&canon) || b.private.contains_key(&canon) {
            b.skip(&canon, format!("{why}, but the sandbox has it already"));
            continue;
        }
        b.add_named(p, why.to_string(), true)?;
    }
    let added = b.private.into_values().filter(|p| !plan.private.iter().any(|q| q.path == p.path)).collect();
    Ok((added, b.skipped.into_iter().map(|(path, why)| Note { path, why }).collect()))
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
                Kind::Key => ("private", "made at create"),
            };
            let _ = writeln!(s, "{tag:8} {} ({kind}): {}", p.path, p.reasons.join("; "));
        }
        for n in &self.shared {
            let _ = writeln!(s, "shared   {}: {}", n.path, n.why);
        }
        for n in &self.skipped {
            let _ = writeln!(s, "skipped  {}: {}", n.path, n.why);
        }
        for n in &self.pulled {
            let _ = writeln!(s, "pulled   {}: {}", n.path, n.why);
        }
        for n in &self.container {
            let _ = writeln!(s, "container {}: {}", n.path, n.why);
        }
        for p in &self.ports {
            let _ = writeln!(s, "port     {}/tcp: {}", p.port, p.why);
        }
        for k in &self.keys {
            let tag = if k.how.is_new() { "new-key" } else { "copied" };
            let _ = writeln!(s, "{tag:8} {}", k.explain());
        }
        for l in &self.tmpfiles {
            let _ = writeln!(s, "tmpfiles {} ({}, applied inside at each start)", l.line, l.file);
        }
        s
    }

    /// Paths to clone, in order (parents before children).
    pub fn clones(&self) -> impl Iterator<Item = &PrivatePath> {
        self.private.iter().filter(|p| !matches!(p.kind, Kind::Runtime | Kind::Key))
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
