//! `sandbox-service logrotate`: what the daily timer and cron job run.
//! Each running sandbox rotates its own /var/log with its own
//! /etc/logrotate.d rules, through `execute`, and is then reloaded so its
//! service reopens its logs; one failing, or hanging past its deadline
//! (a postrotate script that never returns), does not stop the others.

use crate::config;
use crate::layout::Layout;
use crate::runtime::control;
use anyhow::{bail, Context, Result};

/// Rotate the logs inside every running sandbox (the timer and cron hook).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only these sandboxes (default: every running one).
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub names: Vec<String>,
    /// How long one sandbox's rotation may take before its logrotate and
    /// every process it started are ended (a systemd time span).
    #[arg(long, value_name = "DURATION", default_value = "10min")]
    pub timeout: String,
}

pub fn run(layout: &Layout, a: Args, quiet: bool) -> Result<()> {
    layout.require_live()?;
    let names: Vec<String> = if a.names.is_empty() {
        config::load_all(layout)?
            .into_iter()
            // A command sandbox has no packages, so no rotation rules of its own.
            .filter(|c| matches!(c.payload, config::Payload::Services(_)))
            .map(|c| c.name)
            .filter(|n| control::shim_pid(n).is_ok())
            .collect()
    } else {
        a.names.clone()
    };
    crate::shim::service::parse_timespan(&a.timeout).with_context(|| format!("--timeout {}", a.timeout))?;
    let exe = std::env::current_exe().context("finding our own binary")?;
    let mut failed = Vec::new();
    for n in &names {
        // A process each: execute enters the sandbox's namespaces for good.
        let st = std::process::Command::new(&exe)
            .args(["-q", "execute", "--timeout", &a.timeout, n, "--", "logrotate", "/etc/logrotate.conf"])
            .status()
            .with_context(|| format!("running logrotate in {n}"))?;
        if st.success() {
            // The service reopens its logs, whatever its postrotate script
            // managed inside (Debian's call invoke-rc.d, which may be denied).
            match control::reload(n) {
                Ok(()) if !quiet => println!("{n}: logs rotated, service reloaded"),
                Ok(()) => {}
                Err(e) => {
                    eprintln!("sandbox-service: {n}: logs rotated, but {e:#}");
                    failed.push(n.clone());
                }
            }
        } else if st.code() == Some(super::execute::TIMED_OUT) {
            eprintln!("sandbox-service: {n}: logrotate ended after --timeout {}", a.timeout);
            failed.push(n.clone());
        } else {
            eprintln!("sandbox-service: {n}: logrotate failed ({st})");
            failed.push(n.clone());
        }
    }
    if !failed.is_empty() {
        bail!("logrotate failed in {} of {} sandboxes: {}", failed.len(), names.len(), failed.join(" "));
    }
    if names.is_empty() && !quiet {
        println!("no running sandbox");
    }
    Ok(())
}
