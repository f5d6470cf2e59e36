//! clone3(2) straight into a cgroup (CLONE_INTO_CGROUP, Linux 5.7): the
//! container's first process starts in the cgroup `run` made for it,
//! without `run` moving in and out (each move a cgroup.procs write that
//! waits for an RCU grace period).

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;
use std::os::fd::{AsRawFd, BorrowedFd};

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// struct clone_args up to `cgroup` (CLONE_ARGS_SIZE_VER2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Forks (a copy of this process's memory, as fork(2)) with `flags` into
/// `cgroup`; the child runs `child` and exits with what it returns.
/// ENOSYS, E2BIG or EINVAL say the kernel cannot: the caller falls back.
///
/// # Safety
/// As fork: this process must be single-threaded, and `child` must not
/// rely on locks another thread could have held.
pub unsafe fn clone_into(flags: CloneFlags, cgroup: BorrowedFd, child: &mut dyn FnMut() -> isize) -> nix::Result<Pid> {
    let args = CloneArgs {
        flags: flags.bits() as u64 | CLONE_INTO_CGROUP,
        exit_signal: nix::libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..Default::default()
    };
    // SAFETY: args is a valid clone_args of the size given; no stack is
    // given, so the child continues on a copy of ours, as after fork.
    let r = unsafe {
        nix::libc::syscall(nix::libc::SYS_clone3, &args as *const CloneArgs, std::mem::size_of::<CloneArgs>())
    };
    match r {
        -1 => Err(Errno::last()),
        0 => {
            let code = child();
            // SAFETY: the child's end; nothing of the parent's is unwound here.
            unsafe { nix::libc::_exit(code as i32) }
        }
        pid => Ok(Pid::from_raw(pid as i32)),
    }
}

/// Whether clone_into's error means the kernel lacks it, not that it failed.
pub fn unsupported(e: Errno) -> bool {
    matches!(e, Errno::ENOSYS | Errno::E2BIG | Errno::EINVAL | Errno::EOPNOTSUPP)
}
