//! Starting one command of a service the way systemd would: its
//! environment, user, group, directory and umask, a session of its own and
//! a clean signal state.

use super::service::{expand_words, Cmd, Privilege, Service};
use crate::envfile::env_assignments;
use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::unistd::{Gid, Group, Pid, Uid, User};
use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::runtime::PATH;

/// Who a service runs as, resolved once per start.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// None: root, as the shim is.
    pub uid: Option<Uid>,
    pub gid: Option<Gid>,
    pub name: Option<String>,
    pub home: String,
    pub shell: String,
    /// Every group it is in: its user's (initgroups) and SupplementaryGroups=.
    pub groups: Vec<Gid>,
}

fn group_id(s: &Service, g: &str) -> Result<Gid> {
    Ok(match g.parse::<u32>() {
        Ok(n) => Gid::from_raw(n),
        Err(_) => {
            Group::from_name(g)?
                .ok_or_else(|| anyhow!("{}: group {g} does not exist in the sandbox's /etc/group", s.unit))?
                .gid
        }
    })
}

pub fn identity(s: &Service) -> Result<Identity> {
    let mut id = Identity { home: "/root".into(), shell: "/bin/sh".into(), ..Default::default() };
    let named = match &s.user {
        None => None,
        Some(u) => match u.parse::<u32>() {
            Ok(n) => User::from_uid(Uid::from_raw(n))?,
            Err(_) => User::from_name(u)?,
        },
    };
    match (named, &s.user, s.dynamic) {
        (Some(u), _, _) => {
            let c = CString::new(u.name.as_str()).context("a user name holds a NUL byte")?;
            id.groups = nix::unistd::getgrouplist(&c, u.gid).unwrap_or_else(|_| vec![u.gid]);
            id.uid = Some(u.uid);
            id.gid = Some(u.gid);
            id.home = u.dir.display().to_string();
            id.shell = u.shell.display().to_string();
            id.name = Some(u.name);
        }
        // No account of that name: DynamicUser= makes one for the service's life.
        (None, user, true) => {
            let n = s.dynamic_uid.ok_or_else(|| anyhow!("{}: DynamicUser= has no uid", s.unit))?;
            id.uid = Some(Uid::from_raw(n));
            id.gid = Some(Gid::from_raw(n));
            id.groups = vec![Gid::from_raw(n)];
            id.name = user.clone();
            id.home = "/".into();
            id.shell = "/usr/sbin/nologin".into();
        }
        (None, Some(u), false) => bail!("{}: User={u} does not exist in the sandbox's /etc/passwd", s.unit),
        (None, None, false) => {}
    }
    if let Some(g) = &s.group {
        let gid = group_id(s, g)?;
        id.gid = Some(gid);
        if !id.groups.contains(&gid) {
            id.groups.insert(0, gid);
        }
    }
    for g in &s.supplementary_groups {
        let gid = group_id(s, g)?;
        if !id.groups.contains(&gid) {
            id.groups.push(gid);
        }
    }
    Ok(id)
}

/// The service's environment: the shim's basics, then Environment=, then
/// EnvironmentFile= (which wins, as in systemd), then `extra`.
pub fn environment(s: &Service, id: &Identity, extra: &[(String, String)]) -> Result<Vec<(String, String)>> {
    let mut env: Vec<(String, String)> = vec![("PATH".into(), PATH.into())];
    for keep in ["LANG", "LC_ALL", "JOURNAL_STREAM", "TERM", "container"] {
        if let Ok(v) = std::env::var(keep) {
            env.push((keep.into(), v));
        }
    }
    if let (Some(name), Some(_)) = (&id.name, id.uid) {
        env.push(("USER".into(), name.clone()));
        env.push(("LOGNAME".into(), name.clone()));
        env.push(("HOME".into(), id.home.clone()));
        env.push(("SHELL".into(), id.shell.clone()));
    }
    // PassEnvironment=: what the manager's environment holds, here the shim's.
    for k in &s.pass_environment {
        if let Ok(v) = std::env::var(k) {
            env.push((k.clone(), v));
        }
    }
    env.extend(s.environment.iter().cloned());
    for (path, optional) in &s.environment_files {
        match std::fs::read_to_string(path) {
            Ok(text) => env.extend(env_assignments(&text)),
            Err(_) if *optional => {}
            Err(e) => bail!("{}: EnvironmentFile={path}: {e}", s.unit),
        }
    }
    env.extend(extra.iter().cloned());
    // UnsetEnvironment=: a name drops every assignment of it, NAME=VALUE that one.
    env.retain(|(k, v)| !s.unset_environment.iter().any(|u| u == k || *u == format!("{k}={v}")));
    Ok(env)
}

