//! Copying host paths into a sandbox's state tree, keeping owner, group,
//! mode, symlinks, timestamps and extended attributes; reflinking file
//! data where the filesystem can. Sockets, fifos and devices are skipped.

use crate::interrupt;
use anyhow::{Context, Result};
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, Gid, Uid};
use std::fs::{self, Metadata};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Stats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub bytes: u64,
    /// Sockets, fifos and device nodes, not copied.
    pub skipped: Vec<String>,
}

/// Copies `src` (file, symlink or directory tree) to `dst`, which must not
/// exist; `keep` decides for each path under a directory whether to copy it.
/// `progress` reports on a terminal.
pub fn copy(
    src: &Path,
    dst: &Path,
    keep: &dyn Fn(&Path) -> bool,
    stats: &mut Stats,
    progress: &mut crate::progress::Progress,
) -> Result<()> {
    let meta = fs::symlink_metadata(src).with_context(|| format!("reading {}", src.display()))?;
    if !meta.is_dir() {
        return copy_one(src, dst, &meta, stats);
    }
    // Directories are made first and finished (mode, times) deepest first,
    // after their content, so copying into them does not disturb either.
    let mut dirs: Vec<(PathBuf, Metadata)> = Vec::new();
    let mut walk = WalkDir::new(src).follow_links(false).sort_by_file_name().into_iter();
    while let Some(ent) = walk.next() {
        interrupt::check()?;
        progress.tick(stats);
        let ent = ent.with_context(|| format!("walking {}", src.display()))?;
        let rel = ent.path().strip_prefix(src).expect("walk stays under its root");
        let to = if rel.as_os_str().is_empty() { dst.to_path_buf() } else { dst.join(rel) };
        if !keep(ent.path()) {
            if ent.file_type().is_dir() {
                walk.skip_current_dir();
            }
            continue;
        }
        let m = ent.metadata().with_context(|| format!("reading {}", ent.path().display()))?;
        if m.is_dir() {
            fs::create_dir(&to).with_context(|| format!("creating {}", to.display()))?;
            fs::set_permissions(&to, fs::Permissions::from_mode(0o700))?;
            stats.dirs += 1;
            dirs.push((to, m));
        } else {
            copy_one(ent.path(), &to, &m, stats)?;
        }
    }
    for (to, m) in dirs.iter().rev() {
        let from = src.join(to.strip_prefix(dst).expect("made under dst"));
        finish(&from, to, m)?;
    }
    Ok(())
}

fn copy_one(src: &Path, dst: &Path, m: &Metadata, stats: &mut Stats) -> Result<()> {
    let ft = m.file_type();
    if ft.is_symlink() {
        let target = fs::read_link(src).with_context(|| format!("reading link {}", src.display()))?;
        std::os::unix::fs::symlink(&target, dst).with_context(|| format!("creating link {}", dst.display()))?;
        stats.symlinks += 1;
    } else if ft.is_file() {
        reflink_copy::reflink_or_copy(src, dst)
            .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
        stats.files += 1;
        stats.bytes += m.len();
    } else if ft.is_dir() {
        fs::create_dir(dst).with_context(|| format!("creating {}", dst.display()))?;
        stats.dirs += 1;
    } else {
        stats.skipped.push(src.display().to_string());
        return Ok(());
    }
    finish(src, dst, m)
}

