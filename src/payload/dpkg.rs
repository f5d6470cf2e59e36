//! The dpkg database: /var/lib/dpkg/status, info/*.list, info/*.md5sums.

use super::{dependency_names, PackageDb, PackageInfo, PkgFile};
use crate::layout::Layout;
use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

pub struct DpkgDb {
    root: PathBuf,
    info_dir: PathBuf,
    packages: HashMap<String, Entry>,
    /// Every installed package's `.list` (package, text), read once: a plan
    /// asks who owns a path several times, and the lists are megabytes.
    lists: std::sync::OnceLock<Vec<(String, String)>>,
}

#[derive(Debug, Clone)]
struct Entry {
    info: PackageInfo,
    /// Conffiles and their md5, from the status file.
    conffiles: HashMap<String, String>,
    /// Conffiles the installed version no longer ships ("obsolete" in the
    /// status file): dpkg leaves them on disk, listed, but they are not
    /// the package's any more.
    obsolete: std::collections::HashSet<String>,
    essential: bool,
}

impl DpkgDb {
    pub fn open(layout: &Layout) -> Result<Option<Self>> {
        let status = layout.host("/var/lib/dpkg/status");
        if !status.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&status).with_context(|| format!("reading {}", status.display()))?;
        Ok(Some(DpkgDb {
            root: layout.root().to_path_buf(),
            info_dir: layout.host("/var/lib/dpkg/info"),
            packages: parse_status(&text),
            lists: std::sync::OnceLock::new(),
        }))
    }

    /// Reads the `.list` of every installed package, calling `f(package, line)`.
    fn scan_lists(&self, mut f: impl FnMut(&str, &str)) -> Result<()> {
        let lists = match self.lists.get() {
            Some(l) => l,
            None => {
                let l = self.read_lists()?;
                self.lists.get_or_init(|| l)
            }
        };
        for (name, text) in lists {
            for line in text.lines() {
                f(name, line);
            }
        }
        Ok(())
    }

    fn read_lists(&self) -> Result<Vec<(String, String)>> {
        let rd = std::fs::read_dir(&self.info_dir).with_context(|| format!("reading {}", self.info_dir.display()))?;
        let mut out = Vec::new();
        for ent in rd {
            let ent = ent?;
            let fname = ent.file_name();
            let fname = fname.to_string_lossy();
            let Some(stem) = fname.strip_suffix(".list") else { continue };
            let name = stem.split(':').next().unwrap_or(stem);
            if !self.packages.contains_key(name) {
                continue;
            }
            let text =
                std::fs::read_to_string(ent.path()).with_context(|| format!("reading {}", ent.path().display()))?;
            out.push((name.to_string(), text));
        }
        Ok(out)
    }

    fn info_file(&self, e: &Entry, ext: &str) -> PathBuf {
        let plain = self.info_dir.join(format!("{}.{ext}", e.info.name));
        if plain.exists() {
            plain
        } else {
            self.info_dir.join(format!("{}:{}.{ext}", e.info.name, e.info.arch))
        }
    }
}

