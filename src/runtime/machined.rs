//! Registration with systemd-machined, where it runs, so `machinectl list`
//! and `machinectl status NAME` show a running sandbox. Off the launch
//! path: a thread registers while the service starts.

use anyhow::{Context, Result};
use std::thread::JoinHandle;
use zbus_systemd::machine1::ManagerProxy;

/// Machine names may not hold everything sandbox names may: machined
/// takes hostname-like names, which [A-Za-z0-9_-] are, save '_'.
fn machine_name(name: &str) -> String {
    name.replace('_', "-")
}

fn register(name: &str, leader: u32) -> Result<()> {
    let conn = zbus::block_on(zbus::Connection::system()).context("the system bus")?;
    zbus::block_on(async {
        let m = ManagerProxy::new(&conn).await?;
        m.register_machine(
            machine_name(name),
            Vec::new(),
            "sandbox-service".into(),
            "container".into(),
            leader,
            String::new(),
        )
        .await
    })
    .context("RegisterMachine")?;
    Ok(())
}

/// Starts registering `name` with the shim as leader; says once, in the
/// journal, why not when machined is not there.
pub fn spawn_register(name: &str, leader: u32) -> JoinHandle<bool> {
    let name = name.to_string();
    std::thread::spawn(move || match register(&name, leader) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(
                sandbox = %name,
                "{name}: not registered with systemd-machined ({e:#}): machinectl will not list it"
            );
            false
        }
    })
}

/// Removes the registration (machined would drop it with the unit, but a
/// restart must not find the old one).
pub fn unregister(name: &str) {
    let r = zbus::block_on(async {
        let conn = zbus::Connection::system().await?;
        let m = ManagerProxy::new(&conn).await?;
        m.unregister_machine(machine_name(name)).await
    });
    if let Err(e) = r {
        tracing::debug!(sandbox = %name, "UnregisterMachine {name}: {e}");
    }
}
