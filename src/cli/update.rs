//! `sandbox-service update [-p PATH]... NAME`: brings a sandbox's unit and
//! stored filters up to its .sandbox file (after [limits] or [container]
//! were edited, the binary moved, or the service's unit changed), and
//! clones in paths that no metadata named (`-p`), under the planner's
//! rules, without deleting the sandbox.

use crate::clone::{self as copy, Copier};
use crate::layout::{Layout, MANIFEST, TREE};
use crate::manifest::Manifest;
use crate::plan::Kind;
use crate::{config, interrupt, sandbox, state, units};
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;

/// Rewrite a sandbox's unit from its .sandbox file; add private paths.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  sandbox-service update -p /var/lib/extra web1")]
pub struct Args {
    /// Also make PATH (under /etc or /var) private, copied from the host
    /// now. Repeatable.
    #[arg(short = 'p', long = "private", value_name = "PATH")]
    pub private: Vec<String>,
    /// The sandbox's name.
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub name: String,
}

pub fn run(layout: &Layout, a: Args, quiet: bool) -> Result<()> {
    interrupt::install()?;
    let _lock = state::lock(layout)?;
    let cfg = config::load_named(layout, &a.name)?;
    let state_dir = layout.state_dir(&cfg.name);
    if !a.private.is_empty() {
        add_private(layout, &cfg, &state_dir, &a.private, quiet)?;
    }
    crate::runtime::unitseccomp::store(layout, &cfg, &state_dir)?;
    let text = units::render_service(
        &cfg,
        &sandbox::exe()?,
        &sandbox::reload_sources(layout, &cfg)?,
        &sandbox::inherited_settings(layout, &cfg),
    )?;
    let path = layout.unit_dir().join(&cfg.unit);
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    if old == text {
        if !quiet {
            println!("{} is up to date", cfg.unit);
        }
        return Ok(());
    }
    // Written beside and renamed: systemd never reads half a unit.
    let mut tmp = tempfile::Builder::new()
        .prefix(".sandbox-service-")
        .tempfile_in(layout.unit_dir())
        .context("temporary unit file")?;
    tmp.write_all(text.as_bytes())?;
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.persist(&path).with_context(|| format!("replacing {}", path.display()))?;
    drop(_lock);
    sandbox::reload_systemd(layout);
    if !quiet {
        // systemd applies cgroup limits to a running unit on reload; the
        // rest of the .sandbox file is read at each start anyway.
        println!("rewrote {}: limits apply now, the rest at the next start", cfg.unit);
    }
    Ok(())
}

/// Copies `paths` into the sandbox's tree beside it first, then renames
/// each into place and records them in the manifest: what fails leaves
/// the sandbox as it was.
fn add_private(
    layout: &Layout,
    cfg: &config::SandboxConfig,
    state_dir: &Path,
    paths: &[String],
    quiet: bool,
) -> Result<()> {
    let manifest_path = state_dir.join(MANIFEST);
    let mut manifest = Manifest::load(&manifest_path)?;
    let (added, notes) = crate::plan::extend(layout, &manifest.plan, paths, "named with update -p")?;
    for n in &notes {
        eprintln!("sandbox-service: {}: {}", n.path, n.why);
    }
    if added.is_empty() {
        if notes.is_empty() {
            bail!("nothing to add");
        }
        bail!("none of the paths could be added: see above");
    }
    let tree = state_dir.join(TREE);
    // Root inside controls the tree: it is reached by descriptor, never
    // through a link (a /var/lib swapped for a link to the host's /etc
    // would otherwise receive the new path).
    let tree_fd = crate::safefs::open_dir(&tree)?;
    for p in &added {
        let there = crate::safefs::open_beneath(tree_fd.as_fd(), Path::new(&p.path), nix::fcntl::OFlag::O_PATH);
        if let Err(e) = &there {
            let errno = crate::safefs::errno(e);
            if errno != Some(nix::libc::ENOENT) && errno != Some(nix::libc::ENOTDIR) {
                return Err(there.unwrap_err());
            }
        }
        if there.is_ok() {
            bail!(
                "{} is in the sandbox already (made there since it was created): move it away in {} first",
                p.path,
                tree.display()
            );
        }
    }
    if layout.is_live() {
        let tops: Vec<std::path::PathBuf> = added.iter().map(|p| layout.host(&p.path)).collect();
        if let Some(w) = crate::livestate::writers(&tops).first() {
            bail!("{}", crate::livestate::refusal(w, &w.path));
        }
    }
    let stage = state_dir.join(".update");
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir(&stage).with_context(|| format!("creating {}", stage.display()))?;
    let result = (|| -> Result<()> {
        let keep = |p: &Path| {
            let inside = Path::new("/").join(p.strip_prefix(layout.root()).unwrap_or(p));
            crate::secrets::secret(&inside.to_string_lossy()).is_none()
        };
        let mut need = copy::Need::default();
        for p in added.iter().filter(|p| matches!(p.kind, Kind::Dir | Kind::File | Kind::Symlink)) {
            let n = copy::measure(&layout.host(&p.path))?;
            need.bytes += n.bytes;
            need.inodes += n.inodes;
        }
        copy::check_room(need, &stage)?;
        let mut copier = Copier::new(&keep, &format!("adding to {}", cfg.name));
        for p in &added {
            let rel = Path::new(p.path.trim_start_matches('/'));
            copy::make_parents(layout.root(), &stage, rel)?;
            match p.kind {
                Kind::Dir | Kind::File | Kind::Symlink => copier.copy(&layout.host(&p.path), &stage.join(rel))?,
                Kind::EmptyDir => std::fs::create_dir(stage.join(rel))?,
                Kind::Runtime | Kind::Key => {}
            }
            if let Some(base) = cfg.container.private_users {
                if stage.join(rel).symlink_metadata().is_ok() {
                    crate::runtime::userns::shift_tree(&stage.join(rel), 0, base)?;
                }
            }
        }
        for p in added.iter().filter(|p| !matches!(p.kind, Kind::Runtime | Kind::Key)) {
            let rel = Path::new(p.path.trim_start_matches('/'));
            let parent = copy::parents_beneath(layout.root(), tree_fd.as_fd(), rel, cfg.container.private_users)?;
            let name = rel.file_name().context("a private path has no name")?;
            // RENAME_NOREPLACE: what root inside made there since the check stays.
            nix::fcntl::renameat2(
                nix::fcntl::AT_FDCWD,
                &stage.join(rel),
                parent.as_fd(),
                name,
                nix::fcntl::RenameFlags::RENAME_NOREPLACE,
            )
            .with_context(|| format!("moving {} into place", p.path))?;
        }
        manifest.plan.private.extend(added.iter().cloned());
        manifest.plan.private.sort_by(|a, b| a.path.cmp(&b.path));
        let tmp = state_dir.join(".manifest.new");
        manifest.write(&tmp)?;
        std::fs::rename(&tmp, &manifest_path).context("replacing the manifest")
    })();
    let _ = std::fs::remove_dir_all(&stage);
    result?;
    if !quiet {
        for p in &added {
            println!("added {} to sandbox {}: private from its next start", p.path, cfg.name);
        }
    }
    Ok(())
}