impl PackageDb for DpkgDb {
    fn kind(&self) -> &'static str {
        "dpkg"
    }

    fn owners(&self, paths: &[String]) -> Result<Vec<String>> {
        let mut out = BTreeSet::new();
        self.scan_lists(|name, line| {
            if paths.iter().any(|p| p == line) {
                out.insert(name.to_string());
            }
        })?;
        Ok(out.into_iter().collect())
    }

    fn info(&self, name: &str) -> Result<Option<PackageInfo>> {
        Ok(self.packages.get(name.split(':').next().unwrap_or(name)).map(|e| e.info.clone()))
    }

    fn files(&self, name: &str) -> Result<Vec<PkgFile>> {
        let Some(e) = self.packages.get(name) else {
            return Ok(Vec::new());
        };
        let list = self.info_file(e, "list");
        let text = std::fs::read_to_string(&list).with_context(|| format!("reading {}", list.display()))?;
        let sums = std::fs::read_to_string(self.info_file(e, "md5sums")).unwrap_or_default();
        let md5: HashMap<String, &str> =
            sums.lines().filter_map(|l| l.split_once("  ")).map(|(sum, p)| (format!("/{p}"), sum)).collect();
        Ok(text
            .lines()
            .filter(|l| l.starts_with('/') && *l != "/." && !e.obsolete.contains(*l))
            .map(|p| {
                let conf = e.conffiles.get(p);
                PkgFile {
                    path: p.to_string(),
                    config: conf.is_some(),
                    digest: conf.map(String::as_str).or(md5.get(p).copied()).map(|s| format!("md5:{s}")),
                    mode: None,
                    user: None,
                    group: None,
                    ghost: false,
                }
            })
            .collect())
    }

    fn same_source(&self, source: &str) -> Result<Vec<String>> {
        let mut v: Vec<String> =
            self.packages.values().filter(|e| e.info.source == source).map(|e| e.info.name.clone()).collect();
        v.sort();
        Ok(v)
    }

    fn providers(&self, dep: &str) -> Result<Vec<String>> {
        let mut v: Vec<String> = self
            .packages
            .values()
            .filter(|e| e.info.provides.iter().any(|p| p == dep))
            .map(|e| e.info.name.clone())
            .collect();
        v.sort();
        Ok(v)
    }

    fn essential(&self) -> Result<Vec<String>> {
        let mut v: Vec<String> = self.packages.values().filter(|e| e.essential).map(|e| e.info.name.clone()).collect();
        v.sort();
        Ok(v)
    }

    fn file_owners_in(&self, dirs: &BTreeSet<String>) -> Result<BTreeMap<String, BTreeSet<String>>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        self.scan_lists(|name, line| {
            let Some((parent, _)) = line.rsplit_once('/') else { return };
            if !dirs.contains(parent) {
                return;
            }
            // .list files do not say what an entry is: ask the tree.
            let is_dir =
                std::fs::symlink_metadata(self.root.join(line.trim_start_matches('/'))).is_ok_and(|m| m.is_dir());
            if !is_dir {
                out.entry(parent.to_string()).or_default().insert(name.to_string());
            }
        })?;
        Ok(out)
    }
}

/// Installed packages from dpkg's status file (deb822 paragraphs).
fn parse_status(text: &str) -> HashMap<String, Entry> {
    let mut out = HashMap::new();
    for para in text.split("\n\n") {
        let mut fields: HashMap<&str, String> = HashMap::new();
        let mut last: Option<&str> = None;
        for line in para.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(k) = last {
                    let v = fields.entry(k).or_default();
                    v.push('\n');
                    v.push_str(line.trim());
                }
            } else if let Some((k, v)) = line.split_once(':') {
                fields.insert(k, v.trim().to_string());
                last = Some(k);
            }
        }
        let (Some(name), Some(status)) = (fields.get("Package"), fields.get("Status")) else { continue };
        // "install ok installed"; removed packages keep "config-files" paragraphs.
        if status.split_whitespace().nth(2) != Some("installed") {
            continue;
        }
        let source =
            fields.get("Source").and_then(|s| s.split_whitespace().next()).map_or_else(|| name.clone(), str::to_string);
        let mut depends = Vec::new();
        for k in ["Depends", "Pre-Depends"] {
            depends.extend(fields.get(k).map(|f| dependency_names(f)).unwrap_or_default());
        }
        let mut provides = vec![name.clone()];
        provides.extend(fields.get("Provides").map(|f| dependency_names(f)).unwrap_or_default());
        let mut conffiles = HashMap::new();
        let mut obsolete = std::collections::HashSet::new();
        for l in fields.get("Conffiles").map(|c| c.lines().collect::<Vec<_>>()).unwrap_or_default() {
            let mut w = l.split_whitespace();
            let (Some(path), Some(sum)) = (w.next(), w.next()) else { continue };
            if w.any(|flag| flag == "obsolete") {
                obsolete.insert(path.to_string());
            } else {
                conffiles.insert(path.to_string(), sum.to_string());
            }
        }
        let info = PackageInfo {
            name: name.clone(),
            version: fields.get("Version").cloned().unwrap_or_default(),
            arch: fields.get("Architecture").cloned().unwrap_or_default(),
            source,
            depends,
            provides,
            db: "dpkg",
        };
        let essential = fields.get("Essential").is_some_and(|v| v == "yes");
        out.insert(name.clone(), Entry { info, conffiles, obsolete, essential });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Package: apache2\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.4.71-1\n\
