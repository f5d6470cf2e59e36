//! How the tools reach a running sandbox: `run` keeps, in /run (root
//! only), a lock it holds for the sandbox's life, the shim's identity and
//! a control socket; `execute`, `connect`, `logrotate`, `clone`, `delete`
//! and the unit's ExecReload= use them.
//!
//! The shim is known by its pid and its start time (field 22 of
//! /proc/PID/stat, in clock ticks since boot): a pid that was recycled,
//! by a process of another sandbox with a forged argv say, has another
//! start time, and is refused.

use anyhow::{anyhow, bail, Context, Result};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

pub const DIR: &str = "/run/sandbox-service";

pub fn pid_file(name: &str) -> PathBuf {
    PathBuf::from(DIR).join(format!("{name}.pid"))
}

pub fn socket(name: &str) -> PathBuf {
    PathBuf::from(DIR).join(format!("{name}.control"))
}

fn lock_file(name: &str) -> PathBuf {
    PathBuf::from(DIR).join(format!("{name}.lock"))
}

fn not_running(name: &str) -> anyhow::Error {
    anyhow!("sandbox '{name}' is not running: start it with sandbox-service start {name}")
}

/// The start time of process `pid`, or None if there is none.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Records the shim `pid` as sandbox `name`'s.
pub fn write_pid_file(name: &str, pid: Pid) -> Result<()> {
    let start = start_time(pid.as_raw()).ok_or_else(|| anyhow!("the sandbox's init {pid} is gone"))?;
    let p = pid_file(name);
    let tmp = p.with_extension("pid.new");
    std::fs::write(&tmp, format!("{pid} {start}\n")).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &p).with_context(|| format!("writing {}", p.display()))
}

/// The host pid of the running sandbox's shim (its PID 1), checked to be
/// the very process `run` recorded, not one that took its pid since.
pub fn shim_pid(name: &str) -> Result<Pid> {
    let text = std::fs::read_to_string(pid_file(name)).map_err(|_| not_running(name))?;
    let mut f = text.split_whitespace();
    let (Some(Ok(pid)), Some(Ok(start))) = (f.next().map(str::parse::<i32>), f.next().map(str::parse::<u64>)) else {
        bail!(
            "sandbox '{name}' has a pid file in an old or broken form ({}): restart it (sandbox-service restart {name})",
            pid_file(name).display()
        );
    };
    let stale = || {
        anyhow!(
            "sandbox '{name}' is not running (its pid file {} names process {pid}, which is another process now): \
             start it with sandbox-service start {name}",
            pid_file(name).display()
        )
    };
    if start_time(pid) != Some(start) {
        return Err(stale());
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).map_err(|_| not_running(name))?;
    let want = format!("{}\0--name\0{name}\0", super::SHIM);
    if !cmdline.starts_with(want.as_bytes()) {
        return Err(stale());
    }
    Ok(Pid::from_raw(pid))
}

/// Held by `run` for as long as the sandbox runs, and by the commands that
/// must not see it start while they work (clone's copy, delete). flock(2):
/// the kernel drops it when the holder dies, however it dies.
pub struct RunLock {
    _file: std::fs::File,
}

/// The lock of sandbox `name`, or None while another process holds it.
pub fn try_run_lock(name: &str) -> Result<Option<RunLock>> {
    std::fs::DirBuilder::new().recursive(true).create(DIR).with_context(|| format!("creating {DIR}"))?;
    let p = lock_file(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .with_context(|| format!("opening {}", p.display()))?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on an fd we own.
    if unsafe { nix::libc::flock(file.as_raw_fd(), nix::libc::LOCK_EX | nix::libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(nix::libc::EWOULDBLOCK) {
            return Ok(None);
        }
        return Err(e).with_context(|| format!("locking {}", p.display()));
    }
    Ok(Some(RunLock { _file: file }))
}

/// Removes what a `run` that died without cleaning up left (pid file,
/// socket); called with the run lock held, so no live `run` owns them.
pub fn remove_stale(name: &str) {
    for p in [pid_file(name), socket(name)] {
        if let Err(e) = std::fs::remove_file(&p) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!("removing stale {}: {e}", p.display());
            }
        }
    }
}

/// Everything of sandbox `name` in /run once it is deleted: the stale
/// files, the empty build directory its starts mounted the root in, and
/// its lock, which `lock` (held by the caller) keeps until it is dropped.
pub fn remove_all(name: &str, lock: RunLock) {
    remove_stale(name);
    // A /run a crash left mounted in the build directory.
    if let Err(e) = super::hostrun::down(name) {
        tracing::warn!("{e:#}");
    }
    let build = PathBuf::from(DIR).join(name);
    if let Err(e) = std::fs::remove_dir(&build) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("removing {}: {e}", build.display());
        }
    }
    let _ = std::fs::remove_file(lock_file(name));
    drop(lock);
}

/// Asks the running sandbox to reload (the service's ExecReload= inside)
/// and waits for the result.
pub fn reload(name: &str) -> Result<()> {
    let mut s = UnixStream::connect(socket(name)).map_err(|_| not_running(name))?;
    s.write_all(b"reload\n").context("asking for a reload")?;
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line).context("waiting for the reload")?;
    match line.trim_end() {
        "ok" => Ok(()),
        "" => bail!("sandbox '{name}' stopped during the reload"),
        other => bail!("reloading sandbox '{name}': {}", other.trim_start_matches("error: ")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn our_own_start_time_is_read() {
        let me = std::process::id() as i32;
        let a = super::start_time(me).unwrap();
        assert!(a > 0);
        assert_eq!(super::start_time(me), Some(a));
        assert_eq!(super::start_time(i32::MAX), None);
    }
}
