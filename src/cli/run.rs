//! `sandbox-service run NAME`: what the sandbox's unit runs (ExecStart=).

use crate::layout::Layout;
use anyhow::Result;

/// Run a sandbox in the foreground (its unit's ExecStart= calls this).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The sandbox's name.
    pub name: String,
}

/// Returns the exit status to leave with: the service's.
pub fn run(layout: &Layout, a: Args) -> Result<i32> {
    crate::runtime::run(layout, &a.name)
}
