//! `sandbox-service logrotate`: what the daily timer and cron job run.
//! Each running sandbox rotates its own /var/log with its own
//! /etc/logrotate.d rules and the host's defaults (see logrotateconf),
//! through `execute`, and is then reloaded so its service reopens its
//! logs; one failing, or hanging past its deadline (a postrotate script
//! that never returns), does not stop the others.

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
    let mut failed = Vec::new();
    let names: Vec<String> = if a.names.is_empty() {
        // The daily run: a damaged config stops no other sandbox's rotation.
        let (configs, damaged) = config::load_all_lenient(layout)?;
        for e in &damaged {
            eprintln!("sandbox-service: error: {e:#}");
            failed.push("(damaged config)".to_string());
        }
        configs
            .into_iter()
            // A command sandbox has no packages, so no rotation rules of its own.
            .filter(|c| matches!(c.payload, config::Payload::Services(_)))
            .map(|c| c.name)
            .filter(|n| control::shim_pid(n).is_ok())
            .collect()
    } else {
        for n in &a.names {
            config::load_named(layout, n)?;
        }
        a.names.clone()
    };
    crate::shim::service::parse_timespan(&a.timeout).with_context(|| format!("--timeout {}", a.timeout))?;
    let exe = std::env::current_exe().context("finding our own binary")?;
    for n in &names {
        // The runtime's copy of the host's configuration (logrotateconf);
        // a sandbox started by an older version has only the host's.
        let own = format!("{}/{}", crate::runtime::rootfs::RUN_DIR, crate::logrotateconf::FILE);
        let conf = if crate::runtime::hostrun::seen_from_host(n, &own).is_file() {
            own
        } else {
            "/etc/logrotate.conf".to_string()
        };
        // A process each: execute enters the sandbox's namespaces for good.
        let st = std::process::Command::new(&exe)
            .args(["-q", "execute", "--timeout", &a.timeout, n, "--", "logrotate", &conf])
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
        // Damaged configs count among the sandboxes: they were not rotated.
        let damaged = failed.iter().filter(|f| !names.contains(f)).count();
        bail!("logrotate failed in {} of {} sandboxes: {}", failed.len(), names.len() + damaged, failed.join(" "));
    }
    if names.is_empty() && !quiet {
        println!("no running sandbox");
    }
    Ok(())
}
