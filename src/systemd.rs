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

/// LoadState of `unit` as systemd holds it now ("loaded", "not-found"...)
/// and the file it was loaded from, or None where it holds no such unit
/// (never asked for, or collected); with `load`, it is read from disk
/// first if need be (LoadUnit).
pub fn load_state(conn: &Connection, unit: &str, load: bool) -> Result<Option<(String, String)>> {
    zbus::block_on(async {
        let m = ManagerProxy::new(conn).await?;
        let path = if load { m.load_unit(unit.to_string()).await } else { m.get_unit(unit.to_string()).await };
        let path = match path {
            Ok(p) => p,
            Err(zbus::Error::MethodError(name, _, _)) if name.as_str() == "org.freedesktop.systemd1.NoSuchUnit" => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        let u = UnitProxy::builder(conn).path(path).build().await?;
        Ok(Some((u.load_state().await?, u.fragment_path().await?)))
    })
    .with_context(|| format!("asking systemd for the load state of {unit}"))
}

pub fn is_running(state: &str) -> bool {
    matches!(state, "active" | "activating" | "reloading" | "deactivating" | "refreshing")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Start,
    Stop,
    Restart,
    Reload,
}

impl Job {
    fn verb(self) -> &'static str {
        match self {
            Job::Start => "starting",
            Job::Stop => "stopping",
            Job::Restart => "restarting",
            Job::Reload => "reloading",
        }
    }
}

/// Queues `job` for `unit` and waits for its result (JobRemoved); Err
/// unless it is "done".
pub fn unit_job(conn: &Connection, unit: &str, job: Job) -> Result<()> {
    let result = zbus::block_on(async {
        let m = ManagerProxy::new(conn).await?;
        m.subscribe().await.ok();
        // The stream must exist before the job does, or its end is missed.
        let mut removed = m.receive_job_removed().await?;
        let (u, mode) = (unit.to_string(), "replace".to_string());
        let path = match job {
            Job::Start => m.start_unit(u, mode).await?,
            Job::Stop => m.stop_unit(u, mode).await?,
            Job::Restart => m.restart_unit(u, mode).await?,
            Job::Reload => m.reload_unit(u, mode).await?,
        };
        while let Some(sig) = removed.next().await {
            let a = sig.args()?;
            if a.job().as_str() == path.as_str() {
                return Ok::<String, zbus::Error>(a.result().to_string());
            }
        }
        Err(zbus::Error::Failure("systemd closed the connection".into()))
    })
    .map_err(|e| anyhow!("{} {unit}: {e}", job.verb()))?;
    if result != "done" {
        bail!("{} {unit} ended with '{result}'", job.verb());
    }
    Ok(())
}

pub fn stop_unit(conn: &Connection, unit: &str) -> Result<()> {
    unit_job(conn, unit, Job::Stop)
}

/// What `status` shows of a running unit.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Runtime {
    pub active_state: String,
    pub sub_state: String,
    pub main_pid: u32,
    /// Microseconds since the epoch when it became active, 0 if never.
    pub active_since_usec: u64,
    /// Bytes, None when systemd does not account memory.
    pub memory: Option<u64>,
}

pub fn runtime(conn: &Connection, unit: &str) -> Result<Runtime> {
    zbus::block_on(async {
        let m = ManagerProxy::new(conn).await?;
        let path = m.load_unit(unit.to_string()).await?;
        let u = UnitProxy::builder(conn).path(path.clone()).build().await?;
        let s = zbus_systemd::systemd1::ServiceProxy::builder(conn).path(path).build().await?;
        let memory = s.memory_current().await.ok().filter(|m| *m != u64::MAX);
        Ok::<_, zbus::Error>(Runtime {
            active_state: u.active_state().await?,
            sub_state: u.sub_state().await?,
            main_pid: s.main_pid().await?,
            active_since_usec: u.active_enter_timestamp().await?,
            memory,
        })
    })
    .with_context(|| format!("asking systemd about {unit}"))
}
