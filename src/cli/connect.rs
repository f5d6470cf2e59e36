//! `sandbox-service connect NAME`: a login shell inside a running
//! sandbox, on a pseudo-terminal allocated inside it, with the service's
//! confinement. The caller's terminal is relayed, never handed in.

use super::execute::{confine_and_exec_path, enter_and_fork, environment};
use crate::layout::Layout;
use anyhow::{anyhow, bail, Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::termios::{self, SetArg, Termios};
use nix::sys::wait::{waitpid, WaitPidFlag};
use std::ffi::CString;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// Open a login shell inside a running sandbox.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Do not take the sandbox's SELinux label (run with the caller's).
    #[arg(short = 'N', long)]
    pub noseclabel: bool,
    /// The sandbox's name.
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub name: String,
}

/// Puts the caller's terminal back as it was, however we leave.
struct RawMode {
    saved: Termios,
}

impl RawMode {
    fn enter() -> Result<Self> {
        let saved = termios::tcgetattr(std::io::stdin()).context("reading the terminal's settings")?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, &raw).context("raw mode")?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSAFLUSH, &self.saved);
    }
}

fn copy_winsize(from: RawFd, to: RawFd) {
    // SAFETY: winsize is plain data; both fds are open terminals.
    unsafe {
        let mut ws: nix::libc::winsize = std::mem::zeroed();
        if nix::libc::ioctl(from, nix::libc::TIOCGWINSZ, &mut ws) == 0 {
            nix::libc::ioctl(to, nix::libc::TIOCSWINSZ, &ws);
        }
    }
}

/// In the child: a pty from the sandbox's own devpts; the master goes to
/// the parent, the slave becomes our controlling terminal and stdio.
fn make_pty(to_parent: &UnixStream) -> Result<()> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY).context("opening /dev/ptmx")?;
    nix::pty::grantpt(&master).context("grantpt")?;
    nix::pty::unlockpt(&master).context("unlockpt")?;
    let slave_name = nix::pty::ptsname_r(&master).context("ptsname")?;
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        to_parent.as_raw_fd(),
        &[IoSlice::new(b"m")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .context("passing the terminal out")?;
    nix::unistd::setsid().context("setsid")?;
    // The first terminal a session leader opens becomes its controlling one.
    let slave = nix::fcntl::open(slave_name.as_str(), OFlag::O_RDWR, nix::sys::stat::Mode::empty())
        .with_context(|| format!("opening {slave_name}"))?;
    for fd in 0..3 {
        // SAFETY: dup2 onto stdio of this process.
        if unsafe { nix::libc::dup2(slave.as_raw_fd(), fd) } < 0 {
            return Err(std::io::Error::last_os_error()).context("dup2 terminal");
        }
    }
    Ok(())
}

fn receive_fd(from_child: &UnixStream) -> Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(from_child.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .context("receiving the terminal")?;
    for c in msg.cmsgs().context("control messages")? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just installed this fd for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(anyhow!("the sandbox sent no terminal"))
}

/// Root's login shell, looked up on the host before anything is joined:
/// NSS inside the sandbox could ask a daemon of the sandbox's (nscd's
/// socket in its /run) while we still hold the host's privileges. /usr is
/// shared, so the host's answer names a program that exists inside; the
/// sandbox's own /etc/passwd, where private, is not consulted.
fn login_shell() -> Result<(CString, CString)> {
    let shell = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(0))
        .ok()
        .flatten()
        .map(|u| u.shell.display().to_string())
        .filter(|s| ["/usr/", "/bin/", "/sbin/"].iter().any(|p| s.starts_with(p)) && std::path::Path::new(s).is_file())
        .unwrap_or_else(|| "/bin/sh".into());
    let base = shell.rsplit('/').next().unwrap_or("sh").to_string();
    Ok((CString::new(shell)?, CString::new(format!("-{base}"))?))
}

