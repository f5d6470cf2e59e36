//! `sandbox-service runtime-dir NAME up|down`: what the sandbox's unit
//! runs before it starts and after it stops (`ExecStartPre=+`,
//! `ExecStopPost=+`), in the host's mount namespace, so that the
//! sandbox's /run is at /run/sandbox-service/NAME/run on the host for as
//! long as it runs (runtime/hostrun.rs).

use crate::config;
use crate::layout::Layout;
use crate::runtime::hostrun;
use anyhow::{Context, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The sandbox's name.
    pub name: String,
    /// up: a fresh tmpfs; down: gone.
    #[arg(value_parser = ["up", "down"])]
    pub what: String,
}

pub fn run(layout: &Layout, a: Args) -> Result<()> {
    layout.require_live()?;
    let cfg = config::load_named(layout, &a.name)?;
    // systemd (252) runs even a `+` command in the unit's own mount
    // namespace when it has one (PrivateMounts=): the host's is pid 1's.
    let host = std::fs::File::open("/proc/1/ns/mnt").context("opening the host's mount namespace")?;
    nix::sched::setns(host, nix::sched::CloneFlags::CLONE_NEWNS).context("entering the host's mount namespace")?;
    match a.what.as_str() {
        "up" => hostrun::up(&cfg.name, &cfg.container.tmpfs.options("/run", 0o755), cfg.container.private_users),
        _ => hostrun::down(&cfg.name),
    }
}
