//! All-or-nothing changes to a tree: the state lock, and transactions whose
//! journal lets any later command finish or undo what a killed one began.
//!
//! A create builds everything beside its final place (the state tree in the
//! staging directory, each file as a hidden temporary in its target
//! directory), writes every path it will make to its journal *before*
//! making it, and commits by renaming the config into place last. A
//! failure or a caught signal rolls back at once; after SIGKILL the next
//! command that takes the lock reads the journal: config in place means
//! committed (drop the temporaries), otherwise undo every path listed.
//! A delete journals what it will remove, then moves the config away (its
//! commit point), then removes; recovery completes it.

use crate::layout::Layout;
use anyhow::{bail, Context, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Held for the whole of any command that changes sandboxes, so that
/// concurrent commands run one after another (and labels stay unique).
pub struct StateLock {
    _lock: Flock<File>,
}

pub fn lock(layout: &Layout) -> Result<StateLock> {
    let base = layout.state_base();
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&base)
        .with_context(|| format!("creating {}", base.display()))?;
    let path = layout.lock_file();
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_CLOEXEC)
        .open(&path)
        .with_context(|| format!("opening lock {}", path.display()))?;
    let lock = Flock::lock(f, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .with_context(|| format!("locking {}", path.display()))?;
    let l = StateLock { _lock: lock };
    recover(layout)?;
    Ok(l)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Delete,
}

/// One create or delete of sandbox `name`.
pub struct Txn {
    root: PathBuf,
    dir: PathBuf,
    journal: File,
    op: Op,
    config: PathBuf,
    /// Staged (temporary, final) pairs to rename at commit.
    staged: Vec<(PathBuf, PathBuf)>,
    finished: bool,
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).to_string_lossy().into_owned()
}

