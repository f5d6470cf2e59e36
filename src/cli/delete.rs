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

/// What delete needs of a sandbox whose config cannot be read: its unit,
/// known by the first line create writes in it.
fn salvage(layout: &Layout, name: &str) -> Result<config::SandboxConfig> {
    let mark = format!("# Made by sandbox-service for sandbox {name};");
    let mut unit = None;
    if let Ok(rd) = std::fs::read_dir(layout.unit_dir()) {
        for e in rd.flatten() {
            let p = e.path();
            if !e.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let first = std::fs::read_to_string(&p).ok().and_then(|t| t.lines().next().map(str::to_string));
            let own_socket = e.file_name().to_string_lossy().starts_with(&format!("sandbox-service-{name}@"));
            if first.is_some_and(|l| l.starts_with(&mark)) && !own_socket {
                unit = p.file_name().map(|n| n.to_string_lossy().into_owned());
            }
        }
    }
    let unit = unit.unwrap_or_else(|| format!("{name}.service"));
    let payload = match unit.split_once('@') {
        Some((svc, _)) => config::Payload::Services(vec![format!("{svc}.service")]),
        None => config::Payload::Command(vec!["/bin/true".into()]),
    };
    Ok(config::SandboxConfig {
        name: name.to_string(),
        unit,
        payload,
        pulled: vec![],
        packages: vec![],
        security: crate::label::Security::Inherit,
        label: None,
        created: 0,
        container: Default::default(),
    })
}

/// Stops the sandbox's listening sockets and their proxies, if systemd
/// runs them.
fn stop_sockets(layout: &Layout, cfg: &config::SandboxConfig) -> Result<()> {
    let units = sandbox::socket_unit_files(&layout.unit_dir(), &cfg.name);
    if units.is_empty() || !layout.is_live() {
        return Ok(());
    }
    let Ok(conn) = systemd::connect() else { return Ok(()) };
    for u in units.iter().filter(|u| u.ends_with(".socket")).chain(units.iter().filter(|u| u.ends_with(".service"))) {
        if systemd::is_running(&systemd::active_state(&conn, u)?) {
            systemd::stop_unit(&conn, u)?;
        }
    }
    Ok(())
}

pub fn run(layout: &Layout, a: Args, quiet: bool) -> Result<()> {
    check_sandbox_name(&a.name)?;
    interrupt::install()?;
    let _lock = state::lock(layout)?;
    let cfg = match config::load_named(layout, &a.name) {
        Ok(c) => c,
        // A damaged config must not keep a sandbox from going: what it
        // owns is found from the unit create wrote for it.
        Err(e) if a.force && layout.config_file(&a.name).exists() => {
            eprintln!("sandbox-service: {e:#}");
            eprintln!("sandbox-service: deleting '{}' by its unit and state directory", a.name);
            salvage(layout, &a.name)?
        }
        Err(e) => return Err(e),
    };
    if let Some(st) = sandbox::unit_state(layout, &cfg.unit)? {
        if systemd::is_running(&st) && !a.force {
            bail!(
                "sandbox '{}' is running ({} is {st}): stop it with systemctl stop {}, or use --force",
                cfg.name,
                cfg.unit,
                cfg.unit
            );
        }
    }
    // Its sockets before it: a connection must not start what is deleted.
    stop_sockets(layout, &cfg)?;
    if let Some(st) = sandbox::unit_state(layout, &cfg.unit)? {
        if systemd::is_running(&st) && a.force {
            let conn = systemd::connect().map_err(anyhow::Error::msg)?;
            systemd::stop_unit(&conn, &cfg.unit)?;
        }
    }
    // Nothing of it may start again while its files go.
    let _stopped = sandbox::hold_stopped(layout, &cfg, "deleted")?;
    let (others, damaged) = config::load_all_lenient(layout)?;
    let (mut paths, dirs) = sandbox::owned_paths(layout, &cfg, &others)?;
    if !damaged.is_empty() {
        // A damaged config may be a sandbox of the same service: its
        // start-all target stays.
        paths.retain(|p| !p.to_string_lossy().ends_with("-sandboxes.target"));
    }
    Txn::begin(layout, &cfg.name, Op::Delete)?.commit_delete(&paths, &dirs)?;
    if let Some(run_lock) = _stopped {
        crate::runtime::control::remove_all(&cfg.name, run_lock);
    }
    // The bridge and the table go with the last private sandbox.
    let private = |c: &config::SandboxConfig| c.container.network == config::Network::Private;
    let rest: Vec<config::SandboxConfig> = others.into_iter().filter(|o| o.name != cfg.name).collect();
    if layout.is_live() && private(&cfg) {
        let r = if !rest.iter().any(private) && damaged.is_empty() {
            crate::network::remove_host()
        } else if crate::network::netlink::Netlink::index(crate::network::BRIDGE).is_some() {
            // Its forwards go: its address may be handed out again.
            crate::network::firewall::ensure(&crate::network::forwards(&rest), crate::network::ipv6_on())
        } else {
            Ok(())
        };
        if let Err(e) = r {
            eprintln!("sandbox-service: the private network's rules were not updated: {e:#}");
        }
    }
    drop(_lock);
    sandbox::reload_systemd(layout);
    if !quiet {
        println!("deleted sandbox {}", cfg.name);
    }
    Ok(())
}
