//! What the installed packages say: who owns a file, what a package
//! contains, which packages come from the same source. One trait, one
//! backend per package database (rpm, dpkg), chosen by what the tree has.

mod dpkg;
mod rpm;

use crate::layout::Layout;
use anyhow::{bail, Result};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

pub use self::dpkg::DpkgDb;
pub use self::rpm::RpmDb;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PackageInfo {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// The source package it was built from.
    pub source: String,
    /// Names this package depends on (versions and alternatives dropped).
    #[serde(skip)]
    pub depends: Vec<String>,
    /// Names it provides, including its own.
    #[serde(skip)]
    pub provides: Vec<String>,
    /// Which database knows it: "rpm" or "dpkg".
    pub db: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PkgFile {
    pub path: String,
    /// A configuration file (rpm %config, dpkg conffile).
    pub config: bool,
    /// Digest recorded by the package database, as `algo:hex`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Mode, owner and group recorded by the database (rpm only; dpkg does not keep them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Declared but not shipped (rpm %ghost): made at run time, if at all.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ghost: bool,
}

pub trait PackageDb {
    fn kind(&self) -> &'static str;
    /// Installed packages owning any of `paths`: several spellings of one
    /// absolute path inside the tree (/lib/x and /usr/lib/x), asked at once
    /// so that a backend that must scan (dpkg) scans once.
    fn owners(&self, paths: &[String]) -> Result<Vec<String>>;
    fn info(&self, name: &str) -> Result<Option<PackageInfo>>;
    fn files(&self, name: &str) -> Result<Vec<PkgFile>>;
    /// Installed binary packages built from the source package `source`.
    fn same_source(&self, source: &str) -> Result<Vec<String>>;
    /// For each of `dirs`, the installed packages with a file or symlink
    /// directly in it. (Owning a directory says little: dpkg lists every
    /// parent of every file, so an add-on "owns" /etc/apache2 too.)
    fn file_owners_in(&self, dirs: &BTreeSet<String>) -> Result<BTreeMap<String, BTreeSet<String>>>;
    /// Installed packages that are, provide, or (for a path) own `dep`, a
    /// name from PackageInfo::depends.
    fn providers(&self, dep: &str) -> Result<Vec<String>>;
    /// Packages every other may use without saying so (dpkg's Essential:
    /// yes); rpm has none.
    fn essential(&self) -> Result<Vec<String>>;
}

/// Every package database found in the tree, queried in turn: a Debian host
/// can carry an rpmdb too.
pub struct Databases {
    dbs: Vec<Box<dyn PackageDb>>,
}

impl Databases {
    pub fn open(layout: &Layout) -> Result<Self> {
        Self::open_with(layout, false)
    }

    /// `open`, for a plan, which asks who owns paths: dpkg's file lists
    /// (megabytes) are read from now on, beside the rest of the opening.
    pub fn open_for_plan(layout: &Layout) -> Result<Self> {
        Self::open_with(layout, true)
    }

    fn open_with(layout: &Layout, lists_ahead: bool) -> Result<Self> {
        let mut dbs: Vec<Box<dyn PackageDb>> = Vec::new();
        if let Some(db) = RpmDb::open(layout)? {
            dbs.push(Box::new(db));
        }
        if let Some(db) = DpkgDb::open(layout, lists_ahead)? {
            dbs.push(Box::new(db));
        }
        if dbs.is_empty() {
            bail!(
                "no package database under {}: expected usr/lib/sysimage/rpm or var/lib/rpm (rpmdb.sqlite) or var/lib/dpkg/status",
                layout.root().display()
            );
        }
        Ok(Databases { dbs })
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        self.dbs.iter().map(|d| d.kind()).collect()
    }

    /// The owners of `paths` (spellings of one path) in the first database
    /// that knows any of them.
    pub fn owners(&self, paths: &[String]) -> Result<Vec<PackageInfo>> {
        for db in &self.dbs {
            let names = db.owners(paths)?;
            if !names.is_empty() {
                let mut out = Vec::new();
                for n in names {
                    out.extend(db.info(&n)?);
                }
                return Ok(out);
            }
        }
        Ok(Vec::new())
    }

    pub fn info(&self, name: &str) -> Result<Option<PackageInfo>> {
        for db in &self.dbs {
            if let Some(i) = db.info(name)? {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    fn db(&self, kind: &str) -> &dyn PackageDb {
        self.dbs.iter().find(|d| d.kind() == kind).expect("package from a database we opened").as_ref()
    }

    pub fn files(&self, pkg: &PackageInfo) -> Result<Vec<PkgFile>> {
        self.db(pkg.db).files(&pkg.name)
    }

    /// `pkg` and the other installed packages of its source package, as
    /// virt-sandbox-service did: a service's config and data are often split
    /// over several binary packages (apache2, apache2-bin, apache2-data).
    pub fn with_siblings(&self, pkg: &PackageInfo) -> Result<Vec<PackageInfo>> {
        let db = self.db(pkg.db);
        let mut out = vec![pkg.clone()];
        for n in db.same_source(&pkg.source)? {
            if n != pkg.name {
                out.extend(db.info(&n)?);
            }
        }
        Ok(out)
    }

    pub fn file_owners_in(
        &self,
        dirs: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, BTreeSet<(String, &'static str)>>> {
        let mut out: BTreeMap<String, BTreeSet<(String, &'static str)>> = BTreeMap::new();
        for db in &self.dbs {
            for (d, owners) in db.file_owners_in(dirs)? {
                out.entry(d).or_default().extend(owners.into_iter().map(|o| (o, db.kind())));
            }
        }
        Ok(out)
    }

    /// What satisfies `dep` of a package from database `kind`.
    pub fn providers_in(&self, kind: &str, dep: &str) -> Result<Vec<String>> {
        self.db(kind).providers(dep)
    }

    pub fn essential_in(&self, kind: &str) -> Result<Vec<String>> {
        self.db(kind).essential()
    }

    pub fn info_in(&self, kind: &str, name: &str) -> Result<Option<PackageInfo>> {
        self.db(kind).info(name)
    }
}

/// Package names from a dependency field, without versions, architecture
/// qualifiers or alternatives' separators: "a (>= 1) | b:any, c" -> a, b, c.
pub fn dependency_names(field: &str) -> Vec<String> {
    field
        .split([',', '|'])
        .filter_map(|alt| alt.split_whitespace().next())
        .map(|n| n.split(':').next().unwrap_or(n).to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_field_names() {
        assert_eq!(
            dependency_names("apache2-bin (= 2.4), perl:any, lsb-base | sysvinit-utils (>= 3), "),
            vec!["apache2-bin", "perl", "lsb-base", "sysvinit-utils"]
        );
    }
}

/// Whether `data` has the digest a package database recorded (`algo:hex`,
/// as PkgFile::digest), or None for an algorithm not known here.
pub fn digest_matches(data: &[u8], digest: &str) -> Option<bool> {
    use sha2::Digest;
    let (algo, hex) = digest.split_once(':')?;
    let got = match algo {
        "md5" => format!("{:x}", md5::Md5::digest(data)),
        "sha2_256" | "sha256" => format!("{:x}", sha2::Sha256::digest(data)),
        "sha2_384" | "sha384" => format!("{:x}", sha2::Sha384::digest(data)),
        "sha2_512" | "sha512" => format!("{:x}", sha2::Sha512::digest(data)),
        _ => return None,
    };
    Some(got.eq_ignore_ascii_case(hex))
}

#[cfg(test)]
mod digest_tests {
    #[test]
    fn digests_as_dpkg_and_rpm_record_them() {
        assert_eq!(super::digest_matches(b"abc", "md5:900150983cd24fb0d6963f7d28e17f72"), Some(true));
        assert_eq!(
            super::digest_matches(b"abc", "sha2_256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            Some(true)
        );
        assert_eq!(super::digest_matches(b"abd", "md5:900150983cd24fb0d6963f7d28e17f72"), Some(false));
        assert_eq!(super::digest_matches(b"abc", "crc32:1234"), None);
    }
}
