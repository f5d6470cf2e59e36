//! Entering a running sandbox for `execute` and `connect`: its cgroup,
//! then all its namespaces at once through the shim's pidfd, then (in a
//! child, which alone enters the pid namespace) the same confinement as
//! the service.

use super::confine::Confinement;
use super::control;
use crate::layout::{Layout, MANIFEST};
use crate::manifest::Manifest;
use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use nix::unistd::Pid;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

pub struct Target {
    pub shim: Pid,
    pidfd: OwnedFd,
    pub confinement: Confinement,
    /// The sandbox has its own user namespace (private-users).
    pub userns: bool,
}

fn pidfd_open(pid: Pid) -> Result<OwnedFd> {
    // SAFETY: a plain syscall; the result is a new fd or -1.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("pidfd_open of the sandbox's shim");
    }
    // SAFETY: the kernel just gave us this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Finds the running sandbox `name` and what confines it.
pub fn target(layout: &Layout, name: &str) -> Result<Target> {
    let cfg = crate::config::load_named(layout, name)?;
    let shim = control::shim_pid(name)?;
    // From here the pidfd pins the process: a recycled pid cannot fool us.
    let pidfd = pidfd_open(shim)?;
    control::shim_pid(name)?;
    let state = layout.state_dir(name);
    let manifest = Manifest::load(&state.join(MANIFEST))?;
    Ok(Target {
        shim,
        pidfd,
        confinement: Confinement::load(&cfg, &state, &manifest)?,
        userns: cfg.container.private_users.is_some(),
    })
}

/// Moves this process into the shim's cgroups, so what runs is counted
/// and limited with the service (and stopped with it).
pub fn join_cgroup(shim: Pid) -> Result<()> {
    let text = std::fs::read_to_string(format!("/proc/{shim}/cgroup")).context("reading the sandbox's cgroups")?;
    let me = std::process::id().to_string();
    let unified = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "/sys/fs/cgroup".to_string()
    } else {
        "/sys/fs/cgroup/unified".to_string()
    };
    let mut joined = 0;
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(id), Some(ctrl), Some(path)) = (f.next(), f.next(), f.next()) else { continue };
        let base =
            if id == "0" { unified.clone() } else { format!("/sys/fs/cgroup/{}", ctrl.trim_start_matches("name=")) };
        let procs = Path::new(&base).join(path.trim_start_matches('/')).join("cgroup.procs");
        if !procs.exists() {
            // A v1 hierarchy this host does not mount where we look.
            tracing::debug!("{} not found: not joined", procs.display());
            continue;
        }
        std::fs::write(&procs, &me).with_context(|| format!("joining {}", procs.display()))?;
        joined += 1;
    }
    if joined == 0 {
        bail!("found none of the sandbox's cgroups under /sys/fs/cgroup");
    }
    Ok(())
}

fn ns_differs(shim: Pid, ns: &str) -> bool {
    let a = std::fs::read_link(format!("/proc/{shim}/ns/{ns}"));
    let b = std::fs::read_link(format!("/proc/self/ns/{ns}"));
    a.is_ok() && a.ok() != b.ok()
}

/// Enters every namespace the sandbox has. The pid namespace applies to
/// children only: fork after this.
pub fn enter(t: &Target) -> Result<()> {
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWCGROUP;
    // Joining the namespace one is already in is an error.
    if ns_differs(t.shim, "net") {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    if t.userns && ns_differs(t.shim, "user") {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    nix::sched::setns(&t.pidfd, flags).context("entering the sandbox's namespaces")?;
    std::env::set_current_dir("/").context("chdir / in the sandbox")?;
    Ok(())
}

/// In the child, after `enter` and fork: become the sandbox's root and
/// take the service's confinement, all but seccomp (see `Confinement::apply`).
pub fn confine(t: &Target, selinux: bool) -> Result<()> {
    if t.userns {
        super::userns::become_root()?;
    }
    t.confinement.apply(super::confine::Role::Joined, selinux)
}
