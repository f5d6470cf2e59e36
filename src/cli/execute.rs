//! `sandbox-service execute NAME -- COMMAND`: a command inside a running
//! sandbox, with the service's confinement; stdio relayed through pipes
//! (runtime::stdio), its exit status returned, signals forwarded.

use crate::layout::Layout;
use crate::runtime::{self, join, stdio};
use anyhow::{bail, Context, Result};
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::{ForkResult, Pid};
use std::ffi::CString;

/// Run a command inside a running sandbox, confined like its service.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  sandbox-service execute web1 -- apache2ctl -S")]
pub struct Args {
    /// Do not take the sandbox's SELinux label (run with the caller's).
    #[arg(short = 'N', long)]
    pub noseclabel: bool,
    /// End the command and every process of its group after DURATION
    /// (a systemd time span: 90, 5min, 1h); the exit status is then 124.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// The sandbox's name.
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub name: String,
    /// The command and its arguments, looked up in the sandbox's PATH.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// The environment a command starts with inside: nothing of the caller's
/// but the terminal type and language.
pub fn environment(home: &str) -> Result<Vec<CString>> {
    let mut env =
        vec![format!("PATH={}", runtime::PATH), format!("HOME={home}"), "container=sandbox-service".to_string()];
    for keep in ["TERM", "LANG", "LC_ALL"] {
        if let Ok(v) = std::env::var(keep) {
            env.push(format!("{keep}={v}"));
        }
    }
    env.into_iter().map(|e| CString::new(e).context("an environment value holds a NUL byte")).collect()
}

/// Enters the sandbox and forks; the closure runs in the child (in every
/// namespace, not yet confined) and must exec or fail. Returns the child's
/// pid and the signals (`forward` and SIGCHLD), blocked, for the caller to
/// take from a signalfd.
pub fn enter_and_fork(
    layout: &Layout,
    name: &str,
    forward: &[Signal],
    child: impl FnOnce(&join::Target) -> Result<std::convert::Infallible>,
) -> Result<(Pid, SigSet)> {
    let t = join::target(layout, name)?;
    // Nothing in the sandbox may open /proc/PID/exe of ours (the host's
    // binary) while we are in its pid namespace.
    nix::sys::prctl::set_dumpable(false).context("PR_SET_DUMPABLE")?;
    let sigs = runtime::take_signals(forward)?;
    join::join_cgroup(t.shim)?;
    join::enter(&t)?;
    // SAFETY: single-threaded here; the child execs or exits.
    match unsafe { nix::unistd::fork() }.context("fork")? {
        ForkResult::Child => {
            let e = (|| -> Result<std::convert::Infallible> {
                SigSet::empty().thread_set_mask().context("signal mask")?;
                child(&t)
            })()
            .unwrap_err();
            eprintln!("sandbox-service: error: {e:#}");
            // SAFETY: leaving the child without running the parent's atexit handlers.
            unsafe { nix::libc::_exit(if e.to_string().contains("not found") { 127 } else { 126 }) }
        }
        ForkResult::Parent { child } => Ok((child, sigs)),
    }
}

/// The last steps before exec: the service's confinement, no fd of ours
/// left open, seccomp last.
fn confine_for_exec(t: &join::Target, selinux: bool) -> Result<()> {
    join::confine(t, selinux)?;
    runtime::close_from(3)?;
    runtime::confine::seccomp(&t.confinement.bpf)
}

/// Confines the current (child) process and executes `argv`.
pub fn confine_and_exec(
    t: &join::Target,
    selinux: bool,
    argv: &[CString],
    env: &[CString],
) -> Result<std::convert::Infallible> {
    confine_for_exec(t, selinux)?;
    let e = nix::unistd::execvpe(&argv[0], argv, env).unwrap_err();
    if e == nix::errno::Errno::ENOENT {
        bail!("{}: command not found in the sandbox", argv[0].to_string_lossy());
    }
    Err(e).with_context(|| format!("executing {}", argv[0].to_string_lossy()))
}

/// Like `confine_and_exec`, with the program's path apart from argv[0]
/// (a login shell's argv[0] is "-sh").
pub fn confine_and_exec_path(
    t: &join::Target,
    selinux: bool,
    path: &CString,
    argv: &[CString],
    env: &[CString],
) -> Result<std::convert::Infallible> {
    confine_for_exec(t, selinux)?;
    let e = nix::unistd::execve(path, argv, env).unwrap_err();
    Err(e).with_context(|| format!("executing {}", path.to_string_lossy()))
}

/// The exit status of a command ended by --timeout, as timeout(1) has it.
pub const TIMED_OUT: i32 = 124;

pub fn run(layout: &Layout, a: Args) -> Result<i32> {
    layout.require_live()?;
    let argv: Vec<CString> =
        a.command.iter().map(|s| CString::new(s.as_str())).collect::<Result<_, _>>().context("NUL in the command")?;
    let env = environment("/root")?;
    let limit = match &a.timeout {
        None => None,
        Some(t) => crate::shim::service::parse_timespan(t).with_context(|| format!("--timeout {t}"))?,
    };
    let pipes = stdio::pipes()?;
    // Ctrl-C reaches us (the caller's terminal's foreground group) and is
    // passed on. The command has a session and a process group of its own:
    // no terminal to push input into (TIOCSTI), and one group to end.
    let (child, sigs) = enter_and_fork(layout, &a.name, runtime::FORWARDED, |t| {
        nix::unistd::setsid().context("setsid")?;
        pipes.install()?;
        confine_and_exec(t, !a.noseclabel, &argv, &env)
    })?;
    let deadline = limit.and_then(|l| std::time::Instant::now().checked_add(l));
    match stdio::relay(pipes, child, &sigs, deadline)? {
        stdio::End::Exited(code) => Ok(code),
        stdio::End::TimedOut => {
            eprintln!(
                "sandbox-service: {}: {} timed out after {}",
                a.name,
                a.command[0],
                a.timeout.unwrap_or_default()
            );
            Ok(TIMED_OUT)
        }
    }
}
