//! `diff`'s evidence: each private file of a sandbox against what it got
//! (its baseline, pristine.rs) and against the host's copy now. A file
//! changed under /etc (or a package's configuration file) is the admin's
//! configuration; one changed elsewhere (/var) is the service's state or
//! logs, written as it ran.

use crate::layout::Layout;
use crate::plan::Plan;
use crate::pristine::{sha256_hex, Baseline};
use anyhow::{Context, Result};
use serde::Serialize;
use std::os::fd::BorrowedFd;
use std::path::Path;

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Unchanged,
    /// Changed, and configuration: the admin's doing.
    ChangedConfig,
    /// Changed, and state or logs: the service's doing.
    ChangedState,
    /// Made since create.
    New,
    /// Gone since create.
    Removed,
}

impl Status {
    fn words(self) -> &'static str {
        match self {
            Status::Unchanged => "unchanged since create",
            Status::ChangedConfig => "changed by the admin (configuration)",
            Status::ChangedState => "changed by the service at runtime (state, logs)",
            Status::New => "made since create",
            Status::Removed => "removed since create",
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileDrift {
    pub path: String,
    pub status: Status,
    /// "same", "differs", "absent", or "secret" (a host secret, not read):
    /// the host's copy now against the sandbox's.
    pub host: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_then: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_now: Option<u64>,
    /// Against what it was at create, where that is kept and both are text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

impl FileDrift {
    pub fn line(&self) -> String {
        let sizes = match (self.size_then, self.size_now) {
            (Some(a), Some(b)) if a != b => format!(", {a} -> {b} bytes"),
            (None, Some(b)) => format!(", {b} bytes"),
            _ => String::new(),
        };
        let host = match self.host {
            "differs" => ", differs from the host's",
            "absent" => ", not on the host",
            "secret" => ", the host's copy a secret (not read)",
            _ => "",
        };
        format!("{}: {}{sizes}{host}", self.path, self.status.words())
    }
}

fn is_config(plan: &Plan, path: &str) -> bool {
    crate::rootpath::is_under(path, "/etc") || plan.files.iter().any(|f| f.path == path && f.config)
}

fn host_copy(layout: &Layout, path: &str, now: Option<&[u8]>) -> &'static str {
    if crate::secrets::secret(path).is_some() {
        // Not read: the host keeps it from the sandbox.
        return "secret";
    }
    let host = layout.host(path);
    match std::fs::metadata(&host) {
        // Read only a regular file: the tree names the path, and a FIFO of
        // the host's (postfix's under /var/spool) would never answer.
        Ok(m) if m.is_file() => match std::fs::read(&host) {
            Ok(h) if Some(h.as_slice()) == now => "same",
            Ok(_) => "differs",
            Err(_) => "absent",
        },
        Ok(_) => "differs",
        Err(_) => "absent",
    }
}

/// Every file of the tree at `tree_path` (open at `tree`), and every file
/// of the baseline gone from it, under `under` ("/" for all).
pub fn survey(
    layout: &Layout,
    plan: &Plan,
    base: &Baseline,
    state: &Path,
    tree_path: &Path,
    tree: BorrowedFd,
    under: &str,
) -> Result<Vec<FileDrift>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(tree_path).follow_links(false).sort_by_file_name() {
        let e = e.with_context(|| format!("reading {}", tree_path.display()))?;
        if !e.file_type().is_file() {
            continue;
        }
        let rel = e.path().strip_prefix(tree_path).unwrap_or(e.path());
        let path = Path::new("/").join(rel).to_string_lossy().into_owned();
        if !crate::rootpath::is_under(&path, under) {
            continue;
        }
        // Read beneath the tree: a link planted since the walk is refused.
        let Some(now) = crate::upgrade::read_in_tree(tree, rel)? else { continue };
        seen.insert(path.clone());
        let then = base.files.get(&path);
        let status = match then {
            None => Status::New,
            Some(t) if t.sha256 == sha256_hex(&now) => Status::Unchanged,
            Some(_) if is_config(plan, &path) => Status::ChangedConfig,
            Some(_) => Status::ChangedState,
        };
        let diff = match status {
            Status::ChangedConfig | Status::ChangedState => base
                .content(state, &path)?
                .map(|old| crate::merge::unified(&path, &old, &now))
                .filter(|d| !d.starts_with("binary ")),
            _ => None,
        };
        out.push(FileDrift {
            host: host_copy(layout, &path, Some(&now)),
            status,
            size_then: then.map(|t| t.size),
            size_now: Some(now.len() as u64),
            diff,
            path,
        });
    }
    for (path, t) in base.files.iter().filter(|(p, _)| !seen.contains(*p) && crate::rootpath::is_under(p, under)) {
        out.push(FileDrift {
            path: path.clone(),
            status: Status::Removed,
            host: host_copy(layout, path, None),
            size_then: Some(t.size),
            size_now: None,
            diff: None,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
