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
    let mine = std::fs::read_to_string("/proc/self/cgroup").context("reading this process's cgroups")?;
    let me = std::process::id().to_string();
    let unified = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "/sys/fs/cgroup".to_string()
    } else {
        "/sys/fs/cgroup/unified".to_string()
    };
    let (moves, already) = moves(&text, &mine);
    let mut joined = already;
    for (id, ctrl, path) in moves {
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

/// The shim's cgroups (`/proc/PID/cgroup` lines: id, controllers, path)
/// this process is not in yet, and how many it is already in. A write to
/// cgroup.procs takes the kernel's cgroup locks even where the process
/// already is (the root of most v1 hierarchies, for a service and for an
/// admin's shell alike): those are skipped.
fn moves<'a>(shim: &'a str, mine: &str) -> (Vec<(&'a str, &'a str, &'a str)>, usize) {
    let mut already = 0;
    let mut out = Vec::new();
    for line in shim.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(id), Some(ctrl), Some(path)) = (f.next(), f.next(), f.next()) else { continue };
        if mine.lines().any(|l| l == line) {
            already += 1;
        } else {
            out.push((id, ctrl, path));
        }
    }
    (out, already)
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

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_cgroups_not_shared_are_joined() {
        let shim = "9:name=systemd:/system.slice/a.service\n4:memory:/system.slice/a.service\n3:cpuset:/\n0::/system.slice/a.service\n";
        let mine = "9:name=systemd:/user.slice\n4:memory:/user.slice\n3:cpuset:/\n0::/user.slice\n";
        let (moves, already) = super::moves(shim, mine);
        assert_eq!(already, 1);
        assert_eq!(
            moves,
            [
                ("9", "name=systemd", "/system.slice/a.service"),
                ("4", "memory", "/system.slice/a.service"),
                ("0", "", "/system.slice/a.service")
            ]
        );
        // Already in all of them (a second execute from inside): nothing to write.
        assert_eq!(super::moves(shim, shim), (vec![], 4));
    }
}
