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
    /// Every installed package's `.list`, read once: a plan asks who owns
    /// a path several times, and the lists are megabytes.
    lists: std::sync::OnceLock<Lists>,
    /// The lists being read, from `open` on (about 1,000 files, 8 MB on a
    /// server), where the caller asked for them ahead.
    reading: std::sync::Mutex<Option<std::thread::JoinHandle<Result<Lists>>>>,
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
    /// The database, if the tree has one; with `lists_ahead`, its file
    /// lists are read by a thread from now on (while the status file is
    /// parsed), for a caller that will ask who owns paths.
    pub fn open(layout: &Layout, lists_ahead: bool) -> Result<Option<Self>> {
        let status = layout.host("/var/lib/dpkg/status");
        if !status.exists() {
            return Ok(None);
        }
        let info_dir = layout.host("/var/lib/dpkg/info");
        let reading = lists_ahead
            .then(|| info_dir.clone())
            .and_then(|dir| std::thread::Builder::new().name("dpkg-lists".into()).spawn(move || read_lists(&dir)).ok());
        let text = std::fs::read_to_string(&status).with_context(|| format!("reading {}", status.display()))?;
        Ok(Some(DpkgDb {
            root: layout.root().to_path_buf(),
            info_dir,
            packages: parse_status(&text),
            lists: std::sync::OnceLock::new(),
            reading: std::sync::Mutex::new(reading),
        }))
    }

    /// The `.list` of every installed package, read once.
    fn lists(&self) -> Result<&Lists> {
        if let Some(l) = self.lists.get() {
            return Ok(l);
        }
        let pending = self.reading.lock().unwrap_or_else(|e| e.into_inner()).take();
        let mut all = match pending {
            Some(h) => {
                h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("reading dpkg's file lists: the reader panicked")))?
            }
            None => read_lists(&self.info_dir)?,
        };
        // A package removed but for its conffiles keeps its list.
        for (_, name) in &mut all.starts {
            if name.as_ref().is_some_and(|n| !self.packages.contains_key(n)) {
                *name = None;
            }
        }
        Ok(self.lists.get_or_init(|| all))
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
        let lists = self.lists()?;
        let mut out = BTreeSet::new();
        for p in paths {
            lists.lines_starting(p, |name, line| {
                if line == p {
                    out.insert(name.to_string());
                }
            });
        }
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
        // Only the lines under an asked directory's top component (/etc,
        // /var) are looked at: most lines are under /usr.
        let tops: BTreeSet<&str> = dirs.iter().map(|d| top(d)).collect();
        let lists = self.lists()?;
        for t in tops {
            lists.lines_starting(&format!("{t}/"), |name, line| {
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
            });
        }
        Ok(out)
    }
}

/// The lists as one text, each line between two newlines, so that a
/// line is found by one search of the whole (SIMD, memchr's memmem)
/// rather than by comparing each of 140,000 lines.
struct Lists {
    text: String,
    /// Where each package's lines start in `text`, in order; None for a
    /// package that is not installed.
    starts: Vec<(usize, Option<String>)>,
}

impl Lists {
    fn new() -> Self {
        Lists { text: "\n".to_string(), starts: Vec::new() }
    }

    /// Appends what `read` holds (one package's list) as package `name`'s
    /// lines, read straight into the one text.
    fn push(&mut self, name: String, mut read: impl std::io::Read) -> std::io::Result<()> {
        self.starts.push((self.text.len(), Some(name)));
        read.read_to_string(&mut self.text)?;
        if !self.text.ends_with('\n') {
            self.text.push('\n');
        }
        Ok(())
    }

    /// Calls `f(package, line)` for each listed line that starts with `prefix`.
    fn lines_starting(&self, prefix: &str, mut f: impl FnMut(&str, &str)) {
        let needle = format!("\n{prefix}");
        for at in memchr::memmem::find_iter(self.text.as_bytes(), needle.as_bytes()) {
            let start = at + 1;
            // The text ends with a newline: every line has one after it.
            let end = start + self.text[start..].find('\n').unwrap_or(self.text.len() - start);
            let i = self.starts.partition_point(|(s, _)| *s <= start);
            if let Some((_, Some(name))) = i.checked_sub(1).and_then(|i| self.starts.get(i)) {
                f(name, &self.text[start..end]);
            }
        }
    }
}

