//! SIGINT, SIGTERM and SIGHUP during a create or delete become an error at
//! the next check, so the normal rollback path runs instead of the process
//! dying half-way. (SIGKILL cannot be caught: the staging journal covers it.)

use anyhow::{bail, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

pub fn install() -> Result<()> {
    let flag = FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(sig, Arc::clone(flag))?;
    }
    Ok(())
}

pub fn check() -> Result<()> {
    if FLAG.get().is_some_and(|f| f.load(Ordering::Relaxed)) {
        bail!("interrupted: rolled back, nothing was left behind");
    }
    Ok(())
}
