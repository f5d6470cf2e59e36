//! `sandbox-service security NAME [--json]`: an exposure score in the
//! manner of `systemd-analyze security` for what the sandbox's service
//! really gets, beside the same score for its bare host unit
//! (exposure.rs), so the admin sees what the sandbox buys.

use crate::config;
use crate::exposure::{self, Facts, ITEMS};
use crate::layout::Layout;
use crate::names::ServiceName;
use anyhow::{Context, Result};
use serde_json::json;

/// Score what the sandbox keeps its service from, against the bare unit.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  sandbox-service security web1")]
pub struct Args {
    /// One JSON object, for scripts.
    #[arg(long)]
    pub json: bool,
    /// The sandbox's name.
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub name: String,
}

/// The service's main process: the shim's first child (the shim is the
/// sandbox's PID 1 and confines what it starts, not itself).
fn service_pid(name: &str) -> Option<i32> {
    let shim = crate::runtime::control::shim_pid(name).ok()?;
    let children = std::fs::read_to_string(format!("/proc/{shim}/task/{shim}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

pub fn run(layout: &Layout, a: Args) -> Result<()> {
    let cfg = config::load_named(layout, &a.name)?;
    let unit = cfg.single_service().map(ServiceName::parse).transpose()?;
    let resolved = unit.as_ref().map(|u| crate::unitpath::resolve(layout, u)).transpose()?;
    let service_user = resolved
        .as_ref()
        .and_then(|r| r.file.get("Service", "User").map(str::to_string))
        .is_some_and(|u| !u.is_empty() && u != "root" && u != "0");
    let configured = exposure::of_config(&cfg, service_user);
    let sandbox = match service_pid(&cfg.name).filter(|_| layout.is_live()) {
        Some(pid) => exposure::of_process(pid, &configured).unwrap_or(configured),
        None => configured,
    };
    let bare = resolved.as_ref().map(|r| {
        let get = |k: &str| r.file.get("Service", k).map(str::to_string);
        exposure::of_unit(&get, format!("its unit file {}", r.fragment.display()))
    });
    let bare_name = unit.as_ref().map(|u| u.unit.clone());
    if a.json {
        let items: Vec<_> = ITEMS
            .iter()
            .map(|i| {
                json!({"id": i.id, "exposure": i.what, "weight": i.weight, "sandbox": sandbox.protected(i.id),
                       "bare": bare.as_ref().map(|b| b.protected(i.id)), "fix": i.fix})
            })
            .collect();
        let v = json!({
            "sandbox": {"name": cfg.name, "score": sandbox.score(), "verdict": exposure::verdict(sandbox.score()),
                        "from": sandbox.source, "capabilities": sandbox.caps},
            "bare": bare.as_ref().map(|b| json!({"unit": bare_name, "score": b.score(), "verdict": exposure::verdict(b.score()),
                                                  "from": b.source, "capabilities": b.caps})),
            "items": items,
        });
        println!("{}", serde_json::to_string_pretty(&v).context("printing JSON")?);
        return Ok(());
    }
    let word = |f: Option<&Facts>, id: &str| match f.map(|f| (f.protected(id), id)) {
        None => "-".to_string(),
        Some((_, "caps")) => {
            let c = f.map_or(0, |f| f.caps.len());
            if c == 0 {
                "none".to_string()
            } else {
                format!("{c} held")
            }
        }
        Some((Some(true), _)) => "protected".to_string(),
        Some((Some(false), _)) => "EXPOSED".to_string(),
        Some((None, _)) => "unknown".to_string(),
    };
    println!("sandbox {} from {}", cfg.name, sandbox.source);
    if let (Some(b), Some(n)) = (&bare, &bare_name) {
        println!("bare {n} from {}", b.source);
    }
    println!("{:<46} {:<10} {:<10} {:>6}", "exposure", "sandbox", "bare", "weight");
    for i in &ITEMS {
        println!("{:<46} {:<10} {:<10} {:>6}", i.what, word(Some(&sandbox), i.id), word(bare.as_ref(), i.id), i.weight);
    }
    if !sandbox.caps.is_empty() {
        println!("capabilities the sandbox's service holds: {}", sandbox.caps.join(" "));
    }
    for i in ITEMS.iter().filter(|i| !i.fix.is_empty()) {
        let open = if i.id == "caps" { !sandbox.caps.is_empty() } else { sandbox.protected(i.id) != Some(true) };
        if open {
            println!("fix: {}: {}", i.what, i.fix);
        }
    }
    let s = sandbox.score();
    print!("exposure: sandbox {s:.1} {}", exposure::verdict(s));
    match (&bare, &bare_name) {
        (Some(b), Some(n)) => println!(
            ", bare {n} {:.1} {} (0.0 confined, 10.0 exposed, as systemd-analyze security)",
            b.score(),
            exposure::verdict(b.score())
        ),
        _ => println!(" (a command sandbox has no bare unit to compare with)"),
    }
    Ok(())
}
