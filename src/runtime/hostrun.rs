//! The sandbox's /run, reachable from the host at
//! /run/sandbox-service/NAME/run, with systemd's RuntimeDirectory=
//! semantics: a tmpfs made fresh at each start in the host's mount
//! namespace (by the unit's `ExecStartPre=+`) and gone at stop
//! (`ExecStopPost=+`), so `mysql --socket=/run/sandbox-service/db1/run/mysqld/
//! mysqld.sock` reaches a sandboxed server.
//!
//! What the sandbox puts there is its own: the host's mount has
//! `nosymfollow`, so no host command that looks up a path in it follows a
//! link root inside planted (to /run/docker.sock, say), and the modes
//! are the ones the service gave its files. The container gets the same
//! tmpfs with links followed, as any /run.

use anyhow::{Context, Result};
use nix::mount::{MntFlags, MsFlags};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where the host sees sandbox `name`'s /run.
pub fn dir(name: &str) -> PathBuf {
    Path::new(super::control::DIR).join(name).join("run")
}

/// Where the host sees `path`, a path under /run inside sandbox `name`.
pub fn seen_from_host(name: &str, path: &str) -> PathBuf {
    dir(name).join(path.trim_start_matches("/run/"))
}

/// Whether a file system is mounted at `p` (its device differs from its
/// parent's: a tmpfs on /run's tmpfs is another superblock).
pub fn is_mounted(p: &Path) -> bool {
    let parent = p.parent().unwrap_or(Path::new("/"));
    match (std::fs::symlink_metadata(p), std::fs::metadata(parent)) {
        (Ok(a), Ok(b)) => a.is_dir() && a.dev() != b.dev(),
        _ => false,
    }
}

/// Makes the tmpfs at `dir(name)`, replacing one a crashed start left.
/// `options` are the container's /run tmpfs options (mode, size, inodes);
/// `owner` the host id of root inside, with a user namespace.
pub fn up(name: &str, options: &str, owner: Option<u32>) -> Result<()> {
    let d = dir(name);
    down(name)?;
    let build = d.parent().context("the runtime directory has no parent")?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .create(build)
        .with_context(|| format!("creating {}", build.display()))?;
    // Whatever the unit's UMask=: the host's users reach what the
    // service's own modes let them reach, and no more.
    std::fs::set_permissions(build, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .with_context(|| format!("chmod {}", build.display()))?;
    if let Some(base) = owner {
        // Root inside must reach its own build directory.
        std::os::unix::fs::chown(build, Some(base), Some(base))
            .with_context(|| format!("chown {}", build.display()))?;
    }
    match std::fs::create_dir(&d) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", d.display())),
    }
    let flags = MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC
        | MsFlags::from_bits_retain(nix::libc::MS_NOSYMFOLLOW);
    nix::mount::mount(Some("tmpfs"), &d, Some("tmpfs"), flags, Some(owned(options, owner).as_str()))
        .with_context(|| format!("mounting the sandbox's /run at {}", d.display()))
}

/// Unmounts and removes `dir(name)`, if it is there. Lazily: a host
/// process with a file open in it (a client's socket) keeps the old tmpfs
/// alive, detached, until it lets go; the path is free at once.
pub fn down(name: &str) -> Result<()> {
    let d = dir(name);
    while is_mounted(&d) {
        nix::mount::umount2(&d, MntFlags::MNT_DETACH).with_context(|| format!("unmounting {}", d.display()))?;
    }
    match std::fs::remove_dir(&d) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", d.display())),
    }
}

/// The sandbox's /run for this start, detached, for the container to
/// attach: the tmpfs the unit's `ExecStartPre=+` made for the host to see,
/// or, for a bare `run` (or a unit made before this existed), a tmpfs of
/// the container's only. A bare `run` may be killed outright, and nothing
/// would then unmount one on the host; under its unit, `ExecStopPost=`
/// runs however the start ended.
pub fn for_container(name: &str, options: &str, owner: Option<u32>) -> Result<std::os::fd::OwnedFd> {
    use super::mountapi;
    // systemd sets INVOCATION_ID for the unit's processes.
    if std::env::var_os("INVOCATION_ID").is_some() && is_mounted(&dir(name)) {
        let t = mountapi::open_tree(&dir(name))?;
        // Inside, it is an ordinary /run: links followed, programs run.
        mountapi::clear_fd(&t, mountapi::NOSYMFOLLOW | mountapi::NOEXEC)?;
        return Ok(t);
    }
    mountapi::new_tmpfs(&owned(options, owner))
}

/// The /run tmpfs options, its root owned by root inside (`owner`, the
/// host id of a user namespace's root) where there is one.
fn owned(options: &str, owner: Option<u32>) -> String {
    match owner {
        Some(b) => format!("{options},uid={b},gid={b}"),
        None => options.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_host_path_is_under_the_build_directory() {
        assert_eq!(super::dir("db1"), std::path::Path::new("/run/sandbox-service/db1/run"));
        assert!(!super::is_mounted(std::path::Path::new("/no/such/path")));
    }
}
