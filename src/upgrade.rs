//! `upgrade`'s plan, as a value: after the host's packages were updated,
//! what becomes of each private file of a sandbox, and why. Built from
//! the package database (the new versions and digests), the host's files
//! (the new content, checked against those digests), the sandbox's
//! baseline (what it got, pristine.rs) and its tree (what it has now);
//! `--dry-run` prints it, `upgrade` applies it (cli/upgrade.rs), and the
//! manifest then records the new versions.

use crate::layout::Layout;
use crate::merge::{self, Outcome};
use crate::payload::{Databases, PkgFile};
use crate::plan::{Kind, PayloadFile, Plan, PlannedPackage};
use crate::pristine::Baseline;
use anyhow::{Context, Result};
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

/// The most an upgrade reads of one file; configuration is far smaller.
const READ_MAX: u64 = 64 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageChange {
    pub name: String,
    pub from: String,
    /// None: no longer installed on the host.
    pub to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The sandbox's file becomes `content` (the new version, or a merge).
    Write { content: Vec<u8>, merged: bool },
    /// New in the package: made in the sandbox.
    Add { content: Vec<u8> },
    /// The sandbox's stays; the new version is written beside it at `beside`.
    Conflict { theirs: Vec<u8>, beside: String },
    /// The sandbox's stays as it is.
    Keep,
    /// Reported only: no longer in the package, or the new version cannot
    /// be had, or removed in the sandbox.
    Report,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub path: String,
    pub action: Action,
    pub why: String,
    /// What the sandbox has now (None: absent), for the diff.
    pub ours: Option<Vec<u8>>,
    /// The package's new version, the next upgrade's base.
    pub new_base: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Default)]
pub struct Upgrade {
    pub packages: Vec<PackageChange>,
    pub steps: Vec<Step>,
    /// The manifest's packages and files after it.
    pub plan_packages: Vec<PlannedPackage>,
    pub plan_files: Vec<PayloadFile>,
}

impl Upgrade {
    /// Whether applying it changes anything.
    pub fn changes(&self) -> bool {
        // A package no longer installed changes nothing: its files stay.
        self.packages.iter().any(|p| p.to.as_deref().is_some_and(|t| t != p.from))
            || self.steps.iter().any(|s| s.new_base.is_some() || !matches!(s.action, Action::Keep | Action::Report))
    }

    /// The plan in words; with `diffs`, each change as a unified diff.
    pub fn explain(&self, name: &str, diffs: bool) -> String {
        let mut out = String::new();
        for p in &self.packages {
            match &p.to {
                Some(v) if *v == p.from => {}
                Some(v) => out.push_str(&format!("{name}: {} {} -> {v}\n", p.name, p.from)),
                None => out.push_str(&format!(
                    "{name}: {} {} is no longer installed on the host: its files in the sandbox stay\n",
                    p.name, p.from
                )),
            }
        }
        for s in &self.steps {
            let what = match &s.action {
                Action::Write { merged: true, .. } => "merged".to_string(),
                Action::Write { merged: false, .. } => "new version".to_string(),
                Action::Add { .. } => "added".to_string(),
                Action::Conflict { beside, .. } => format!("CONFLICT: the sandbox's kept, the new version at {beside}"),
                Action::Keep => "kept".to_string(),
                Action::Report => "left as it is".to_string(),
            };
            out.push_str(&format!("  {}: {what} ({})\n", s.path, s.why));
            if diffs {
                let ours = s.ours.as_deref().unwrap_or_default();
                match &s.action {
                    Action::Write { content, .. } | Action::Add { content } => {
                        out.push_str(&merge::unified(&s.path, ours, content))
                    }
                    Action::Conflict { theirs, .. } => out.push_str(&merge::unified(&s.path, ours, theirs)),
                    Action::Keep | Action::Report => {}
                }
            }
        }
        out
    }

