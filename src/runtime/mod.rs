//! `sandbox-service run NAME`: assembles the container and runs the shim
//! as its PID 1, in the foreground, as the host unit's main process.
//!
//! Two processes: this one stays in the host's namespaces, relays the
//! shim's readiness to systemd, forwards signals and exits with the shim's
//! status; the child, made with clone(2) in new namespaces, builds the root
//! (rootfs), confines itself (confine) and executes the shim through a
//! read-only bind mount of it, so nothing inside can rewrite the host's
//! binary through /proc/1/exe (and PID 1 is not dumpable besides). A memfd
//! copy, as runc makes, would cost each sandbox the binary's size in
//! memory.

pub mod caps;
pub mod confine;
pub mod control;
pub mod devices;
pub mod hostrun;
pub mod join;
pub mod machined;
pub mod mountapi;
pub mod mountinfo;
pub mod othersview;
pub mod rootfs;
pub mod seccomp;
pub mod spawn;
pub mod stdio;
pub mod supervise;
pub mod unitseccomp;
pub mod userns;

use crate::config::{Network, Payload, SandboxConfig};
use crate::layout::{Layout, MANIFEST, TREE};
use crate::manifest::Manifest;
use crate::names::ServiceName;
use crate::plan::Kind;
use crate::{config, unitpath};
use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::WaitStatus;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};

/// The shim's binary name; it is looked up beside this one, then in
/// ../libexec/sandbox-service/.
pub const SHIM: &str = "sandbox-service-init";
/// The tmpfiles.d lines the shim applies, in its run directory.
const TMPFILES: &str = "tmpfiles.conf";
/// The fd the shim gets for readiness messages.
pub const NOTIFY_FD: RawFd = 3;
/// Signals forwarded to the shim, which decides what each means.
pub const FORWARDED: &[Signal] = &[
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGQUIT,
];
/// The PATH everything in a sandbox starts with, as systemd gives services.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Blocks `forward` and SIGCHLD, to be read from a signalfd, after
/// resetting them to their default action: an ignored signal (a shell
/// starts background jobs with SIGINT ignored) would be dropped, not
/// queued, and never forwarded.
pub fn take_signals(forward: &[Signal]) -> Result<SigSet> {
    let mut sigs = SigSet::empty();
    for s in forward {
        sigs.add(*s);
    }
    sigs.add(Signal::SIGCHLD);
    sigs.thread_block().context("blocking signals")?;
    for s in sigs.iter() {
        // SAFETY: setting the default action; the signal is blocked, so no handler can run.
        unsafe { nix::sys::signal::signal(s, nix::sys::signal::SigHandler::SigDfl) }
            .with_context(|| format!("resetting {s}"))?;
    }
    Ok(sigs)
}

/// Everything decided before the namespaces exist.
pub struct Launch {
    pub cfg: SandboxConfig,
    pub root: rootfs::RootSpec,
    pub confinement: confine::Confinement,
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
}

pub fn shim_path() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding our own binary")?;
    let dir = exe.parent().unwrap_or(Path::new("/"));
    for cand in [dir.join(SHIM), dir.join("../libexec/sandbox-service").join(SHIM)] {
        if cand.is_file() {
            return Ok(cand);
        }
    }
    bail!("{SHIM} not found beside {} or in ../libexec/sandbox-service: reinstall sandbox-service", exe.display())
}

/// The service's unit as systemd would load it (fragment, then drop-ins),
/// and the name it runs under inside the sandbox.
fn unit_text(layout: &Layout, cfg: &SandboxConfig, service: &str) -> Result<(String, String)> {
    let name = ServiceName::parse(service)?;
    let text = unitpath::resolve(layout, &name)?.text(layout)?;
    let (unit, _) = name.running_as(&cfg.name);
    Ok((unit, text))
}

