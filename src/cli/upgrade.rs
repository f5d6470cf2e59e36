//! `sandbox-service upgrade NAME... | --all [--dry-run]`: after the host's
//! packages were updated, brings each sandbox's private files forward with
//! a 3-way merge per file (upgrade.rs), all or nothing per sandbox.

use crate::layout::{Layout, MANIFEST, TREE};
use crate::manifest::Manifest;
use crate::pristine::{self, Baseline};
use crate::upgrade::{self, Action, Upgrade};
use crate::{config, interrupt, state};
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Bring sandboxes forward after the host's packages were updated.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  sandbox-service upgrade --dry-run web1\n  sandbox-service upgrade --all")]
pub struct Args {
    /// Print what would change, as unified diffs, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Every sandbox.
    #[arg(long, conflicts_with = "names")]
    pub all: bool,
    /// The sandboxes' names.
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub names: Vec<String>,
}

pub fn run(layout: &Layout, a: Args, quiet: bool) -> Result<()> {
    interrupt::install()?;
    let _lock = state::lock(layout)?;
    let names: Vec<String> = if a.all {
        config::load_all(layout)?.into_iter().map(|c| c.name).collect()
    } else if a.names.is_empty() {
        bail!("name the sandboxes to upgrade, or give --all");
    } else {
        a.names.clone()
    };
    let dbs = crate::payload::Databases::open(layout)?;
    let mut conflicts = 0;
    for name in &names {
        let cfg = config::load_named(layout, name)?;
        let state_dir = layout.state_dir(&cfg.name);
        let manifest_path = state_dir.join(MANIFEST);
        let manifest = Manifest::load(&manifest_path)?;
        let base = Baseline::load(&state_dir)?;
        let tree = crate::safefs::open_dir(&state_dir.join(TREE))?;
        let up = upgrade::build(layout, &dbs, &manifest.plan, base.as_ref(), &state_dir, tree.as_fd())?;
        if !up.changes() {
            if !quiet {
                println!("{name}: up to date with its packages");
                for p in up.packages.iter().filter(|p| p.to.is_none()) {
                    println!(
                        "{name}: {} {} is no longer installed on the host: its files in the sandbox stay",
                        p.name, p.from
                    );
                }
            }
            continue;
        }
        if base.is_none() && !quiet {
            println!("{name}: made before sandboxes kept what they were cloned from: a file it changed conflicts");
        }
        print!("{}", up.explain(name, a.dry_run));
        conflicts += up.conflicts();
        if a.dry_run {
            continue;
        }
        apply(layout, &cfg, &state_dir, &manifest, base.unwrap_or_default(), &up, tree.as_fd())
            .with_context(|| format!("upgrading {name}: nothing of it was changed"))?;
        if !quiet {
            let running = crate::runtime::control::shim_pid(name).is_ok();
            if !up.writes_files() {
                println!("{name}: new versions recorded; none of the sandbox's files changed");
            } else if running {
                println!(
                    "{name}: upgraded; restart it for the service to read its files (systemctl restart {})",
                    cfg.unit
                );
            } else {
                println!("{name}: upgraded");
            }
        }
    }
    if conflicts > 0 {
        eprintln!(
            "sandbox-service: {conflicts} conflict(s): each sandbox's file was kept and the new version written beside it; \
             merge by hand, then remove the .dpkg-dist/.rpmnew file"
        );
    }
    Ok(())
}

/// Owner and mode for a file written into the tree: the sandbox's file's
/// where it has one, else the host's (shifted into a user namespace's range).
fn owner_mode(layout: &Layout, tree: BorrowedFd, path: &str, shift: Option<u32>) -> Result<(u32, u32, u32)> {
    let rel = Path::new(path.trim_start_matches('/'));
    if let Ok(fd) = crate::safefs::open_beneath(tree, rel, nix::fcntl::OFlag::O_PATH) {
        let st = nix::sys::stat::fstat(fd.as_fd()).context("reading a file's owner")?;
        return Ok((st.st_uid, st.st_gid, st.st_mode & 0o7777));
    }
    let m = std::fs::metadata(layout.host(path)).with_context(|| format!("reading {path} on the host"))?;
    let (u, g) = match shift {
        Some(b) => {
            (b + m.uid().min(crate::runtime::userns::RANGE - 1), b + m.gid().min(crate::runtime::userns::RANGE - 1))
        }
        None => (m.uid(), m.gid()),
    };
    Ok((u, g, m.mode() & 0o7777))
}

