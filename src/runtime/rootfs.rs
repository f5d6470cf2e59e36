//! The container's file system, built in a fresh mount namespace and
//! entered with pivot_root. The rules (also in sandbox-service.sandbox(5)
//! and printed by `--explain`):
//!
//! - `/usr` is the host's, read-only; `/bin`, `/sbin`, `/lib*` follow it
//!   (the same links on a merged-/usr host, read-only binds otherwise).
//! - `/etc` is the host's, read-only, so the service finds what it shares
//!   with the host (ld.so.cache, nsswitch, passwd, resolv.conf, localtime,
//!   certificates, alternatives...) without a list that real packages
//!   would outgrow. The sandbox's private /etc paths are mounted over it,
//!   writable. Host secrets are masked: the fixed list in `secrets::SECRETS`;
//!   and the sandbox sees /etc as other users of the host do
//!   (`othersview`), because root in the sandbox would bypass mode bits:
//!   what the host keeps from other users (mode without o+r) is unreadable.
//!   Where /etc cannot be idmapped, a walk at each start masks it instead.
//! - `/var` is the sandbox's own, from its state directory: nothing of the
//!   host's /var (other services' data, the host's logs, other sandboxes)
//!   is there.
//! - `/tmp`, `/run`, `/home`, `/root`, `/dev/shm` are fresh tmpfs, nosuid
//!   and nodev; `/dev` holds only the usual devices; `/proc` is a new
//!   instance with Docker's masks; `/sys` is read-only with firmware masked.
//! - The new root itself is read-only.

use super::devices::NODES;
use super::mountapi::{self, NODEV, NOEXEC, NOSUID, RDONLY};
use super::mountinfo;
use crate::plan::PrivatePath;
use anyhow::{Context, Result};
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, pivot_root};
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{symlink, DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Everything the mount sequence needs, computed before the namespaces.
///
/// Bind sources from the state directory are detached mounts made by the
/// parent, not paths: in a user namespace the child is an unprivileged
/// user on the host and could not look up paths under the root-only
/// /var/lib/sandbox-service.
#[derive(Debug)]
pub struct RootSpec {
    /// An empty directory on the host to build the root on (it is covered
    /// by a tmpfs in our own mount namespace; the host never sees it).
    pub build_dir: PathBuf,
    /// The sandbox's /var: `tree/var` of its state directory.
    pub var: OwnedFd,
    /// Private /etc paths: (source in the state tree, path inside).
    /// Private /etc paths: (source, path inside, a directory).
    pub etc_binds: Vec<(OwnedFd, String, bool)>,
    /// The host's /etc as other users see it (`othersview`), or None: the
    /// host's bound as it is, and `etc_masks` holds what a walk found.
    pub etc: Option<OwnedFd>,
    /// /etc entries to mask (see `etc_masks`), computed with the host's view.
    pub etc_masks: Vec<String>,
    pub hostname: String,
    /// Files written into the container's /run before it is entered.
    pub run_files: Vec<(String, Vec<u8>)>,
    /// The host's sandbox-service-init, mounted read-only at SHIM_PATH.
    pub shim: OwnedFd,
    /// In a user namespace, some kernel file systems cannot be mounted.
    pub userns: bool,
    pub tmpfs: crate::config::TmpfsSizes,
    /// The units' BindPaths= and BindReadOnlyPaths=, inside the container.
    pub unit_binds: Vec<UnitBind>,
    /// The sandbox's /run: a detached copy of the tmpfs the host sees at
    /// /run/sandbox-service/NAME/run (hostrun.rs).
    pub run: OwnedFd,
}

/// One of a unit's BindPaths= or BindReadOnlyPaths=: source and
/// destination as the container sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitBind {
    pub source: String,
    pub dest: String,
    pub read_only: bool,
    /// `-`: a missing source is passed over.
    pub optional: bool,
}