    /// Whether any of the sandbox's files is written (a new version, a
    /// merge, an addition, or a conflict's copy beside it).
    pub fn writes_files(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.action, Action::Write { .. } | Action::Add { .. } | Action::Conflict { .. }))
    }

    pub fn conflicts(&self) -> usize {
        self.steps.iter().filter(|s| matches!(s.action, Action::Conflict { .. })).count()
    }
}

/// Reads `rel` beneath the sandbox's tree: a regular file only (root
/// inside may have put a FIFO or a link there), None where absent.
pub fn read_in_tree(tree: BorrowedFd, rel: &Path) -> Result<Option<Vec<u8>>> {
    use nix::fcntl::OFlag;
    // open_beneath never follows a link and never blocks on a FIFO.
    let fd = match crate::safefs::open_beneath(tree, rel, OFlag::O_RDONLY) {
        Ok(fd) => fd,
        Err(e) if matches!(crate::safefs::errno(&e), Some(nix::libc::ENOENT) | Some(nix::libc::ENOTDIR)) => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let st = nix::sys::stat::fstat(fd.as_fd()).with_context(|| format!("reading {}", rel.display()))?;
    if crate::safefs::kind(&st) != crate::safefs::Kind::File {
        anyhow::bail!("/{} in the sandbox is not a regular file: move it away, then upgrade again", rel.display());
    }
    let mut data = Vec::new();
    std::fs::File::from(fd)
        .take(READ_MAX)
        .read_to_end(&mut data)
        .with_context(|| format!("reading /{} in the sandbox", rel.display()))?;
    Ok(Some(data))
}

/// The package's new version of `f` on the host: the file itself where it
/// matches the database's digest, else the copy the package manager put
/// beside a file the host's admin changed (.dpkg-dist, .dpkg-new, .rpmnew).
fn new_version(layout: &Layout, f: &PkgFile) -> Result<Option<Vec<u8>>> {
    for suffix in ["", ".dpkg-dist", ".dpkg-new", ".rpmnew"] {
        let p = layout.host(format!("{}{suffix}", f.path));
        let data = match std::fs::read(&p) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
        };
        match f.digest.as_deref().map(|d| crate::payload::digest_matches(&data, d)) {
            // Without a digest to check, the host's file is the best evidence.
            None if suffix.is_empty() => return Ok(Some(data)),
            Some(Some(true)) => return Ok(Some(data)),
            _ => {}
        }
    }
    Ok(None)
}

fn beside(path: &str, db: &str) -> String {
    format!("{path}{}", if db == "rpm" { ".rpmnew" } else { ".dpkg-dist" })
}

