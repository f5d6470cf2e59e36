//! `sandbox-service reload NAME | --all SVC`: the service's own
//! ExecReload= inside running sandboxes, through systemd, waiting for each.
//! `reload-now NAME` is what the unit's ExecReload= runs.

use crate::config;
use crate::layout::Layout;
use crate::names::ServiceName;
use crate::systemd::{self, Job};
use anyhow::{anyhow, bail, Result};

/// Reload a running sandbox, or every running sandbox of a service.
#[derive(clap::Args, Debug)]
#[command(after_help = "systemctl reload SVC.service reaches the sandboxes only while SVC.service itself is \
                        active (ReloadPropagatedFrom=); --all SVC reaches them either way.")]
pub struct Args {
    /// The sandbox's name.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub name: Option<String>,
    /// Every running sandbox of service SVC (e.g. apache2).
    #[arg(long, value_name = "SVC")]
    pub all: Option<String>,
}

/// Reload a running sandbox now and wait (its unit's ExecReload= runs this).
#[derive(clap::Args, Debug)]
pub struct NowArgs {
    /// The sandbox's name.
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub name: String,
}

pub fn run(layout: &Layout, a: Args, quiet: bool) -> Result<()> {
    layout.require_live()?;
    let conn = systemd::connect().map_err(|why| anyhow!("{why}: cannot reload"))?;
    let targets = match (&a.name, &a.all) {
        (Some(n), _) => vec![config::load_named(layout, n)?],
        (None, Some(svc)) => {
            let unit = ServiceName::parse(svc)?.unit;
            let mut out = Vec::new();
            for c in config::load_all(layout)?.into_iter().filter(|c| c.single_service() == Some(unit.as_str())) {
                // A sandbox starting or already reloading gets the reload queued after.
                let st = systemd::active_state(&conn, &c.unit)?;
                tracing::debug!("{}: {st}", c.unit);
                if matches!(st.as_str(), "active" | "reloading" | "activating") {
                    out.push(c);
                }
            }
            if out.is_empty() {
                if !quiet {
                    println!("no running sandbox of {unit}");
                }
                return Ok(());
            }
            out
        }
        (None, None) => unreachable!("clap requires one"),
    };
    let mut failed = Vec::new();
    for c in &targets {
        match systemd::unit_job(&conn, &c.unit, Job::Reload) {
            Ok(()) if !quiet => println!("reloaded {}", c.unit),
            Ok(()) => {}
            Err(e) => {
                eprintln!("sandbox-service: {e:#}: see journalctl -u {}", c.unit);
                failed.push(c.name.clone());
            }
        }
    }
    if !failed.is_empty() {
        bail!("{} of {} sandboxes failed to reload: {}", failed.len(), targets.len(), failed.join(" "));
    }
    Ok(())
}

pub fn now(a: NowArgs) -> Result<()> {
    crate::runtime::control::reload(&a.name)
}