/// Owner, extended attributes, mode and times, in that order: chown clears
/// set-id bits and file capabilities, so those come after it.
fn finish(src: &Path, dst: &Path, m: &Metadata) -> Result<()> {
    let is_link = m.file_type().is_symlink();
    fchownat(
        nix::fcntl::AT_FDCWD,
        dst,
        Some(Uid::from_raw(m.uid())),
        Some(Gid::from_raw(m.gid())),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .with_context(|| format!("setting the owner of {}", dst.display()))?;
    copy_xattrs(src, dst)?;
    if !is_link {
        fs::set_permissions(dst, fs::Permissions::from_mode(m.mode() & 0o7777))
            .with_context(|| format!("setting the mode of {}", dst.display()))?;
    }
    let at = TimeSpec::new(m.atime(), m.atime_nsec());
    let mt = TimeSpec::new(m.mtime(), m.mtime_nsec());
    utimensat(nix::fcntl::AT_FDCWD, dst, &at, &mt, UtimensatFlags::NoFollowSymlink)
        .with_context(|| format!("setting the times of {}", dst.display()))?;
    Ok(())
}

fn copy_xattrs(src: &Path, dst: &Path) -> Result<()> {
    // The xattr crate's calls do not follow symlinks (l*xattr).
    let names = match xattr::list(src) {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOTSUP) => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("listing extended attributes of {}", src.display())),
    };
    for name in names {
        let Some(value) = xattr::get(src, &name).with_context(|| format!("reading {name:?} of {}", src.display()))?
        else {
            continue;
        };
        xattr::set(dst, &name, &value)
            .with_context(|| format!("setting extended attribute {name:?} on {}", dst.display()))?;
    }
    Ok(())
}

/// Makes the parents of `rel` under `dst_root`, each with the owner, mode
/// and times of the same directory under `src_root`.
pub fn make_parents(src_root: &Path, dst_root: &Path, rel: &Path) -> Result<()> {
    let mut made = Vec::new();
    let mut cur = PathBuf::new();
    for c in rel.parent().into_iter().flat_map(Path::components) {
        cur.push(c);
        let to = dst_root.join(&cur);
        if fs::symlink_metadata(&to).is_err() {
            fs::create_dir(&to).with_context(|| format!("creating {}", to.display()))?;
            made.push(cur.clone());
        }
    }
    for rel in made.iter().rev() {
        let from = src_root.join(rel);
        match fs::metadata(&from) {
            Ok(m) => finish(&from, &dst_root.join(rel), &m)?,
            // A parent of a path created empty may be absent on the host too.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::set_permissions(dst_root.join(rel), fs::Permissions::from_mode(0o755))?
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", from.display())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn keeps_metadata_links_and_skips_special_files() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/f"), "hello").unwrap();
        fs::set_permissions(src.join("sub/f"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::set_permissions(src.join("sub"), fs::Permissions::from_mode(0o750)).unwrap();
        symlink("../sub/f", src.join("link")).unwrap();
        fs::write(src.join("secret"), "x").unwrap();
        nix::unistd::mkfifo(&src.join("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let _sock = std::os::unix::net::UnixListener::bind(src.join("sock")).unwrap();
        let old = TimeSpec::new(1_000_000_000, 0);
        utimensat(nix::fcntl::AT_FDCWD, &src.join("sub/f"), &old, &old, UtimensatFlags::NoFollowSymlink).unwrap();
        utimensat(nix::fcntl::AT_FDCWD, &src.join("sub"), &old, &old, UtimensatFlags::NoFollowSymlink).unwrap();
        let xattrs_ok = xattr::set(src.join("sub/f"), "user.test", b"v").is_ok();

        let dst = t.path().join("dst");
        let mut st = Stats::default();
        let keep = |p: &Path| !p.ends_with("secret");
        copy(&src, &dst, &keep, &mut st, &mut crate::progress::Progress::new("test")).unwrap();

        assert_eq!(fs::read_to_string(dst.join("sub/f")).unwrap(), "hello");
        let m = fs::metadata(dst.join("sub/f")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o640);
        assert_eq!(m.mtime(), 1_000_000_000);
        let d = fs::metadata(dst.join("sub")).unwrap();
        assert_eq!(d.mode() & 0o7777, 0o750);
        assert_eq!(d.mtime(), 1_000_000_000, "directory times survive copying into it");
        assert_eq!(fs::read_link(dst.join("link")).unwrap(), PathBuf::from("../sub/f"));
        assert!(!dst.join("secret").exists());
        assert!(!dst.join("fifo").exists() && !dst.join("sock").exists());
        assert_eq!(st.skipped.len(), 2);
        assert_eq!((st.files, st.symlinks), (1, 1));
        if xattrs_ok {
            assert_eq!(xattr::get(dst.join("sub/f"), "user.test").unwrap().as_deref(), Some(&b"v"[..]));
        }
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
