//! Copying a tree into a sandbox's state, keeping owner, group, mode,
//! symlinks, hard links, holes, timestamps and extended attributes;
//! cloning extents where the file system can. Sockets, FIFOs and devices
//! are skipped.
//!
//! The source may be a tree that root inside a sandbox wrote (`clone`), so
//! it is read through directory descriptors a name at a time (safefs):
//! a directory swapped for a link to / between two steps is refused, a FIFO
//! never blocks, a 10 GB sparse file stays 10 GB of holes. What a copy
//! needs is measured first and checked against the destination's free
//! space; a deadline bounds the copy.

use crate::interrupt;
use crate::safefs::{self, Kind};
use anyhow::{bail, Context, Result};
use nix::sys::stat::FileStat;
use nix::sys::time::TimeSpec;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Stats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    /// Files copied as further links to a file already copied.
    #[serde(default)]
    pub hardlinks: u64,
    /// Bytes of file content (holes included, as in `ls -l`).
    pub bytes: u64,
    /// Sockets, fifos and device nodes, not copied.
    pub skipped: Vec<String>,
}

/// Deeper than this is no service's tree: it is a way to exhaust our
/// descriptors or stack.
const MAX_DEPTH: usize = 256;

/// One copy session: what was copied, the links seen, the deadline.
pub struct Copier<'a> {
    keep: &'a dyn Fn(&Path) -> bool,
    pub stats: Stats,
    progress: crate::progress::Progress,
    deadline: Option<(Instant, String)>,
    /// (device, inode) of a multiply linked source file -> its copy.
    links: HashMap<(u64, u64), PathBuf>,
}

/// What a tree needs on disk: allocated bytes (holes cost nothing) and
/// inodes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    pub bytes: u64,
    pub inodes: u64,
}

impl<'a> Copier<'a> {
    /// `keep` decides for each source path under a directory whether it is
    /// copied; `what` names the copy on a terminal's progress line.
    pub fn new(keep: &'a dyn Fn(&Path) -> bool, what: &str) -> Self {
        Copier {
            keep,
            stats: Stats::default(),
            progress: crate::progress::Progress::new(what),
            deadline: None,
            links: HashMap::new(),
        }
    }

    /// Ends the copy with an error once `limit` has passed (`how` says how
    /// to allow more).
    pub fn with_deadline(mut self, limit: std::time::Duration, how: &str) -> Self {
        self.deadline = Instant::now().checked_add(limit).map(|d| (d, how.to_string()));
        self
    }

    /// Copies `src` (file, symlink or directory tree) to `dst`, whose
    /// parent must exist and which must not.
    pub fn copy(&mut self, src: &Path, dst: &Path) -> Result<()> {
        let (sdir, sname) = split(src)?;
        let (ddir, dname) = split(dst)?;
        let sdir_fd = safefs::open_dir(sdir)?;
        let ddir_fd = safefs::open_dir(ddir)?;
        let st = safefs::lstat_at(sdir_fd.as_fd(), sname).with_context(|| format!("reading {}", src.display()))?;
        self.entry(sdir_fd.as_fd(), sname, &st, src, ddir_fd.as_fd(), dname, dst, 0)
    }

