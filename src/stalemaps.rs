//! Restart-needed, as needrestart finds it: the processes of a running
//! sandbox that still map a program or library file the host's package
//! manager has since replaced. A sandbox shares /usr with the host, so an
//! update of libssl there leaves each running sandbox on the old, deleted
//! copy until it restarts.

use std::collections::BTreeSet;

/// Where a deleted mapping is the service's own business (its temporary
/// files, shared memory), not a replaced program.
const NOT_PROGRAMS: [&str; 7] = ["/tmp", "/var", "/run", "/dev", "/home", "/root", "/memfd:"];

/// The replaced files one `/proc/PID/maps` text maps.
pub fn deleted_in_maps(maps: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in maps.lines() {
        // address perms offset dev inode pathname: the path may hold spaces.
        let Some(path) = line.splitn(6, char::is_whitespace).nth(5).map(str::trim_start) else { continue };
        let Some(path) = path.strip_suffix(" (deleted)") else { continue };
        if path.starts_with('/')
            && !NOT_PROGRAMS.iter().any(|p| crate::rootpath::is_under(path, p) || path.starts_with(p))
        {
            out.insert(path.to_string());
        }
    }
    out
}

/// The host's processes by pid namespace, read once: `list` asks for
/// every running sandbox, and reading /proc for each would cost as many
/// passes over it as there are sandboxes.
pub struct Scan {
    by_ns: std::collections::HashMap<std::path::PathBuf, Vec<String>>,
}

impl Scan {
    pub fn new() -> Self {
        let mut by_ns: std::collections::HashMap<std::path::PathBuf, Vec<String>> = Default::default();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let name = e.file_name();
            let Some(pid) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else { continue };
            // A process gone in between is no one's.
            if let Ok(ns) = std::fs::read_link(format!("/proc/{pid}/ns/pid")) {
                by_ns.entry(ns).or_default().push(pid.to_string());
            }
        }
        Scan { by_ns }
    }

    /// The replaced files that the processes in `shim`'s pid namespace
    /// (the sandbox's: the shim is its PID 1) map, with how many map each.
    pub fn of_sandbox(&self, shim: i32) -> Vec<(String, usize)> {
        let Ok(ns) = std::fs::read_link(format!("/proc/{shim}/ns/pid")) else { return Vec::new() };
        let mut count: std::collections::BTreeMap<String, usize> = Default::default();
        for pid in self.by_ns.get(&ns).into_iter().flatten() {
            let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
            for f in deleted_in_maps(&maps) {
                *count.entry(f).or_default() += 1;
            }
        }
        count.into_iter().collect()
    }
}

impl Default for Scan {
    fn default() -> Self {
        Self::new()
    }
}

/// `Scan` for one sandbox.
pub fn of_sandbox(shim: i32) -> Vec<(String, usize)> {
    Scan::new().of_sandbox(shim)
}

/// One line for `status` and `list`: what needs the restart.
pub fn summary(stale: &[(String, usize)]) -> Option<String> {
    if stale.is_empty() {
        return None;
    }
    // Programs first, then libraries: the program says what it is.
    let mut files: Vec<&str> = stale.iter().map(|(f, _)| f.as_str()).collect();
    files.sort_by_key(|f| (f.contains(".so"), *f));
    let shown = files.iter().take(3).copied().collect::<Vec<_>>().join(", ");
    let more = if files.len() > 3 { format!(" and {} more", files.len() - 3) } else { String::new() };
    Some(format!("restart needed: it still runs {shown}{more}, replaced on the host since it started"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaced_programs_and_libraries_only() {
        let maps = "\
55d0c4a00000-55d0c4a20000 r-xp 00000000 08:01 1234 /usr/sbin/apache2 (deleted)
7f00a0000000-7f00a0100000 r-xp 00000000 08:01 2345 /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)
7f00a0200000-7f00a0300000 r--p 00000000 08:01 3456 /usr/lib/x86_64-linux-gnu/libc.so.6
7f00a0400000-7f00a0500000 rw-s 00000000 00:05 4567 /dev/shm/sem.x (deleted)
7f00a0600000-7f00a0700000 rw-s 00000000 00:01 5678 /memfd:jit (deleted)
7f00a0800000-7f00a0900000 rw-p 00000000 08:01 6789 /var/tmp/cache (deleted)
7f00a0a00000-7f00a0b00000 r-xp 00000000 08:01 7890 /opt/app/lib with space.so (deleted)
7f00a0c00000-7f00a0d00000 rw-p 00000000 00:00 0 [heap]
";
        let got: Vec<String> = super::deleted_in_maps(maps).into_iter().collect();
        assert_eq!(got, ["/opt/app/lib with space.so", "/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/sbin/apache2"]);
        assert_eq!(super::summary(&[]), None);
        let stale: Vec<(String, usize)> = ["/usr/lib/a.so", "/usr/lib/b.so.1", "/usr/lib/c.so", "/usr/sbin/apache2"]
            .iter()
            .map(|f| (f.to_string(), 1))
            .collect();
        let s = super::summary(&stale).unwrap();
        assert!(
            s.starts_with("restart needed: it still runs /usr/sbin/apache2, /usr/lib/a.so, /usr/lib/b.so.1 and 1 more"),
            "{s}"
        );
    }
}