impl UnitBind {
    /// The binds a unit's settings name (`[-]SRC[:DST[:OPTIONS]]` words).
    pub fn of_unit(f: &crate::unitfile::UnitFile, spec: &crate::unitfile::Specifiers) -> Result<Vec<UnitBind>> {
        let mut out = Vec::new();
        for (key, ro) in [("BindPaths", false), ("BindReadOnlyPaths", true)] {
            for w in f.get_words("Service", key) {
                let w = spec.expand(&w)?;
                let optional = w.starts_with('-');
                let mut parts = w.trim_start_matches('-').splitn(3, ':');
                let source = parts.next().unwrap_or_default().to_string();
                let dest = parts.next().filter(|d| !d.is_empty()).map_or(source.clone(), str::to_string);
                let read_only = ro || parts.next().is_some_and(|o| o.split(',').any(|x| x == "ro"));
                if !source.starts_with('/') || !dest.starts_with('/') {
                    anyhow::bail!("{key}={w}: give absolute paths");
                }
                out.push(UnitBind { source, dest, read_only, optional });
            }
        }
        Ok(out)
    }
}

/// A detached copy of the tree at `p`, made on the host side for the
/// container to attach (see `mountapi::open_tree`).
pub fn open_source(p: &Path) -> Result<OwnedFd> {
    mountapi::open_tree(p)
}

/// The directories of /var a service may expect (FHS 3.0 and Debian's
/// base-files): a sandbox's /var has each, as the host has it.
pub const VAR_SKELETON: &[&str] = &["log", "lib", "cache", "spool", "tmp", "backups", "mail", "local", "opt"];

/// The sandbox's /var keeps the standard layout (`/var/run` -> /run, the
/// `VAR_SKELETON` directories with the owner, group and mode of the
/// host's `host_var`); made in the parent at every start, for what is
/// missing. `shift` is the base of the sandbox's ids in a user namespace.
pub fn prepare_var(var: &Path, host_var: &Path, shift: Option<u32>) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let own = |p: &Path, uid: u32, gid: u32| -> Result<()> {
        let (u, g) = match shift {
            Some(b) if uid < super::userns::RANGE && gid < super::userns::RANGE => (b + uid, b + gid),
            Some(b) => (b, b),
            None => (uid, gid),
        };
        std::os::unix::fs::lchown(p, Some(u), Some(g)).with_context(|| format!("chown {}", p.display()))
    };
    if !var.exists() {
        mkdir(var, 0o755)?;
        own(var, 0, 0)?;
    }
    for (name, to) in [("run", "/run"), ("lock", "/run/lock")] {
        if var.join(name).symlink_metadata().is_err() {
            symlink(to, var.join(name)).with_context(|| format!("linking /var/{name}"))?;
            own(&var.join(name), 0, 0)?;
        }
    }
    for name in VAR_SKELETON {
        let p = var.join(name);
        if p.symlink_metadata().is_ok() {
            continue;
        }
        let (mode, uid, gid) = match fs::metadata(host_var.join(name)) {
            Ok(m) if m.is_dir() => (m.mode() & 0o7777, m.uid(), m.gid()),
            _ if *name == "tmp" => (0o1777, 0, 0),
            _ => (0o755, 0, 0),
        };
        mkdir(&p, mode)?;
        own(&p, uid, gid)?;
    }
    Ok(())
}

/// /proc entries that leak host information or give a way out.
pub const PROC_MASKED: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
];
pub const PROC_READONLY: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];
pub const SYS_MASKED: &[&str] = &["/sys/firmware", "/sys/devices/virtual/powercap"];
/// The top-level links a merged-/usr system has.
pub const USR_LINKS: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Where the runtime's own files sit inside the container's /run.
pub const RUN_DIR: &str = "/run/sandbox-service";
/// The shim inside the container: a read-only bind of the host's binary.
pub const SHIM_PATH: &str = "/run/sandbox-service/init";

fn bind(src: &Path, dst: &Path, recursive: bool) -> Result<()> {
    let flags = MsFlags::MS_BIND | if recursive { MsFlags::MS_REC } else { MsFlags::empty() };
    mount(Some(src), dst, None::<&str>, flags, None::<&str>)
        .with_context(|| format!("bind-mounting {} on {}", src.display(), dst.display()))
}