    fn check_time(&self) -> Result<()> {
        interrupt::check()?;
        if let Some((d, how)) = &self.deadline {
            if Instant::now() > *d {
                bail!("the copy ran past its deadline after {} files: {how}", self.stats.files);
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn entry(
        &mut self,
        sdir: BorrowedFd,
        sname: &OsStr,
        st: &FileStat,
        spath: &Path,
        ddir: BorrowedFd,
        dname: &OsStr,
        dpath: &Path,
        depth: usize,
    ) -> Result<()> {
        self.check_time()?;
        self.progress.tick(&self.stats);
        match safefs::kind(st) {
            Kind::Special => {
                self.stats.skipped.push(spath.display().to_string());
                Ok(())
            }
            Kind::Symlink => {
                let target = safefs::readlink_at(sdir, sname)?;
                safefs::symlink_at(&target, ddir, dname)?;
                self.stats.symlinks += 1;
                finish_link(sdir, sname, st, ddir, dname)
            }
            Kind::File => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&key) {
                        let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(dname))?;
                        nix::unistd::linkat(
                            nix::fcntl::AT_FDCWD,
                            first.as_path(),
                            ddir,
                            c.as_c_str(),
                            nix::fcntl::AtFlags::empty(),
                        )
                        .with_context(|| format!("linking {} to {}", dpath.display(), first.display()))?;
                        self.stats.hardlinks += 1;
                        return Ok(());
                    }
                }
                let from = safefs::open_checked(sdir, sname, st).with_context(|| format!("in {}", spath.display()))?;
                let to = safefs::create(ddir, dname)?;
                safefs::copy_data(from.as_fd(), to.as_fd(), st.st_size as u64)
                    .with_context(|| format!("copying {} to {}", spath.display(), dpath.display()))?;
                finish_fd(from.as_fd(), to, st).with_context(|| format!("finishing {}", dpath.display()))?;
                if st.st_nlink > 1 {
                    self.links.insert(key, dpath.to_path_buf());
                }
                self.stats.files += 1;
                self.stats.bytes += st.st_size as u64;
                Ok(())
            }
            Kind::Dir => {
                if depth >= MAX_DEPTH {
                    bail!("{} is nested deeper than {MAX_DEPTH} directories: refusing to copy it", spath.display());
                }
                let from = safefs::open_checked(sdir, sname, st).with_context(|| format!("in {}", spath.display()))?;
                let to = safefs::mkdir_open(ddir, dname).with_context(|| format!("in {}", dpath.display()))?;
                self.stats.dirs += 1;
                for name in safefs::entries(from.as_fd())? {
                    let sp = spath.join(&name);
                    if !(self.keep)(&sp) {
                        continue;
                    }
                    let cst = match safefs::lstat_at(from.as_fd(), &name) {
                        Ok(s) => s,
                        // Gone since the directory was read: nothing to copy.
                        Err(e) if is_not_found(&e) => continue,
                        Err(e) => return Err(e).with_context(|| format!("in {}", spath.display())),
                    };
                    self.entry(from.as_fd(), &name, &cst, &sp, to.as_fd(), &name, &dpath.join(&name), depth + 1)?;
                }
                // Mode and times after the content, so copying into it
                // disturbs neither.
                finish_fd(from.as_fd(), to, st).with_context(|| format!("finishing {}", dpath.display()))
            }
        }
    }
}

fn is_not_found(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<nix::errno::Errno>() == Some(&nix::errno::Errno::ENOENT))
}

fn split(p: &Path) -> Result<(&Path, &OsStr)> {
    match (p.parent(), p.file_name()) {
        (Some(d), Some(n)) => Ok((if d.as_os_str().is_empty() { Path::new(".") } else { d }, n)),
        _ => bail!("{}: not a path to copy", p.display()),
    }
}

/// What copying `src` needs on disk, read the same careful way.
pub fn measure(src: &Path) -> Result<Need> {
    let (dir, name) = split(src)?;
    let d = safefs::open_dir(dir)?;
    let st = safefs::lstat_at(d.as_fd(), name).with_context(|| format!("reading {}", src.display()))?;
    let mut need = Need::default();
    let mut seen = std::collections::HashSet::new();
    measure_entry(d.as_fd(), name, &st, &mut need, &mut seen, 0)?;
    Ok(need)
}

fn measure_entry(
    dir: BorrowedFd,
    name: &OsStr,
    st: &FileStat,
    need: &mut Need,
    seen: &mut std::collections::HashSet<(u64, u64)>,
    depth: usize,
) -> Result<()> {
    interrupt::check()?;
    if st.st_nlink > 1 && safefs::kind(st) == Kind::File && !seen.insert((st.st_dev, st.st_ino)) {
        return Ok(());
    }
    need.inodes += 1;
    need.bytes += st.st_blocks as u64 * 512;
    if safefs::kind(st) == Kind::Dir {
        if depth >= MAX_DEPTH {
            bail!("{} is nested deeper than {MAX_DEPTH} directories", name.to_string_lossy());
        }
        let d = safefs::open_checked(dir, name, st)?;
        for n in safefs::entries(d.as_fd())? {
            if let Ok(cst) = safefs::lstat_at(d.as_fd(), &n) {
                measure_entry(d.as_fd(), &n, &cst, need, seen, depth + 1)?;
            }
        }
    }
    Ok(())
}

/// Refuses a copy of `need` into the file system of `dst_dir` when it
/// would not fit, with a margin: the host must not run out of disk.
pub fn check_room(need: Need, dst_dir: &Path) -> Result<()> {
    let d = safefs::open_dir(dst_dir)?;
    let (bytes, inodes) = safefs::free_space(d.as_fd())?;
    // A tenth more than measured: directories and metadata the copy adds.
    let want = need.bytes + need.bytes / 10 + (1 << 20);
    if want > bytes || need.inodes > inodes {
        bail!(
            "the copy needs {} MiB and {} inodes on {}, which has {} MiB and {} inodes free: free some space first",
            want >> 20,
            need.inodes,
            dst_dir.display(),
            bytes >> 20,
            inodes
        );
    }
    Ok(())
}

