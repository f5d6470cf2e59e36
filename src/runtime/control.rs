//! How the tools reach a running sandbox: `run` keeps, in /run (root
//! only), the shim's pid and a control socket; `execute`, `connect` and
//! the unit's ExecReload= use them.

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

fn not_running(name: &str) -> anyhow::Error {
    anyhow!("sandbox '{name}' is not running: start it with sandbox-service start {name}")
}

/// The host pid of the running sandbox's shim (its PID 1), checked to be
/// what the pid file says, not a recycled pid.
pub fn shim_pid(name: &str) -> Result<Pid> {
    let text = std::fs::read_to_string(pid_file(name)).map_err(|_| not_running(name))?;
    let pid: i32 = text.trim().parse().map_err(|_| not_running(name))?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).map_err(|_| not_running(name))?;
    let want = format!("{}\0--name\0{name}\0", super::SHIM);
    if !cmdline.starts_with(want.as_bytes()) {
        bail!("sandbox '{name}' is not running (its pid file is stale): start it with sandbox-service start {name}");
    }
    Ok(Pid::from_raw(pid))
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