/// The other sandboxes' configs whose text `may_be` says may matter. One
/// that does not parse is reported and passed over: a broken neighbour
/// must not keep this sandbox from starting.
fn other_configs(layout: &Layout, name: &str, may_be: impl Fn(&str) -> bool) -> Vec<SandboxConfig> {
    let Ok(rd) = std::fs::read_dir(layout.config_dir()) else { return Vec::new() };
    let mut out = Vec::new();
    for p in rd.flatten().map(|e| e.path()) {
        if p.extension().is_none_or(|e| e != "sandbox") || p.file_stem().is_some_and(|s| s == name) {
            continue;
        }
        // Reading is cheap, parsing is not: each start of N sandboxes
        // would parse N configs.
        if !std::fs::read_to_string(&p).is_ok_and(|t| may_be(&t)) {
            continue;
        }
        match SandboxConfig::load(&p) {
            Ok(c) => out.push(c),
            Err(e) => tracing::warn!(sandbox = %name, "label not checked against {}: {e:#}", p.display()),
        }
    }
    out
}

/// What the shim is given: its files (units as systemd would load them,
/// their seccomp filters, tmpfiles lines, logrotate's configuration), to
/// be put in `dir` inside, and its arguments naming them there. The
/// sandbox's runtime and `export` both take them from here, so an exported
/// container runs the same services the same way.
pub struct ShimInputs {
    pub files: Vec<(String, Vec<u8>)>,
    pub argv: Vec<String>,
    pub unit_binds: Vec<rootfs::UnitBind>,
}

pub fn shim_inputs(
    layout: &Layout,
    cfg: &SandboxConfig,
    state: &Path,
    manifest: &Manifest,
    dir: &str,
) -> Result<ShimInputs> {
    let name = cfg.name.as_str();
    let mut files = Vec::new();
    let mut argv = vec![SHIM.to_string(), "--name".to_string(), name.to_string()];
    let mut unit_binds = Vec::new();
    match &cfg.payload {
        Payload::Services(services) => {
            for s in services {
                let (unit, text) = unit_text(layout, cfg, s)?;
                let instance = ServiceName::parse(s)?.running_as(name).1;
                let spec = crate::unitfile::Specifiers { unit: unit.clone(), instance, hostname: name.to_string() };
                let file = crate::unitfile::UnitFile::parse(&text)?;
                unit_binds.extend(rootfs::UnitBind::of_unit(&file, &spec).with_context(|| format!("in {unit}"))?);
                if let Ok(f) = std::fs::read(unitseccomp::state_file(state, &unit)) {
                    files.push((format!("{unit}.seccomp"), f));
                }
                files.push((unit.clone(), text.into_bytes()));
                argv.push(if cfg.pulled.contains(s) { "--pulled" } else { "--unit" }.to_string());
                argv.push(format!("{dir}/{unit}"));
            }
        }
        Payload::Command(cmd) => {
            argv.push("--".to_string());
            argv.extend(cmd.iter().cloned());
        }
    }
    if matches!(cfg.payload, Payload::Services(_)) {
        // For `sandbox-service logrotate` (see logrotateconf); a host
        // without logrotate has none to give.
        if let Ok(host) = std::fs::read_to_string("/etc/logrotate.conf") {
            let conf = crate::logrotateconf::for_sandbox(&host, &manifest.plan.private);
            files.push((crate::logrotateconf::FILE.to_string(), conf.into_bytes()));
        }
    }
    if !manifest.plan.tmpfiles.is_empty() {
        let mut conf = String::from("# The tmpfiles.d lines of the sandbox's packages (sandbox-service).\n");
        for l in &manifest.plan.tmpfiles {
            conf.push_str(&format!("# {}\n{}\n", l.file, l.line));
        }
        files.push((TMPFILES.to_string(), conf.into_bytes()));
        // Before any --unit would be fine too: the shim reads all first.
        let at = if matches!(cfg.payload, Payload::Command(_)) { 3 } else { argv.len() };
        argv.insert(at, "--tmpfiles".to_string());
        argv.insert(at + 1, format!("{dir}/{TMPFILES}"));
    }
    Ok(ShimInputs { files, argv, unit_binds })
}