/// Read-only with `extra`, recursively where host submounts may lie
/// beneath (a bind of /usr takes the host's mounts under /usr along).
fn ro(dst: &Path, extra: u64, recursive: bool) -> Result<()> {
    mountapi::set(dst, RDONLY | extra, recursive)
}

fn fs_mount(fstype: &str, dst: &Path, flags: MsFlags, data: &str) -> Result<()> {
    mount(Some(fstype), dst, Some(fstype), flags, Some(data))
        .with_context(|| format!("mounting {fstype} on {}", dst.display()))
}

fn mkdir(p: &Path, mode: u32) -> Result<()> {
    fs::DirBuilder::new().recursive(true).mode(mode).create(p).with_context(|| format!("creating {}", p.display()))?;
    // The umask must not decide the mode of /tmp or /dev/shm.
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).with_context(|| format!("chmod {}", p.display()))
}

fn touch(p: &Path) -> Result<()> {
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(p)
        .map(drop)
        .with_context(|| format!("creating {}", p.display()))
}

const NOSUID_NODEV: MsFlags = MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV);
const NOSUID_NODEV_NOEXEC: MsFlags = NOSUID_NODEV.union(MsFlags::MS_NOEXEC);

/// `mask`, but a masked directory keeps empty places (files, or
/// directories where `.1` says so) at the relative paths `keep`, for the
/// sandbox's own entries to be mounted on.
fn mask_keeping(root: &Path, p: &Path, keep: &[(&str, bool)]) -> Result<()> {
    if keep.is_empty() || !fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()) {
        return mask(root, p);
    }
    let inodes = 1 + keep.iter().map(|(r, _)| r.matches('/').count()).sum::<usize>();
    fs_mount("tmpfs", p, NOSUID_NODEV_NOEXEC, &format!("size=4k,nr_inodes={inodes},mode=0555"))?;
    for (rel, dir) in keep {
        let at = p.join(rel.trim_start_matches('/'));
        if let Some(parent) = at.parent() {
            mkdir(parent, 0o555)?;
        }
        if *dir {
            mkdir(&at, 0o555)?;
        } else {
            touch(&at)?;
        }
    }
    ro(p, NOSUID | NODEV | NOEXEC, false)
}

/// Covers `p` (a path inside the new root) so it reads empty: /dev/null
/// over a file, an empty read-only tmpfs over a directory.
fn mask(root: &Path, p: &Path) -> Result<()> {
    let md = match fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        // Beneath a directory other users cannot search, in /etc as they
        // see it: the service cannot reach it either.
        Err(e) if e.raw_os_error() == Some(nix::libc::EACCES) => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("inspecting {}", p.display())),
    };
    if md.is_dir() {
        fs_mount("tmpfs", p, NOSUID_NODEV_NOEXEC | MsFlags::MS_RDONLY, "size=4k,nr_inodes=1,mode=0555")
    } else if md.file_type().is_symlink() {
        // A bind would follow it; the target is masked on its own if secret.
        Ok(())
    } else {
        // Not nodev: a read gives null's nothing (the device list allows
        // it), where nodev would fail it with EACCES.
        bind(&root.join("dev/null"), p, false)?;
        ro(p, NOSUID | NOEXEC, false)
    }
}

