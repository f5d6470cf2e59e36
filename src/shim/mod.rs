//! sandbox-service-init: PID 1 inside a sandbox. It runs the service's own
//! unit the way systemd would (see service.rs for what it honours), reaps
//! every process, turns the host's signals into start/stop/reload, and
//! tells the host side when the service is ready.

pub mod protect;
pub mod service;
pub mod spawn;

use anyhow::{anyhow, bail, Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use service::{Cmd, KillMode, Service, Type};
use std::collections::HashMap;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

/// Where a Type=notify service sends its messages.
pub const NOTIFY_SOCKET: &str = "/run/sandbox-service/notify";

struct Running {
    svc: Service,
    id: spawn::Identity,
    env: Vec<(String, String)>,
    /// None for a forking service without PIDFile= or a finished oneshot.
    main: Option<Pid>,
    /// Its ExecCondition= said no: nothing of it runs.
    skipped: bool,
}

pub struct Shim {
    sfd: SignalFd,
    notify: Option<UnixDatagram>,
    /// To the runtime on the host side (READY=1, STATUS=...).
    host: Option<UnixDatagram>,
    reaped: HashMap<Pid, WaitStatus>,
    ready_seen: bool,
    notify_mainpid: Option<Pid>,
    stop_requested: bool,
    reload_requested: bool,
    pending: Vec<Signal>,
}

/// How long a host tool (systemd-tmpfiles, systemd-analyze) may take
/// before a start gives up on it.
const TOOL_LIMIT: Duration = Duration::from_secs(30);

/// One of the host's systemd tools, where the shared /usr has it.
fn host_tool(name: &str) -> Option<&'static str> {
    let found = match name {
        "systemd-analyze" => ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"],
        "systemd-tmpfiles" => ["/usr/bin/systemd-tmpfiles", "/bin/systemd-tmpfiles"],
        _ => return None,
    };
    found.into_iter().find(|p| std::path::Path::new(p).is_file())
}

/// Exit status of a wait status, systemd's way (128+n for a signal).
fn code(ws: &WaitStatus) -> i32 {
    crate::runtime::exit_code(*ws).unwrap_or(1)
}

fn clean(ws: &WaitStatus) -> bool {
    matches!(ws, WaitStatus::Exited(_, 0))
        || matches!(ws, WaitStatus::Signaled(_, s, _) if matches!(s, Signal::SIGTERM | Signal::SIGHUP | Signal::SIGINT | Signal::SIGPIPE))
}

