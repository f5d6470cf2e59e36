//! `sandbox-service run NAME`: what the sandbox's unit runs (ExecStart=).

use crate::layout::Layout;
use anyhow::Result;

/// Run a sandbox in the foreground (its unit's ExecStart= calls this).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The sandbox's name.
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub name: String,
}

/// Returns the exit status to leave with: the service's. A service killed
/// by a signal kills us with the same one, so systemd records what really
/// happened and Restart=on-abort works as on the host.
pub fn run(layout: &Layout, a: Args) -> Result<i32> {
    use crate::runtime::supervise::Outcome;
    use nix::sys::signal::{self, SigHandler, SigSet};
    match crate::runtime::run(layout, &a.name)? {
        Outcome::Exit(code) => Ok(code),
        Outcome::Killed(sig) => {
            // The crash was the service's: no core of ours should say otherwise.
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0).ok();
            // SAFETY: restoring the default action, in a process about to die.
            unsafe { signal::signal(sig, SigHandler::SigDfl) }.ok();
            let mut set = SigSet::empty();
            set.add(sig);
            set.thread_unblock().ok();
            signal::raise(sig).ok();
            Ok(128 + sig as i32)
        }
    }
}