fn inside(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

/// The /etc entries to mask, outside the sandbox's own private paths: the
/// fixed secrets; the directories other users cannot search that hold a
/// private path (masked with a place for it, or it could not be mounted);
/// and, where `walk` (no idmapped view), whatever the host keeps from
/// other users now.
pub fn etc_masks(host_etc: &Path, private: &[PrivatePath], walk: bool) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = crate::secrets::SECRETS
        .iter()
        .filter(|(p, _)| p.starts_with("/etc/") && host_etc.join(&p[5..]).symlink_metadata().is_ok())
        // The sandbox's own copy, which never holds the host's secrets
        // (sshd's /etc/ssh, its keys its own), is mounted there instead.
        .filter(|(p, _)| !private.iter().any(|o| crate::rootpath::is_under(p, &o.path)))
        .map(|(p, why)| (p.to_string(), why.to_string()))
        .collect();
    for p in private.iter().filter(|p| p.path.starts_with("/etc/")) {
        let Some(a) = unsearchable_above(host_etc, &p.path) else { continue };
        let known = out.iter().any(|(m, _)| crate::rootpath::is_under(&a, m));
        if !known && !private.iter().any(|o| crate::rootpath::is_under(&a, &o.path)) {
            out.push((a, "other users cannot search it: masked, with places for the sandbox's own paths".into()));
        }
    }
    if !walk {
        return out;
    }
    // Not walked: the sandbox's own copies, and what is masked whole anyway.
    let mut skip: Vec<String> = private.iter().map(|p| p.path.clone()).collect();
    skip.extend(out.iter().map(|(p, _)| p.clone()));
    if let Ok(dir) =
        nix::dir::Dir::open(host_etc, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
    {
        let mut abs = String::from("/etc");
        walk_masks(dir, &mut abs, &skip, &mut out);
    }
    out
}

/// The outermost directory strictly between /etc and `abs` that other
/// users cannot search (no o+x) on the host.
fn unsearchable_above(host_etc: &Path, abs: &str) -> Option<String> {
    let mut above: Vec<&str> = crate::rootpath::ancestors(abs).take_while(|a| *a != "/etc").collect();
    above.reverse();
    let unsearchable = |a: &&str| {
        fs::symlink_metadata(host_etc.join(&a[5..])).is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o001 == 0)
    };
    above.into_iter().find(unsearchable).map(str::to_string)
}

fn covered(abs: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| abs.strip_prefix(p.as_str()).is_some_and(|r| r.is_empty() || r.starts_with('/')))
}

