//! `sandbox-service list`: every sandbox, one line each.

use crate::config::{self, Payload};
use crate::layout::Layout;
use anyhow::Result;

/// List the sandboxes.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// One JSON array, for scripts.
    #[arg(long)]
    pub json: bool,
}

pub fn run(layout: &Layout, a: Args) -> Result<()> {
    // One damaged config hides none of the others; it is named, with the
    // mend, and the exit status says something is wrong.
    let (configs, damaged) = config::load_all_lenient(layout)?;
    let done = |damaged: Vec<anyhow::Error>| -> Result<()> {
        for e in &damaged {
            eprintln!("sandbox-service: error: {e:#}");
        }
        match damaged.len() {
            0 => Ok(()),
            n => anyhow::bail!("{n} sandbox configuration(s) damaged: see above"),
        }
    };
    // What a running sandbox maps that the host replaced since it started.
    let scan = layout.is_live().then(crate::stalemaps::Scan::new);
    let stale = |name: &str| match (&scan, crate::runtime::control::shim_pid(name)) {
        (Some(scan), Ok(shim)) => scan.of_sandbox(shim.as_raw()),
        _ => Vec::new(),
    };
    if a.json {
        let v: Vec<serde_json::Value> = configs
            .iter()
            .map(|c| {
                let mut v = super::status::summary(c);
                v["restart_needed"] = serde_json::json!(stale(&c.name).into_iter().map(|(f, _)| f).collect::<Vec<_>>());
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return done(damaged);
    }
    println!("{:<20} {:<32} {:<14} RUNS", "NAME", "UNIT", "LABEL");
    for c in &configs {
        let runs = match &c.payload {
            Payload::Services(s) => s.join(" "),
            Payload::Command(cmd) => shell_words::join(cmd),
        };
        let label = c.label.map_or_else(|| "inherit".into(), |l| l.to_string());
        let mark = if stale(&c.name).is_empty() { "" } else { "  [restart needed]" };
        println!("{:<20} {:<32} {:<14} {runs}{mark}", c.name, c.unit, label);
    }
    done(damaged)
}