/// Builds the upgrade of a sandbox whose manifest holds `plan`, whose
/// tree is open at `tree` and whose baseline is `base` (None for one made
/// before baselines were kept: then only files unchanged since create, by
/// the package's old digest, are brought forward; the rest conflict).
pub fn build(
    layout: &Layout,
    dbs: &Databases,
    plan: &Plan,
    base: Option<&Baseline>,
    state: &Path,
    tree: BorrowedFd,
) -> Result<Upgrade> {
    let roots: Vec<&str> =
        plan.private.iter().filter(|p| matches!(p.kind, Kind::Dir | Kind::File)).map(|p| p.path.as_str()).collect();
    let keys: Vec<&str> = plan.private.iter().filter(|p| p.kind == Kind::Key).map(|p| p.path.as_str()).collect();
    let private = |path: &str| {
        roots.iter().any(|r| crate::rootpath::is_under(path, r))
            && !keys.iter().any(|k| crate::rootpath::is_under(path, k))
            && crate::secrets::secret(path).is_none()
    };
    let mut up = Upgrade::default();
    let kinds = dbs.kinds();
    for pkg in &plan.packages {
        let info = if kinds.contains(&pkg.db.as_str()) { dbs.info_in(&pkg.db, &pkg.name)? } else { None };
        let old: Vec<&PayloadFile> = plan.files.iter().filter(|f| f.package == pkg.name).collect();
        let Some(info) = info else {
            up.packages.push(PackageChange { name: pkg.name.clone(), from: pkg.version.clone(), to: None });
            up.plan_packages.push(pkg.clone());
            up.plan_files.extend(old.into_iter().cloned());
            continue;
        };
        up.packages.push(PackageChange {
            name: pkg.name.clone(),
            from: pkg.version.clone(),
            to: Some(info.version.clone()),
        });
        up.plan_packages.push(PlannedPackage { version: info.version.clone(), ..pkg.clone() });
        let new: Vec<PkgFile> =
            dbs.files(&info)?.into_iter().filter(|f| !f.ghost && f.digest.is_some() && private(&f.path)).collect();
        for f in &new {
            let was = old.iter().find(|o| o.path == f.path);
            up.plan_files.push(PayloadFile {
                path: f.path.clone(),
                package: pkg.name.clone(),
                config: f.config,
                digest: f.digest.clone(),
            });
            if was.is_some_and(|o| o.digest == f.digest) {
                // The package did not change this file.
                continue;
            }
            let rel = Path::new(f.path.trim_start_matches('/'));
            let ours = read_in_tree(tree, rel)?;
            let new_in = format!("{} {}", pkg.name, info.version);
            let Some(theirs) = new_version(layout, f)? else {
                up.steps.push(Step {
                    path: f.path.clone(),
                    action: Action::Report,
                    why: format!(
                        "{new_in} changed it, and the new version is not on the host: the host's copy is changed \
                         and no .dpkg-dist or .rpmnew is beside it; the sandbox's stays"
                    ),
                    ours,
                    new_base: None,
                });
                continue;
            };
            let Some(ours_data) = ours.clone() else {
                let (action, why) = if was.is_some() {
                    (Action::Report, format!("removed in the sandbox; {new_in} still ships it: left removed"))
                } else {
                    (Action::Add { content: theirs.clone() }, format!("new in {new_in}"))
                };
                up.steps.push(Step { path: f.path.clone(), action, why, ours: None, new_base: Some(theirs) });
                continue;
            };
            let kept = match base {
                Some(b) => b.content(state, &f.path)?,
                None => None,
            };
            // Without a kept copy, the old digest still says whether the
            // sandbox changed it.
            let unchanged = was
                .and_then(|o| o.digest.as_deref())
                .and_then(|d| crate::payload::digest_matches(&ours_data, d))
                .unwrap_or(false);
            let base_data = kept.or(if unchanged { Some(ours_data.clone()) } else { None });
            let (action, why) = match merge::three_way(base_data.as_deref(), &ours_data, &theirs) {
                Outcome::Same => (Action::Keep, format!("the sandbox has {new_in}'s version already")),
                Outcome::TakeNew => (
                    Action::Write { content: theirs.clone(), merged: false },
                    format!("unchanged in the sandbox: {new_in}'s version"),
                ),
                Outcome::KeepOurs => (Action::Keep, "changed only in the sandbox".to_string()),
                Outcome::Merged(m) => (
                    Action::Write { content: m, merged: true },
                    format!("changed in the sandbox and in {new_in}, on different lines"),
                ),
                Outcome::Conflict(why) => {
                    (Action::Conflict { theirs: theirs.clone(), beside: beside(&f.path, &pkg.db) }, why.to_string())
                }
            };
            up.steps.push(Step { path: f.path.clone(), action, why, ours: Some(ours_data), new_base: Some(theirs) });
        }
        for o in old.iter().filter(|o| !new.iter().any(|f| f.path == o.path)) {
            up.steps.push(Step {
                path: o.path.clone(),
                action: Action::Report,
                why: format!(
                    "no longer in {} {}: left in the sandbox, never removed by upgrade",
                    pkg.name, info.version
                ),
                ours: None,
                new_base: None,
            });
        }
    }
    up.steps.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(up)
}