/// One directory of `etc_masks`: getdents and fstatat relative to the
/// directory, no path lookups from /, no stat of symlinks (never masked: a
/// bind would follow them). This walk is on every start's path.
fn walk_masks(mut dir: nix::dir::Dir, abs: &mut String, skip: &[String], out: &mut Vec<(String, String)>) {
    use nix::dir::Type;
    let fd = dir.as_raw_fd();
    let mut subdirs = Vec::new();
    for ent in dir.iter().flatten() {
        let name = ent.file_name().to_bytes();
        if name == b"." || name == b".." || ent.file_type() == Some(Type::Symlink) {
            continue;
        }
        let Ok(name_s) = std::str::from_utf8(name) else { continue };
        let len = abs.len();
        abs.push('/');
        abs.push_str(name_s);
        if !covered(abs, skip) {
            // SAFETY: fd is the open directory being read.
            let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            if let Ok(st) = nix::sys::stat::fstatat(borrowed, ent.file_name(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
            {
                let kind = st.st_mode & nix::libc::S_IFMT;
                if kind != nix::libc::S_IFLNK && st.st_mode & 0o004 == 0 {
                    out.push((abs.clone(), "the host keeps it from other users".into()));
                } else if kind == nix::libc::S_IFDIR {
                    subdirs.push((ent.file_name().to_owned(), abs.clone()));
                }
            }
        }
        abs.truncate(len);
    }
    for (name, path) in subdirs {
        // SAFETY: as above.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        if let Ok(sub) = nix::dir::Dir::openat(
            borrowed,
            name.as_c_str(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            let mut p = path;
            walk_masks(sub, &mut p, skip, out);
        }
    }
}

/// The host's syslog socket (/dev/log, a link to journald's on systemd
/// hosts), if it has one.
pub fn host_syslog_socket() -> Option<PathBuf> {
    // journald's own first: under PrivateDevices= the unit's /dev has no log.
    ["/run/systemd/journal/dev-log", "/dev/log"].iter().find_map(|p| {
        let p = fs::canonicalize(p).ok()?;
        fs::metadata(&p).ok().filter(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))?;
        Some(p)
    })
}

/// Builds the root and pivots into it. Runs in the container's first
/// process, in its own mount namespace, before any confinement.
pub fn enter(spec: &RootSpec) -> Result<()> {
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_SLAVE, None::<&str>)
        .context("making the mount namespace a slave of the host's")?;
    let root = spec.build_dir.as_path();
    fs_mount("tmpfs", root, NOSUID_NODEV, "mode=0755,size=1m")?;

    mkdir(&root.join("usr"), 0o755)?;
    bind(Path::new("/usr"), &root.join("usr"), true)?;
    ro(&root.join("usr"), NOSUID | NODEV, true)?;
    for l in USR_LINKS {
        let host = Path::new("/").join(l);
        match fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                symlink(fs::read_link(&host)?, root.join(l)).with_context(|| format!("linking /{l}"))?
            }
            Ok(m) if m.is_dir() => {
                mkdir(&root.join(l), 0o755)?;
                bind(&host, &root.join(l), true)?;
                ro(&root.join(l), NOSUID | NODEV, true)?;
            }
            _ => {}
        }
    }

    // /dev first: masks below bind its null. The tmpfs is nodev: only the
    // bound nodes and devpts (each a mount of its own) open as devices.
    let dev = root.join("dev");
    mkdir(&dev, 0o755)?;
    fs_mount("tmpfs", &dev, NOSUID_NODEV_NOEXEC, "mode=0755,size=64k,nr_inodes=64")?;
    for n in NODES.iter().filter(|n| n.bound) {
        touch(&dev.join(n.name))?;
        bind(&Path::new("/dev").join(n.name), &dev.join(n.name), false)?;
        mountapi::set(&dev.join(n.name), NOSUID | NOEXEC, false)?;
    }
    // No terminal is attached to a service: its console goes nowhere.
    touch(&dev.join("console"))?;
    bind(Path::new("/dev/null"), &dev.join("console"), false)?;
    mountapi::set(&dev.join("console"), NOSUID | NOEXEC, false)?;
    mkdir(&dev.join("pts"), 0o755)?;
    fs_mount(
        "devpts",
        &dev.join("pts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620,gid=5",
    )?;
    symlink("pts/ptmx", dev.join("ptmx"))?;
    // syslog(3) reaches the host's journal, which files each message under
    // the sandbox's unit by the sender's credentials, as its stdout is.
    if let Some(log) = host_syslog_socket() {
        touch(&dev.join("log"))?;
        bind(&log, &dev.join("log"), false)?;
        mountapi::set(&dev.join("log"), NOSUID | NODEV | NOEXEC, false)?;
    }
    mkdir(&dev.join("shm"), 0o1777)?;
    fs_mount("tmpfs", &dev.join("shm"), NOSUID_NODEV_NOEXEC, &spec.tmpfs.options("/dev/shm", 0o1777))?;
    mkdir(&dev.join("mqueue"), 0o755)?;
    fs_mount("mqueue", &dev.join("mqueue"), NOSUID_NODEV_NOEXEC, "")?;
    for (name, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(to, dev.join(name))?;
    }

    for (dir, mode) in [("/tmp", 0o1777), ("/home", 0o755), ("/root", 0o700)] {
        let p = inside(root, dir);
        mkdir(&p, mode)?;
        fs_mount("tmpfs", &p, NOSUID_NODEV, &spec.tmpfs.options(dir, mode))?;
    }
    mkdir(&root.join("run"), 0o755)?;
    mountapi::attach(&spec.run, &root.join("run"))?;
    mkdir(&root.join("run/lock"), 0o1777)?;
    let run_dir = inside(root, RUN_DIR);
    // Services running as their own user reach the notify socket here.
    mkdir(&run_dir, 0o755)?;
    for (name, content) in &spec.run_files {
        let p = run_dir.join(name);
        fs::write(&p, content).with_context(|| format!("writing {}", p.display()))?;
        // Whatever the unit's UMask=: a service reads these as its own user.
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).with_context(|| format!("chmod {}", p.display()))?;
    }
    let shim = inside(root, SHIM_PATH);
    touch(&shim)?;
    mountapi::attach(&spec.shim, &shim)?;
    ro(&shim, NOSUID | NODEV, false)?;
    // /run starts empty, as after boot: the shim makes RuntimeDirectory=,
    // and services make the rest, as they do on the host.
    mount_var(root, spec)?;
    mount_etc(root, spec)?;

    let proc_ = root.join("proc");
    mkdir(&proc_, 0o555)?;
    fs_mount("proc", &proc_, NOSUID_NODEV_NOEXEC, "")?;
    for p in PROC_MASKED {
        mask(root, &inside(root, p))?;
    }
    for p in PROC_READONLY {
        let p = inside(root, p);
        if p.exists() {
            bind(&p, &p, true)?;
            ro(&p, NOSUID | NODEV | NOEXEC, true)?;
        }
    }
    let sys = root.join("sys");
    mkdir(&sys, 0o555)?;
    match fs_mount("sysfs", &sys, NOSUID_NODEV_NOEXEC | MsFlags::MS_RDONLY, "") {
        Ok(()) => {}
        // sysfs belongs to the network namespace's owner: a user namespace
        // on the host's network gets the host's /sys, read-only (its files
        // belong to real root, which the sandbox's root is not).
        Err(_) if spec.userns => {
            bind(Path::new("/sys"), &sys, true)?;
            ro(&sys, NOSUID | NODEV | NOEXEC, true)?;
        }
        Err(e) => return Err(e),
    }
    for p in SYS_MASKED {
        mask(root, &inside(root, p))?;
    }

    unit_binds(root, &spec.unit_binds)?;

    chdir(root).context("entering the new root")?;
    // pivot_root(".", ".") stacks the old root under the new one; detaching
    // it leaves nothing of the host reachable.
    pivot_root(".", ".").context("pivot_root into the new root")?;
    umount2(".", MntFlags::MNT_DETACH).context("detaching the host's root")?;
    chdir("/").context("chdir /")?;
    ro(Path::new("/"), NOSUID | NODEV, false)?;
    check_mounts()?;
    nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
    Ok(())
}