fn cstr(s: impl Into<Vec<u8>>) -> Result<CString> {
    CString::new(s).context("an argument holds a NUL byte")
}

/// Gathers what the container needs; every error here is the user's to fix
/// and says how.
pub fn prepare(layout: &Layout, name: &str) -> Result<Launch> {
    let cfg = config::load_named(layout, name)?;
    if let Some(l) = cfg.label {
        // Two sandboxes with one label could reach each other's files
        // under SELinux: refuse to start rather than share.
        // Only a file naming both categories can hold the same label.
        let text = l.to_string();
        let cats: Vec<&str> = text.trim_start_matches("s0:").split(',').collect();
        let same = other_configs(layout, name, |t| cats.iter().all(|c| t.contains(c)));
        if let Some(other) = same.iter().find(|o| o.label == Some(l)) {
            bail!(
                "label {l} of sandbox '{name}' is also used by sandbox '{}': give one of them another label \
                 (sandbox-service clone -s dynamic, or edit label= in its .sandbox file)",
                other.name
            );
        }
    }
    // Under systemd the unit must hold what this configuration needs
    // (capability bound, namespaces, network): an edit of the .sandbox file
    // takes `update` to reach it.
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        let unit = layout.unit_dir().join(&cfg.unit);
        if let Ok(text) = std::fs::read_to_string(&unit) {
            if let Err(e) = crate::unithardening::check(&cfg, &text) {
                bail!(
                    "{} is older than /etc/sandbox-service/{name}.sandbox ({e:#}): run sandbox-service update {name}, \
                     then start it again",
                    unit.display()
                );
            }
        }
    }
    let state = layout.state_dir(name);
    if !state.is_dir() {
        bail!(
            "the state directory {} of sandbox '{name}' is missing: delete and recreate the sandbox",
            state.display()
        );
    }
    let manifest = Manifest::load(&state.join(MANIFEST))?;
    let confinement = confine::Confinement::load(&cfg, &state, &manifest)?;
    let tree = state.join(TREE);

    let shim_in = shim_inputs(layout, &cfg, &state, &manifest, rootfs::RUN_DIR)?;
    let mut run_files = vec![
        ("hostname".to_string(), format!("{name}\n").into_bytes()),
        (
            "hosts".to_string(),
            rootfs::hosts_file(&std::fs::read_to_string("/etc/hosts").unwrap_or_default(), name).into_bytes(),
        ),
    ];
    run_files.extend(shim_in.files);
    let argv = shim_in.argv.into_iter().map(cstr).collect::<Result<Vec<_>>>()?;
    let unit_binds = shim_in.unit_binds;
    let mut env = vec![
        cstr(format!("PATH={PATH}"))?,
        cstr("container=sandbox-service")?,
        cstr(format!("SANDBOX_NOTIFY_FD={NOTIFY_FD}"))?,
    ];
    for keep in ["LANG", "LC_ALL", "JOURNAL_STREAM", "TERM"] {
        if let Ok(v) = std::env::var(keep) {
            env.push(cstr(format!("{keep}={v}"))?);
        }
    }

    let base = cfg.container.private_users;
    rootfs::prepare_var(&tree.join("var"), Path::new("/var"), base)?;
    let mut etc_binds = Vec::new();
    // Root inside controls the tree: each source is resolved beneath it
    // with no link on the way (a private directory swapped for a link to
    // the host's / would otherwise be mounted writable inside).
    let tree_fd = crate::safefs::open_dir(&tree)?;
    for p in manifest.plan.private.iter().filter(|p| p.path.starts_with("/etc/")) {
        // Links inside a private directory come with it; alone, a bind
        // would follow the host's link. Runtime paths live in /run.
        if matches!(p.kind, Kind::Symlink | Kind::Runtime) {
            continue;
        }
        let rel = Path::new(p.path.trim_start_matches('/'));
        let fd = match crate::safefs::open_beneath(tree_fd.as_fd(), rel, nix::fcntl::OFlag::O_PATH) {
            Ok(fd) => fd,
            Err(e) if crate::safefs::errno(&e) == Some(nix::libc::ENOENT) => {
                bail!(
                    "{}: missing from the sandbox's state ({}); recreate the sandbox",
                    p.path,
                    tree.join(rel).display()
                )
            }
            Err(e) => return Err(e),
        };
        let st = nix::sys::stat::fstat(&fd).with_context(|| format!("fstat {}", p.path))?;
        let kind = st.st_mode & nix::libc::S_IFMT;
        if kind != nix::libc::S_IFDIR && kind != nix::libc::S_IFREG {
            bail!(
                "{}: in the sandbox's tree it is no longer a file or directory (a link or a FIFO made inside?): restore it in {} or recreate the sandbox",
                p.path,
                tree.display()
            );
        }
        etc_binds.push((mountapi::open_tree_fd(&fd)?, p.path.clone(), kind == nix::libc::S_IFDIR));
    }
    let etc = match othersview::of(Path::new("/etc"))? {
        othersview::View::Others(tree) => Some(tree),
        othersview::View::Unsupported(why) => {
            tracing::info!("{why}: masking what the host keeps from other users by a walk of /etc");
            None
        }
    };
    let build_dir = Path::new("/run/sandbox-service").join(name);
    let run_tree = hostrun::for_container(name, &cfg.container.tmpfs.options("/run", 0o755), base)?;
    Ok(Launch {
        root: rootfs::RootSpec {
            shim: rootfs::open_source(&shim_path()?)?,
            build_dir,
            var: rootfs::open_source(&tree.join("var"))?,
            etc_binds,
            etc_masks: rootfs::etc_masks(Path::new("/etc"), &manifest.plan.private, etc.is_none())
                .into_iter()
                .map(|(p, _)| p)
                .collect(),
            etc,
            hostname: name.to_string(),
            run_files,
            userns: base.is_some(),
            tmpfs: cfg.container.tmpfs.clone(),
            unit_binds,
            run: run_tree,
        },
        cfg,
        confinement,
        argv,
        env,
    })
}

