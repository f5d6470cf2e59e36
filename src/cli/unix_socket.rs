//! `sandbox-service unix-socket wait|own NAME PATH [HOSTPATH]`: what a
//! published unix socket's unit runs (unixsocket.rs). `wait` (before the
//! host socket listens) returns once the service's socket PATH exists;
//! `own` (once it listens) gives the host socket HOSTPATH the owner and
//! mode of the service's. Both look at PATH beneath the sandbox's runtime
//! directory without following a link: root inside decides what is
//! there, never where on the host it leads.

use crate::config;
use crate::layout::Layout;
use crate::runtime::{control, hostrun};
use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, SFlag};
use std::os::fd::AsFd;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(value_parser = ["wait", "own"])]
    pub what: String,
    /// The sandbox's name.
    pub name: String,
    /// The service's socket, inside the sandbox (under /run).
    pub path: String,
    /// The host's socket (for `own`).
    pub host: Option<String>,
}

pub fn run(layout: &Layout, a: Args) -> Result<()> {
    let cfg = config::load_named(layout, &a.name)?;
    let rel = a.path.strip_prefix("/run/").with_context(|| format!("{}: not under /run", a.path))?;
    let mut pause = Duration::from_millis(2);
    let st = loop {
        // Gone with the sandbox: the unit waits no longer than it runs.
        control::shim_pid(&a.name)?;
        let dir = crate::safefs::open_dir(&hostrun::dir(&a.name))?;
        match crate::safefs::open_beneath(dir.as_fd(), std::path::Path::new(rel), OFlag::O_PATH | OFlag::O_CLOEXEC) {
            Ok(fd) => break fstat(&fd).with_context(|| format!("fstat {}", a.path))?,
            Err(e) if crate::safefs::errno(&e) == Some(nix::libc::ENOENT) => {}
            Err(e) => return Err(e.context(format!("sandbox '{}': {} is not published", a.name, a.path))),
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    };
    if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFSOCK {
        bail!("sandbox '{}': {} is no socket: it is not published", a.name, a.path);
    }
    if a.what == "wait" {
        return Ok(());
    }
    let host = a.host.context("unix-socket own needs the host's path")?;
    // In a user namespace the service's ids are shifted: the host socket
    // takes the ids they stand for (www-data for the pool's www-data).
    let unshift = |id: u32| match cfg.container.private_users {
        Some(base) if (base..base + 65536).contains(&id) => id - base,
        _ => id,
    };
    std::os::unix::fs::lchown(&host, Some(unshift(st.st_uid)), Some(unshift(st.st_gid)))
        .with_context(|| format!("chown {host}"))?;
    // HOSTPATH is the host's, made by systemd: no link of the sandbox's.
    std::fs::set_permissions(&host, std::os::unix::fs::PermissionsExt::from_mode(st.st_mode & 0o777))
        .with_context(|| format!("chmod {host}"))
}