fn find_in_path(name: &str) -> Option<String> {
    if name.starts_with('/') {
        return Some(name.to_string());
    }
    PATH.split(':').map(|d| format!("{d}/{name}")).find(|p| std::path::Path::new(p).is_file())
}

/// Forks and executes `cmd`; Err if it could not be executed at all.
pub fn spawn(s: &Service, id: &Identity, env: &[(String, String)], cmd: &Cmd) -> Result<Pid> {
    let argv = if cmd.no_expand { cmd.argv.clone() } else { expand_words(&cmd.argv, env) };
    let path = find_in_path(&cmd.path).ok_or_else(|| anyhow!("{}: {} not found", s.unit, cmd.path))?;
    let mut c = Command::new(&path);
    c.arg0(&argv[0]).args(&argv[1..]).env_clear();
    for (k, v) in env {
        c.env(k, v);
    }
    let mut cwd_optional = false;
    if let Some((dir, optional)) = &s.working_directory {
        let dir = if dir == "~" { id.home.clone() } else { dir.clone() };
        c.current_dir(dir);
        cwd_optional = *optional;
    } else {
        c.current_dir("/");
    }
    let umask = s.umask;
    // `+` and `!`: root, as the shim is; `+` also without the unit's own
    // capability settings.
    let as_unit = cmd.privilege == Privilege::AsUnit;
    let (uid, gid, groups) = if as_unit { (id.uid, id.gid, id.groups.clone()) } else { (None, None, Vec::new()) };
    let bounding = if cmd.privilege == Privilege::Full { None } else { s.bounding.clone() };
    let ambient =
        if as_unit && uid.is_some_and(|u| !u.is_root()) { s.ambient.clone() } else { caps::CapsHashSet::new() };
    let filters = if cmd.privilege == Privilege::Full { Vec::new() } else { s.filters.clone() };
    let ignore_sigpipe = s.ignore_sigpipe;
    let mut landlock = if cmd.privilege == Privilege::Full { None } else { super::protect::ruleset(s)? };
    // SAFETY: the shim is single-threaded, so the child may allocate; it
    // only makes credential and capability calls before exec.
    unsafe {
        c.pre_exec(move || {
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
            nix::unistd::setsid()?;
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask as nix::libc::mode_t));
            // As systemd starts services: SIGPIPE ignored unless IgnoreSIGPIPE=no.
            if ignore_sigpipe {
                nix::sys::signal::signal(nix::sys::signal::Signal::SIGPIPE, nix::sys::signal::SigHandler::SigIgn)?;
            }
            apply_credentials(uid, gid, &groups, bounding.as_ref(), &ambient).map_err(std::io::Error::other)?;
            if let Some(rs) = landlock.take() {
                super::protect::enforce(rs).map_err(std::io::Error::other)?;
            }
            // Last: nothing the unit forbids is needed before exec.
            for f in &filters {
                crate::runtime::seccomp::load(f).map_err(std::io::Error::other)?;
            }
            Ok(())
        });
    }
    match c.spawn() {
        Ok(child) => Ok(Pid::from_raw(child.id() as i32)),
        Err(e) if cwd_optional && e.kind() == std::io::ErrorKind::NotFound => {
            c.current_dir("/");
            let child = c.spawn().with_context(|| format!("{}: executing {path}", s.unit))?;
            Ok(Pid::from_raw(child.id() as i32))
        }
        Err(e) => Err(e).with_context(|| format!("{}: executing {path}", s.unit)),
    }
}

/// In the child before exec: the bounding set cut to the unit's, the
/// groups, the gid and uid, and the ambient capabilities kept across the
/// uid change (systemd's order: keep-caps, setuid, raise).
fn apply_credentials(
    uid: Option<Uid>,
    gid: Option<Gid>,
    groups: &[Gid],
    bounding: Option<&caps::CapsHashSet>,
    ambient: &caps::CapsHashSet,
) -> Result<()> {
    use caps::CapSet;
    if let Some(b) = bounding {
        for cap in caps::all() {
            if !b.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
                caps::drop(None, CapSet::Bounding, cap)?;
            }
        }
    }
    if let Some(g) = gid {
        nix::unistd::setgroups(groups)?;
        nix::unistd::setgid(g)?;
    }
    if let Some(u) = uid {
        if !ambient.is_empty() {
            nix::sys::prctl::set_keepcaps(true)?;
        }
        nix::unistd::setuid(u)?;
        if !ambient.is_empty() {
            caps::set(None, CapSet::Inheritable, ambient)?;
            caps::set(None, CapSet::Effective, ambient)?;
            for cap in ambient {
                caps::raise(None, CapSet::Ambient, *cap)?;
            }
        }
    }
    Ok(())
}