/// Runs the sandbox in the foreground; returns how the service ended.
pub fn run(layout: &Layout, name: &str) -> Result<supervise::Outcome> {
    // Held until we return: nothing copies or deletes a running sandbox.
    let _running = control::try_run_lock(name)?.ok_or_else(|| {
        anyhow::anyhow!(
            "sandbox '{name}' is already running, or being cloned or deleted: stop it first \
             (sandbox-service stop {name}), or wait for the other command"
        )
    })?;
    control::remove_stale(name);
    let launch = prepare(layout, name)?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .create(&launch.root.build_dir)
        .with_context(|| format!("creating {}", launch.root.build_dir.display()))?;
    // Search-only for others: a sandbox in a user namespace is another user
    // on the host and must reach its own build directory.
    std::fs::set_permissions("/run/sandbox-service", std::os::unix::fs::PermissionsExt::from_mode(0o711))
        .context("chmod /run/sandbox-service")?;
    if let Some(base) = launch.cfg.container.private_users {
        std::os::unix::fs::chown(&launch.root.build_dir, Some(base), Some(base)).context("chown build directory")?;
    }

    let (ours, theirs) = std::os::unix::net::UnixDatagram::pair().context("socketpair for readiness")?;
    // In force on us before clone, so on every process of the container.
    let rules = devices::allowed(&devices::pts_majors(
        &std::fs::read_to_string("/proc/devices").context("reading /proc/devices")?,
    ));
    let mut filter = devices::Filter::install(&launch.cfg.unit, name, &rules)?;
    tracing::debug!("device allow-list in force through {}", filter.describe());
    // Blocked before clone so no signal is lost between the two; the shim
    // inherits the mask and takes them from its own signalfd.
    let sigs = take_signals(FORWARDED)?;

    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWCGROUP;
    if launch.cfg.container.network.own_namespace() {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    let mut v6 = false;
    if launch.cfg.container.network == Network::Private {
        let mut all = other_configs(layout, name, |_| true);
        all.push(launch.cfg.clone());
        v6 = crate::network::prepare_host(&crate::network::forwards(&all))?;
    }
    if launch.cfg.container.private_users.is_some() {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    // The child waits on this until we are set up (its id maps written).
    let (release_r, release_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    let release_w_raw = release_w.as_raw_fd();
    let child_fd = theirs.as_raw_fd();
    let mut cb = || -> isize {
        // The container dies with us: a `run` killed with SIGKILL leaves
        // no shim for a later command to mistake, nor a service unwatched.
        if nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err() {
            return 125;
        }
        // Released once we are set up; EOF if we died before it was set
        // (our copy of the write end closed first, or it never would be).
        // SAFETY: closing this process's copy of an fd; nothing here drops it again.
        unsafe { nix::libc::close(release_w_raw) };
        let mut b = [0u8; 1];
        if nix::unistd::read(&release_r, &mut b) != Ok(1) {
            eprintln!("sandbox-service: error: the runtime went away before the container was released");
            return 125;
        }
        // We hold the write end open for our whole life: a hang-up now is
        // our death between the release and the prctl above, which the
        // parent-death signal missed (under load the child runs late).
        let mut fds = [nix::poll::PollFd::new(release_r.as_fd(), nix::poll::PollFlags::POLLIN)];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).is_ok()
            && fds[0].revents().is_some_and(|r| r.contains(nix::poll::PollFlags::POLLHUP))
        {
            return 125;
        }
        match child(&launch, child_fd, v6) {
            Ok(never) => match never {},
            Err(e) => {
                eprintln!("sandbox-service: error: {e:#}");
                125
            }
        }
    };
    // SAFETY (both): this process is single-threaded here (run starts no
    // threads), so the child may allocate and run ordinary code until it
    // execs.
    let direct = match filter.clone_into() {
        Some(cg) => match unsafe { spawn::clone_into(flags, cg, &mut cb) } {
            Ok(pid) => Some(pid),
            Err(e) if spawn::unsupported(e) => None,
            Err(e) => return Err(anyhow::Error::from(e).context("clone3 into new namespaces and the sandbox's cgroup")),
        },
        None => None,
    };
    let pid = match direct {
        Some(pid) => pid,
        None => {
            // The kernel cannot clone into a cgroup: we go first, the child follows.
            filter.enter_self()?;
            let mut stack = vec![0u8; 1 << 20];
            unsafe { nix::sched::clone(Box::new(&mut cb), &mut stack, flags, Some(Signal::SIGCHLD as i32)) }
                .context("clone into new namespaces")?
        }
    };
    drop(theirs);
    let outcome = (|| {
        if let Some(base) = launch.cfg.container.private_users {
            userns::write_maps(pid, base)?;
        }
        if let (Network::Private, Some(a)) = (launch.cfg.container.network, launch.cfg.container.address) {
            crate::network::attach(name, pid.as_raw() as u32, a)?;
        }
        nix::unistd::write(&release_w, b"1").context("releasing the container")?;
        let files = RunFiles::create(name, pid)?;
        // Only under systemd: a bare `run` in a terminal has no machine to be.
        let registering =
            std::env::var_os("NOTIFY_SOCKET").map(|_| machined::spawn_register(name, pid.as_raw() as u32));
        let outcome = supervise::supervise(pid, &ours, &sigs, &files.listener);
        if registering.is_some_and(|h| h.join().unwrap_or(false)) {
            machined::unregister(name);
        }
        outcome
    })();
    if outcome.is_err() {
        // Nothing may outlive a runtime that failed: the container goes with it.
        let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
    }
    drop(filter);
    outcome
}

/// The pid file and control socket of a running sandbox, removed when
/// `run` ends (a stale pair after a crash is replaced at the next start).
struct RunFiles {
    listener: std::os::unix::net::UnixListener,
    pid: PathBuf,
    socket: PathBuf,
}

impl RunFiles {
    fn create(name: &str, shim: nix::unistd::Pid) -> Result<Self> {
        let (pid, socket) = (control::pid_file(name), control::socket(name));
        let _ = std::fs::remove_file(&socket);
        let listener = std::os::unix::net::UnixListener::bind(&socket)
            .with_context(|| format!("binding the control socket {}", socket.display()))?;
        std::fs::set_permissions(&socket, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        control::write_pid_file(name, shim)?;
        Ok(RunFiles { listener, pid, socket })
    }
}

impl Drop for RunFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pid);
        let _ = std::fs::remove_file(&self.socket);
    }
}

