//! State that a running process is writing: a copy of it is not a copy
//! at rest (a database's files mid-transaction). Found from /proc: a file
//! beneath the paths to copy that some process holds open for writing,
//! not only appending. Appending is what logs do, and a copy of a log
//! taken while it grows is its first part, which loses nothing.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    pub pid: u32,
    pub command: String,
    /// The systemd unit it belongs to, when it belongs to one.
    pub unit: Option<String>,
    pub path: PathBuf,
}

/// From /proc/PID/fdinfo/N: whether the file is open for writing other
/// than by appending.
pub fn writes_in_place(fdinfo: &str) -> bool {
    let Some(flags) = fdinfo.lines().find_map(|l| l.strip_prefix("flags:")) else { return false };
    let Ok(f) = u32::from_str_radix(flags.trim(), 8) else { return false };
    let access = f & 0o3;
    (access == 0o1 || access == 0o2) && f & 0o2000 == 0
}

/// The unit in a /proc/PID/cgroup, if any: the last path component that
/// names a service or a scope.
pub fn unit_of(cgroup: &str) -> Option<String> {
    cgroup
        .lines()
        .filter_map(|l| l.rsplit(':').next())
        .find_map(|p| p.rsplit('/').find(|c| c.ends_with(".service") || c.ends_with(".scope")).map(str::to_string))
}

/// Every process (but this one) writing in place under one of `paths`.
pub fn writers(paths: &[PathBuf]) -> Vec<Writer> {
    let me = std::process::id();
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else { return out };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else { continue };
            if !paths.iter().any(|top| target.starts_with(top)) {
                continue;
            }
            // The link names the file as its process sees it, perhaps in a
            // mount namespace of its own (a sandbox's /var/lib/mysql): it is
            // the host's file only if ours at that path is the same inode.
            let same = match (std::fs::metadata(fd.path()), std::fs::metadata(&target)) {
                (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
                _ => false,
            };
            if !same {
                continue;
            }
            let info = std::fs::read_to_string(p.path().join("fdinfo").join(fd.file_name())).unwrap_or_default();
            if writes_in_place(&info) {
                let read = |f: &str| std::fs::read_to_string(p.path().join(f)).unwrap_or_default();
                out.push(Writer {
                    pid,
                    command: read("comm").trim().to_string(),
                    unit: unit_of(&read("cgroup")),
                    path: target,
                });
                break;
            }
        }
    }
    out
}

/// The one-line refusal for `w`, with the fix.
pub fn refusal(w: &Writer, what: &Path) -> String {
    let fix = match &w.unit {
        Some(u) => format!("stop it first (systemctl stop {u})"),
        None => "stop it first".to_string(),
    };
    format!(
        "{} (pid {}{}) is writing {}, beneath {}: a copy of it now would not be a copy at rest; {fix}, then create the sandbox",
        w.command,
        w.pid,
        w.unit.as_ref().map_or(String::new(), |u| format!(" of {u}")),
        w.path.display(),
        what.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_units() {
        assert!(writes_in_place("pos:\t0\nflags:\t0100002\nmnt_id:\t2\n"), "O_RDWR");
        assert!(!writes_in_place("flags:\t0102001\n"), "O_WRONLY|O_APPEND: a log");
        assert!(!writes_in_place("flags:\t0100000\n"), "read only");
        assert_eq!(unit_of("0::/system.slice/mariadb.service\n").as_deref(), Some("mariadb.service"));
        assert_eq!(unit_of("0::/user.slice/user-0.slice/session-1.scope\n").as_deref(), Some("session-1.scope"));
        assert_eq!(unit_of("0::/\n"), None);
    }

    #[test]
    fn finds_a_writer_but_not_an_appender() {
        let t = tempfile::tempdir().unwrap();
        let db = t.path().join("db");
        let log = t.path().join("log");
        let dir = t.path().to_path_buf();
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("exec 3<>{} 4>>{}; echo ready; exec sleep 30", db.display(), log.display()))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line).unwrap();
        let w = writers(&[dir]);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].path, db);
        assert!(refusal(&w[0], t.path()).contains("stop it first"));
    }
}
