//! Starting one command of a service the way systemd would: its
//! environment, user, group, directory and umask, a session of its own and
//! a clean signal state.

use super::service::{expand_words, Cmd, Service};
use crate::envfile::env_assignments;
use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::unistd::{Gid, Group, Pid, Uid, User};
use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::runtime::PATH;

/// Who a service runs as, resolved once per start.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: Option<User>,
    pub gid: Option<Gid>,
}

pub fn identity(s: &Service) -> Result<Identity> {
    let user = match &s.user {
        None => None,
        Some(u) => Some(
            match u.parse::<u32>() {
                Ok(n) => User::from_uid(Uid::from_raw(n))?,
                Err(_) => User::from_name(u)?,
            }
            .ok_or_else(|| anyhow!("{}: User={u} does not exist in the sandbox's /etc/passwd", s.unit))?,
        ),
    };
    let gid = match &s.group {
        None => user.as_ref().map(|u| u.gid),
        Some(g) => Some(match g.parse::<u32>() {
            Ok(n) => Gid::from_raw(n),
            Err(_) => {
                Group::from_name(g)?
                    .ok_or_else(|| anyhow!("{}: Group={g} does not exist in the sandbox's /etc/group", s.unit))?
                    .gid
            }
        }),
    };
    Ok(Identity { user, gid })
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
    if let Some(u) = &id.user {
        env.push(("USER".into(), u.name.clone()));
        env.push(("LOGNAME".into(), u.name.clone()));
        env.push(("HOME".into(), u.dir.display().to_string()));
        env.push(("SHELL".into(), u.shell.display().to_string()));
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
        let dir = if dir == "~" {
            id.user.as_ref().map_or("/root".into(), |u| u.dir.display().to_string())
        } else {
            dir.clone()
        };
        c.current_dir(dir);
        cwd_optional = *optional;
    } else {
        c.current_dir("/");
    }
    let umask = s.umask;
    let user = id.user.as_ref().map(|u| (CString::new(u.name.as_str()).unwrap_or_default(), u.uid));
    let gid = id.gid;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
            nix::unistd::setsid()?;
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask as nix::libc::mode_t));
            if let Some(g) = gid {
                if let Some((name, _)) = &user {
                    nix::unistd::initgroups(name, g)?;
                } else {
                    nix::unistd::setgroups(&[])?;
                }
                nix::unistd::setgid(g)?;
            }
            if let Some((_, uid)) = &user {
                nix::unistd::setuid(*uid)?;
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