/// The last word on the mounts, read back from the kernel after pivot_root
/// (so the list is the container's alone): every mount nosuid, every one
/// but the device nodes and devpts nodev. A start that cannot guarantee it
/// does not happen.
fn check_mounts() -> Result<()> {
    let is_device =
        |p: &str| fs::symlink_metadata(p).is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_char_device(&m.file_type()));
    let lacking = mountinfo::lacking(&mountinfo::read()?, is_device);
    if let Some((p, missing)) = lacking.first() {
        anyhow::bail!(
            "the container's mount {p} lacks {} (and {} more): refusing to start",
            missing.join(","),
            lacking.len() - 1
        );
    }
    Ok(())
}

/// The units' own binds, from the container's view of their sources (the
/// host's /dev/log is the container's, bound from the journal), made last
/// so they see every other mount. A missing destination is made where the
/// container can hold it (its own /var, /run, /tmp).
fn unit_binds(root: &Path, binds: &[UnitBind]) -> Result<()> {
    for b in binds {
        let (src, dst) = (inside(root, &b.source), inside(root, &b.dest));
        let Ok(m) = fs::metadata(&src) else {
            if b.optional {
                continue;
            }
            anyhow::bail!(
                "BindPaths: {} is not in the sandbox (give it with -p, or mark it optional with -)",
                b.source
            );
        };
        if fs::symlink_metadata(&dst).is_err() {
            if let Some(parent) = dst.parent() {
                fs::create_dir_all(parent).with_context(|| format!("making a place for {}", b.dest))?;
            }
            if m.is_dir() {
                mkdir(&dst, 0o755)?;
            } else {
                touch(&dst)?;
            }
        }
        bind(&src, &dst, true)?;
        let ro = if b.read_only { RDONLY } else { 0 };
        mountapi::set(&dst, ro | NOSUID | NODEV, true)?;
    }
    Ok(())
}

