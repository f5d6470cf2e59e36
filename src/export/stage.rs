//! Writes an export plan as files: `rootfs/` (the closure's host files,
//! the written ones, and empty places for the private paths) and
//! `private/` (the sandbox's tree at those paths). A bundle mounts
//! `private/` over `rootfs/` as the sandbox does; an image stacks them as
//! two layers.

use super::ExportPlan;
use crate::clone::Copier;
use crate::layout::Layout;
use anyhow::{bail, Context, Result};
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub const ROOTFS: &str = "rootfs";
pub const PRIVATE: &str = "private";

/// What was written, for the report.
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub host_files: u64,
    /// Host files whose set-uid/set-gid bits were cleared.
    pub setid_cleared: u64,
    pub private_files: u64,
    pub bytes: u64,
}

pub fn write(layout: &Layout, plan: &ExportPlan, dir: &Path) -> Result<Written> {
    let rootfs = dir.join(ROOTFS);
    let private = dir.join(PRIVATE);
    std::fs::create_dir(&rootfs).with_context(|| format!("creating {}", rootfs.display()))?;
    std::fs::set_permissions(&rootfs, std::fs::Permissions::from_mode(0o755))?;
    let host_root = layout.root();
    // /bin, /lib ... as the host has them: links into /usr on a merged host.
    for l in crate::runtime::rootfs::USR_LINKS {
        let h = host_root.join(l);
        if let Ok(t) = std::fs::read_link(&h) {
            std::os::unix::fs::symlink(&t, rootfs.join(l)).with_context(|| format!("linking /{l}"))?;
        }
    }
    let keep = |_: &Path| true;
    let mut host = Copier::new(&keep, "exporting the host's package files");
    for f in &plan.files {
        let rel = Path::new(f.trim_start_matches('/'));
        let dst = rootfs.join(rel);
        if dst.symlink_metadata().is_ok() {
            continue;
        }
        crate::clone::make_parents(host_root, &rootfs, rel)?;
        let src = host_root.join(rel);
        if src.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            // A package's directory, not its content: each file is listed.
            crate::clone::make_parents(host_root, &rootfs, &rel.join("x"))?;
        } else {
            host.copy(&src, &dst)?;
        }
    }
    // The sandbox's /usr is nosuid: a set-id bit raises nothing in it, and
    // must not in an engine that mounts the root without nosuid.
    let mut setid = 0u64;
    for f in &plan.files {
        let p = rootfs.join(f.trim_start_matches('/'));
        if let Ok(m) = p.symlink_metadata() {
            if m.is_file() && m.permissions().mode() & 0o6000 != 0 {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m.permissions().mode() & 0o1777))?;
                setid += 1;
            }
        }
    }
    let tree = layout.state_dir(&plan.name).join(crate::layout::TREE);
    // The whole tree, through descriptors (clone.rs): a link root inside
    // planted on the way to a private path is copied as a link, never
    // followed to the host's files.
    let mut own = Copier::new(&keep, "exporting the sandbox's private files");
    own.copy(&tree, &private)?;
    let private_fd = crate::safefs::open_dir(&private)?;
    for p in &plan.private {
        let rel = Path::new(p.path.trim_start_matches('/'));
        // A bundle binds each private path from here by name: one reached
        // through a link would bind whatever the link names on the host.
        let fd =
            crate::safefs::open_beneath(private_fd.as_fd(), rel, nix::fcntl::OFlag::O_PATH).with_context(|| {
                format!("{}: restore it in {} or recreate the sandbox, then export again", p.path, tree.display())
            })?;
        let st = nix::sys::stat::fstat(&fd).with_context(|| format!("fstat {}", p.path))?;
        if !matches!(crate::safefs::kind(&st), crate::safefs::Kind::Dir | crate::safefs::Kind::File) {
            bail!(
                "{}: in the sandbox's tree it is no longer a file or directory: restore it in {} or recreate the sandbox",
                p.path,
                tree.display()
            );
        }
        let dir = crate::safefs::kind(&st) == crate::safefs::Kind::Dir;
        // The place a bundle mounts it on, as the sandbox's root has it.
        let place = rootfs.join(rel);
        if place.symlink_metadata().is_err() {
            crate::clone::make_parents(host_root, &rootfs, rel)?;
            if dir { std::fs::create_dir(&place) } else { std::fs::write(&place, b"") }
                .with_context(|| format!("creating {}", place.display()))?;
            std::fs::set_permissions(&place, std::fs::Permissions::from_mode(if dir { 0o755 } else { 0o644 }))?;
            stamp(&place, plan.created)?;
        }
    }
    // The layout `run` gives /var at each start (/var/run, /var/lock, the
    // standard directories), made once here.
    crate::runtime::rootfs::prepare_var(&private.join("var"), &layout.host("/var"), plan.user_namespace)?;
    for g in &plan.generated {
        let rel = Path::new(g.path.trim_start_matches('/'));
        let dst = rootfs.join(rel);
        let parent = dst.parent().expect("below rootfs");
        if !parent.exists() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            let mut d = parent;
            while d != rootfs && d.starts_with(&rootfs) {
                stamp(d, plan.created)?;
                d = d.parent().expect("below rootfs");
            }
        }
        if dst.symlink_metadata().is_ok() {
            std::fs::remove_file(&dst).with_context(|| format!("replacing {}", dst.display()))?;
        }
        std::fs::write(&dst, &g.content).with_context(|| format!("writing {}", dst.display()))?;
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(g.mode))?;
        stamp(&dst, plan.created)?;
    }
    // Places the engines mount on (a bundle's config names them).
    for d in ["proc", "sys", "dev", "run", "tmp", "home", "root"] {
        let p = rootfs.join(d);
        if p.symlink_metadata().is_err() {
            std::fs::create_dir(&p)?;
            let mode = match d {
                "tmp" => 0o1777,
                "root" => 0o700,
                "proc" | "sys" => 0o555,
                _ => 0o755,
            };
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))?;
            stamp(&p, plan.created)?;
        }
    }
    stamp(&rootfs, plan.created)?;
    stamp(&private, plan.created)?;
    Ok(Written {
        host_files: host.stats.files + host.stats.symlinks,
        setid_cleared: setid,
        private_files: own.stats.files + own.stats.symlinks,
        bytes: host.stats.bytes + own.stats.bytes + plan.generated.iter().map(|g| g.content.len() as u64).sum::<u64>(),
    })
}

/// Gives a written file the sandbox's creation time: the same sandbox
/// exports to the same bytes.
fn stamp(p: &Path, secs: u64) -> Result<()> {
    let t = TimeSpec::new(secs as i64, 0);
    utimensat(nix::fcntl::AT_FDCWD, p, &t, &t, UtimensatFlags::NoFollowSymlink)
        .with_context(|| format!("setting the time of {}", p.display()))
}

/// Moves every owner under `dir` into a user namespace's range starting
/// at `base`, as create shifts a sandbox's tree.
pub fn shift_owners(dir: &Path, base: u32) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    for e in walkdir::WalkDir::new(dir) {
        let e = e?;
        let m = e.path().symlink_metadata()?;
        let r = crate::runtime::userns::RANGE - 1;
        std::os::unix::fs::lchown(e.path(), Some(base + m.uid().min(r)), Some(base + m.gid().min(r)))
            .with_context(|| format!("shifting the owner of {}", e.path().display()))?;
        // chown clears set-id bits: give them back.
        if !m.file_type().is_symlink() && m.mode() & 0o6000 != 0 {
            std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
        }
    }
    Ok(())
}