/// Owner, extended attributes, mode and times, in that order: chown clears
/// set-id bits and file capabilities, so those come after it.
fn finish_fd(from: BorrowedFd, to: OwnedFd, st: &FileStat) -> Result<()> {
    use nix::unistd::{Gid, Uid};
    nix::unistd::fchown(&to, Some(Uid::from_raw(st.st_uid)), Some(Gid::from_raw(st.st_gid)))
        .context("setting the owner")?;
    let src = std::fs::File::from(nix::unistd::dup(from).context("dup")?);
    let dst = std::fs::File::from(to);
    copy_xattrs_fd(&src, &dst)?;
    nix::sys::stat::fchmod(&dst, nix::sys::stat::Mode::from_bits_truncate(st.st_mode & 0o7777))
        .context("setting the mode")?;
    let (at, mt) = times(st);
    nix::sys::stat::futimens(&dst, &at, &mt).context("setting the times")
}

fn times(st: &FileStat) -> (TimeSpec, TimeSpec) {
    (TimeSpec::new(st.st_atime, st.st_atime_nsec), TimeSpec::new(st.st_mtime, st.st_mtime_nsec))
}

fn copy_xattrs_fd(src: &std::fs::File, dst: &std::fs::File) -> Result<()> {
    use xattr::FileExt;
    let names = match src.list_xattr() {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOTSUP) => return Ok(()),
        Err(e) => return Err(e).context("listing extended attributes"),
    };
    for name in names {
        if let Some(v) = src.get_xattr(&name).with_context(|| format!("reading {name:?}"))? {
            dst.set_xattr(&name, &v).with_context(|| format!("setting extended attribute {name:?}"))?;
        }
    }
    Ok(())
}

/// A symlink's owner, extended attributes and times (it has no mode).
fn finish_link(sdir: BorrowedFd, sname: &OsStr, st: &FileStat, ddir: BorrowedFd, dname: &OsStr) -> Result<()> {
    use nix::unistd::{fchownat, Gid, Uid};
    let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(dname))?;
    fchownat(
        ddir,
        c.as_c_str(),
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .with_context(|| format!("setting the owner of {}", dname.to_string_lossy()))?;
    // The xattr crate's calls do not follow the last component (l*xattr).
    let (sp, dp) = (safefs::proc_path(sdir, sname), safefs::proc_path(ddir, dname));
    match xattr::list(&sp) {
        Ok(names) => {
            for name in names {
                if let Some(v) = xattr::get(&sp, &name)? {
                    xattr::set(&dp, &name, &v).with_context(|| format!("setting {name:?} on a link"))?;
                }
            }
        }
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOTSUP) => {}
        Err(e) => return Err(e).context("listing extended attributes of a link"),
    }
    let (at, mt) = times(st);
    nix::sys::stat::utimensat(ddir, c.as_c_str(), &at, &mt, nix::sys::stat::UtimensatFlags::NoFollowSymlink)
        .with_context(|| format!("setting the times of {}", dname.to_string_lossy()))
}

/// Makes the parents of `rel` under `dst_root`, each with the owner, mode
/// and times of the same directory under `src_root` (the host's own
/// /etc and /var, which no sandbox writes).
/// `make_parents` for a tree root inside controls (`update -p` into a
/// sandbox's tree): the parents of `rel` beneath `dst_root` are opened
/// with no link on the way, missing ones made with the owner, mode and
/// times of the host's (`shift`ed into a user namespace's range); returns
/// the parent directory, open.
pub fn parents_beneath(src_root: &Path, dst_root: BorrowedFd, rel: &Path, shift: Option<u32>) -> Result<OwnedFd> {
    use std::os::unix::fs::MetadataExt;
    let parent_rel = rel.parent().unwrap_or(Path::new(""));
    let mut made = Vec::new();
    let parent = safefs::dirs_beneath(dst_root, parent_rel, &mut made)?;
    for m in made.iter().rev() {
        let d = safefs::open_beneath(dst_root, m, nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY)?;
        let (mode, uid, gid, times) = match std::fs::metadata(src_root.join(m)) {
            Ok(h) => (
                h.mode() & 0o7777,
                h.uid(),
                h.gid(),
                Some([TimeSpec::new(h.atime(), h.atime_nsec()), TimeSpec::new(h.mtime(), h.mtime_nsec())]),
            ),
            // A parent of a path created empty may be absent on the host too.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (0o755, 0, 0, None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", src_root.join(m).display())),
        };
        let (u, g) = match shift {
            Some(b) => (b + uid.min(crate::runtime::userns::RANGE - 1), b + gid.min(crate::runtime::userns::RANGE - 1)),
            None => (uid, gid),
        };
        nix::unistd::fchown(d.as_fd(), Some(u.into()), Some(g.into()))
            .with_context(|| format!("setting the owner of {}", m.display()))?;
        nix::sys::stat::fchmod(d.as_fd(), nix::sys::stat::Mode::from_bits_truncate(mode))
            .with_context(|| format!("setting the mode of {}", m.display()))?;
        if let Some([at, mt]) = times {
            nix::sys::stat::futimens(d.as_fd(), &at, &mt)
                .with_context(|| format!("setting the times of {}", m.display()))?;
        }
    }
    Ok(parent)
}