/// Writes each change as a temporary beside its file in the tree, the new
/// baseline and manifest beside theirs, then commits all with renames
/// (state::RenameTxn): interrupted before the commit, nothing changed;
/// after it, the next command finishes the renames.
fn apply(
    layout: &Layout,
    cfg: &config::SandboxConfig,
    state_dir: &Path,
    manifest: &Manifest,
    mut base: Baseline,
    up: &Upgrade,
    tree: BorrowedFd,
) -> Result<()> {
    let shift = cfg.container.private_users;
    let mut txn = state::RenameTxn::begin(layout, &cfg.name, &state_dir.join(TREE))?;
    for s in &up.steps {
        let (target, content) = match &s.action {
            Action::Write { content, .. } | Action::Add { content } => (s.path.clone(), content),
            Action::Conflict { theirs, beside } => (beside.clone(), theirs),
            Action::Keep | Action::Report => (String::new(), &Vec::new()),
        };
        if !target.is_empty() {
            interrupt::check()?;
            let (uid, gid, mode) = owner_mode(layout, tree, &s.path, shift)?;
            let rel = Path::new(target.trim_start_matches('/'));
            let parent = crate::clone::parents_beneath(layout.root(), tree, rel, shift)?;
            let file = rel.file_name().context("a private file has no name")?;
            let tmp_name = format!(".{}.sandbox-service-new", file.to_string_lossy());
            // Made first (O_EXCL: a name the sandbox already uses is refused,
            // never taken over), journalled at once.
            let fd = crate::safefs::create(parent.as_fd(), std::ffi::OsStr::new(&tmp_name))
                .with_context(|| format!("writing the new {target} in the sandbox's tree"))?;
            if let Err(e) = txn.staged_in_tree(&rel.with_file_name(&tmp_name), rel) {
                let _ =
                    nix::unistd::unlinkat(parent.as_fd(), tmp_name.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
                return Err(e);
            }
            nix::unistd::fchown(fd.as_fd(), Some(uid.into()), Some(gid.into()))
                .with_context(|| format!("setting the owner of {target}"))?;
            nix::sys::stat::fchmod(fd.as_fd(), nix::sys::stat::Mode::from_bits_truncate(mode))
                .with_context(|| format!("setting the mode of {target}"))?;
            crate::label::apply_to_fd(&fd, cfg.label.as_ref())?;
            let mut f = std::fs::File::from(fd);
            f.write_all(content).and_then(|()| f.sync_all()).with_context(|| format!("writing {target}"))?;
        }
        if let Some(b) = &s.new_base {
            let (tmp, fin) = (Baseline::staged_path(state_dir, &s.path), pristine::content_path(state_dir, &s.path));
            txn.will_stage(&tmp, &fin)?;
            base.stage(state_dir, &s.path, b)?;
        }
    }
    let index_tmp = state_dir.join(pristine::DIR).join(".index.json.new");
    txn.will_stage(&index_tmp, &state_dir.join(pristine::DIR).join(pristine::INDEX))?;
    base.write_to(&index_tmp)?;
    let mut m = manifest.clone();
    m.plan.packages = up.plan_packages.clone();
    m.plan.files = up.plan_files.clone();
    m.plan.files.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest_tmp = state_dir.join(".manifest.new");
    txn.will_stage(&manifest_tmp, &state_dir.join(MANIFEST))?;
    m.write(&manifest_tmp)?;
    interrupt::check()?;
    txn.commit()
}