pub fn run(layout: &Layout, a: Args) -> Result<i32> {
    layout.require_live()?;
    if !nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
        bail!(
            "connect needs a terminal on standard input: for scripts use sandbox-service execute {} -- COMMAND",
            a.name
        );
    }
    let (ours, theirs) = UnixStream::pair().context("socketpair")?;
    let env = environment("/root")?;
    let (path, argv0) = login_shell()?;
    let forward = [Signal::SIGTERM, Signal::SIGHUP, Signal::SIGWINCH];
    let (child, sigs) = enter_and_fork(layout, &a.name, &forward, |t| {
        make_pty(&theirs)?;
        confine_and_exec_path(t, !a.noseclabel, &path, std::slice::from_ref(&argv0), &env)
    })?;
    drop(theirs);
    let master = receive_fd(&ours)?;
    let _raw = RawMode::enter()?;
    copy_winsize(0, master.as_raw_fd());
    relay(child, &master, &sigs)
}

/// Copies the caller's keystrokes in and the shell's output out until the
/// shell exits; passes window size changes on.
fn relay(child: nix::unistd::Pid, master: &OwnedFd, sigs: &nix::sys::signal::SigSet) -> Result<i32> {
    let sfd = SignalFd::with_flags(sigs, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).context("signalfd")?;
    // SAFETY: stdin and stdout stay open for the life of the process.
    let (stdin, stdout) = unsafe { (BorrowedFd::borrow_raw(0), BorrowedFd::borrow_raw(1)) };
    let mut buf = [0u8; 8192];
    let mut stdin_open = true;
    loop {
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN), PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if stdin_open {
            fds.push(PollFd::new(stdin, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("poll"),
        }
        let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
        let (sig, out, inp) = (ready(&fds[0]), ready(&fds[1]), fds.get(2).is_some_and(ready));
        if out {
            match nix::unistd::read(master, &mut buf) {
                Ok(n) if n > 0 => write_all(stdout, &buf[..n])?,
                // EIO: the shell closed its side; its exit comes as SIGCHLD.
                _ => {}
            }
        }
        if inp {
            match nix::unistd::read(stdin, &mut buf) {
                Ok(n) if n > 0 => write_all(master.as_fd(), &buf[..n])?,
                _ => stdin_open = false,
            }
        }
        if sig {
            while let Ok(Some(info)) = sfd.read_signal() {
                match Signal::try_from(info.ssi_signo as i32)? {
                    Signal::SIGWINCH => copy_winsize(0, master.as_raw_fd()),
                    Signal::SIGCHLD => {
                        if let Ok(ws) = waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                            if let Some(code) = crate::runtime::exit_code(ws) {
                                drain(master, stdout, &mut buf)?;
                                return Ok(code);
                            }
                        }
                    }
                    other => {
                        let _ = kill(child, other);
                    }
                }
            }
        }
    }
}

/// How long what the shell wrote last is still copied out after it has
/// exited: a process it left in the background may hold the terminal
/// open, and then the pty never reads as closed.
const DRAIN: std::time::Duration = std::time::Duration::from_millis(200);

fn drain(master: &OwnedFd, stdout: BorrowedFd, buf: &mut [u8]) -> Result<()> {
    let until = std::time::Instant::now() + DRAIN;
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        let ms = PollTimeout::try_from(left.as_millis() as i32).unwrap_or(PollTimeout::ZERO);
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if left.is_zero() || !matches!(poll(&mut fds, ms), Ok(n) if n > 0) {
            return Ok(());
        }
        match nix::unistd::read(master, buf) {
            Ok(n) if n > 0 => write_all(stdout, &buf[..n])?,
            // EIO: every holder of the terminal is gone.
            _ => return Ok(()),
        }
    }
}

fn write_all(fd: BorrowedFd, mut b: &[u8]) -> Result<()> {
    while !b.is_empty() {
        match nix::unistd::write(fd, b) {
            Ok(n) => b = &b[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("relaying the terminal"),
        }
    }
    Ok(())
}
