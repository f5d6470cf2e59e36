//! `sandbox-service clone SOURCE DEST`: a copy of a sandbox's state with
//! its own label and units.

use crate::clone::{self as copy, Copier};
use crate::config::{self, SandboxConfig};
use crate::label::{self, Security};
use crate::layout::{Layout, MANIFEST, TREE};
use crate::manifest::Manifest;
use crate::names::check_sandbox_name;
use crate::state::{self, Op, Txn};
use crate::{interrupt, sandbox, units};
use anyhow::{Context, Result};
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
    /// Give up (and leave nothing) if the copy takes longer than DURATION.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub timeout: String,
}

/// Says that `key=` (host `what` of sandbox `src`) is not copied, if it
/// has any; whether it had.
fn not_copied<T: std::fmt::Display>(key: &str, what: &str, list: &[T], src: &str, dest: &std::path::Path) -> bool {
    if list.is_empty() {
        return false;
    }
    let items: Vec<String> = list.iter().map(T::to_string).collect();
    eprintln!(
        "note: {key}= is not copied ({}): the host {what} are {src}'s; add others to {}",
        items.join(" "),
        dest.display()
    );
    true
}

pub fn run(layout: &Layout, a: Args, quiet: bool) -> Result<()> {
    check_sandbox_name(&a.source)?;
    check_sandbox_name(&a.dest)?;
    let security: Security = a.security.parse()?;
    let limit = crate::shim::service::parse_timespan(&a.timeout)
        .with_context(|| format!("--timeout {}", a.timeout))?
        .unwrap_or(std::time::Duration::MAX);
    interrupt::install()?;
    let _lock = state::lock(layout)?;
    let src = config::load_named(layout, &a.source)?;
    // Held for the copy: the source cannot start while it is read.
    let _stopped = sandbox::hold_stopped(layout, &src, "copied")?;
    let unit = units::unit_name(&a.dest, &src.payload, &src.pulled)?;
    sandbox::check_unused(layout, &a.dest, &unit)?;
    let configs = config::load_all(layout)?;
    let label = sandbox::choose_label(&security, &configs)?;
    let mut container = src.container.clone();
    if container.address.is_some() {
        // A copy is another host on the bridge.
        container.address = Some(sandbox::choose_address(&configs)?);
    }
    // Its host ports and host paths are the source's.
    let dest_config = layout.config_file(&a.dest);
    if not_copied("publish", "ports", &container.publish, &src.name, &dest_config) {
        container.publish.clear();
        // Its sockets were those ports.
        container.socket_activate = false;
        container.idle_stop = None;
    }
    if not_copied("publish-socket", "paths", &container.publish_sockets, &src.name, &dest_config) {
        container.publish_sockets.clear();
    }
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
    let src_state = layout.state_dir(&src.name);
    copy::check_room(copy::measure(&src_state.join(TREE))?, &built)?;
    let old = Manifest::load(&src_state.join(MANIFEST))?;
    // Its own keys, made while the tree is copied: a clone never shares
    // one with its source.
    let fresh: Vec<_> = old.plan.keys.iter().filter(|k| k.how.is_new()).cloned().collect();
    let keys = crate::plan::keys::start_all(&fresh, txn.work_dir(), &cfg.name)?;
    let keep = |_: &std::path::Path| true;
    let mut copier = Copier::new(&keep, &format!("cloning {} to {}", src.name, a.dest))
        .with_deadline(limit, &format!("give it more time with --timeout (now {})", a.timeout));
    copier.copy(&src_state.join(TREE), &built.join(TREE))?;
    let stats = copier.stats;
    if let (Some(from), Some(to)) = (src.container.private_users, cfg.container.private_users) {
        crate::runtime::userns::shift_tree(&built.join(TREE), from, to)?;
    }
    let mut made = Vec::new();
    for k in keys {
        made.extend(k.finish(layout, &built.join(TREE), cfg.container.private_users)?);
    }
    // The source's base, with the clone's own keys measured into it: they
    // are what the clone was made with, no change of the admin's.
    crate::pristine::copy_for_clone(&src_state, &built)?;
    if let Some(base) = crate::pristine::Baseline::load(&built)? {
        crate::pristine::record_made(&old.plan, &built.join(TREE), &built, base, &made)?;
    }
    let label_note = label::label_tree(&built.join(TREE), cfg.label.as_ref())?;
    Manifest { plan: old.plan, stats, label_note: label_note.clone(), cloned_from: Some(src.name.clone()) }
        .write(&built.join(MANIFEST))?;
    sandbox::commit_new(txn, layout, &cfg, &built)?;
    drop(_lock);
    sandbox::announce_new(layout, &cfg);
    if !quiet {
        println!("cloned sandbox {} to {}: unit {}, label {}", src.name, cfg.name, cfg.unit, label_note);
    }
    Ok(())
}
