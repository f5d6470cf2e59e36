//! The caller's stdin, stdout and stderr, relayed to a command inside a
//! sandbox through pipes of our own: no descriptor of the caller's crosses
//! in. A process that outlives the command holds only pipe ends we close
//! when the command exits, so it reads EOF from then on, and through no fd
//! can root inside fchmod, fchown or reopen a host file (`> /root/out`)
//! or keep the admin's terminal or the journal's stream.

use anyhow::{Context, Result};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

/// Three pipes: the child's ends become its 0, 1, 2; ours are relayed.
pub struct Pipes {
    child: [OwnedFd; 3],
    stdin: OwnedFd,
    stdout: OwnedFd,
    stderr: OwnedFd,
}

pub fn pipes() -> Result<Pipes> {
    let p = || nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe for the command's stdio");
    let (in_r, in_w) = p()?;
    let (out_r, out_w) = p()?;
    let (err_r, err_w) = p()?;
    for fd in [&in_w, &out_r, &err_r] {
        fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).context("non-blocking pipe")?;
    }
    Ok(Pipes { child: [in_r, out_w, err_w], stdin: in_w, stdout: out_r, stderr: err_r })
}

impl Pipes {
    /// In the child, before exec: its ends as stdin, stdout and stderr.
    pub fn install(&self) -> Result<()> {
        for (fd, target) in self.child.iter().zip(0..) {
            // SAFETY: dup2 onto this process's stdio.
            if unsafe { nix::libc::dup2(fd.as_raw_fd(), target) } < 0 {
                return Err(std::io::Error::last_os_error()).context("passing the command its stdio");
            }
        }
        Ok(())
    }
}

/// How long output already written is still passed on after the command
/// has exited, for its last words; a process it left writing on is cut off.
const DRAIN: Duration = Duration::from_millis(200);
/// After the deadline: SIGTERM to the command's process group, then SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// What became of the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Its exit status (128+N for signal N).
    Exited(i32),
    /// It was still running at the deadline and its process group was killed.
    TimedOut,
}

