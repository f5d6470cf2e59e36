//! `sandbox-service update NAME`: rewrites a sandbox's unit from its
//! .sandbox file, after [limits] were edited or the binary moved.

use crate::layout::Layout;
use crate::{config, sandbox, state, units};
use anyhow::{Context, Result};
use std::io::Write;

/// Rewrite a sandbox's unit from its .sandbox file (after editing [limits]).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The sandbox's name.
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub name: String,
}

pub fn run(layout: &Layout, a: Args, quiet: bool) -> Result<()> {
    let _lock = state::lock(layout)?;
    let cfg = config::load_named(layout, &a.name)?;
    let text = units::render_service(
        &cfg,
        &sandbox::exe()?,
        &sandbox::reload_sources(layout, &cfg)?,
        &sandbox::inherited_settings(layout, &cfg),
    )?;
    let path = layout.unit_dir().join(&cfg.unit);
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    if old == text {
        if !quiet {
            println!("{} is up to date", cfg.unit);
        }
        return Ok(());
    }
    // Written beside and renamed: systemd never reads half a unit.
    let mut tmp = tempfile::Builder::new()
        .prefix(".sandbox-service-")
        .tempfile_in(layout.unit_dir())
        .context("temporary unit file")?;
    tmp.write_all(text.as_bytes())?;
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.persist(&path).with_context(|| format!("replacing {}", path.display()))?;
    drop(_lock);
    sandbox::reload_systemd(layout);
    if !quiet {
        // systemd applies cgroup limits to a running unit on reload; the
        // rest of the .sandbox file is read at each start anyway.
        println!("rewrote {}: limits apply now, the rest at the next start", cfg.unit);
    }
    Ok(())
}
