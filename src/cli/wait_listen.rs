//! `sandbox-service wait-listen NAME PORT`: what a socket-activated
//! sandbox's proxy runs before it connects (ExecStartPre=). systemd calls
//! a Type=simple service ready as soon as it is forked, before it listens;
//! a proxy that connected then would have the first client refused.

use anyhow::{bail, Result};
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The sandbox's name.
    pub name: String,
    /// The TCP port inside the sandbox.
    pub port: u16,
}

/// Returns once a socket of the sandbox's network namespace listens on the
/// port; fails if the sandbox stops first. Unbounded: the proxy unit's
/// TimeoutStartSec= bounds it, as it bounds the service's own start.
pub fn run(a: Args) -> Result<()> {
    use crate::network::publish::{listening, Proto};
    let mut pause = Duration::from_millis(1);
    loop {
        // /proc/PID/net shows the namespace of PID: the shim's is the sandbox's.
        let pid = crate::runtime::control::shim_pid(&a.name)?;
        let mut found = false;
        for table in ["tcp", "tcp6"] {
            match std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) {
                Ok(t) => found |= !listening(&t, a.port, Proto::Tcp).is_empty(),
                Err(e) if table == "tcp" => bail!("reading the listening sockets of sandbox '{}': {e}", a.name),
                // No IPv6 in this kernel.
                Err(_) => {}
            }
        }
        if found {
            return Ok(());
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}
