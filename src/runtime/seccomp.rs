//! The seccomp filter: an allow-list in the spirit of Docker's default
//! profile, compiled to BPF once at create time (libseccomp takes ~20 ms for
//! a filter this size) and only loaded at start.

use anyhow::{bail, Context, Result};
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use std::io::{Read, Seek};
use std::path::Path;

/// Where the compiled filter lives in a sandbox's state directory.
pub const FILE: &str = "seccomp.bpf";

/// Every call a normal service makes. Left out on purpose, so they fail with
/// EPERM: mount and the new mount API, pivot_root, unshare, setns, keyctl,
/// add_key, request_key, kexec_*, bpf, perf_event_open, userfaultfd,
/// io_uring_*, module loading, ptrace and process_vm_*, open_by_handle_at,
/// reboot, swapon/off, clock and time setting, acct, quotactl,
/// lookup_dcookie, iopl/ioperm, vm86, uselib, ustat, sysfs, _sysctl,
/// fanotify_init, name_to_handle_at, kcmp, mbind and the NUMA policy calls.
pub const ALLOWED: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "arch_prctl",
    "bind",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "chroot",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];

/// clone(2) flags that make namespaces: clone is allowed only without them.
pub const CLONE_NEW_ANY: u64 = 0x7E02_0000;
/// AF_VSOCK: talks to the hypervisor, not to anything a service needs.
pub const AF_VSOCK: u64 = 40;
/// personality(2) values glibc and common tools use (Linux, PER_LINUX32,
/// UNAME26 variants, and the query 0xffffffff).
pub const PERSONALITIES: &[u64] = &[0, 8, 0x20000, 0x20008, 0xffff_ffff];

/// How one rule compares the call's first argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgTest {
    /// `arg & mask == value`.
    MaskedEq {
        mask: u64,
        value: u64,
    },
    Eq(u64),
    Ne(u64),
}

/// What a matching call gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Errno(i32),
}

/// One rule of the filter: calls by name, an optional test of argument 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub names: Vec<&'static str>,
    pub verdict: Verdict,
    pub arg0: Option<ArgTest>,
}

/// Everything not matched by a rule fails with this errno.
pub const DEFAULT_ERRNO: i32 = nix::libc::EPERM;

/// The filter as data: compiled to BPF here, and rendered as an OCI
/// seccomp profile by `export`, so the two can never say different things.
pub fn rules() -> Vec<Rule> {
    let mut v = vec![
        Rule { names: ALLOWED.to_vec(), verdict: Verdict::Allow, arg0: None },
        Rule {
            names: vec!["clone"],
            verdict: Verdict::Allow,
            arg0: Some(ArgTest::MaskedEq { mask: CLONE_NEW_ANY, value: 0 }),
        },
        // glibc falls back to clone(2) on ENOSYS, where the flags can be
        // checked; clone3 passes them in memory, out of the filter's reach.
        Rule { names: vec!["clone3"], verdict: Verdict::Errno(nix::libc::ENOSYS), arg0: None },
        Rule { names: vec!["socket"], verdict: Verdict::Allow, arg0: Some(ArgTest::Ne(AF_VSOCK)) },
    ];
    for p in PERSONALITIES {
        v.push(Rule { names: vec!["personality"], verdict: Verdict::Allow, arg0: Some(ArgTest::Eq(*p)) });
    }
    v
}

/// Compiles the filter for the native architecture and its 32-bit
/// companions, as BPF ready for seccomp(SECCOMP_SET_MODE_FILTER).
pub fn compile() -> Result<Vec<u8>> {
    let mut f = ScmpFilterContext::new(ScmpAction::Errno(DEFAULT_ERRNO)).context("seccomp: new filter")?;
    // We set no_new_privs ourselves, in the runtime, before loading.
    f.set_ctl_nnp(false)?;
    // A binary tree of syscall numbers, not a list: the kernel runs the
    // filter over every syscall of every architecture when it is loaded (to
    // cache constant answers), which took 0.8 ms of each start with a list.
    f.set_ctl_optimize(2).context("seccomp: binary-tree optimization")?;
    if ScmpArch::native() == ScmpArch::X8664 {
        f.add_arch(ScmpArch::X86)?;
        f.add_arch(ScmpArch::X32)?;
    }
    for rule in rules() {
        let action = match rule.verdict {
            Verdict::Allow => ScmpAction::Allow,
            Verdict::Errno(e) => ScmpAction::Errno(e),
        };
        for name in &rule.names {
            // A name the architecture does not have (e.g. a *_time64 call on
            // x86_64) resolves to nothing there, which is what we want.
            let Ok(sc) = ScmpSyscall::from_name(name) else { continue };
            match rule.arg0 {
                None => f.add_rule(action, sc),
                Some(t) => {
                    let cmp = match t {
                        ArgTest::MaskedEq { mask, value } => {
                            ScmpArgCompare::new(0, ScmpCompareOp::MaskedEqual(mask), value)
                        }
                        ArgTest::Eq(v) => ScmpArgCompare::new(0, ScmpCompareOp::Equal, v),
                        ArgTest::Ne(v) => ScmpArgCompare::new(0, ScmpCompareOp::NotEqual, v),
                    };
                    f.add_rule_conditional(action, sc, &[cmp])
                }
            }
            .with_context(|| format!("seccomp: rule for {name}"))?;
        }
    }
    // libseccomp 2.5 (Debian 12) exports only to a file descriptor.
    let mut tmp = tempfile::tempfile().context("seccomp: temporary file")?;
    f.export_bpf(&tmp).context("seccomp: export BPF")?;
    tmp.rewind()?;
    let mut bpf = Vec::new();
    tmp.read_to_end(&mut bpf)?;
    if bpf.is_empty() || bpf.len() % 8 != 0 {
        bail!("seccomp: exported filter has a bad size ({} bytes)", bpf.len());
    }
    Ok(bpf)
}

