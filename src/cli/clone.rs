//! `sandbox-service clone SOURCE DEST`: a copy of a sandbox's state with
//! its own label and units.

use crate::clone::{self as copy, Stats};
use crate::config::{self, SandboxConfig};
use crate::label::{self, Security};
use crate::layout::{Layout, MANIFEST, TREE};
use crate::manifest::Manifest;
use crate::names::check_sandbox_name;
use crate::state::{self, Op, Txn};
use crate::{interrupt, sandbox, systemd, units};
use anyhow::{bail, Result};
use std::fs;
use std::os::unix::fs::DirBuilderExt;

/// Copy a stopped sandbox under a new name, with a new label and units.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub source: String,
    pub dest: String,
    /// SELinux labelling of the copy: dynamic, static,label=s0:cX,cY, or inherit.
    #[arg(short = 's', long, value_name = "SECURITY", default_value = "dynamic")]
    pub security: String,
}

pub fn run(layout: &Layout, a: Args, quiet: bool) -> Result<()> {
    check_sandbox_name(&a.source)?;
    check_sandbox_name(&a.dest)?;
    let security: Security = a.security.parse()?;
    interrupt::install()?;
    let _lock = state::lock(layout)?;
    let src = config::load_named(layout, &a.source)?;
    if let Some(st) = sandbox::unit_state(layout, &src.unit)? {
        if systemd::is_running(&st) {
            bail!(
                "sandbox '{}' is running ({st}): stop it first, so that its files do not change while copied",
                src.name
            );
        }
    }
    let unit = units::unit_name(&a.dest, &src.payload)?;
    sandbox::check_unused(layout, &a.dest, &unit)?;
    let configs = config::load_all(layout)?;
    let label = sandbox::choose_label(&security, &configs)?;
    let mut container = src.container.clone();
    if container.private_users.is_some() {
        // Its own ids, like its own label: the copy is a different user.
        container.private_users = Some(sandbox::choose_id_range(layout, &configs)?);
    }
    let cfg = SandboxConfig {
        name: a.dest.clone(),
        unit,
        security,
        label,
        created: sandbox::now(),
        container,
        ..src.clone()
    };

    let txn = Txn::begin(layout, &a.dest, Op::Create)?;
    let built = txn.work_dir().join("state");
    fs::DirBuilder::new().mode(0o700).create(&built)?;
    let mut stats = Stats::default();
    let src_state = layout.state_dir(&src.name);
    let mut progress = crate::progress::Progress::new(&format!("cloning {} to {}", src.name, a.dest));
    copy::copy(&src_state.join(TREE), &built.join(TREE), &|_| true, &mut stats, &mut progress)?;
    drop(progress);
    if let (Some(from), Some(to)) = (src.container.private_users, cfg.container.private_users) {
        crate::runtime::userns::shift_tree(&built.join(TREE), from, to)?;
    }
    let old = Manifest::load(&src_state.join(MANIFEST))?;
    let label_note = label::label_tree(&built.join(TREE), cfg.label.as_ref())?;
    Manifest { plan: old.plan, stats, label_note: label_note.clone(), cloned_from: Some(src.name.clone()) }
        .write(&built.join(MANIFEST))?;
    sandbox::commit_new(txn, layout, &cfg, &built)?;
    drop(_lock);
    sandbox::reload_systemd(layout);
    if !quiet {
        println!("cloned sandbox {} to {}: unit {}, label {}", src.name, cfg.name, cfg.unit, label_note);
    }
    Ok(())
}