enum Never {}

/// The container's first process: mounts, confinement, exec of the shim.
fn child(l: &Launch, notify_fd: RawFd, v6: bool) -> Result<Never> {
    if l.root.userns {
        userns::become_root()?;
    }
    nix::unistd::sethostname(&l.root.hostname).context("sethostname")?;
    match (l.cfg.container.network, l.cfg.container.address) {
        (Network::None, _) => loopback_up()?,
        (Network::Private, Some(a)) => crate::network::configure_inside(a, v6)?,
        _ => {}
    }
    rootfs::enter(&l.root)?;
    nix::unistd::setsid().context("setsid")?;
    l.confinement.apply(confine::Role::Init, true)?;
    // Only stdio and the readiness socket cross into the shim.
    // SAFETY: plain fd calls on fds this process owns.
    let rc = unsafe {
        if notify_fd == NOTIFY_FD {
            nix::libc::fcntl(NOTIFY_FD, nix::libc::F_SETFD, 0)
        } else {
            nix::libc::dup2(notify_fd, NOTIFY_FD)
        }
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error()).context("passing the readiness socket");
    }
    close_from(NOTIFY_FD + 1)?;
    confine::seccomp(&l.confinement.bpf)?;
    let e = nix::unistd::execve(&cstr(rootfs::SHIM_PATH)?, &l.argv, &l.env).unwrap_err();
    Err(e).context("executing the shim")
}

