//! `sandbox-service start|stop|restart NAME`: systemd jobs for the
//! sandbox's unit, waiting for their result.

use crate::config;
use crate::layout::Layout;
use crate::systemd::{self, Job};
use anyhow::{anyhow, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The sandbox's name.
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub name: String,
}

/// Restart a sandbox through systemd and wait until it is up.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  sandbox-service restart web1\n  sandbox-service restart --needed")]
pub struct RestartArgs {
    /// Only if its service still runs a program or library the host's
    /// package manager replaced since it started; with no NAME, every
    /// such sandbox, one at a time, each up before the next.
    #[arg(long)]
    pub needed: bool,
    /// The sandbox's name.
    #[arg(required_unless_present = "needed", add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub name: Option<String>,
}

pub fn restart(layout: &Layout, a: RestartArgs, quiet: bool) -> Result<()> {
    let Some(name) = a.name.clone().filter(|_| !a.needed) else {
        return restart_needed(layout, a.name.as_deref(), quiet);
    };
    run(layout, Args { name }, Job::Restart, quiet)
}

/// `restart --needed`: in turn, each sandbox whose processes map a file
/// replaced on the host; each restart job ends when the unit is ready
/// (Type=notify: the shim's readiness), so the next waits for it.
fn restart_needed(layout: &Layout, only: Option<&str>, quiet: bool) -> Result<()> {
    layout.require_live()?;
    let configs = match only {
        Some(n) => vec![config::load_named(layout, n)?],
        None => config::load_all(layout)?,
    };
    let mut restarted = 0;
    // Read before the first restart: each restart changes only its own sandbox.
    let scan = crate::stalemaps::Scan::new();
    for c in &configs {
        let Ok(shim) = crate::runtime::control::shim_pid(&c.name) else { continue };
        let stale = scan.of_sandbox(shim.as_raw());
        let Some(why) = crate::stalemaps::summary(&stale) else { continue };
        if !quiet {
            println!("{}: {why}", c.name);
        }
        run(layout, Args { name: c.name.clone() }, Job::Restart, quiet)?;
        restarted += 1;
    }
    if restarted == 0 && !quiet {
        println!("no running sandbox needs a restart");
    }
    Ok(())
}

pub fn run(layout: &Layout, a: Args, job: Job, quiet: bool) -> Result<()> {
    layout.require_live()?;
    let cfg = config::load_named(layout, &a.name)?;
    let conn = systemd::connect().map_err(|why| anyhow!("{why}: cannot {job:?} {}", cfg.unit))?;
    // A socket-activated sandbox is reached through its sockets: they open
    // before it starts and close before it stops. With idle-stop only a
    // connection starts it (nothing else needs it, so it would stop).
    let sockets = crate::units::activated_sockets(&cfg);
    let mut job_of_unit = Some(job);
    match job {
        Job::Start | Job::Restart => {
            for s in &sockets {
                systemd::unit_job(&conn, s, Job::Start)?;
            }
            if cfg.container.idle_stop.is_some() && !systemd::is_running(&systemd::active_state(&conn, &cfg.unit)?) {
                job_of_unit = None;
            }
        }
        Job::Stop => {
            for s in &sockets {
                systemd::unit_job(&conn, s, Job::Stop)?;
            }
        }
        Job::Reload => {}
    }
    let mut result = match job_of_unit {
        Some(j) => systemd::unit_job(&conn, &cfg.unit, j),
        None => Ok(()),
    };
    if result.is_ok() && matches!(job_of_unit, Some(Job::Start | Job::Restart)) {
        // The sockets it offers the host come up once it has: a client
        // told "started" finds them there.
        for u in cfg.container.publish_sockets.iter().map(|p| crate::units::unix_socket_name(&cfg.name, p)) {
            if let Err(e) = systemd::unit_job(&conn, &u, Job::Start) {
                result = Err(e.context(format!("the sandbox started, but its socket {u} did not")));
                break;
            }
        }
    }
    if let Err(e) = result {
        // The unit's own last words say why; one line each after ours.
        let log = last_log_lines(&cfg.unit);
        if log.is_empty() {
            return Err(e.context(format!("see journalctl -u {}", cfg.unit)));
        }
        eprintln!("{log}");
        if let Ok(m) = crate::manifest::Manifest::load(&layout.state_dir(&cfg.name).join(crate::layout::MANIFEST)) {
            for h in crate::diagnose::hints(layout, &cfg.name, &m.plan, &crate::diagnose::journal(&cfg.unit, 50)) {
                eprintln!("hint: {h}");
            }
        }
        return Err(e.context(format!("the log lines above are the last of journalctl -u {}", cfg.unit)));
    }
    if !quiet {
        let verb = match job {
            Job::Start => "started",
            Job::Stop => "stopped",
            Job::Restart => "restarted",
            Job::Reload => "reloaded",
        };
        match job_of_unit {
            Some(_) => println!("{verb} {}", cfg.unit),
            None => println!("{verb} {}: {} starts on the first connection", sockets.join(" "), cfg.unit),
        }
    }
    Ok(())
}

fn last_log_lines(unit: &str) -> String {
    std::process::Command::new("journalctl")
        .args(["-u", unit, "-n", "8", "--no-pager", "-o", "cat", "-q"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim_end().to_string())
        .unwrap_or_default()
}