/// The staging directory of an operation on sandbox `name`, made, and its
/// journal, begun with `head` (what kind of operation, on what).
fn begin_journal(layout: &Layout, name: &str, head: &[String]) -> Result<(PathBuf, File)> {
    let staging = layout.staging_dir();
    fs::DirBuilder::new().recursive(true).mode(0o700).create(&staging)?;
    let dir = staging.join(name);
    if dir.exists() {
        bail!("{} exists although recovery ran: remove it by hand", dir.display());
    }
    fs::DirBuilder::new().mode(0o700).create(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut journal = File::create(dir.join("journal"))?;
    for line in head {
        writeln!(journal, "{line}")?;
    }
    journal.sync_data()?;
    Ok((dir, journal))
}

impl Txn {
    /// Must be called with the state lock held.
    pub fn begin(layout: &Layout, name: &str, op: Op) -> Result<Self> {
        let (dir, journal) = begin_journal(
            layout,
            name,
            &[
                format!("op {}", if op == Op::Create { "create" } else { "delete" }),
                format!("config {}", rel(layout.root(), &layout.config_file(name))),
            ],
        )?;
        Ok(Txn {
            root: layout.root().to_path_buf(),
            dir,
            journal,
            op,
            config: layout.config_file(name),
            staged: Vec::new(),
            finished: false,
        })
    }

    /// A private working directory on the same filesystem as the state dir.
    pub fn work_dir(&self) -> &Path {
        &self.dir
    }

    fn record(&mut self, tag: &str, p: &Path) -> Result<()> {
        writeln!(self.journal, "{tag} {}", rel(&self.root, p))?;
        self.journal.sync_data().context("writing the staging journal")?;
        Ok(())
    }

    /// Makes `dir` and its missing parents, journalled so that a rollback
    /// removes the ones it made (if they are empty by then).
    pub fn ensure_dir(&mut self, dir: &Path) -> Result<()> {
        let missing: Vec<&Path> = dir.ancestors().take_while(|a| !a.exists()).collect();
        for d in missing.into_iter().rev() {
            self.record("dir", d)?;
            fs::create_dir(d).with_context(|| format!("creating {}", d.display()))?;
        }
        Ok(())
    }

    /// Writes `content` to a temporary beside `target`; renamed at commit.
    pub fn stage_file(&mut self, target: &Path, content: &str, mode: u32) -> Result<()> {
        let parent = target.parent().expect("absolute target");
        self.ensure_dir(parent)?;
        if fs::symlink_metadata(target).is_ok() {
            bail!("{} already exists and was not made by this create: remove or rename it", target.display());
        }
        let tmp = parent.join(format!(".{}.sandbox-service-tmp", target.file_name().unwrap().to_string_lossy()));
        self.record("tmp", &tmp)?;
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(content.as_bytes())
            .and_then(|()| f.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))?;
        self.staged.push((tmp, target.to_path_buf()));
        Ok(())
    }

    /// A symlink at `target` pointing to `to`, renamed into place at commit.
    pub fn stage_symlink(&mut self, target: &Path, to: &str) -> Result<()> {
        let parent = target.parent().expect("absolute target");
        self.ensure_dir(parent)?;
        let tmp = parent.join(format!(".{}.sandbox-service-tmp", target.file_name().unwrap().to_string_lossy()));
        self.record("tmp", &tmp)?;
        std::os::unix::fs::symlink(to, &tmp).with_context(|| format!("creating {}", tmp.display()))?;
        self.staged.push((tmp, target.to_path_buf()));
        Ok(())
    }

    /// A directory built under `work_dir()`, renamed to `target` at commit.
    pub fn stage_dir(&mut self, built: &Path, target: &Path) -> Result<()> {
        if fs::symlink_metadata(target).is_ok() {
            bail!("{} already exists: remove it, or delete the sandbox that owns it", target.display());
        }
        self.staged.push((built.to_path_buf(), target.to_path_buf()));
        Ok(())
    }

    /// Renames everything into place, the config last (the commit point).
    pub fn commit_create(mut self, config_text: &str) -> Result<()> {
        assert_eq!(self.op, Op::Create);
        let config = self.config.clone();
        self.stage_file(&config, config_text, 0o644)?;
        let staged = std::mem::take(&mut self.staged);
        let (last, rest) = staged.split_last().expect("the config is staged");
        for (tmp, fin) in rest {
            self.record("final", fin)?;
            fs::rename(tmp, fin).with_context(|| format!("moving {} into place", fin.display()))?;
        }
        sync_parents(rest.iter().map(|(_, f)| f.as_path()));
        fs::rename(&last.0, &last.1).with_context(|| format!("moving {} into place", last.1.display()))?;
        sync_parents([last.1.as_path()]);
        self.finished = true;
        let _ = fs::remove_dir_all(&self.dir);
        Ok(())
    }

    /// Removes `paths` and the config: journalled, then the config moved
    /// away (after which the sandbox no longer exists), then the rest.
    pub fn commit_delete(mut self, paths: &[PathBuf], empty_dirs: &[PathBuf]) -> Result<()> {
        assert_eq!(self.op, Op::Delete);
        for p in paths {
            self.record("final", p)?;
        }
        for d in empty_dirs {
            self.record("dir", d)?;
        }
        let config = self.config.clone();
        // Moved aside in its own directory: /etc and /var may be two file
        // systems, and a rename between them fails (EXDEV).
        let aside = config.with_file_name(format!(
            ".{}.sandbox-service-deleted",
            config.file_name().expect("a config file").to_string_lossy()
        ));
        self.record("tmp", &aside)?;
        fs::rename(&config, &aside).with_context(|| format!("removing {}", config.display()))?;
        sync_parents([config.as_path()]);
        self.finished = true;
        undo(&self.root, &self.dir)?;
        Ok(())
    }
}

/// Changes to existing files (an upgrade): each new version written as a
/// temporary beside its file, journalled before it is made; the commit
/// line in the journal is the commit point, after which the renames are
/// finished by whoever finds them (recovery rolls forward); before it,
/// the temporaries are removed and nothing changed. The files of a
/// sandbox's tree are reached by descriptor beneath the tree, as root
/// inside controls it.
pub struct RenameTxn {
    root: PathBuf,
    dir: PathBuf,
    journal: File,
    finished: bool,
}

fn pair(tmp: &Path, fin: &Path) -> Result<String> {
    let (t, f) = (tmp.to_string_lossy(), fin.to_string_lossy());
    if t.contains(['\t', '\n']) || f.contains(['\t', '\n']) {
        bail!("{f}: a path with a tab or a newline cannot be journalled; rename it");
    }
    Ok(format!("{t}\t{f}"))
}

