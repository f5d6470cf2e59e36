//! The host side of a running sandbox: relays the shim's readiness
//! messages to systemd's NOTIFY_SOCKET (we are the unit's main process, so
//! NotifyAccess=main holds), forwards signals to the shim, answers the
//! control socket (reload), and returns the shim's exit status.

use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};

/// The notify fields passed on. MAINPID= is never among them: the host
/// must keep tracking us, not a pid from another namespace.
const RELAYED: &[&str] = &["READY=1", "RELOADING=1", "STOPPING=1", "STATUS=", "ERRNO=", "EXTEND_TIMEOUT_USEC="];

/// Keeps the lines of `msg` systemd may hear from a sandbox.
pub fn filter(msg: &str) -> String {
    msg.lines()
        .filter(|l| RELAYED.iter().any(|p| if p.ends_with('=') { l.starts_with(p) } else { l == p }))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Sends `msg` to $NOTIFY_SOCKET, if systemd gave us one.
pub fn send(msg: &str) -> Result<()> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return Ok(()) };
    let sock = UnixDatagram::unbound().context("socket for sd_notify")?;
    let bytes = path.as_encoded_bytes();
    if let Some(abs) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(abs)?;
        sock.send_to_addr(msg.as_bytes(), &addr)
    } else {
        sock.send_to(msg.as_bytes(), &path)
    }
    .context("sending to NOTIFY_SOCKET")?;
    Ok(())
}

/// How the shim ended the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Exit(i32),
    /// The service's main process was killed by this signal: the host
    /// unit should see the same (so Restart=on-abort acts on it).
    Killed(Signal),
}

/// The shim's private word to us, never relayed: the signal that killed
/// the service, sent before it exits with 128+N.
pub const KILLED_BY: &str = "X_SANDBOX_KILLED_BY=";

/// The shim's word that a reload failed, sent before its READY=1.
pub const RELOAD_FAILED: &str = "X_SANDBOX_RELOAD_FAILED=";

struct Supervisor {
    shim: Pid,
    killed_by: Option<Signal>,
    /// Control clients waiting for the reload in progress.
    waiting: Vec<UnixStream>,
    reloading: bool,
    reload_error: Option<String>,
}

impl Supervisor {
    /// Takes one message from the shim: relays what systemd may hear,
    /// keeps what is for us.
    fn message(&mut self, text: &str) {
        for l in text.lines() {
            if let Some(n) = l.strip_prefix(KILLED_BY) {
                self.killed_by = n.parse::<i32>().ok().and_then(|n| Signal::try_from(n).ok());
            } else if let Some(e) = l.strip_prefix(RELOAD_FAILED) {
                self.reload_error = Some(e.to_string());
            } else if l == "RELOADING=1" {
                self.reloading = true;
            } else if l == "READY=1" && self.reloading {
                self.reloading = false;
                let reply = match self.reload_error.take() {
                    None => "ok\n".to_string(),
                    Some(e) => format!("error: {e}\n"),
                };
                for mut c in self.waiting.drain(..) {
                    let _ = c.write_all(reply.as_bytes());
                }
            }
        }
        let msg = filter(text);
        if !msg.is_empty() {
            if let Err(e) = send(&msg) {
                tracing::warn!("{e:#}");
            }
        }
    }

    /// A control request: "reload" signals the shim and answers when the
    /// service's ExecReload= is done.
    fn request(&mut self, mut c: UnixStream) {
        let mut line = String::new();
        c.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok();
        if BufReader::new(&c).read_line(&mut line).is_err() {
            return;
        }
        match line.trim() {
            "reload" => {
                if self.waiting.is_empty() && !self.reloading {
                    let _ = kill(self.shim, Signal::SIGHUP);
                }
                self.waiting.push(c);
            }
            other => {
                let _ = c.write_all(format!("error: unknown request '{other}'\n").as_bytes());
            }
        }
    }
}

/// Runs until the shim exits; returns how it ended. `control` is the
/// listening control socket.
pub fn supervise(shim: Pid, from_shim: &UnixDatagram, sigs: &SigSet, control: &UnixListener) -> Result<Outcome> {
    // Non-blocking: the loop below reads until none is left, then polls again.
    let sfd = SignalFd::with_flags(sigs, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).context("signalfd")?;
    control.set_nonblocking(true).context("control socket")?;
    let mut buf = vec![0u8; 4096];
    let mut relay_open = true;
    let mut sup = Supervisor { shim, killed_by: None, waiting: Vec::new(), reloading: false, reload_error: None };
    loop {
        let (sig_ready, ctl_ready, msg_ready) = {
            let mut fds =
                vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN), PollFd::new(control.as_fd(), PollFlags::POLLIN)];
            if relay_open {
                fds.push(PollFd::new(from_shim.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => r.context("poll")?,
            };
            let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            (ready(&fds[0]), ready(&fds[1]), fds.get(2).is_some_and(ready))
        };
        if msg_ready {
            match from_shim.recv(&mut buf) {
                Ok(0) | Err(_) => relay_open = false,
                Ok(n) => sup.message(&String::from_utf8_lossy(&buf[..n])),
            }
        }
        if ctl_ready {
            while let Ok((c, _)) = control.accept() {
                c.set_nonblocking(false).ok();
                sup.request(c);
            }
        }
        if sig_ready {
            while let Some(info) = sfd.read_signal().context("reading signalfd")? {
                let sig = Signal::try_from(info.ssi_signo as i32).context("bad signal number")?;
                if sig != Signal::SIGCHLD {
                    // The shim may be gone already; its exit is what counts.
                    let _ = kill(shim, sig);
                    continue;
                }
                loop {
                    match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                        Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => break,
                        Ok(ws) if ws.pid() == Some(shim) => {
                            // Late messages (the kill report) are still queued.
                            from_shim.set_nonblocking(true).ok();
                            while let Ok(n) = from_shim.recv(&mut buf) {
                                sup.message(&String::from_utf8_lossy(&buf[..n]));
                            }
                            match (super::exit_code(ws), sup.killed_by) {
                                (Some(code), Some(sig)) if code == 128 + sig as i32 => return Ok(Outcome::Killed(sig)),
                                (Some(code), _) => return Ok(Outcome::Exit(code)),
                                (None, _) => {}
                            }
                        }
                        Ok(_) => {}
                        Err(e) => return Err(e).context("waitpid"),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_fields_reach_systemd() {
        assert_eq!(filter("READY=1\nMAINPID=7\nSTATUS=serving"), "READY=1\nSTATUS=serving");
        assert_eq!(filter("MAINPID=1"), "");
        assert_eq!(filter("READY=10"), "");
        assert_eq!(filter("FDSTORE=1\nRELOADING=1"), "RELOADING=1");
    }
}