pub fn make_parents(src_root: &Path, dst_root: &Path, rel: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mut made = Vec::new();
    let mut cur = PathBuf::new();
    for c in rel.parent().into_iter().flat_map(Path::components) {
        cur.push(c);
        let to = dst_root.join(&cur);
        if std::fs::symlink_metadata(&to).is_err() {
            std::fs::create_dir(&to).with_context(|| format!("creating {}", to.display()))?;
            made.push(cur.clone());
        }
    }
    for rel in made.iter().rev() {
        let from = src_root.join(rel);
        let to = dst_root.join(rel);
        match std::fs::metadata(&from) {
            Ok(m) => {
                std::os::unix::fs::chown(&to, Some(m.uid()), Some(m.gid()))
                    .with_context(|| format!("setting the owner of {}", to.display()))?;
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
                let (at, mt) = (TimeSpec::new(m.atime(), m.atime_nsec()), TimeSpec::new(m.mtime(), m.mtime_nsec()));
                nix::sys::stat::utimensat(
                    nix::fcntl::AT_FDCWD,
                    &to,
                    &at,
                    &mt,
                    nix::sys::stat::UtimensatFlags::NoFollowSymlink,
                )
                .with_context(|| format!("setting the times of {}", to.display()))?;
            }
            // A parent of a path created empty may be absent on the host too.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))?
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", from.display())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::stat::{utimensat, UtimensatFlags};
    use std::fs;
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

    #[test]
    fn keeps_metadata_links_and_skips_special_files() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/f"), "hello").unwrap();
        fs::set_permissions(src.join("sub/f"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::set_permissions(src.join("sub"), fs::Permissions::from_mode(0o750)).unwrap();
        fs::hard_link(src.join("sub/f"), src.join("hard")).unwrap();
        symlink("../sub/f", src.join("link")).unwrap();
        fs::write(src.join("secret"), "x").unwrap();
        nix::unistd::mkfifo(&src.join("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let _sock = std::os::unix::net::UnixListener::bind(src.join("sock")).unwrap();
        let old = TimeSpec::new(1_000_000_000, 0);
        utimensat(nix::fcntl::AT_FDCWD, &src.join("sub/f"), &old, &old, UtimensatFlags::NoFollowSymlink).unwrap();
        utimensat(nix::fcntl::AT_FDCWD, &src.join("sub"), &old, &old, UtimensatFlags::NoFollowSymlink).unwrap();
        let xattrs_ok = xattr::set(src.join("sub/f"), "user.test", b"v").is_ok();

        let dst = t.path().join("dst");
        let keep = |p: &Path| !p.ends_with("secret");
        let mut c = Copier::new(&keep, "test");
        c.copy(&src, &dst).unwrap();
        let st = c.stats;

        assert_eq!(fs::read_to_string(dst.join("sub/f")).unwrap(), "hello");
        let m = fs::metadata(dst.join("sub/f")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o640);
        assert_eq!(m.mtime(), 1_000_000_000);
        let d = fs::metadata(dst.join("sub")).unwrap();
        assert_eq!(d.mode() & 0o7777, 0o750);
        assert_eq!(d.mtime(), 1_000_000_000, "directory times survive copying into it");
        assert_eq!(fs::read_link(dst.join("link")).unwrap(), PathBuf::from("../sub/f"));
        assert_eq!(fs::metadata(dst.join("hard")).unwrap().ino(), m.ino(), "a hard link stays a link");
        assert!(!dst.join("secret").exists());
        assert!(!dst.join("fifo").exists() && !dst.join("sock").exists());
        assert_eq!(st.skipped.len(), 2);
        assert_eq!((st.files, st.symlinks, st.hardlinks), (1, 1, 1));
        if xattrs_ok {
            assert_eq!(xattr::get(dst.join("sub/f"), "user.test").unwrap().as_deref(), Some(&b"v"[..]));
        }
        let need = measure(&src).unwrap();
        assert!(need.inodes >= 5 && need.bytes > 0, "{need:?}");
        assert!(check_room(Need { bytes: u64::MAX / 4, inodes: 1 }, t.path()).is_err());
    }

    #[test]
    fn parents_take_the_source_metadata() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("s");
        fs::create_dir_all(src.join("etc/logrotate.d")).unwrap();
        fs::set_permissions(src.join("etc/logrotate.d"), fs::Permissions::from_mode(0o751)).unwrap();
        let dst = t.path().join("d");
        fs::create_dir(&dst).unwrap();
        make_parents(&src, &dst, Path::new("etc/logrotate.d/apache2")).unwrap();
        assert_eq!(fs::metadata(dst.join("etc/logrotate.d")).unwrap().mode() & 0o7777, 0o751);
    }
}
