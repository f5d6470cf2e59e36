//! Where sandbox-service keeps things, relative to the tree it operates on.
//!
//! Every path the tool reads or writes goes through `Layout`, so `--root DIR`
//! (like `systemctl --root` and `rpm --root`) works for every command.

use std::path::{Path, PathBuf};

pub const CONFIG_DIR: &str = "/etc/sandbox-service";
pub const STATE_DIR: &str = "/var/lib/sandbox-service";
pub const UNIT_DIR: &str = "/etc/systemd/system";
/// The private tree of a sandbox lives under this directory of its state dir.
pub const TREE: &str = "tree";
pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: Option<&Path>) -> Self {
        Layout { root: root.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/")) }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True when operating on the running system rather than an offline tree.
    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    /// The real location of `abs`, an absolute path as seen inside the tree.
    pub fn host(&self, abs: impl AsRef<Path>) -> PathBuf {
        let abs = abs.as_ref();
        let rel = abs.strip_prefix("/").unwrap_or(abs);
        if rel.as_os_str().is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }

    /// For the commands that act on running sandboxes, which exist only on
    /// the live system.
    pub fn require_live(&self) -> anyhow::Result<()> {
        if !self.is_live() {
            anyhow::bail!("--root cannot be used here: a sandbox runs on the live system");
        }
        Ok(())
    }

    pub fn config_dir(&self) -> PathBuf {
        self.host(CONFIG_DIR)
    }

    pub fn config_file(&self, name: &str) -> PathBuf {
        self.config_dir().join(format!("{name}.sandbox"))
    }

    pub fn state_base(&self) -> PathBuf {
        self.host(STATE_DIR)
    }

    pub fn state_dir(&self, name: &str) -> PathBuf {
        self.state_base().join(name)
    }

    /// Half-made creates and deletes live here until they commit; a later
    /// command holding the lock finishes or rolls back whatever it finds.
    pub fn staging_dir(&self) -> PathBuf {
        self.state_base().join(".staging")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.state_base().join(".lock")
    }

    pub fn unit_dir(&self) -> PathBuf {
        self.host(UNIT_DIR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_follow_the_root() {
        let l = Layout::new(Some(Path::new("/srv/r")));
        assert_eq!(l.host("/etc/x"), PathBuf::from("/srv/r/etc/x"));
        assert_eq!(l.host("/"), PathBuf::from("/srv/r"));
        assert_eq!(l.config_file("web1"), PathBuf::from("/srv/r/etc/sandbox-service/web1.sandbox"));
        assert!(!l.is_live());
        let live = Layout::new(None);
        assert_eq!(live.state_dir("a"), PathBuf::from("/var/lib/sandbox-service/a"));
        assert!(live.is_live());
    }
}