Depends: apache2-bin (= 2.4.71-1), perl:any\nProvides: httpd, httpd-cgi\nConffiles:\n /etc/apache2/apache2.conf 354c\n /etc/apache2/envvars e443\n /etc/apache2/old.conf 9999 obsolete\n\n\
Package: apache2-bin\nStatus: install ok installed\nArchitecture: amd64\nSource: apache2 (2.4.71-1)\nVersion: 2.4.71-1\n\n\
Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n";

    #[test]
    fn status_paragraphs() {
        let p = parse_status(STATUS);
        assert_eq!(p.len(), 2, "config-files packages are not installed");
        let a = &p["apache2"];
        assert_eq!(a.info.source, "apache2");
        assert_eq!(a.info.depends, vec!["apache2-bin", "perl"]);
        assert_eq!(a.info.provides, vec!["apache2", "httpd", "httpd-cgi"]);
        assert_eq!(a.conffiles["/etc/apache2/envvars"], "e443");
        assert!(!a.conffiles.contains_key("/etc/apache2/old.conf") && a.obsolete.contains("/etc/apache2/old.conf"));
        assert_eq!(p["apache2-bin"].info.source, "apache2");
    }

    #[test]
    fn files_carry_conffile_and_md5() {
        let t = tempfile::tempdir().unwrap();
        let info = t.path().join("var/lib/dpkg/info");
        std::fs::create_dir_all(&info).unwrap();
        std::fs::write(t.path().join("var/lib/dpkg/status"), STATUS).unwrap();
        // dpkg keeps an obsolete conffile listed; it is no longer the package's.
        std::fs::write(
            info.join("apache2.list"),
            "/.\n/etc\n/etc/apache2\n/etc/apache2/envvars\n/etc/apache2/old.conf\n/usr/sbin/a2enmod\n",
        )
        .unwrap();
        std::fs::write(info.join("apache2.md5sums"), "abcd  usr/sbin/a2enmod\n").unwrap();
        std::fs::write(info.join("apache2-bin:amd64.list"), "/.\n/etc\n/usr/sbin/apache2\n").unwrap();
        let db = DpkgDb::open(&Layout::new(Some(t.path()))).unwrap().unwrap();
        let files = db.files("apache2").unwrap();
        assert_eq!(files.len(), 4);
        let env = files.iter().find(|f| f.path == "/etc/apache2/envvars").unwrap();
        assert!(env.config);
        assert_eq!(env.digest.as_deref(), Some("md5:e443"));
        assert_eq!(files.iter().find(|f| f.path == "/usr/sbin/a2enmod").unwrap().digest.as_deref(), Some("md5:abcd"));
        assert_eq!(db.owners(&["/usr/bin/apache2".into(), "/usr/sbin/apache2".into()]).unwrap(), vec!["apache2-bin"]);
        assert_eq!(db.same_source("apache2").unwrap(), vec!["apache2", "apache2-bin"]);
        std::fs::create_dir_all(t.path().join("etc/apache2")).unwrap();
        let owners = db.file_owners_in(&["/etc".to_string(), "/etc/apache2".to_string()].into()).unwrap();
        assert!(!owners.contains_key("/etc"), "/etc/apache2 is a directory, not a file in /etc");
        assert_eq!(owners["/etc/apache2"], ["apache2".to_string()].into());
    }
}
