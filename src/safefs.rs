//! File operations on a tree that root inside a sandbox controls: one
//! name at a time, relative to an open directory, never following a link,
//! never blocking on a FIFO, and checking that what was opened is what was
//! looked at. A host-side command that walks a sandbox's tree by path can
//! be sent anywhere by a symlink swapped in between two calls.

use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::libc;
use nix::sys::stat::{FileStat, Mode};
use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What an entry is, from lstat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    /// FIFO, socket or device node: never opened.
    Special,
}

pub fn kind(st: &FileStat) -> Kind {
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => Kind::Dir,
        libc::S_IFREG => Kind::File,
        libc::S_IFLNK => Kind::Symlink,
        _ => Kind::Special,
    }
}

fn cname(name: &OsStr) -> Result<CString> {
    if name.is_empty() || name.as_bytes().contains(&b'/') || name == ".." || name == "." {
        bail!("{name:?} is not a single file name");
    }
    CString::new(name.as_bytes()).context("a file name holds a NUL byte")
}

/// lstat of `name` in `dir`.
pub fn lstat_at(dir: BorrowedFd, name: &OsStr) -> Result<FileStat> {
    let c = cname(name)?;
    nix::sys::stat::fstatat(dir, c.as_c_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .with_context(|| format!("lstat {}", name.to_string_lossy()))
}

/// openat2(2) of the single name `name` beneath `dir`: no symlink on the
/// way (RESOLVE_NO_SYMLINKS, O_NOFOLLOW), no escape (RESOLVE_BENEATH),
/// never blocking (O_NONBLOCK: a FIFO planted where a file was opens at
/// once and is then refused by the type check).
fn openat2(dir: BorrowedFd, name: &CStr, flags: OFlag, mode: u32) -> std::io::Result<OwnedFd> {
    // SAFETY: open_how is plain data; zeroed is its documented default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    // O_PATH takes no O_NONBLOCK (openat2 refuses unknown combinations);
    // it never opens a FIFO for reading anyway.
    let nonblock = if flags.contains(OFlag::O_PATH) { OFlag::empty() } else { OFlag::O_NONBLOCK };
    how.flags = (flags | OFlag::O_NOFOLLOW | nonblock | OFlag::O_CLOEXEC).bits() as u64;
    how.mode = if flags.contains(OFlag::O_CREAT) { mode as u64 } else { 0 };
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: name and how outlive the call; the result is a new fd or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            name.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Opens `name` in `dir` for reading and checks it is the very entry
/// `looked` describes (same device, inode and type): what lstat saw is
/// what is read, whatever was swapped in between.
pub fn open_checked(dir: BorrowedFd, name: &OsStr, looked: &FileStat) -> Result<OwnedFd> {
    let c = cname(name)?;
    let flags = match kind(looked) {
        Kind::Dir => OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        Kind::File => OFlag::O_RDONLY,
        k => bail!("{}: a {k:?} is never opened", name.to_string_lossy()),
    };
    let fd = openat2(dir, &c, flags, 0).with_context(|| format!("opening {}", name.to_string_lossy()))?;
    let st = nix::sys::stat::fstat(&fd).with_context(|| format!("fstat {}", name.to_string_lossy()))?;
    if (st.st_dev, st.st_ino, st.st_mode & libc::S_IFMT)
        != (looked.st_dev, looked.st_ino, looked.st_mode & libc::S_IFMT)
    {
        bail!("{} changed while it was read (replaced by another file or a link): refusing", name.to_string_lossy());
    }
    Ok(fd)
}

/// The OS error number beneath `e`'s contexts, if an I/O error is its cause.
pub fn errno(e: &anyhow::Error) -> Option<i32> {
    e.root_cause().downcast_ref::<std::io::Error>().and_then(std::io::Error::raw_os_error)
}

/// Opens the relative path `rel` beneath `root` with `flags` (O_PATH for a
/// mount source): every component resolved by the kernel with no symlink
/// and no `..` out of `root`, so a link that root inside planted anywhere
/// on the way makes it fail (ELOOP, EXDEV) instead of leading to the host.
pub fn open_beneath(root: BorrowedFd, rel: &Path, flags: OFlag) -> Result<OwnedFd> {
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    let c = CString::new(if rel.as_os_str().is_empty() { b".".as_slice() } else { rel.as_os_str().as_bytes() })
        .context("a path holds a NUL byte")?;
    openat2(root, &c, flags, 0).map_err(|e| {
        let why = match e.raw_os_error() {
            Some(libc::ELOOP) => ": a symbolic link is on the way (planted in the sandbox's tree?); refusing",
            Some(libc::EXDEV) => ": it leads out of the sandbox's tree; refusing",
            _ => "",
        };
        anyhow::Error::new(e).context(format!("opening {} in the sandbox's tree{why}", rel.display()))
    })
}

/// Opens directory `rel` beneath `root` as `open_beneath` does, making the
/// components that are missing (mode 0755; `made` gets each one made, for
/// the caller to give owner and mode).
pub fn dirs_beneath(root: BorrowedFd, rel: &Path, made: &mut Vec<std::path::PathBuf>) -> Result<OwnedFd> {
    let mut cur = nix::unistd::dup(root).context("dup of a directory")?;
    let mut at = std::path::PathBuf::new();
    for c in rel.components().filter(|c| matches!(c, std::path::Component::Normal(_))) {
        let name = c.as_os_str();
        at.push(name);
        let cn = cname(name)?;
        match openat2(cur.as_fd(), &cn, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0) {
            Ok(fd) => cur = fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                nix::sys::stat::mkdirat(cur.as_fd(), cn.as_c_str(), Mode::from_bits_truncate(0o755))
                    .with_context(|| format!("creating {} in the sandbox's tree", at.display()))?;
                made.push(at.clone());
                cur = openat2(cur.as_fd(), &cn, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)
                    .with_context(|| format!("opening {} in the sandbox's tree", at.display()))?;
            }
            Err(e) => {
                let what = match lstat_at(cur.as_fd(), name).map(|st| kind(&st)) {
                    Ok(Kind::Symlink) => "is a symbolic link (planted in the sandbox's tree?): refusing",
                    Ok(Kind::Dir) => "cannot be opened",
                    Ok(_) => "is not a directory (planted in the sandbox's tree?): refusing",
                    Err(_) => "cannot be looked at",
                };
                return Err(e).with_context(|| format!("{} in the sandbox's tree {what}", at.display()));
            }
        }
    }
    Ok(cur)
}

/// Opens a directory the caller names by path (a state tree's root), not
/// following a link at its last component.
pub fn open_dir(p: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(p, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
        .with_context(|| format!("opening directory {}", p.display()))
}

/// Makes directory `name` in `dir` (mode 0700 until finished) and opens it.
pub fn mkdir_open(dir: BorrowedFd, name: &OsStr) -> Result<OwnedFd> {
    let c = cname(name)?;
    nix::sys::stat::mkdirat(dir, c.as_c_str(), Mode::from_bits_truncate(0o700))
        .with_context(|| format!("creating directory {}", name.to_string_lossy()))?;
    openat2(dir, &c, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)
        .with_context(|| format!("opening directory {}", name.to_string_lossy()))
}

/// Creates the new file `name` in `dir`, refusing one that exists.
pub fn create(dir: BorrowedFd, name: &OsStr) -> Result<OwnedFd> {
    let c = cname(name)?;
    openat2(dir, &c, OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL, 0o600)
        .with_context(|| format!("creating {}", name.to_string_lossy()))
}

pub fn readlink_at(dir: BorrowedFd, name: &OsStr) -> Result<std::ffi::OsString> {
    let c = cname(name)?;
    nix::fcntl::readlinkat(dir, c.as_c_str()).with_context(|| format!("reading link {}", name.to_string_lossy()))
}

pub fn symlink_at(target: &OsStr, dir: BorrowedFd, name: &OsStr) -> Result<()> {
    let c = cname(name)?;
    nix::unistd::symlinkat(target, dir, c.as_c_str())
        .with_context(|| format!("creating link {}", name.to_string_lossy()))
}

/// The names in an open directory, but . and ..
pub fn entries(dir: BorrowedFd) -> Result<Vec<std::ffi::OsString>> {
    // A Dir of its own: it reads from (and closes) a duplicate.
    let dup = nix::unistd::dup(dir).context("dup of a directory")?;
    let mut d = nix::dir::Dir::from_fd(dup).context("reading a directory")?;
    let mut out = Vec::new();
    for e in d.iter() {
        let e = e.context("reading a directory")?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    out.sort();
    Ok(out)
}

/// Copies the data of `from` to `to` keeping holes holes (SEEK_DATA and
/// SEEK_HOLE, as `cp --sparse=auto`), cloning extents where the file
/// system can (FICLONE), the rest with copy_file_range.
pub fn copy_data(from: BorrowedFd, to: BorrowedFd, size: u64) -> Result<()> {
    const FICLONE: libc::c_ulong = 0x4004_9409;
    // SAFETY: both fds are open files; FICLONE reads only the source fd.
    if unsafe { libc::ioctl(to.as_raw_fd(), FICLONE, from.as_raw_fd()) } == 0 {
        return Ok(());
    }
    let mut off: i64 = 0;
    let end = size as i64;
    while off < end {
        // SAFETY: lseek on an open fd.
        let data = unsafe { libc::lseek(from.as_raw_fd(), off, libc::SEEK_DATA) };
        if data < 0 {
            // ENXIO: only a hole is left.
            break;
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(from.as_raw_fd(), data, libc::SEEK_HOLE) }.max(data).min(end);
        let mut at = data;
        while at < hole {
            let (mut i, mut o) = (at, at);
            // SAFETY: offsets are ours; the kernel copies between the fds.
            let n = unsafe {
                libc::copy_file_range(from.as_raw_fd(), &mut i, to.as_raw_fd(), &mut o, (hole - at) as usize, 0)
            };
            if n > 0 {
                at += n as i64;
                continue;
            }
            if n == 0 {
                // The file shrank under us: what is left reads as a hole.
                break;
            }
            let e = std::io::Error::last_os_error();
            if !matches!(e.raw_os_error(), Some(libc::EXDEV | libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)) {
                return Err(e).context("copying file data");
            }
            at += pread_pwrite(from, to, at, hole)?;
        }
        off = hole;
    }
    nix::unistd::ftruncate(to, size as i64).context("setting the file's size")
}

/// copy_file_range's fallback: one buffer at a time.
fn pread_pwrite(from: BorrowedFd, to: BorrowedFd, at: i64, end: i64) -> Result<i64> {
    let mut buf = vec![0u8; 1 << 16];
    let want = ((end - at) as usize).min(buf.len());
    let n = nix::sys::uio::pread(from, &mut buf[..want], at).context("reading file data")?;
    if n == 0 {
        return Ok(end - at);
    }
    let mut w = 0;
    while w < n {
        w += nix::sys::uio::pwrite(to, &buf[w..n], at + w as i64).context("writing file data")?;
    }
    Ok(n as i64)
}

/// The path of `name` in the open directory `dir`, for the calls that take
/// only paths (extended attributes of a symlink): /proc/self/fd/N/name
/// resolves through the directory we hold, and l*xattr never follows the
/// last component.
pub fn proc_path(dir: BorrowedFd, name: &OsStr) -> std::path::PathBuf {
    Path::new("/proc/self/fd").join(dir.as_raw_fd().to_string()).join(name)
}

/// Free bytes and inodes for an unprivileged writer of the file system
/// holding `dir` (root may use the reserve, but the host needs it).
pub fn free_space(dir: impl AsFd) -> Result<(u64, u64)> {
    let st = nix::sys::statvfs::fstatvfs(dir).context("statvfs of the destination")?;
    Ok((st.blocks_available() as u64 * st.fragment_size() as u64, st.files_available() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_link_anywhere_on_the_way_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("etc/real")).unwrap();
        std::fs::write(root.join("etc/real/key"), "k").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("etc/planted")).unwrap();
        std::os::unix::fs::symlink("real", root.join("etc/relative")).unwrap();
        let fd = open_dir(root).unwrap();
        assert!(open_beneath(fd.as_fd(), Path::new("/etc/real/key"), OFlag::O_PATH).is_ok());
        for bad in ["etc/planted/passwd", "etc/relative/key", "etc/../../x"] {
            let e = open_beneath(fd.as_fd(), Path::new(bad), OFlag::O_PATH).unwrap_err();
            assert!(
                format!("{e:#}").contains("refusing") || format!("{e:#}").contains("in the sandbox's tree"),
                "{bad}: {e:#}"
            );
        }
        let mut made = Vec::new();
        let d = dirs_beneath(fd.as_fd(), Path::new("var/lib/new"), &mut made).unwrap();
        assert_eq!(made, vec![Path::new("var"), Path::new("var/lib"), Path::new("var/lib/new")]);
        assert!(nix::sys::stat::fstat(&d).is_ok());
        assert!(dirs_beneath(fd.as_fd(), Path::new("etc/planted/x"), &mut made).is_err());
        assert!(!Path::new("/etc/x").exists());
    }

    #[test]
    fn names_are_single_components() {
        for bad in ["", "a/b", "..", "."] {
            assert!(cname(OsStr::new(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_link_or_fifo_swapped_in_is_refused() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("f"), "x").unwrap();
        let dir = open_dir(t.path()).unwrap();
        let looked = lstat_at(dir.as_fd(), OsStr::new("f")).unwrap();
        std::fs::remove_file(t.path().join("f")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", t.path().join("f")).unwrap();
        assert!(open_checked(dir.as_fd(), OsStr::new("f"), &looked).is_err(), "followed a link");
        std::fs::remove_file(t.path().join("f")).unwrap();
        nix::unistd::mkfifo(&t.path().join("f"), Mode::from_bits_truncate(0o600)).unwrap();
        // Does not block, and is refused.
        assert!(open_checked(dir.as_fd(), OsStr::new("f"), &looked).is_err());
    }

    #[test]
    fn holes_stay_holes() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("sparse");
        let f = std::fs::File::create(&src).unwrap();
        f.set_len(256 << 20).unwrap();
        nix::sys::uio::pwrite(&f, b"middle", 100 << 20).unwrap();
        drop(f);
        let dir = open_dir(t.path()).unwrap();
        let looked = lstat_at(dir.as_fd(), OsStr::new("sparse")).unwrap();
        let from = open_checked(dir.as_fd(), OsStr::new("sparse"), &looked).unwrap();
        let to = create(dir.as_fd(), OsStr::new("copy")).unwrap();
        copy_data(from.as_fd(), to.as_fd(), looked.st_size as u64).unwrap();
        let m = std::fs::metadata(t.path().join("copy")).unwrap();
        assert_eq!(m.len(), 256 << 20);
        assert!(m.blocks() * 512 < 4 << 20, "the copy allocated {} bytes", m.blocks() * 512);
        let data = std::fs::read(t.path().join("copy")).unwrap();
        assert_eq!(&data[(100 << 20)..(100 << 20) + 6], b"middle");
    }
}
