//! `sandbox-service status NAME`: a sandbox's config, label, paths, units.

use crate::config::{self, Payload, SandboxConfig};
use crate::layout::{Layout, MANIFEST, TREE};
use crate::manifest::Manifest;
use crate::{sandbox, units};
use anyhow::Result;
use serde_json::json;

/// Show one sandbox.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The sandbox's name.
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub name: String,
    /// One JSON object, for scripts.
    #[arg(long)]
    pub json: bool,
    /// Also print each private path and why it is private.
    #[arg(long)]
    pub explain: bool,
}

/// The fields `list --json` and `status --json` share.
pub fn summary(c: &SandboxConfig) -> serde_json::Value {
    let (services, command) = match &c.payload {
        Payload::Services(s) => (s.clone(), None),
        Payload::Command(cmd) => (vec![], Some(cmd.clone())),
    };
    json!({
        "name": c.name,
        "unit": c.unit,
        "services": services,
        "command": command,
        "packages": c.packages,
        "security": c.security.mode(),
        "label": c.label.map(|l| l.to_string()),
        "created": c.created,
        "network": network_name(c.container.network),
        "address": c.container.address.map(|a| a.to_string()),
        "address6": c.container.address.map(|a| crate::network::address6(a).to_string()),
        "publish": c.container.publish.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "socket_activate": c.container.socket_activate,
        "idle_stop": c.container.idle_stop,
        "runtime_dir": crate::runtime::hostrun::dir(&c.name),
        "publish_sockets": c.container.publish_sockets.iter().map(|p| json!({"host": p.host, "path": p.path})).collect::<Vec<_>>(),
    })
}

fn network_name(n: crate::config::Network) -> &'static str {
    match n {
        crate::config::Network::Host => "host",
        crate::config::Network::None => "none",
        crate::config::Network::Private => "private",
    }
}

pub fn run(layout: &Layout, a: Args) -> Result<()> {
    let c = config::load_named(layout, &a.name)?;
    let path = layout.config_file(&c.name);
    let state_dir = layout.state_dir(&c.name);
    let manifest = Manifest::load(&state_dir.join(MANIFEST))?;
    let mut unit_files = vec![layout.unit_dir().join(&c.unit)];
    if let Some(svc) = c.single_service() {
        unit_files.push(layout.unit_dir().join(units::target_name(svc)?));
    }
    let sockets: Vec<(String, Option<String>)> = units::activated(&c)
        .iter()
        .map(|p| {
            let u = units::socket_name(&c.name, p);
            let st = sandbox::unit_state(layout, &u)?;
            unit_files.push(layout.unit_dir().join(&u));
            unit_files.push(layout.unit_dir().join(units::proxy_name(&c.name, p)));
            Ok((u, st))
        })
        .collect::<Result<_>>()?;
    let state = sandbox::unit_state(layout, &c.unit)?;
    // Only a running unit has a main PID, an uptime and memory to show.
    let running = match &state {
        Some(st) if crate::systemd::is_running(st) => {
            crate::systemd::connect().ok().and_then(|conn| crate::systemd::runtime(&conn, &c.unit).ok())
        }
        _ => None,
    };
    // A unit that is not up may have said why in its log.
    let hints = match &state {
        Some(st) if !crate::systemd::is_running(st) && layout.is_live() => {
            crate::diagnose::hints(layout, &c.name, &manifest.plan, &crate::diagnose::journal(&c.unit, 200))
        }
        _ => Vec::new(),
    };
    // Replaced on the host since it started: what the running service maps.
    let stale = match (&running, crate::runtime::control::shim_pid(&c.name)) {
        (Some(_), Ok(shim)) => crate::stalemaps::of_sandbox(shim.as_raw()),
        _ => Vec::new(),
    };
    if a.json {
        let mut v = summary(&c);
        v["hints"] = json!(hints);
        v["restart_needed"] = json!(stale.iter().map(|(f, _)| f).collect::<Vec<_>>());
        v["config"] = json!(path);
        v["state_dir"] = json!(state_dir);
        v["tree"] = json!(state_dir.join(TREE));
        v["unit_files"] = json!(unit_files);
        v["label_note"] = json!(manifest.label_note);
        v["active_state"] = json!(state);
        v["running"] = json!(running);
        v["stats"] = json!(manifest.stats);
        v["private"] = json!(manifest.plan.private);
        v["bind_ports"] = json!(c.container.bind_ports);
        v["sockets"] = json!(sockets.iter().map(|(u, st)| json!({"unit": u, "active_state": st})).collect::<Vec<_>>());
        v["connect_ports"] = json!(c.container.connect_ports);
        if a.explain {
            v["plan"] = json!(manifest.plan);
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("sandbox:  {}", c.name);
    println!("unit:     {} ({})", c.unit, state.as_deref().unwrap_or("state unknown: systemd not reachable"));
    if let Some(r) = &running {
        let up = (sandbox::now() * 1_000_000).saturating_sub(r.active_since_usec) / 1_000_000;
        let mem = r.memory.map_or("not accounted".to_string(), |m| format!("{:.1} MiB", m as f64 / 1048576.0));
        println!("running:  pid {} ({}), up {}, memory {mem}", r.main_pid, r.sub_state, uptime(up));
    }
    if let Some(why) = crate::stalemaps::summary(&stale) {
        println!("restart:  {why} (sandbox-service restart --needed)");
    }
    match &c.payload {
        Payload::Services(s) => println!("services: {}", s.join(" ")),
        Payload::Command(cmd) => println!("command:  {}", shell_words::join(cmd)),
    }
    println!("packages: {}", if c.packages.is_empty() { "-".into() } else { c.packages.join(" ") });
    println!("security: {}, label {}", c.security.mode(), manifest.label_note);
    println!("network:  {}", super::describe::network_line(&c.container));
    for (u, st) in &sockets {
        println!("socket:   {u} ({})", st.as_deref().unwrap_or("state unknown"));
    }
    for l in super::describe::socket_lines(&c.name, &c.container) {
        let (k, v) = l.split_once(": ").unwrap_or(("", &l));
        println!("{:<9} {v}", format!("{k}:"));
    }
    println!("config:   {}", path.display());
    println!("state:    {}", state_dir.display());
    for u in &unit_files {
        println!("unit file: {}", u.display());
    }
    let s = &manifest.stats;
    println!(
        "private:  {} paths ({} files, {} dirs, {} links, {} bytes)",
        manifest.plan.private.len(),
        s.files,
        s.dirs,
        s.symlinks,
        s.bytes
    );
    if let Some(src) = &manifest.cloned_from {
        println!("cloned from: {src}");
    }
    for h in &hints {
        println!("hint:     {h}");
    }
    if a.explain {
        print!("{}", super::explain(layout, &manifest.plan));
        let auto = !manifest.plan.ports.is_empty();
        println!("{}", super::describe::ports_line("bind", &c.container.bind_ports, auto));
        println!("{}", super::describe::ports_line("connect", &c.container.connect_ports, false));
    }
    Ok(())
}

/// "3h 2min 5s" style, as systemctl prints it.
fn uptime(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}min {s}s"),
        _ => format!("{h}h {m}min {s}s"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn uptime_reads_like_systemctl() {
        assert_eq!(super::uptime(5), "5s");
        assert_eq!(super::uptime(125), "2min 5s");
        assert_eq!(super::uptime(3 * 3600 + 65), "3h 1min 5s");
    }
}
