//! The rpm database: rpmdb.sqlite (rpm >= 4.16), read through its own
//! indexes (Name, Basenames) and parsed with the rpm crate.

use super::{PackageDb, PackageInfo, PkgFile};
use crate::layout::Layout;
use anyhow::{anyhow, Context, Result};
use rpm::{FileFlags, FileType, PackageMetadata};
use rusqlite::{Connection, OpenFlags};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Where distributions keep the rpmdb: Fedora's place first, then RHEL's.
pub const DB_DIRS: &[&str] = &["/usr/lib/sysimage/rpm", "/var/lib/rpm"];

pub struct RpmDb {
    conn: Connection,
    path: PathBuf,
}

impl RpmDb {
    pub fn open(layout: &Layout) -> Result<Option<Self>> {
        for dir in DB_DIRS {
            let path = layout.host(Path::new(dir).join("rpmdb.sqlite"));
            if path.exists() {
                return Ok(Some(Self::open_file(&path)?));
            }
        }
        Ok(None)
    }

    fn open_file(path: &Path) -> Result<Self> {
        // Read-only, so that inspecting a tree never changes its database.
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .with_context(|| format!("opening rpm database {}", path.display()))?;
        Ok(RpmDb { conn, path: path.to_path_buf() })
    }

    fn header(&self, hnum: i64) -> Result<PackageMetadata> {
        let blob: Vec<u8> = self
            .conn
            .query_row("SELECT blob FROM Packages WHERE hnum = ?1", [hnum], |r| r.get(0))
            .with_context(|| format!("reading package {hnum} from {}", self.path.display()))?;
        parse_blob(&blob).with_context(|| format!("parsing header {hnum} of {}", self.path.display()))
    }