fn mount_var(root: &Path, spec: &RootSpec) -> Result<()> {
    mkdir(&root.join("var"), 0o755)?;
    mountapi::attach(&spec.var, &root.join("var"))?;
    mountapi::set(&root.join("var"), NOSUID | NODEV, true)
}

fn mount_etc(root: &Path, spec: &RootSpec) -> Result<()> {
    let etc = root.join("etc");
    mkdir(&etc, 0o755)?;
    match &spec.etc {
        // Read-only, nosuid and nodev already, set with its id mapping.
        Some(view) => mountapi::attach(view, &etc)?,
        None => {
            bind(Path::new("/etc"), &etc, true)?;
            ro(&etc, NOSUID | NODEV, true)?;
        }
    }
    // Masks first: a masked directory keeps a place for the sandbox's own
    // entries beneath it (its new key in /etc/ssl/private).
    for p in &spec.etc_masks {
        let beneath: Vec<(&str, bool)> = spec
            .etc_binds
            .iter()
            .filter_map(|(_, b, dir)| b.strip_prefix(p.as_str()).filter(|r| r.starts_with('/')).map(|r| (r, *dir)))
            .collect();
        mask_keeping(root, &inside(root, p), &beneath)?;
    }
    for (src, path, _) in &spec.etc_binds {
        let dst = inside(root, path);
        if dst.symlink_metadata().is_err() {
            // /etc is the host's and read-only: no place to mount it.
            tracing::warn!("{path} is not mounted: the host has no {path} to mount it on");
            continue;
        }
        mountapi::attach(src, &dst)?;
        // Writable, so root inside could make device nodes here.
        mountapi::set(&dst, NOSUID | NODEV, true)?;
    }
    for (name, file) in [("/etc/hostname", "hostname"), ("/etc/hosts", "hosts")] {
        let dst = inside(root, name);
        if dst.exists() {
            bind(&inside(root, RUN_DIR).join(file), &dst, false)?;
            ro(&dst, NOSUID | NODEV, false)?;
        }
    }
    Ok(())
}

/// The mount rules as `--explain` prints them, after the private paths:
/// what the service sees of the host, and what it cannot see.
pub fn explain(host_etc: &Path, private: &[PrivatePath]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let mut line = |tag: &str, what: &str, why: &str| {
        let _ = writeln!(s, "{tag:8} {what}: {why}");
    };
    line("shared", "/usr /bin /sbin /lib*", "the host's programs and libraries, read-only");
    line(
        "shared",
        "/etc",
        "the host's, read-only (ld.so.cache, nsswitch, passwd, resolv.conf, certificates...); private paths mounted over it",
    );
    // What the next start will do, probed the way it does it.
    let unsupported = match super::othersview::of(host_etc) {
        Ok(super::othersview::View::Others(_)) => None,
        Ok(super::othersview::View::Unsupported(why)) => Some(why),
        Err(e) => Some(format!("{e:#}")),
    };
    match &unsupported {
        None => line(
            "others",
            "/etc",
            "seen as other users of the host see it (an idmapped mount; owners show as nobody): what the host keeps from them is unreadable, whatever its mode becomes",
        ),
        Some(why) => line(
            "walked",
            "/etc",
            &format!("{why}: what the host keeps from other users is masked, found by a walk of /etc at each start"),
        ),
    }
    let walk = unsupported.is_some();
    for (p, why) in etc_masks(host_etc, private, walk) {
        line("masked", &p, &why);
    }
    line(
        "own",
        "/var",
        &format!(
            "the sandbox's state directory: nothing of the host's /var; {} as the host has them",
            VAR_SKELETON.join(" ")
        ),
    );
    line("own", "/etc/hostname /etc/hosts", "the sandbox's name");
    line("fresh", "/tmp /run /home /root /dev/shm", "empty tmpfs, nosuid and nodev");
    line(
        "fresh",
        "/dev",
        "null zero full random urandom tty, console (= /dev/null), pts (new instance), shm, mqueue; log = the host journal's syslog socket",
    );
    line(
        "fresh",
        "/proc",
        &format!("new instance; masked {}; read-only {}", PROC_MASKED.join(" "), PROC_READONLY.join(" ")),
    );
    line("fresh", "/sys", &format!("read-only; masked {}", SYS_MASKED.join(" ")));
    line("writable", "(Landlock)", "only the private paths, /tmp, /run, /var (its own), /dev and /proc");
    s
}