/// Marks every fd from `first` close-on-exec: the runtime's files never
/// reach the shim.
pub fn close_from(first: RawFd) -> Result<()> {
    // SAFETY: close_range only changes fd flags.
    let rc = unsafe {
        nix::libc::syscall(nix::libc::SYS_close_range, first as u32, u32::MAX, nix::libc::CLOSE_RANGE_CLOEXEC)
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("close_range");
    }
    Ok(())
}

/// Brings up lo in a fresh network namespace (network=none).
fn loopback_up() -> Result<()> {
    let sock = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("socket for lo")?;
    // SAFETY: ifreq is plain data; the ioctls read and write only it.
    unsafe {
        let mut req: nix::libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as nix::libc::c_char;
        }
        if nix::libc::ioctl(sock.as_raw_fd(), nix::libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(std::io::Error::last_os_error()).context("reading lo's flags");
        }
        req.ifr_ifru.ifru_flags |= (nix::libc::IFF_UP | nix::libc::IFF_RUNNING) as i16;
        if nix::libc::ioctl(sock.as_raw_fd(), nix::libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(std::io::Error::last_os_error()).context("bringing lo up");
        }
    }
    Ok(())
}

/// Maps a wait status to an exit status, as systemd and shells read it
/// (128+N for signal N); None for a stop or continue.
pub fn exit_code(ws: WaitStatus) -> Option<i32> {
    match ws {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, s, _) => Some(128 + s as i32),
        _ => None,
    }
}
