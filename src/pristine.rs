//! What a sandbox's private files were when it got them: the base that
//! `upgrade` merges from and `diff` compares with. Kept in the state
//! directory beside the tree (`pristine/`), never mounted, root's only.
//!
//! Every regular file of the tree gets its size and SHA-256 in the index;
//! the configuration a merge needs (files under /etc, and the packages'
//! own files) is kept whole, up to `KEEP_MAX` each. State the service
//! writes (a database under /var/lib) is only measured: copying it would
//! double it, and no merge of it is meaningful.

use crate::plan::{Kind, Plan};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Under the state directory.
pub const DIR: &str = "pristine";
pub const INDEX: &str = "index.json";
const FILES: &str = "files";
/// Larger files are measured, not kept.
pub const KEEP_MAX: u64 = 1 << 20;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub size: u64,
    pub sha256: String,
    /// Its content is in `pristine/files/`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kept: bool,
}

/// The index: absolute path inside the sandbox -> what it was.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Baseline {
    pub files: BTreeMap<String, Entry>,
}

pub fn sha256_hex(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

fn sha256_of(path: &Path) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((size, format!("{:x}", h.finalize())))
}

/// Whether a merge may need the file's content: configuration under /etc,
/// or a file a package ships.
fn worth_keeping(path: &str, plan: &Plan) -> bool {
    crate::rootpath::is_under(path, "/etc") || plan.files.iter().any(|f| f.path == path)
}

/// Records `tree` (a sandbox's tree being built, which nothing else can
/// reach yet) into `state/pristine`. The sandbox's own keys are measured,
/// never kept: a copy would be one more place for a secret.
pub fn record(plan: &Plan, tree: &Path, state: &Path) -> Result<Baseline> {
    let base = record_unwritten(plan, tree, state)?;
    base.write(state)?;
    Ok(base)
}