impl Shim {
    pub fn new(host_fd: Option<i32>, want_notify: bool) -> Result<Self> {
        let mut set = SigSet::empty();
        // What the runtime forwards, and our children's ends.
        for s in crate::runtime::FORWARDED {
            set.add(*s);
        }
        set.add(Signal::SIGCHLD);
        set.thread_block().context("blocking signals")?;
        let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).context("signalfd")?;
        // SAFETY: the runtime passes this fd open and ours alone.
        let host = host_fd.map(|fd| UnixDatagram::from(unsafe { OwnedFd::from_raw_fd(fd) }));
        if let Some(h) = &host {
            nix::fcntl::fcntl(h, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC))?;
        }
        let notify = if want_notify {
            let _ = std::fs::remove_file(NOTIFY_SOCKET);
            // Our runtime makes the directory; an OCI engine running an
            // exported sandbox gives an empty /run.
            let dir = std::path::Path::new(NOTIFY_SOCKET).parent().expect("an absolute path");
            std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o755)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
            let s = UnixDatagram::bind(NOTIFY_SOCKET).with_context(|| format!("binding {NOTIFY_SOCKET}"))?;
            // As systemd's own: a service that dropped to its user must reach it.
            std::fs::set_permissions(NOTIFY_SOCKET, std::os::unix::fs::PermissionsExt::from_mode(0o666))?;
            s.set_nonblocking(true)?;
            Some(s)
        } else {
            None
        };
        // /run/lock as after boot (systemd's tmpfiles legacy.conf; our runtime
        // makes it): an OCI engine running an exported sandbox gives an
        // empty /run, and daemons' scripts lock beneath /var/lock.
        if std::fs::symlink_metadata("/run/lock").is_err() {
            std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o1777)
                .create("/run/lock")
                .context("creating /run/lock")?;
            std::fs::set_permissions("/run/lock", std::os::unix::fs::PermissionsExt::from_mode(0o1777))?;
        }
        // Not dumpable: nothing in the sandbox may ptrace PID 1 or read its memory.
        nix::sys::prctl::set_dumpable(false).context("PR_SET_DUMPABLE")?;
        Ok(Shim {
            sfd,
            notify,
            host,
            reaped: HashMap::new(),
            ready_seen: false,
            notify_mainpid: None,
            stop_requested: false,
            reload_requested: false,
            pending: Vec::new(),
        })
    }

    pub fn tell_host(&self, msg: &str) {
        if let Some(h) = &self.host {
            let _ = h.send(msg.as_bytes());
        }
    }

    /// Waits for one round of events (or `timeout`): reaps children,
    /// takes signals and notify messages.
    fn pump(&mut self, timeout: Option<Duration>) -> Result<()> {
        {
            let mut fds = vec![PollFd::new(self.sfd.as_fd(), PollFlags::POLLIN)];
            if let Some(n) = &self.notify {
                fds.push(PollFd::new(n.as_fd(), PollFlags::POLLIN));
            }
            let t = match timeout {
                None => PollTimeout::NONE,
                Some(d) => {
                    PollTimeout::try_from(d.as_millis().min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX)
                }
            };
            match poll(&mut fds, t) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e).context("poll"),
            }
        }
        while let Some(info) = self.sfd.read_signal().context("signalfd")? {
            let sig = Signal::try_from(info.ssi_signo as i32)?;
            match sig {
                Signal::SIGCHLD => {}
                Signal::SIGTERM => self.stop_requested = true,
                Signal::SIGHUP => self.reload_requested = true,
                other => self.pending.push(other),
            }
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => break,
                Ok(ws) => {
                    if let Some(p) = ws.pid() {
                        self.reaped.insert(p, ws);
                    }
                }
                Err(e) => return Err(e).context("waitpid"),
            }
        }
        if let Some(n) = &self.notify {
            let mut buf = [0u8; 4096];
            let mut relay = Vec::new();
            while let Ok(len) = n.recv(&mut buf) {
                for line in String::from_utf8_lossy(&buf[..len]).lines() {
                    if line == "READY=1" {
                        self.ready_seen = true;
                    } else if let Some(p) = line.strip_prefix("MAINPID=") {
                        self.notify_mainpid = p.parse().ok().map(Pid::from_raw);
                    } else if line.starts_with("STATUS=") || line == "STOPPING=1" {
                        relay.push(line.to_string());
                    }
                }
            }
            for l in relay {
                self.tell_host(&l);
            }
        }
        Ok(())
    }

    /// Waits for `pid` to exit, up to `limit`; None on timeout or stop.
    fn wait_for(&mut self, pid: Pid, limit: Duration, interruptible: bool) -> Result<Option<WaitStatus>> {
        let deadline = Instant::now().checked_add(limit);
        loop {
            if let Some(ws) = self.reaped.remove(&pid) {
                return Ok(Some(ws));
            }
            if interruptible && self.stop_requested {
                return Ok(None);
            }
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(l) => Some(l),
                    None => return Ok(None),
                },
                None => None,
            };
            self.pump(left)?;
        }
    }

    /// Runs a command to completion (ExecStartPre, ExecStop...). Err when
    /// it fails and has no `-` prefix.
    fn run_cmd(&mut self, r: &Running, cmd: &Cmd, limit: Duration, extra: &[(String, String)]) -> Result<()> {
        let mut env = r.env.clone();
        env.extend(extra.iter().cloned());
        let pid = match spawn::spawn(&r.svc, &r.id, &env, cmd) {
            Ok(p) => p,
            Err(e) if cmd.ignore_failure => {
                eprintln!("sandbox-service-init: {e:#} (ignored)");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        match self.wait_for(pid, limit, false)? {
            Some(ws) if clean(&ws) || cmd.ignore_failure => Ok(()),
            Some(ws) => bail!("{}: {} failed with status {}", r.svc.unit, cmd.path, code(&ws)),
            None => {
                let _ = kill(pid, Signal::SIGKILL);
                self.wait_for(pid, Duration::from_secs(5), false)?;
                bail!("{}: {} timed out", r.svc.unit, cmd.path)
            }
        }
    }

    fn mainpid_env(r: &Running) -> Vec<(String, String)> {
        r.main.map(|p| vec![("MAINPID".to_string(), p.to_string())]).unwrap_or_default()
    }

    /// Starts a service through its ExecStartPre/ExecStart/ExecStartPost.
    fn start(&mut self, mut svc: Service) -> Result<Running> {
        if svc.dynamic {
            svc.dynamic_uid = Some(service::dynamic_uid(&svc.unit, |u| {
                nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(u)).ok().flatten().is_some()
            })?);
        }
        // Only what the sandbox holds can be passed on.
        let lacking: Vec<String> = svc
            .ambient
            .iter()
            .filter(|c| !caps::has_cap(None, caps::CapSet::Bounding, **c).unwrap_or(false))
            .map(|c| c.to_string())
            .collect();
        if !lacking.is_empty() {
            eprintln!(
                "sandbox-service-init: {}: AmbientCapabilities= {} not given: the sandbox does not hold {} \
                 (capabilities-add= in its .sandbox file adds them)",
                svc.unit,
                lacking.join(" "),
                if lacking.len() == 1 { "it" } else { "them" }
            );
            svc.ambient.retain(|c| caps::has_cap(None, caps::CapSet::Bounding, *c).unwrap_or(false));
        }
        let id = spawn::identity(&svc)?;
        make_directories(&svc, &id)?;
        let extra = if svc.kind == Type::Notify {
            vec![("NOTIFY_SOCKET".to_string(), NOTIFY_SOCKET.to_string())]
        } else {
            vec![]
        };
        let env = spawn::environment(&svc, &id, &extra)?;
        let mut r = Running { svc, id, env, main: None, skipped: false };
        if !self.conditions_met(&r.svc)? {
            r.skipped = true;
            return Ok(r);
        }
        let limit = r.svc.timeout_start;
        for c in r.svc.condition.clone() {
            let pid = spawn::spawn(&r.svc, &r.id, &r.env, &c)?;
            match self.wait_for(pid, limit, false)? {
                Some(WaitStatus::Exited(_, 0)) => {}
                // 1-254: the condition is not met, and the service is skipped.
                Some(WaitStatus::Exited(_, n)) if (1..=254).contains(&n) => {
                    eprintln!("sandbox-service-init: {}: ExecCondition={} exited {n}: skipped", r.svc.unit, c.path);
                    r.skipped = true;
                    return Ok(r);
                }
                Some(ws) => bail!("{}: ExecCondition={} failed with status {}", r.svc.unit, c.path, code(&ws)),
                None => bail!("{}: ExecCondition={} timed out", r.svc.unit, c.path),
            }
        }
        for c in r.svc.start_pre.clone() {
            self.run_cmd(&r, &c, limit, &[])?;
        }
        match r.svc.kind {
            Type::Simple | Type::Exec => {
                r.main = Some(spawn::spawn(&r.svc, &r.id, &r.env, &r.svc.start[0])?);
            }
            Type::Oneshot => {
                for c in r.svc.start.clone() {
                    self.run_cmd(&r, &c, limit, &[])?;
                }
            }
            Type::Forking => {
                let c = r.svc.start[0].clone();
                let parent = spawn::spawn(&r.svc, &r.id, &r.env, &c)?;
                match self.wait_for(parent, limit, true)? {
                    Some(ws) if clean(&ws) => {}
                    Some(ws) => bail!("{}: {} exited with status {}", r.svc.unit, c.path, code(&ws)),
                    None => bail!("{}: {} did not finish starting", r.svc.unit, c.path),
                }
                if let Some(pf) = r.svc.pid_file.clone() {
                    r.main = Some(read_pid_file(&pf).with_context(|| format!("{}: PIDFile={pf}", r.svc.unit))?);
                } else {
                    // As systemd's GuessMainPID=: the one process left
                    // directly under us is the daemon.
                    r.main = only_child();
                }
            }
            Type::Notify => {
                self.ready_seen = false;
                let pid = spawn::spawn(&r.svc, &r.id, &r.env, &r.svc.start[0])?;
                r.main = Some(pid);
                let deadline = Instant::now().checked_add(limit);
                while !self.ready_seen {
                    if let Some(ws) = self.reaped.remove(&pid) {
                        bail!("{}: exited with status {} before it was ready", r.svc.unit, code(&ws));
                    }
                    if self.stop_requested || deadline.is_some_and(|d| Instant::now() >= d) {
                        bail!("{}: not ready in time", r.svc.unit);
                    }
                    self.pump(deadline.map(|d| d.saturating_duration_since(Instant::now())))?;
                }
                if let Some(p) = self.notify_mainpid.take() {
                    r.main = Some(p);
                }
            }
        }
        for c in r.svc.start_post.clone() {
            let extra = Self::mainpid_env(&r);
            self.run_cmd(&r, &c, limit, &extra)?;
        }
        Ok(r)
    }

    /// Condition*= and Assert*= as systemd checks them, by its own
    /// `systemd-analyze condition`, run here so that paths are the
    /// sandbox's. false: a condition failed and the service is skipped;
    /// Err: an assertion failed.
    fn conditions_met(&mut self, svc: &Service) -> Result<bool> {
        for (list, assert) in [(&svc.conditions, false), (&svc.asserts, true)] {
            if list.is_empty() {
                continue;
            }
            let Some(tool) = host_tool("systemd-analyze") else {
                bail!(
                    "{}: {} cannot be checked: systemd-analyze (package systemd) is not installed",
                    svc.unit,
                    list[0]
                );
            };
            // Our specifiers are expanded: none may be expanded again.
            let mut args = vec!["condition".to_string()];
            args.extend(list.iter().map(|c| c.replace('%', "%%")));
            let (ws, said) = self.run_tool(tool, &args, true)?;
            let failed: Vec<&str> = said
                .lines()
                .filter_map(|l| l.strip_suffix(" failed."))
                .map(|l| l.split_once(": ").map_or(l, |(_, c)| c))
                // Its own lines, not the "Conditions failed." summary.
                .filter(|c| c.contains('='))
                .collect();
            match ws {
                Some(WaitStatus::Exited(_, 0)) => {}
                Some(WaitStatus::Exited(..)) if !failed.is_empty() => {
                    if assert {
                        bail!("{}: {} failed", svc.unit, failed.join(", "));
                    }
                    eprintln!(
                        "sandbox-service-init: {}: {} failed: skipped, as systemd skips a unit whose condition fails",
                        svc.unit,
                        failed.join(", ")
                    );
                    return Ok(false);
                }
                Some(ws) => bail!("{}: {tool} condition exited with status {}: {}", svc.unit, code(&ws), said.trim()),
                None => bail!("{}: {tool} condition did not finish in {} s", svc.unit, TOOL_LIMIT.as_secs()),
            }
        }
        Ok(true)
    }

    /// Runs one of the host's systemd tools to completion with a clean
    /// environment, killing it after TOOL_LIMIT (None then). With
    /// `capture`, its stderr is returned (a few lines: the pipe holds them
    /// until it exits); else it goes where ours goes.
    fn run_tool(&mut self, tool: &str, args: &[String], capture: bool) -> Result<(Option<WaitStatus>, String)> {
        let mut child = std::process::Command::new(tool)
            .args(args)
            .env_clear()
            .env("PATH", crate::runtime::PATH)
            .stdin(std::process::Stdio::null())
            .stdout(if capture { std::process::Stdio::null() } else { std::process::Stdio::inherit() })
            .stderr(if capture { std::process::Stdio::piped() } else { std::process::Stdio::inherit() })
            .spawn()
            .with_context(|| format!("running {tool}"))?;
        let pid = Pid::from_raw(child.id() as i32);
        let ws = self.wait_for(pid, TOOL_LIMIT, false)?;
        if ws.is_none() {
            let _ = kill(pid, Signal::SIGKILL);
            self.wait_for(pid, Duration::from_secs(5), false)?;
        }
        let mut said = String::new();
        if let Some(mut err) = child.stderr.take() {
            std::io::Read::read_to_string(&mut err, &mut said).ok();
        }
        Ok((ws, said))
    }

    /// A service that ended on its own while the others run on: its
    /// ExecStop= (when it was running) and ExecStopPost=, as systemd runs
    /// them for a unit whose processes exited.
    fn finish(&mut self, r: &Running, was_running: bool) {
        let stop = if was_running { r.svc.stop.clone() } else { vec![] };
        for c in stop.iter().chain(r.svc.stop_post.iter()) {
            if let Err(e) = self.run_cmd(r, c, r.svc.timeout_stop, &[]) {
                eprintln!("sandbox-service-init: {e:#}");
            }
        }
    }

    /// Stops one service: ExecStop=, then its stop signal per KillMode=,
    /// then SIGKILL after TimeoutStopSec=.
    fn stop(&mut self, r: &mut Running) {
        let limit = r.svc.timeout_stop;
        let deadline = Instant::now() + limit;
        for c in r.svc.stop.clone() {
            let extra = Self::mainpid_env(r);
            if let Err(e) = self.run_cmd(r, &c, limit, &extra) {
                eprintln!("sandbox-service-init: {e:#}");
            }
        }
        let alive = |p: Pid| kill(p, None).is_ok();
        match (r.svc.kill_mode, r.main) {
            (KillMode::None, _) => {}
            (KillMode::ControlGroup, _) | (_, None) => {
                let _ = kill(Pid::from_raw(-1), r.svc.kill_signal);
            }
            (KillMode::Mixed | KillMode::Process, Some(p)) => {
                if alive(p) {
                    let _ = kill(p, r.svc.kill_signal);
                }
            }
        }
        if let Some(p) = r.main {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.reaped.contains_key(&p) || self.wait_for(p, left, false).ok().flatten().is_some() {
                r.main = None;
            }
        }
        // What is left: with control-group, the stop signal went to all and
        // they get the grace left; otherwise, as systemd does once the main
        // process is gone, SIGKILL at once.
        if r.svc.kill_mode == KillMode::ControlGroup {
            while has_children() && Instant::now() < deadline {
                let _ = self.pump(Some(Duration::from_millis(50)));
            }
            if has_children() {
                eprintln!("sandbox-service-init: {}: still running after {:?}, killing", r.svc.unit, limit);
            }
        }
        if has_children() {
            let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
            // Bounded: a process stuck in the kernel ends with the namespace.
            let until = Instant::now() + Duration::from_secs(5);
            while has_children() && Instant::now() < until {
                let _ = self.pump(Some(Duration::from_millis(50)));
            }
        }
        for c in r.svc.stop_post.clone() {
            if let Err(e) = self.run_cmd(r, &c, limit, &[]) {
                eprintln!("sandbox-service-init: {e:#}");
            }
        }
    }

    fn reload(&mut self, services: &mut [Running]) {
        self.tell_host("RELOADING=1");
        let mut failed = None;
        for r in services.iter_mut() {
            if r.svc.reload.is_empty() {
                if let Some(p) = r.main {
                    let _ = kill(p, r.svc.reload_signal.unwrap_or(Signal::SIGHUP));
                }
                continue;
            }
            for c in r.svc.reload.clone() {
                let extra = Self::mainpid_env(r);
                if let Err(e) = self.run_cmd(r, &c, r.svc.timeout_start, &extra) {
                    eprintln!("sandbox-service-init: reload: {e:#}");
                    failed.get_or_insert(format!("{e:#}"));
                }
            }
            if let (Some(pf), Type::Forking) = (&r.svc.pid_file, r.svc.kind) {
                if let Ok(p) = read_pid_file(pf) {
                    r.main = Some(p);
                }
            }
        }
        if let Some(e) = failed {
            self.tell_host(&format!("{}{e}", crate::runtime::supervise::RELOAD_FAILED));
        }
        self.tell_host("READY=1");
    }

    /// What systemd-tmpfiles does at boot for the service's packages, done
    /// at each start (the sandbox's /run is fresh): the host's own
    /// systemd-tmpfiles on the lines the plan kept. A line it cannot apply
    /// is reported, and the service starts anyway, as after a boot.
    pub fn apply_tmpfiles(&mut self, conf: &str) -> Result<()> {
        let Some(tool) = host_tool("systemd-tmpfiles") else {
            eprintln!("sandbox-service-init: systemd-tmpfiles is not installed: the packages' tmpfiles.d lines ({conf}) are not applied");
            return Ok(());
        };
        let args = ["--create".to_string(), "--boot".to_string(), conf.to_string()];
        match self.run_tool(tool, &args, false)?.0 {
            Some(ws) if clean(&ws) => {}
            Some(ws) => {
                eprintln!("sandbox-service-init: {tool} {conf} exited with status {}: see the lines above", code(&ws))
            }
            None => eprintln!("sandbox-service-init: {tool} {conf} did not finish in {} s", TOOL_LIMIT.as_secs()),
        }
        Ok(())
    }

    /// Starts every service, reports readiness, supervises; returns the
    /// exit status for the host unit.
    pub fn run(&mut self, services: Vec<Service>) -> Result<i32> {
        let mut running: Vec<Running> = Vec::new();
        for svc in services {
            match self.start(svc) {
                Ok(r) => running.push(r),
                Err(e) => {
                    eprintln!("sandbox-service-init: {e:#}");
                    for r in running.iter_mut().rev() {
                        self.stop(r);
                    }
                    return Ok(1);
                }
            }
        }
        running.retain(|r| !r.skipped);
        self.tell_host("READY=1");
        let all_oneshot_done = running.iter().all(|r| r.svc.kind == Type::Oneshot && !r.svc.remain_after_exit);
        if all_oneshot_done {
            return Ok(0);
        }
        // A pulled oneshot that has done its work is over, as on the host.
        let (over, rest): (Vec<Running>, Vec<Running>) =
            running.into_iter().partition(|r| r.svc.pulled && r.svc.kind == Type::Oneshot && !r.svc.remain_after_exit);
        running = rest;
        for r in &over {
            self.finish(r, false);
        }
        loop {
            if self.stop_requested {
                self.tell_host("STOPPING=1");
                for r in running.iter_mut().rev() {
                    self.stop(r);
                }
                return Ok(0);
            }
            if self.reload_requested {
                self.reload_requested = false;
                self.reload(&mut running);
            }
            for sig in std::mem::take(&mut self.pending) {
                for r in &running {
                    if let Some(p) = r.main {
                        let _ = kill(p, sig);
                    }
                }
            }
            // A service whose main process ended ends the sandbox, with
            // its status, as the unit would have ended on the host.
            let mut ended = None;
            for (i, r) in running.iter().enumerate() {
                if let Some(ws) = r.main.and_then(|p| self.reaped.get(&p)) {
                    ended = Some((i, *ws));
                }
            }
            let untracked_gone =
                running.iter().any(|r| r.main.is_none() && r.svc.kind == Type::Forking) && !has_children();
            if let Some((i, ws)) = ended.filter(|(i, ws)| {
                let r = &running[*i];
                clean(ws) && (r.svc.remain_after_exit || r.svc.pulled)
            }) {
                // It ended well, and leaves the others running: with
                // RemainAfterExit=yes it stays, for its ExecStop= at the stop.
                if let Some(p) = running[i].main.take() {
                    self.reaped.remove(&p);
                }
                eprintln!(
                    "sandbox-service-init: {}: main process exited with status {}{}",
                    running[i].svc.unit,
                    code(&ws),
                    if running[i].svc.remain_after_exit { "; it remains active (RemainAfterExit=yes)" } else { "" }
                );
                if !running[i].svc.remain_after_exit {
                    let r = running.remove(i);
                    self.finish(&r, true);
                }
                if running.iter().all(|r| r.main.is_none() && !r.svc.remain_after_exit && r.svc.kind != Type::Forking) {
                    return Ok(0);
                }
                continue;
            }
            if let Some((i, ws)) = ended {
                running[i].main = None;
                if let WaitStatus::Signaled(_, sig, _) = ws {
                    if !clean(&ws) {
                        self.tell_host(&format!("{}{}", crate::runtime::supervise::KILLED_BY, sig as i32));
                    }
                }
                eprintln!(
                    "sandbox-service-init: {}: main process exited with status {}",
                    running[i].svc.unit,
                    code(&ws)
                );
                for r in running.iter_mut().rev() {
                    self.stop(r);
                }
                return Ok(if clean(&ws) { 0 } else { code(&ws) });
            }
            if untracked_gone {
                eprintln!("sandbox-service-init: no process of the service is left");
                return Ok(0);
            }
            self.pump(None)?;
        }
    }
}