/// The first component of an absolute path, with the leading slash: "/etc" of
/// "/etc/apache2/envvars" (and of "/etc").
fn top(path: &str) -> &str {
    match path.get(1..).and_then(|r| r.find('/')) {
        Some(i) => &path[..i + 1],
        None => path,
    }
}

/// Every `.list` of `info_dir`.
fn read_lists(info_dir: &std::path::Path) -> Result<Lists> {
    let rd = std::fs::read_dir(info_dir).with_context(|| format!("reading {}", info_dir.display()))?;
    let mut out = Lists::new();
    for ent in rd {
        let ent = ent?;
        let fname = ent.file_name();
        let fname = fname.to_string_lossy();
        let Some(stem) = fname.strip_suffix(".list") else { continue };
        let name = stem.split(':').next().unwrap_or(stem);
        std::fs::File::open(ent.path())
            .and_then(|f| out.push(name.to_string(), f))
            .with_context(|| format!("reading {}", ent.path().display()))?;
    }
    Ok(out)
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
    fn lines_are_found_whole_and_with_their_package() {
        let mut l = Lists::new();
        for (n, t) in [("a", "/.\n/etc\n/etc/a.conf\n/usr/sbin/a"), ("e", ""), ("b", "/usr/sbin/ab\n/etc/b.conf\n")] {
            l.push(n.to_string(), t.as_bytes()).unwrap();
        }
        // c is removed but for its conffiles: its lines are nobody's.
        l.push("c".into(), "/etc/c.conf\n".as_bytes()).unwrap();
        l.starts.last_mut().unwrap().1 = None;
        let mut seen = Vec::new();
        l.lines_starting("/usr/sbin/a", |p, line| seen.push(format!("{p} {line}")));
        // a's last line has no newline of its own; b's first line is found too.
        assert_eq!(seen, ["a /usr/sbin/a", "b /usr/sbin/ab"]);
        seen.clear();
        l.lines_starting("/etc/", |p, line| seen.push(format!("{p} {line}")));
        assert_eq!(seen, ["a /etc/a.conf", "b /etc/b.conf"]);
        assert_eq!((top("/etc/apache2/envvars"), top("/etc"), top("/")), ("/etc", "/etc", "/"));
    }

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
        let db = DpkgDb::open(&Layout::new(Some(t.path())), true).unwrap().unwrap();
        let files = db.files("apache2").unwrap();
        assert_eq!(files.len(), 4);
        let env = files.iter().find(|f| f.path == "/etc/apache2/envvars").unwrap();
        assert!(env.config);
        assert_eq!(env.digest.as_deref(), Some("md5:e443"));
        assert_eq!(files.iter().find(|f| f.path == "/usr/sbin/a2enmod").unwrap().digest.as_deref(), Some("md5:abcd"));
        assert_eq!(db.owners(&["/usr/bin/apache2".into(), "/usr/sbin/apache2".into()]).unwrap(), vec!["apache2-bin"]);
        // Opened without reading ahead, the lists are read when first asked.
        let lazy = DpkgDb::open(&Layout::new(Some(t.path())), false).unwrap().unwrap();
        assert_eq!(lazy.owners(&["/usr/sbin/apache2".into()]).unwrap(), vec!["apache2-bin"]);
        assert_eq!(db.same_source("apache2").unwrap(), vec!["apache2", "apache2-bin"]);
        std::fs::create_dir_all(t.path().join("etc/apache2")).unwrap();
        let owners = db.file_owners_in(&["/etc".to_string(), "/etc/apache2".to_string()].into()).unwrap();
        assert!(!owners.contains_key("/etc"), "/etc/apache2 is a directory, not a file in /etc");
        assert_eq!(owners["/etc/apache2"], ["apache2".to_string()].into());
    }
}