/// `record`, but the baseline is not written: create walks the tree while
/// the sandbox's keys are still being made, and adds them (`record_made`).
pub fn record_unwritten(plan: &Plan, tree: &Path, state: &Path) -> Result<Baseline> {
    let dir = state.join(DIR);
    std::fs::DirBuilder::new().mode(0o700).create(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut base = Baseline::default();
    for e in walkdir::WalkDir::new(tree).follow_links(false) {
        let e = e.with_context(|| format!("reading {}", tree.display()))?;
        if !e.file_type().is_file() {
            continue;
        }
        let inside = Path::new("/").join(e.path().strip_prefix(tree).unwrap_or(e.path()));
        measure(plan, state, &mut base, &inside.to_string_lossy(), e.path())?;
    }
    Ok(base)
}

/// Adds the files at `paths` (inside the sandbox) of `tree`, made after
/// `record_unwritten` walked it, to `base`, and writes it.
pub fn record_made(plan: &Plan, tree: &Path, state: &Path, mut base: Baseline, paths: &[String]) -> Result<Baseline> {
    for p in paths {
        let f = tree.join(p.trim_start_matches('/'));
        if std::fs::symlink_metadata(&f).is_ok_and(|m| m.is_file()) {
            measure(plan, state, &mut base, p, &f)?;
        }
    }
    base.write(state)?;
    Ok(base)
}

/// Measures one file of the tree into `base`, keeping its content where a
/// merge may need it and it is no key.
fn measure(plan: &Plan, state: &Path, base: &mut Baseline, inside: &str, file: &Path) -> Result<()> {
    // A key inside a private directory (dovecot's private/dovecot.key in
    // /etc/dovecot) is no private path of its own: the key plans name it.
    let key = plan.private.iter().any(|p| p.kind == Kind::Key && crate::rootpath::is_under(inside, &p.path))
        || plan.keys.iter().any(|k| k.path == inside);
    let (size, sha256) = sha256_of(file)?;
    let kept = !key && size <= KEEP_MAX && worth_keeping(inside, plan);
    if kept {
        let to = content_path(state, inside);
        parent_dirs(&to)?;
        std::fs::copy(file, &to).with_context(|| format!("keeping {inside}"))?;
        std::fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    }
    base.files.insert(inside.to_string(), Entry { size, sha256, kept });
    Ok(())
}

/// Where the kept content of `inside` lives.
pub fn content_path(state: &Path, inside: &str) -> PathBuf {
    state.join(DIR).join(FILES).join(inside.trim_start_matches('/'))
}

impl Baseline {
    /// The sandbox's baseline, or None for one made before baselines were
    /// kept.
    pub fn load(state: &Path) -> Result<Option<Self>> {
        let p = state.join(DIR).join(INDEX);
        match std::fs::read_to_string(&p) {
            Ok(t) => serde_json::from_str(&t).map(Some).with_context(|| {
                format!("{} is damaged: delete it (diff and upgrade then work without it)", p.display())
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
        }
    }

    /// Written beside and renamed: a reader never sees half an index.
    pub fn write(&self, state: &Path) -> Result<()> {
        let tmp = state.join(DIR).join(".index.json.new");
        self.write_to(&tmp)?;
        let p = state.join(DIR).join(INDEX);
        std::fs::rename(&tmp, &p).with_context(|| format!("replacing {}", p.display()))
    }

    /// Writes the index to `path` (in the baseline's directory, made if
    /// missing), for the caller to rename into place.
    pub fn write_to(&self, path: &Path) -> Result<()> {
        write_private(path, (serde_json::to_string_pretty(self)? + "\n").as_bytes())
    }

    /// The content `inside` had at create (or at the last upgrade), where kept.
    pub fn content(&self, state: &Path, inside: &str) -> Result<Option<Vec<u8>>> {
        match self.files.get(inside) {
            Some(e) if e.kept => {
                let p = content_path(state, inside);
                let data = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
                Ok(Some(data))
            }
            _ => Ok(None),
        }
    }

    /// Where an upgrade stages the new base of `inside` (see `stage`).
    pub fn staged_path(state: &Path, inside: &str) -> PathBuf {
        let p = content_path(state, inside);
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        p.with_file_name(format!(".{name}.sandbox-service-new"))
    }

    /// Makes `data` the base of `inside` for the next upgrade: staged
    /// beside its place, for the caller to rename at its commit.
    pub fn stage(&mut self, state: &Path, inside: &str, data: &[u8]) -> Result<(PathBuf, PathBuf)> {
        let to = content_path(state, inside);
        let tmp = Self::staged_path(state, inside);
        write_private(&tmp, data)?;
        self.files.insert(inside.to_string(), Entry { size: data.len() as u64, sha256: sha256_hex(data), kept: true });
        Ok((tmp, to))
    }
}

/// Makes the missing parents of `p`, root's only.
fn parent_dirs(p: &Path) -> Result<()> {
    let Some(d) = p.parent() else { return Ok(()) };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(d)
        .with_context(|| format!("creating {}", d.display()))
}

/// `data` at `path` (its parents made), root's only, on disk before it returns.
fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    parent_dirs(path)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    std::io::Write::write_all(&mut f, data)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Copies a source sandbox's baseline for its clone: the clone's tree
/// descends from the same files.
pub fn copy_for_clone(from_state: &Path, to_state: &Path) -> Result<()> {
    let from = from_state.join(DIR);
    if !from.is_dir() {
        return Ok(());
    }
    let keep = |_: &Path| true;
    let mut c = crate::clone::Copier::new(&keep, "copying the baseline");
    c.copy(&from, &to_state.join(DIR))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PayloadFile, PrivatePath};

    #[test]
    fn configuration_is_kept_state_and_keys_are_measured() {
        let t = tempfile::tempdir().unwrap();
        let tree = t.path().join("tree");
        for d in ["etc/app", "var/lib/app", "etc/ssl/private"] {
            std::fs::create_dir_all(tree.join(d)).unwrap();
        }
        std::fs::write(tree.join("etc/app/app.conf"), "port 1\n").unwrap();
        std::fs::write(tree.join("var/lib/app/db"), vec![7u8; 100]).unwrap();
        std::fs::write(tree.join("var/lib/app/shipped"), "x").unwrap();
        std::fs::write(tree.join("etc/ssl/private/key.pem"), "secret").unwrap();
        let plan = Plan {
            private: vec![PrivatePath { path: "/etc/ssl/private/key.pem".into(), kind: Kind::Key, reasons: vec![] }],
            files: vec![PayloadFile {
                path: "/var/lib/app/shipped".into(),
                package: "app".into(),
                config: false,
                digest: None,
            }],
            ..Plan::default()
        };
        let b = record(&plan, &tree, t.path()).unwrap();
        assert!(b.files["/etc/app/app.conf"].kept);
        assert!(b.files["/var/lib/app/shipped"].kept, "a package's file is kept wherever it is");
        let db = &b.files["/var/lib/app/db"];
        assert!(!db.kept && db.size == 100);
        assert!(!b.files["/etc/ssl/private/key.pem"].kept, "a key is measured, never kept");
        let loaded = Baseline::load(t.path()).unwrap().unwrap();
        assert_eq!(loaded, b);
        assert_eq!(loaded.content(t.path(), "/etc/app/app.conf").unwrap().unwrap(), b"port 1\n");
        assert_eq!(loaded.content(t.path(), "/var/lib/app/db").unwrap(), None);
        assert_eq!(b.files["/etc/app/app.conf"].sha256, sha256_hex(b"port 1\n"));
        assert!(Baseline::load(&t.path().join("none")).unwrap().is_none());
    }

    /// create measures the tree while the keys are made, then the files
    /// the keys' making wrote: a key in a private directory is one.
    #[test]
    fn keys_made_later_are_measured_never_kept() {
        let t = tempfile::tempdir().unwrap();
        let tree = t.path().join("tree");
        std::fs::create_dir_all(tree.join("etc/app/private")).unwrap();
        std::fs::write(tree.join("etc/app/app.conf"), "ssl_key = /etc/app/private/app.key\n").unwrap();
        std::os::unix::fs::symlink("/etc/ssl/private/host.key", tree.join("etc/app/private/app.key")).unwrap();
        std::fs::write(tree.join("etc/app/app.pem"), "host's certificate").unwrap();
        let plan = Plan {
            private: vec![PrivatePath { path: "/etc/app".into(), kind: Kind::Dir, reasons: vec![] }],
            keys: vec![crate::plan::keys::KeyPlan {
                path: "/etc/app/private/app.key".into(),
                target: "/etc/ssl/private/host.key".into(),
                certs: vec![("/etc/app/app.pem".into(), "/etc/ssl/certs/host.pem".into())],
                how: crate::plan::keys::How::New { algorithm: vec![], kind: "RSA 2048-bit".into(), days: 1 },
            }],
            ..Plan::default()
        };
        let b = record_unwritten(&plan, &tree, t.path()).unwrap();
        assert!(!b.files.contains_key("/etc/app/private/app.key"), "a link is not measured");
        assert!(Baseline::load(t.path()).unwrap().is_none(), "nothing written yet");
        std::fs::remove_file(tree.join("etc/app/private/app.key")).unwrap();
        std::fs::write(tree.join("etc/app/private/app.key"), "new key").unwrap();
        std::fs::write(tree.join("etc/app/app.pem"), "new certificate").unwrap();
        let made = ["/etc/app/private/app.key".to_string(), "/etc/app/app.pem".to_string()];
        let b = record_made(&plan, &tree, t.path(), b, &made).unwrap();
        let key = &b.files["/etc/app/private/app.key"];
        assert!(!key.kept && key.sha256 == sha256_hex(b"new key"), "{key:?}");
        assert!(!content_path(t.path(), "/etc/app/private/app.key").exists());
        assert_eq!(b.files["/etc/app/app.pem"].sha256, sha256_hex(b"new certificate"));
        assert_eq!(b.content(t.path(), "/etc/app/app.pem").unwrap().unwrap(), b"new certificate");
        assert_eq!(Baseline::load(t.path()).unwrap().unwrap(), b);
    }
}