impl RenameTxn {
    /// Must be called with the state lock held. `tree` is the sandbox's tree.
    pub fn begin(layout: &Layout, name: &str, tree: &Path) -> Result<Self> {
        let (dir, journal) =
            begin_journal(layout, name, &["op renames".to_string(), format!("tree {}", rel(layout.root(), tree))])?;
        Ok(RenameTxn { root: layout.root().to_path_buf(), dir, journal, finished: false })
    }

    fn note(&mut self, line: &str) -> Result<()> {
        writeln!(self.journal, "{line}")?;
        self.journal.sync_data().context("writing the staging journal")
    }

    /// Journals the temporary `tmp` for `fin` (both relative to the tree,
    /// in one directory), which the caller has just made with O_EXCL: a
    /// name in the tree may be the sandbox's own, and a rollback must not
    /// remove what it did not make.
    pub fn staged_in_tree(&mut self, tmp: &Path, fin: &Path) -> Result<()> {
        let line = format!("intree {}", pair(tmp, fin)?);
        self.note(&line)
    }

    /// Journals the temporary `tmp` (absolute) for `fin` before the caller makes it.
    pub fn will_stage(&mut self, tmp: &Path, fin: &Path) -> Result<()> {
        let line =
            format!("plain {}", pair(&PathBuf::from(rel(&self.root, tmp)), &PathBuf::from(rel(&self.root, fin)))?);
        self.note(&line)
    }

    /// The commit point, then every rename.
    pub fn commit(mut self) -> Result<()> {
        self.note("commit")?;
        self.finished = true;
        finish_renames(&self.root, &self.dir)
    }
}

impl Drop for RenameTxn {
    fn drop(&mut self) {
        if !self.finished {
            if let Err(e) = finish_renames(&self.root, &self.dir) {
                tracing::error!("rolling back {}: {e:#}", self.dir.display());
            }
        }
    }
}

/// Rolls a rename transaction forward (committed) or back, then removes
/// its directory. Each rename is atomic; a temporary already gone was
/// renamed before an interruption.
fn finish_renames(root: &Path, dir: &Path) -> Result<()> {
    use std::ffi::OsStr;
    let journal = fs::read_to_string(dir.join("journal")).unwrap_or_default();
    let committed = journal.lines().any(|l| l == "commit");
    let mut tree = None;
    for line in journal.lines() {
        let Some((tag, rest)) = line.split_once(' ') else { continue };
        match tag {
            "tree" => tree = Some(root.join(rest)),
            "intree" => {
                let Some((t, f)) = rest.split_once('\t') else { continue };
                let Some(tree) = &tree else { bail!("the journal in {} names no tree", dir.display()) };
                let (t, f) = (Path::new(t), Path::new(f));
                let parent = t.parent().unwrap_or(Path::new(""));
                let pd = match crate::safefs::open_beneath(
                    crate::safefs::open_dir(tree)?.as_fd(),
                    parent,
                    nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
                ) {
                    Ok(d) => d,
                    // Its directory is gone: so is the temporary.
                    Err(e) if crate::safefs::errno(&e) == Some(nix::libc::ENOENT) => continue,
                    // Root inside a running sandbox controls its tree: a
                    // directory swapped for a link since is its own loss,
                    // never a reason to block every later command.
                    Err(e) => {
                        tracing::warn!("{} in {}: {e:#}; left as it is", f.display(), tree.display());
                        continue;
                    }
                };
                let tn = t.file_name().unwrap_or(OsStr::new(""));
                let fname = f.file_name().unwrap_or(OsStr::new(""));
                let r = if committed {
                    nix::fcntl::renameat(pd.as_fd(), tn, pd.as_fd(), fname)
                } else {
                    nix::unistd::unlinkat(pd.as_fd(), tn, nix::unistd::UnlinkatFlags::NoRemoveDir)
                };
                match r {
                    Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
                    // As above: what root inside put there (a directory at
                    // the file's place) keeps the temporary beside it.
                    Err(e) => tracing::warn!("{} in {}: {e}; left as it is", f.display(), tree.display()),
                }
                let _ = nix::unistd::fsync(pd.as_fd());
            }
            "plain" => {
                let Some((t, f)) = rest.split_once('\t') else { continue };
                let (t, f) = (root.join(t), root.join(f));
                let r = if committed { fs::rename(&t, &f) } else { fs::remove_file(&t) };
                match r {
                    Ok(()) => sync_parents([f.as_path()]),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).with_context(|| format!("finishing {}", f.display())),
                }
            }
            _ => {}
        }
    }
    fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))
}

