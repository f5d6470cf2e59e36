//! `sandbox-service delete NAME`: remove config, state and units.

use crate::config;
use crate::layout::Layout;
use crate::names::check_sandbox_name;
use crate::state::{self, Op, Txn};
use crate::{interrupt, sandbox, systemd};
use anyhow::{bail, Result};

/// Remove a sandbox: its config, state and units.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The sandbox's name.
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub name: String,
    /// Stop it first if it is running.
    #[arg(short, long)]
    pub force: bool,
}

pub fn run(layout: &Layout, a: Args, quiet: bool) -> Result<()> {
    check_sandbox_name(&a.name)?;
    interrupt::install()?;
    let _lock = state::lock(layout)?;
    let cfg = config::load_named(layout, &a.name)?;
    if let Some(st) = sandbox::unit_state(layout, &cfg.unit)? {
        if systemd::is_running(&st) {
            if !a.force {
                bail!(
                    "sandbox '{}' is running ({} is {st}): stop it with systemctl stop {}, or use --force",
                    cfg.name,
                    cfg.unit,
                    cfg.unit
                );
            }
            let conn = systemd::connect().map_err(anyhow::Error::msg)?;
            systemd::stop_unit(&conn, &cfg.unit)?;
        }
    }
    // Nothing of it may start again while its files go.
    let _stopped = sandbox::hold_stopped(layout, &cfg, "deleted")?;
    let others = config::load_all(layout)?;
    let (paths, dirs) = sandbox::owned_paths(layout, &cfg, &others)?;
    Txn::begin(layout, &cfg.name, Op::Delete)?.commit_delete(&paths, &dirs)?;
    drop(_lock);
    sandbox::reload_systemd(layout);
    if !quiet {
        println!("deleted sandbox {}", cfg.name);
    }
    Ok(())
}
