//! `sandbox-service diff NAME [PATH] [--json]`: what each private file of
//! a sandbox is against what it got at create and against the host's copy
//! now (drift.rs). Reads only.

use crate::layout::{Layout, TREE};
use crate::manifest::Manifest;
use crate::pristine::Baseline;
use crate::{config, drift};
use anyhow::{bail, Result};
use std::os::fd::AsFd;

/// Show what a sandbox's private files changed since create.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  sandbox-service diff web1\n  sandbox-service diff web1 /etc/apache2 --json")]
pub struct Args {
    /// Print JSON, one object per file.
    #[arg(long)]
    pub json: bool,
    /// Only files unchanged since create are left out; with this, they are listed too.
    #[arg(long)]
    pub all: bool,
    /// The sandbox's name.
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub name: String,
    /// Only files at or under PATH (as the sandbox sees it).
    pub path: Option<String>,
}

pub fn run(layout: &Layout, a: Args) -> Result<()> {
    let cfg = config::load_named(layout, &a.name)?;
    let state = layout.state_dir(&cfg.name);
    let manifest = Manifest::load(&state.join(crate::layout::MANIFEST))?;
    let Some(base) = Baseline::load(&state)? else {
        bail!(
            "sandbox '{}' was made before sandboxes kept what they were cloned from: diff has nothing to compare with \
             (a sandbox made or cloned from now on has it)",
            cfg.name
        );
    };
    let under = a.path.as_deref().unwrap_or("/");
    if !under.starts_with('/') {
        bail!("{under}: give the path as the sandbox sees it, from /");
    }
    let tree_path = state.join(TREE);
    let tree = crate::safefs::open_dir(&tree_path)?;
    let files = drift::survey(layout, &manifest.plan, &base, &state, &tree_path, tree.as_fd(), under)?;
    let shown: Vec<&drift::FileDrift> =
        files.iter().filter(|f| a.all || f.status != drift::Status::Unchanged || f.host == "differs").collect();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&shown)?);
        return Ok(());
    }
    let unchanged = files.iter().filter(|f| f.status == drift::Status::Unchanged).count();
    for f in &shown {
        println!("{}", f.line());
        if let Some(d) = &f.diff {
            print!("{d}");
        }
    }
    println!("{} files, {} unchanged since create", files.len(), unchanged);
    Ok(())
}
