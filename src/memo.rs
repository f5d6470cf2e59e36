//! What a pure function of a text gave last time, kept in one file: what
//! each `.sandbox` file parses to (so that a command reading all of them,
//! as create's label, address and port checks do, parses only the new
//! ones, and a create's cost stops growing with the number of sandboxes),
//! and the seccomp filter libseccomp compiles from the same rules at
//! every create.
//!
//! An entry is found by the whole input text, byte for byte, never by a
//! file's name or times: a hit gives exactly what the function gives that
//! text, whoever wrote the memo and however the files changed since (an
//! edit within a timestamp's granularity, a clock step, two commands
//! racing). Only results that succeeded are kept; a memo is written only
//! by the user it belongs to, atomically, is ignored if anyone else could
//! have written it, and is made again by another build of the program.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Serialize, Deserialize)]
struct Stored<T> {
    /// The program that parsed: another build may parse the same text
    /// otherwise, so its memo is not used.
    version: String,
    entries: Vec<(String, T)>,
}

pub struct Memo<T> {
    path: PathBuf,
    /// `version()`, found once: open compares it and save writes it.
    version: String,
    old: HashMap<String, T>,
    used: Vec<(String, T)>,
    /// Results computed this time, not found in the memo.
    missed: usize,
}

/// How many results may be missing from the memo, or left over in it,
/// before it is written again (at most an eighth of what it holds).
const SLACK: usize = 16;

/// This build of the program: its version and its file's identity (an
/// upgrade or a rebuild is a new file).
fn version() -> String {
    let exe = std::fs::metadata("/proc/self/exe")
        .map(|m| format!("{}:{}:{}.{}", m.dev(), m.ino(), m.mtime(), m.mtime_nsec()))
        .unwrap_or_default();
    format!("{} {exe}", env!("CARGO_PKG_VERSION"))
}

impl<T: Serialize + DeserializeOwned + Clone> Memo<T> {
    /// The memo at `path`, or an empty one if it is missing, unreadable,
    /// of another build, or writable by anyone but us.
    pub fn open(path: &Path) -> Self {
        let version = version();
        let old = std::fs::File::open(path)
            .ok()
            .filter(|f| {
                f.metadata()
                    .is_ok_and(|m| m.is_file() && m.uid() == nix::unistd::geteuid().as_raw() && m.mode() & 0o022 == 0)
            })
            .and_then(|mut f| {
                // Whole, then parsed: serde_json reads a slice several times faster than a reader.
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut f, &mut bytes).ok()?;
                serde_json::from_slice::<Stored<T>>(&bytes).ok()
            })
            .filter(|s| s.version == version)
            .map(|s| s.entries.into_iter().collect())
            .unwrap_or_default();
        Memo { path: path.to_path_buf(), version, old, used: Vec::new(), missed: 0 }
    }

    /// What `f` gives `text`: the kept value of the same text, or `f`'s,
    /// which is kept if it succeeds.
    pub fn get<E>(&mut self, text: String, f: impl FnOnce(&str) -> Result<T, E>) -> Result<T, E> {
        let value = match self.old.remove(&text) {
            Some(v) => v,
            None => {
                self.missed += 1;
                f(&text)?
            }
        };
        self.used.push((text, value.clone()));
        Ok(value)
    }

    /// Writes what was used this time if it differs enough from what was
    /// read: rewriting a memo of 200 entries for the one new `.sandbox`
    /// file each create finds costs more than parsing a few files again,
    /// so up to SLACK new results or entries no input has any more wait
    /// for a later write. Best effort: a memo that cannot be written (a
    /// read-only tree, another user) only costs the next command the work.
    pub fn save(self) {
        if self.missed + self.old.len() <= SLACK.min(self.used.len() / 8) {
            return;
        }
        let Some(dir) = self.path.parent().filter(|d| d.is_dir()) else { return };
        let stored = Stored { version: self.version, entries: self.used };
        let write = || -> std::io::Result<()> {
            let mut tmp = tempfile::Builder::new().prefix(".memo").tempfile_in(dir)?;
            tmp.as_file_mut().write_all(&serde_json::to_vec(&stored)?)?;
            tmp.persist(&self.path).map_err(|e| e.error)?;
            Ok(())
        };
        if let Err(e) = write() {
            tracing::debug!("not keeping results in {}: {e}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<u32, String> {
        t.trim().parse::<u32>().map_err(|e| e.to_string())
    }

    #[test]
    fn a_hit_needs_the_same_text_and_the_set_follows_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".memo");
        let mut c = Memo::<u32>::open(&path);
        assert_eq!(c.get("1".into(), parse), Ok(1));
        assert_eq!(c.get("2".into(), parse), Ok(2));
        assert!(c.get("x".into(), parse).is_err());
        c.save();
        // A hit does not parse; a text changed in any byte does.
        let mut c = Memo::<u32>::open(&path);
        assert_eq!(c.get("1".into(), |_| Err("parsed".to_string())), Ok(1));
        assert_eq!(c.get("1 ".into(), |_| Err("parsed".to_string())), Err("parsed".into()));
        c.save();
        // "2" was not asked for: gone. A failed parse is never kept.
        let mut c = Memo::<u32>::open(&path);
        assert!(c.old.contains_key("1") && !c.old.contains_key("2") && !c.old.contains_key("x"));
        assert_eq!(c.get("1".into(), parse), Ok(1));
        c.save();
        let unchanged = std::fs::metadata(&path).unwrap().modified().unwrap();
        // Nothing new: not rewritten.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut c = Memo::<u32>::open(&path);
        assert_eq!(c.get("1".into(), parse), Ok(1));
        c.save();
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), unchanged);
    }

    #[test]
    fn a_few_new_results_wait_for_a_later_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".memo");
        let texts: Vec<String> = (0..200).map(|i| i.to_string()).collect();
        let mut c = Memo::<u32>::open(&path);
        texts[..160].iter().for_each(|t| assert!(c.get(t.clone(), parse).is_ok()));
        c.save();
        let written = std::fs::read(&path).unwrap();
        // One new, one gone: still a right answer for each, but no write.
        let mut c = Memo::<u32>::open(&path);
        for t in texts[1..161].iter() {
            assert_eq!(c.get(t.clone(), parse), Ok(t.parse().unwrap()));
        }
        c.save();
        assert_eq!(std::fs::read(&path).unwrap(), written);
        // Past SLACK: written, with exactly what was used.
        let mut c = Memo::<u32>::open(&path);
        texts[1..180].iter().for_each(|t| assert!(c.get(t.clone(), parse).is_ok()));
        c.save();
        let c = Memo::<u32>::open(&path);
        assert_eq!(c.old.len(), 179);
        assert!(!c.old.contains_key("0") && c.old.contains_key("179"));
    }

    #[test]
    fn a_memo_others_may_write_or_of_another_version_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".memo");
        let mut c = Memo::<u32>::open(&path);
        c.get("1".into(), parse).unwrap();
        c.save();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(Memo::<u32>::open(&path).old.is_empty());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(!Memo::<u32>::open(&path).old.is_empty());
        let text = std::fs::read_to_string(&path).unwrap().replace(&version(), "0.0.0 0");
        std::fs::write(&path, text).unwrap();
        assert!(Memo::<u32>::open(&path).old.is_empty());
        std::fs::write(&path, b"not json").unwrap();
        assert!(Memo::<u32>::open(&path).old.is_empty());
    }
}
