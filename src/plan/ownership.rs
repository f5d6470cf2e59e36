//! What the service's users and groups own in the shared directories:
//! state a maintainer script made outside the package's file list
//! (redis-server's /var/lib/redis, mariadb's /var/lib/mysql). Only the
//! entries directly in the hierarchy directories are looked at, one
//! lstat each: the data of other services beneath them is never walked.

use super::accounts::ServiceIds;
use super::hierarchy::HIERARCHY;
use crate::layout::Layout;
use std::os::unix::fs::MetadataExt;

/// The entries of the hierarchy directories the service owns, with why.
pub fn owned(layout: &Layout, ids: &ServiceIds) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if ids.uids.is_empty() && ids.gids.is_empty() {
        return out;
    }
    for (dir, _) in HIERARCHY {
        let Ok(rd) = std::fs::read_dir(layout.host(dir)) else { continue };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.file_type().is_symlink() {
                continue;
            }
            if let Some(why) = ids.owns(m.uid(), m.gid()) {
                out.push((format!("{dir}/{}", e.file_name().to_string_lossy()), format!("owned by {why}")));
            }
        }
    }
    out.sort();
    out
}