/// The container's /etc/hosts: the host's, with the sandbox's name on the
/// loopback address, the way Debian names its own host.
pub fn hosts_file(host_hosts: &str, hostname: &str) -> String {
    format!("{}\n# added by sandbox-service\n127.0.1.1\t{hostname}\n", host_hosts.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Kind;

    #[test]
    fn masks_secrets_and_what_others_cannot_read() {
        let d = tempfile::tempdir().unwrap();
        let etc = d.path();
        for (p, mode) in
            [("shadow", 0o640), ("passwd", 0o644), ("app/key.pem", 0o600), ("app/ok.conf", 0o644), ("mine/s", 0o600)]
        {
            let f = etc.join(p);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(&f, "x").unwrap();
            fs::set_permissions(&f, fs::Permissions::from_mode(mode)).unwrap();
        }
        let private = vec![PrivatePath { path: "/etc/mine".into(), kind: Kind::Dir, reasons: vec![] }];
        let m: Vec<String> = etc_masks(etc, &private, true).into_iter().map(|(p, _)| p).collect();
        assert!(m.contains(&"/etc/shadow".to_string()), "{m:?}");
        assert!(m.contains(&"/etc/app/key.pem".to_string()), "{m:?}");
        assert!(!m.iter().any(|p| p == "/etc/passwd" || p == "/etc/app/ok.conf"), "{m:?}");
        assert!(!m.iter().any(|p| p.starts_with("/etc/mine")), "the sandbox's own copy is its own: {m:?}");
        assert_eq!(m.iter().filter(|p| *p == "/etc/shadow").count(), 1);
        // sshd's sandbox has /etc/ssh of its own; every other has it masked.
        fs::create_dir_all(etc.join("ssh")).unwrap();
        assert!(etc_masks(etc, &private, true).iter().any(|(p, _)| p == "/etc/ssh"));
        let sshd = vec![PrivatePath { path: "/etc/ssh".into(), kind: Kind::Dir, reasons: vec![] }];
        assert!(!etc_masks(etc, &sshd, true).iter().any(|(p, _)| p == "/etc/ssh"));
    }

    #[test]
    fn without_a_walk_only_secrets_and_places_for_private_paths_are_masked() {
        let d = tempfile::tempdir().unwrap();
        let etc = d.path();
        for (p, mode) in [("app/key.pem", 0o600), ("vault/inner/own.conf", 0o644), ("open/own.conf", 0o644)] {
            let f = etc.join(p);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(&f, "x").unwrap();
            fs::set_permissions(&f, fs::Permissions::from_mode(mode)).unwrap();
        }
        fs::write(etc.join("shadow"), "x").unwrap();
        fs::set_permissions(etc.join("vault"), fs::Permissions::from_mode(0o750)).unwrap();
        let own = |p: &str| PrivatePath { path: p.into(), kind: Kind::File, reasons: vec![] };
        let private = vec![own("/etc/vault/inner/own.conf"), own("/etc/open/own.conf")];
        let m: Vec<String> = etc_masks(etc, &private, false).into_iter().map(|(p, _)| p).collect();
        // The kernel keeps key.pem from the sandbox; nothing walks for it.
        assert_eq!(m, ["/etc/shadow", "/etc/vault"], "{m:?}");
    }

    #[test]
    fn hosts_names_the_sandbox() {
        let h = hosts_file("127.0.0.1 localhost\n\n", "web1");
        assert!(h.starts_with("127.0.0.1 localhost\n"));
        assert!(h.ends_with("127.0.1.1\tweb1\n"));
    }
}