/// Relays the caller's stdio to `child` (which has the child ends of
/// `pipes`), forwards the signals of `sigs` but SIGCHLD to it, and returns
/// when it exits; at `deadline` its whole process group is ended.
pub fn relay(pipes: Pipes, child: Pid, sigs: &SigSet, deadline: Option<Instant>) -> Result<End> {
    let Pipes { child: ends, stdin: to_child, stdout, stderr } = pipes;
    drop(ends);
    // A command that closes its stdin must not kill us with SIGPIPE.
    // SAFETY: ignoring a signal installs no handler.
    unsafe { nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigIgn) }
        .context("ignoring SIGPIPE")?;
    let sfd = SignalFd::with_flags(sigs, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).context("signalfd")?;
    // SAFETY: the caller's stdio stays open for the life of the process.
    let (our_in, our_out, our_err) =
        unsafe { (BorrowedFd::borrow_raw(0), BorrowedFd::borrow_raw(1), BorrowedFd::borrow_raw(2)) };
    let mut to_child = Some(to_child);
    let mut outs: Vec<(OwnedFd, BorrowedFd)> = vec![(stdout, our_out), (stderr, our_err)];
    let mut pending: Vec<u8> = Vec::new();
    let mut stdin_open = true;
    let mut buf = vec![0u8; 65536];
    let mut killed: Option<(Signal, Instant)> = None;
    let mut exited: Option<(i32, Instant)> = None;
    loop {
        let now = Instant::now();
        if let Some((code, at)) = exited {
            if outs.is_empty() || now >= at + DRAIN {
                return Ok(if killed.is_some() { End::TimedOut } else { End::Exited(code) });
            }
        }
        if exited.is_none() {
            match (killed, deadline) {
                (None, Some(d)) if now >= d => {
                    let _ = kill(Pid::from_raw(-child.as_raw()), Signal::SIGTERM);
                    killed = Some((Signal::SIGTERM, now));
                }
                (Some((Signal::SIGTERM, at)), _) if now >= at + GRACE => {
                    let _ = kill(Pid::from_raw(-child.as_raw()), Signal::SIGKILL);
                    killed = Some((Signal::SIGKILL, now));
                }
                _ => {}
            }
        }
        let wake = [
            exited.map(|(_, at)| at + DRAIN),
            if killed.is_none() { deadline } else { None },
            killed.filter(|(s, _)| *s == Signal::SIGTERM).map(|(_, at)| at + GRACE),
        ]
        .into_iter()
        .flatten()
        .min();
        let timeout = match wake {
            None => PollTimeout::NONE,
            Some(w) => PollTimeout::try_from(w.saturating_duration_since(now).as_millis().min(60_000) as i32 + 1)
                .unwrap_or(PollTimeout::MAX),
        };

        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        let want_stdin = stdin_open && pending.is_empty() && to_child.is_some() && exited.is_none();
        if want_stdin {
            fds.push(PollFd::new(our_in, PollFlags::POLLIN));
        }
        let stdin_at = want_stdin.then_some(fds.len() - 1);
        let pending_at = match (&to_child, pending.is_empty()) {
            (Some(w), false) => {
                fds.push(PollFd::new(w.as_fd(), PollFlags::POLLOUT));
                Some(fds.len() - 1)
            }
            _ => None,
        };
        let first_out = fds.len();
        for (r, _) in &outs {
            fds.push(PollFd::new(r.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("poll"),
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);

        if stdin_at.is_some_and(|i| ready[i]) {
            match nix::unistd::read(our_in, &mut buf) {
                Ok(0) | Err(_) => {
                    stdin_open = false;
                    to_child = None;
                }
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
        }
        if let (Some(w), true) = (&to_child, pending_at.is_some_and(|i| ready[i]) || !pending.is_empty()) {
            match nix::unistd::write(w, &pending) {
                Ok(n) => drop(pending.drain(..n)),
                Err(nix::errno::Errno::EAGAIN) => {}
                // The command closed its stdin: what is left goes nowhere.
                Err(_) => {
                    pending.clear();
                    to_child = None;
                    stdin_open = false;
                }
            }
        }
        let mut closed = Vec::new();
        for (k, (r, ours)) in outs.iter().enumerate() {
            if !ready[first_out + k] {
                continue;
            }
            match nix::unistd::read(r, &mut buf) {
                Ok(0) => closed.push(k),
                Ok(n) => write_all(*ours, &buf[..n]),
                Err(nix::errno::Errno::EAGAIN) => {}
                Err(_) => closed.push(k),
            }
        }
        for k in closed.into_iter().rev() {
            outs.remove(k);
        }
        if ready[0] {
            while let Ok(Some(info)) = sfd.read_signal() {
                let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else { continue };
                if sig != Signal::SIGCHLD {
                    let _ = kill(child, sig);
                    continue;
                }
                if let Ok(ws) = waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                    if let Some(code) = super::exit_code(ws) {
                        exited = Some((code, Instant::now()));
                        // It reads no more: a process it left gets EOF.
                        to_child = None;
                    }
                }
            }
        }
    }
}

/// A write to the caller's stdout or stderr; one the caller closed is
/// passed over (the command's output then goes nowhere, as with a shell).
fn write_all(fd: BorrowedFd, mut b: &[u8]) {
    while !b.is_empty() {
        match nix::unistd::write(fd, b) {
            Ok(n) => b = &b[n..],
            Err(nix::errno::Errno::EINTR) => {}
            // The caller's descriptor is non-blocking: wait until it takes more.
            Err(nix::errno::Errno::EAGAIN) => {
                let _ = poll(&mut [PollFd::new(fd, PollFlags::POLLOUT)], PollTimeout::NONE);
            }
            Err(_) => return,
        }
    }
}