/// Reads a stored filter, checking it is whole BPF instructions.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    let bpf = std::fs::read(path)
        .with_context(|| format!("reading the seccomp filter {} (recreate the sandbox)", path.display()))?;
    if bpf.is_empty() || bpf.len() % 8 != 0 || bpf.len() / 8 > u16::MAX as usize {
        bail!("{}: not a seccomp BPF program (recreate the sandbox)", path.display());
    }
    Ok(bpf)
}

/// Installs the filter on the calling thread; no_new_privs must be set.
pub fn load(bpf: &[u8]) -> Result<()> {
    let prog =
        nix::libc::sock_fprog { len: (bpf.len() / 8) as u16, filter: bpf.as_ptr() as *mut nix::libc::sock_filter };
    // SAFETY: prog points at bpf, which outlives the call; the kernel copies it.
    let rc = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_seccomp,
            nix::libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const nix::libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("seccomp: loading the filter");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_to_whole_instructions() {
        let bpf = compile().unwrap();
        assert!(bpf.len() / 8 > 100, "an allow-list this long makes a long program: {}", bpf.len() / 8);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE);
        std::fs::write(&p, &bpf).unwrap();
        assert_eq!(read(&p).unwrap(), bpf);
        std::fs::write(&p, b"abc").unwrap();
        assert!(read(&p).is_err());
    }

    /// Loads the filter in a child and tries calls there; needs no root.
    #[test]
    fn the_loaded_filter_denies_what_it_should() {
        let bpf = compile().unwrap();
        // SAFETY: the child only makes plain calls and exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let code = (|| {
                    nix::sys::prctl::set_no_new_privs().ok()?;
                    load(&bpf).ok()?;
                    let null = std::fs::File::open("/dev/null").ok()?;
                    let fd = std::os::fd::AsRawFd::as_raw_fd(&null);
                    let errno = || std::io::Error::last_os_error().raw_os_error();
                    // SAFETY: syscalls on our own fd and no pointers kept.
                    unsafe {
                        let c = nix::libc::c_char::default();
                        // Allowed calls still reach the kernel: /dev/null is no tty.
                        if nix::libc::ioctl(fd, nix::libc::TIOCGWINSZ, &c) != -1 || errno() != Some(nix::libc::ENOTTY) {
                            return Some(4);
                        }
                        if nix::libc::syscall(nix::libc::SYS_keyctl, 0, -3, 0) != -1
                            || errno() != Some(nix::libc::EPERM)
                        {
                            return Some(2);
                        }
                        // A target that does not exist: unfiltered, ENOENT, and never a mount.
                        let nowhere = c"/nonexistent/sandbox-service-seccomp-test";
                        if nix::libc::mount(std::ptr::null(), nowhere.as_ptr(), std::ptr::null(), 0, std::ptr::null())
                            != -1
                            || errno() != Some(nix::libc::EPERM)
                        {
                            return Some(3);
                        }
                        if nix::libc::unshare(nix::libc::CLONE_NEWNS) != -1 || errno() != Some(nix::libc::EPERM) {
                            return Some(5);
                        }
                        if nix::libc::syscall(nix::libc::SYS_clone3, 0, 0) != -1 || errno() != Some(nix::libc::ENOSYS) {
                            return Some(6);
                        }
                    }
                    Some(0)
                })()
                .unwrap_or(1);
                // SAFETY: leaving the forked child without running the test harness's atexit.
                unsafe { nix::libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0), "step that failed: see the codes above");
            }
        }
    }

    #[test]
    fn forbidden_calls_are_not_on_the_list() {
        for bad in ["mount", "umount2", "unshare", "setns", "keyctl", "bpf", "ptrace", "kexec_load", "init_module"] {
            assert!(!ALLOWED.contains(&bad), "{bad}");
        }
        for name in ALLOWED {
            assert!(!name.starts_with("io_uring"), "{name}");
        }
    }
}