impl Drop for Txn {
    fn drop(&mut self) {
        if !self.finished {
            if let Err(e) = undo(&self.root, &self.dir) {
                tracing::error!("rolling back {}: {e:#}", self.dir.display());
            }
        }
    }
}

fn sync_parents<'a>(paths: impl IntoIterator<Item = &'a Path>) {
    let mut seen = std::collections::BTreeSet::new();
    for p in paths {
        if let Some(parent) = p.parent() {
            if seen.insert(parent.to_path_buf()) {
                if let Ok(d) = File::open(parent) {
                    let _ = d.sync_all();
                }
            }
        }
    }
}

fn remove_any(p: &Path) -> Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p).with_context(|| format!("removing {}", p.display())),
        Ok(_) => fs::remove_file(p).with_context(|| format!("removing {}", p.display())),
        // Absent, or a parent is not a directory: either way nothing to undo.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(nix::libc::ENOTDIR) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
    }
}

/// Undoes (create) or completes (delete) the transaction in `dir`, then
/// removes `dir`. For a create whose config is in place, only the
/// temporaries go: it had committed.
fn undo(root: &Path, dir: &Path) -> Result<()> {
    let journal = fs::read_to_string(dir.join("journal")).unwrap_or_default();
    let mut op = "";
    let mut config = None;
    let mut items: Vec<(&str, PathBuf)> = Vec::new();
    for line in journal.lines() {
        let Some((tag, p)) = line.split_once(' ') else { continue };
        match tag {
            "op" => op = p,
            "config" => config = Some(root.join(p)),
            _ => items.push((tag, root.join(p))),
        }
    }
    let config_in_place = config.as_deref().is_some_and(|c| c.exists());
    let keep_finals = match op {
        "create" => config_in_place,
        // A delete that had not yet moved the config away did not happen.
        "delete" => config_in_place,
        _ => true,
    };
    for (tag, p) in items.iter().rev() {
        match *tag {
            "tmp" => remove_any(p)?,
            "final" if !keep_finals => remove_any(p)?,
            _ => {}
        }
    }
    // Directories last, once what was in them is gone; only if empty, as
    // something else may have been put there since.
    if !keep_finals {
        for (_, p) in items.iter().rev().filter(|(t, _)| *t == "dir") {
            let _ = fs::remove_dir(p);
        }
    }
    fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))
}

