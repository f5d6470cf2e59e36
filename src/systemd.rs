//! Talking to systemd over D-Bus (zbus): reload its configuration, ask a
//! unit's state, stop a unit and wait for the job's result.

use anyhow::{anyhow, bail, Context, Result};
use futures_lite::StreamExt;
use std::path::Path;
use std::time::Duration;
use zbus::Connection;
use zbus_systemd::systemd1::{ManagerProxy, UnitProxy};

const PRIVATE_SOCKET: &str = "/run/systemd/private";
const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";

/// Connects to the system's systemd: through the system bus when it runs,
/// else straight to systemd's private socket (as systemctl does as root).
/// Err says why systemd cannot be reached, for the user.
pub fn connect() -> std::result::Result<Connection, String> {
    if !Path::new("/run/systemd/system").exists() {
        return Err("systemd is not running on this machine".into());
    }
    zbus::block_on(async {
        let timeout = Duration::from_secs(30);
        if Path::new(SYSTEM_BUS).exists() {
            if let Ok(c) = zbus::connection::Builder::system().method_timeout(timeout).build().await {
                return Ok(c);
            }
        }
        let addr = format!("unix:path={PRIVATE_SOCKET}");
        zbus::connection::Builder::address(addr.as_str())
            .p2p()
            .method_timeout(timeout)
            .build()
            .await
            .map_err(|e| format!("cannot reach systemd: {e}"))
    })
}

pub fn daemon_reload(conn: &Connection) -> Result<()> {
    zbus::block_on(async {
        let m = ManagerProxy::new(conn).await?;
        m.reload().await
    })
    .context("asking systemd to reload its units (Reload)")
}

/// ActiveState of `unit` ("active", "inactive", "failed", ...).
pub fn active_state(conn: &Connection, unit: &str) -> Result<String> {
    zbus::block_on(async {
        let m = ManagerProxy::new(conn).await?;
        let path = m.load_unit(unit.to_string()).await?;
        let u = UnitProxy::builder(conn).path(path).build().await?;
        u.active_state().await
    })
    .with_context(|| format!("asking systemd for the state of {unit}"))
}

pub fn is_running(state: &str) -> bool {
    matches!(state, "active" | "activating" | "reloading" | "deactivating" | "refreshing")
}

/// Stops `unit` and waits for the job to finish; Err unless it is "done".
pub fn stop_unit(conn: &Connection, unit: &str) -> Result<()> {
    let result = zbus::block_on(async {
        let m = ManagerProxy::new(conn).await?;
        m.subscribe().await.ok();
        // The stream must exist before the job does, or its end is missed.
        let mut removed = m.receive_job_removed().await?;
        let job = m.stop_unit(unit.to_string(), "replace".into()).await?;
        while let Some(sig) = removed.next().await {
            let a = sig.args()?;
            if a.job().as_str() == job.as_str() {
                return Ok::<String, zbus::Error>(a.result().to_string());
            }
        }
        Err(zbus::Error::Failure("systemd closed the connection".into()))
    })
    .map_err(|e| anyhow!("stopping {unit}: {e}"))?;
    if result != "done" {
        bail!("stopping {unit} ended with '{result}': see journalctl -u {unit}");
    }
    Ok(())
}
