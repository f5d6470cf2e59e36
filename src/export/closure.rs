//! The packages a service needs on another machine: its own (the
//! sandbox's), everything they depend on, transitively, and, from dpkg,
//! the Essential set, which Debian packages use without declaring it
//! (apachectl is a /bin/sh script; no package depends on dash).

use crate::payload::{Databases, PackageInfo};
use anyhow::Result;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub version: String,
    pub db: &'static str,
    /// The sandbox's own, "essential", or the package that needs it.
    pub why: String,
}

/// The packages of a closure, each with what the database says of it.
pub type Members = Vec<(Member, PackageInfo)>;

/// The closure of `roots`; dependencies nothing installed satisfies (the
/// other side of an alternative, rpm's own features) are returned apart.
pub fn of(dbs: &Databases, roots: &[PackageInfo]) -> Result<(Members, BTreeSet<String>)> {
    let mut seen: BTreeMap<(String, &'static str), (Member, PackageInfo)> = BTreeMap::new();
    let mut queue: VecDeque<(PackageInfo, String)> =
        roots.iter().map(|p| (p.clone(), "the sandbox's".into())).collect();
    // Every database's: a command sandbox names no package, and its
    // program still needs the C library.
    for kind in dbs.kinds() {
        for n in dbs.essential_in(kind)? {
            if let Some(i) = dbs.info_in(kind, &n)? {
                queue.push_back((i, "essential".into()));
            }
        }
    }
    let mut unmet = BTreeSet::new();
    while let Some((p, why)) = queue.pop_front() {
        let key = (p.name.clone(), p.db);
        if seen.contains_key(&key) {
            continue;
        }
        for d in &p.depends {
            // rpm's own features (rpmlib(...)): the rpm binary's, no package's.
            if p.db == "rpm" && d.starts_with("rpmlib(") {
                continue;
            }
            // Alternatives come as separate names (payload::dependency_names):
            // each installed one is taken, which is more than one of them
            // needs and never less.
            let providers = dbs.providers_in(p.db, d)?;
            if providers.is_empty() {
                unmet.insert(d.clone());
            }
            for n in providers {
                if !seen.contains_key(&(n.clone(), p.db)) {
                    if let Some(i) = dbs.info_in(p.db, &n)? {
                        queue.push_back((i, p.name.clone()));
                    }
                }
            }
        }
        let m = Member { name: p.name.clone(), version: p.version.clone(), db: p.db, why };
        seen.insert(key, (m, p));
    }
    Ok((seen.into_values().collect(), unmet))
}