    fn hnums(&self, table: &str, key: &str) -> Result<Vec<i64>> {
        let mut st = self
            .conn
            .prepare_cached(&format!("SELECT DISTINCT hnum FROM '{table}' WHERE key = ?1"))
            .with_context(|| format!("querying {table} in {}", self.path.display()))?;
        let rows = st.query_map([key], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
    }

    fn all_hnums(&self) -> Result<Vec<i64>> {
        let mut st = self.conn.prepare_cached("SELECT hnum FROM Packages")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
    }

    fn owners_of(&self, path: &str) -> Result<Vec<String>> {
        let p = Path::new(path);
        let Some(base) = p.file_name().and_then(|b| b.to_str()) else {
            return Ok(Vec::new());
        };
        let mut out = BTreeSet::new();
        for h in self.hnums("Basenames", base)? {
            let md = self.header(h)?;
            if md.find_file_entry(p).map_err(|e| anyhow!("{e}"))?.is_some() {
                out.insert(md.get_name().map_err(|e| anyhow!("{e}"))?.to_string());
            }
        }
        Ok(out.into_iter().collect())
    }
}

/// rpmdb keeps each header as rpm's headerExport() wrote it, without the
/// header magic and without a lead or signature; the rpm crate parses whole
/// packages, so give it an empty lead and signature and the magic back.
pub fn parse_blob(blob: &[u8]) -> Result<PackageMetadata> {
    const HEADER_MAGIC: [u8; 8] = [0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
    let mut buf = Vec::with_capacity(96 + 16 + 8 + blob.len());
    buf.extend_from_slice(&[0xed, 0xab, 0xee, 0xdb, 3, 0, 0, 0, 0, 1]);
    buf.extend_from_slice(&[0u8; 66]);
    buf.extend_from_slice(&[0, 1, 0, 5]);
    buf.extend_from_slice(&[0u8; 16]);
    buf.extend_from_slice(&HEADER_MAGIC);
    buf.extend_from_slice(&[0u8; 8]);
    if !blob.starts_with(&HEADER_MAGIC[..4]) {
        buf.extend_from_slice(&HEADER_MAGIC);
    }
    buf.extend_from_slice(blob);
    PackageMetadata::parse(&mut buf.as_slice()).map_err(|e| anyhow!("{e}"))
}

/// "httpd-2.4.57-5.fc39.src.rpm" -> "httpd".
pub fn source_name(srpm: &str) -> &str {
    let stem = srpm.strip_suffix(".src.rpm").or_else(|| srpm.strip_suffix(".nosrc.rpm")).unwrap_or(srpm);
    let mut parts = stem.rsplitn(3, '-');
    let (_rel, _ver, name) = (parts.next(), parts.next(), parts.next());
    name.unwrap_or(stem)
}

fn info_of(md: &PackageMetadata) -> Result<PackageInfo> {
    let e = |e: rpm::Error| anyhow!("{e}");
    let name = md.get_name().map_err(e)?.to_string();
    let epoch = md.get_epoch().ok().filter(|&x| x != 0).map(|x| format!("{x}:")).unwrap_or_default();
    let version = format!("{epoch}{}-{}", md.get_version().map_err(e)?, md.get_release().map_err(e)?);
    // rpm writes "(none)" where a package has no source package.
    let source = md.get_source_rpm().ok().filter(|s| *s != "(none)").map_or(name.as_str(), source_name).to_string();
    let depends = md.get_requires().unwrap_or_default().into_iter().map(|d| d.name).collect();
    let mut provides: Vec<String> = md.get_provides().unwrap_or_default().into_iter().map(|d| d.name).collect();
    provides.push(name.clone());
    Ok(PackageInfo {
        name,
        version,
        arch: md.get_arch().unwrap_or("").to_string(),
        source,
        depends,
        provides,
        db: "rpm",
    })
}

impl PackageDb for RpmDb {
    fn kind(&self) -> &'static str {
        "rpm"
    }

    fn owners(&self, paths: &[String]) -> Result<Vec<String>> {
        // Each spelling is an index lookup here: no scan to share.
        let mut out = BTreeSet::new();
        for p in paths {
            out.extend(self.owners_of(p)?);
        }
        Ok(out.into_iter().collect())
    }

    fn info(&self, name: &str) -> Result<Option<PackageInfo>> {
        match self.hnums("Name", name)?.first() {
            Some(&h) => Ok(Some(info_of(&self.header(h)?)?)),
            None => Ok(None),
        }
    }

    fn files(&self, name: &str) -> Result<Vec<PkgFile>> {
        let Some(&h) = self.hnums("Name", name)?.first() else {
            return Ok(Vec::new());
        };
        let md = self.header(h)?;
        let entries = md.get_file_entries().map_err(|e| anyhow!("{e}"))?;
        Ok(entries
            .iter()
            .map(|f| {
                let kind_bits = match f.file_type() {
                    FileType::Dir => 0o040000,
                    FileType::SymbolicLink => 0o120000,
                    FileType::Regular => 0o100000,
                    _ => 0,
                };
                PkgFile {
                    path: f.path().to_string_lossy().into_owned(),
                    config: f.flags().contains(FileFlags::CONFIG),
                    digest: f
                        .digest()
                        .filter(|d| !d.as_hex().is_empty())
                        .map(|d| format!("{:?}:{}", d.algorithm(), d.as_hex()).to_lowercase()),
                    mode: Some(kind_bits | u32::from(f.permissions())),
                    user: Some(f.user().to_string()),
                    group: Some(f.group().to_string()),
                    ghost: f.flags().contains(FileFlags::GHOST),
                }
            })
            .collect())
    }

    fn same_source(&self, source: &str) -> Result<Vec<String>> {
        // rpmdb has no index by source package: read every header once.
        let mut out = BTreeSet::new();
        for h in self.all_hnums()? {
            let md = self.header(h)?;
            if md.get_source_rpm().is_ok_and(|s| s != "(none)" && source_name(s) == source) {
                out.insert(md.get_name().map_err(|e| anyhow!("{e}"))?.to_string());
            }
        }
        Ok(out.into_iter().collect())
    }

    fn providers(&self, dep: &str) -> Result<Vec<String>> {
        if dep.starts_with('/') {
            return self.owners_of(dep);
        }
        let mut out = BTreeSet::new();
        for h in self.hnums("Providename", dep)? {
            out.insert(self.header(h)?.get_name().map_err(|e| anyhow!("{e}"))?.to_string());
        }
        Ok(out.into_iter().collect())
    }

    fn essential(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn file_owners_in(&self, dirs: &BTreeSet<String>) -> Result<BTreeMap<String, BTreeSet<String>>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for d in dirs {
            // The Dirnames index lists the packages with entries directly in d.
            for h in self.hnums("Dirnames", &format!("{d}/"))? {
                let md = self.header(h)?;
                let files = md.get_file_entries().map_err(|e| anyhow!("{e}"))?;
                if files.iter().any(|f| f.dirname().trim_end_matches('/') == d && f.file_type() != FileType::Dir) {
                    out.entry(d.clone()).or_default().insert(md.get_name().map_err(|e| anyhow!("{e}"))?.to_string());
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_package_names() {
        assert_eq!(source_name("httpd-2.4.57-5.fc39.src.rpm"), "httpd");
        assert_eq!(source_name("my-svc-1.0-1.src.rpm"), "my-svc");
        assert_eq!(source_name("odd"), "odd");
    }

    #[test]
    fn header_blob_roundtrip() {
        // A header as rpmdb stores it: the package's main header without magic.
        let pkg = rpm::PackageBuilder::new("blob-test", "1.2", "MIT", "noarch", "t")
            .with_file_contents("x", rpm::FileOptions::new("/etc/blob-test.conf").config())
            .unwrap()
            .build()
            .unwrap();
        let bytes = pkg.metadata.header_bytes().unwrap();
        let md = parse_blob(&bytes[8..]).unwrap();
        assert_eq!(parse_blob(&bytes).unwrap().get_name().unwrap(), "blob-test");
        assert_eq!(md.get_name().unwrap(), "blob-test");
        let info = info_of(&md).unwrap();
        assert_eq!(info.version, "1.2-1");
        assert!(parse_blob(b"garbage").is_err());
    }
}