/// Finishes whatever a killed command left in the staging directory.
pub fn recover(layout: &Layout) -> Result<()> {
    let staging = layout.staging_dir();
    let Ok(rd) = fs::read_dir(&staging) else { return Ok(()) };
    for ent in rd {
        let dir = ent?.path();
        tracing::info!("finishing an interrupted operation left in {}", dir.display());
        let renames = fs::read_to_string(dir.join("journal")).is_ok_and(|j| j.starts_with("op renames\n"));
        let finish = if renames { finish_renames(layout.root(), &dir) } else { undo(layout.root(), &dir) };
        finish.with_context(|| {
            format!("finishing the interrupted operation in {}: fix the cause, or remove it by hand", dir.display())
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Layout) {
        let t = tempfile::tempdir().unwrap();
        let l = Layout::new(Some(t.path()));
        (t, l)
    }

    #[test]
    fn create_commits_everything_or_nothing() {
        let (_t, l) = setup();
        let _lk = lock(&l).unwrap();
        let unit = l.unit_dir().join("x@a.service");
        {
            let mut tx = Txn::begin(&l, "a", Op::Create).unwrap();
            tx.stage_file(&unit, "[Unit]\n", 0o644).unwrap();
            let built = tx.work_dir().join("state");
            fs::create_dir(&built).unwrap();
            tx.stage_dir(&built, &l.state_dir("a")).unwrap();
            // dropped without commit: a failure
        }
        assert!(!unit.exists() && !l.state_dir("a").exists() && !l.config_file("a").exists());
        assert!(!l.unit_dir().exists(), "directories it made are removed too");
        assert_eq!(fs::read_dir(l.staging_dir()).unwrap().count(), 0);

        let mut tx = Txn::begin(&l, "a", Op::Create).unwrap();
        tx.stage_file(&unit, "[Unit]\n", 0o644).unwrap();
        let built = tx.work_dir().join("state");
        fs::create_dir(&built).unwrap();
        tx.stage_dir(&built, &l.state_dir("a")).unwrap();
        tx.commit_create("[sandbox]\n").unwrap();
        assert!(unit.exists() && l.state_dir("a").is_dir() && l.config_file("a").exists());
        assert_eq!(fs::read_dir(l.staging_dir()).unwrap().count(), 0);

        let tx = Txn::begin(&l, "a", Op::Delete).unwrap();
        tx.commit_delete(&[unit.clone(), l.state_dir("a")], &[]).unwrap();
        assert!(!unit.exists() && !l.state_dir("a").exists() && !l.config_file("a").exists());
    }

    #[test]
    fn recovery_after_a_kill() {
        let (_t, l) = setup();
        let unit = l.unit_dir().join("x@a.service");
        let _lk = lock(&l).unwrap();
        let mut tx = Txn::begin(&l, "a", Op::Create).unwrap();
        tx.stage_file(&unit, "[Unit]\n", 0o644).unwrap();
        // Simulate a kill half-way through commit: a final moved, no config.
        let (tmp, fin) = tx.staged[0].clone();
        tx.record("final", &fin).unwrap();
        fs::rename(tmp, &fin).unwrap();
        std::mem::forget(tx);
        recover(&l).unwrap();
        assert!(!unit.exists());
        assert_eq!(fs::read_dir(l.staging_dir()).unwrap().count(), 0);
    }

    #[test]
    fn renames_roll_forward_after_the_commit_and_back_before_it() {
        let (_t, l) = setup();
        let tree = l.state_dir("a").join("tree");
        fs::create_dir_all(tree.join("etc")).unwrap();
        let own = l.state_dir("a").join("own");
        let stage = |txn: &mut RenameTxn, n: &str| {
            fs::write(tree.join(format!("etc/.{n}.new")), "new").unwrap();
            txn.staged_in_tree(Path::new(&format!("etc/.{n}.new")), Path::new(&format!("etc/{n}"))).unwrap();
        };
        for (committed, want) in [(false, "old"), (true, "new")] {
            fs::write(tree.join("etc/f"), "old").unwrap();
            fs::write(&own, "old").unwrap();
            let _lk = lock(&l).unwrap();
            let mut txn = RenameTxn::begin(&l, "a", &tree).unwrap();
            stage(&mut txn, "f");
            txn.will_stage(&own.with_file_name(".own.new"), &own).unwrap();
            fs::write(own.with_file_name(".own.new"), "new").unwrap();
            if committed {
                txn.note("commit").unwrap();
            }
            // Killed here: the next command under the lock finishes it.
            std::mem::forget(txn);
            recover(&l).unwrap();
            assert_eq!(fs::read_to_string(tree.join("etc/f")).unwrap(), want);
            assert_eq!(fs::read_to_string(&own).unwrap(), want);
            assert!(!tree.join("etc/.f.new").exists() && !own.with_file_name(".own.new").exists());
            assert_eq!(fs::read_dir(l.staging_dir()).unwrap().count(), 0);
        }
    }

    #[test]
    fn refuses_to_overwrite_foreign_files() {
        let (_t, l) = setup();
        let _lk = lock(&l).unwrap();
        fs::create_dir_all(l.unit_dir()).unwrap();
        let unit = l.unit_dir().join("x@a.service");
        fs::write(&unit, "admin's own").unwrap();
        let mut tx = Txn::begin(&l, "a", Op::Create).unwrap();
        assert!(tx.stage_file(&unit, "[Unit]\n", 0o644).is_err());
        drop(tx);
        assert_eq!(fs::read_to_string(&unit).unwrap(), "admin's own");
    }
}