fn has_children() -> bool {
    // Every process in the namespace that we may signal is the service's
    // (we are PID 1), reparented or not. One that Landlock's signal scope
    // keeps from us was started by execute, connect or logrotate in a
    // domain of its own: it ends with the namespace when we exit.
    std::fs::read_dir("/proc").is_ok_and(|d| {
        d.flatten().any(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
                .is_some_and(|n| n > 1 && kill(Pid::from_raw(n), None).is_ok())
        })
    })
}

fn only_child() -> Option<Pid> {
    let c = std::fs::read_to_string("/proc/1/task/1/children").ok()?;
    let mut it = c.split_whitespace();
    let first = it.next()?.parse().ok().map(Pid::from_raw);
    if it.next().is_some() {
        return None;
    }
    first
}

fn read_pid_file(path: &str) -> Result<Pid> {
    // The parent may exit a moment before the file is written.
    for _ in 0..50 {
        if let Ok(s) = std::fs::read_to_string(path) {
            if let Ok(n) = s.trim().parse::<i32>() {
                return Ok(Pid::from_raw(n));
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(anyhow!("no pid in {path}"))
}

/// RuntimeDirectory= and friends, owned by the service's user.
fn make_directories(s: &Service, id: &spawn::Identity) -> Result<()> {
    for (base, names, mode) in &s.directories {
        for n in names {
            let p = std::path::Path::new(base).join(n);
            std::fs::create_dir_all(&p).with_context(|| format!("{}: creating {}", s.unit, p.display()))?;
            std::os::unix::fs::chown(&p, id.uid.map(|u| u.as_raw()), id.gid.map(|g| g.as_raw()))
                .with_context(|| format!("{}: chown {}", s.unit, p.display()))?;
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(*mode))?;
        }
    }
    Ok(())
}
