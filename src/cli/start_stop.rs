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
    if let Err(e) = systemd::unit_job(&conn, &cfg.unit, job) {
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
        println!("{verb} {}", cfg.unit);
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
