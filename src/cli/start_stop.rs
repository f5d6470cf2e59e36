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
