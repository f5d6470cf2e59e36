//! The devices a sandbox may open: the standard few, enforced by the
//! kernel's device cgroup controller whatever the mounts allow (a node
//! that root inside made, a host node bound in by an admin).
//!
//! Enforced twice under systemd: the unit says `DevicePolicy=closed` with
//! a `DeviceAllow=` per entry of `NODES` (what `systemd-analyze security`
//! sees), and `run` installs the same list itself, wherever it runs, so a
//! bare `sandbox-service run` or a drop-in that loosens the unit changes
//! nothing. Two backends behind `Filter`: a BPF program on the cgroup v2
//! hierarchy (`bpf.rs`, also present on hybrid hosts), else the v1
//! devices controller (`v1.rs`).

mod bpf;
mod v1;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Char,
    Block,
}

/// Access bits, as the kernel's device cgroup encodes them.
pub const MKNOD: u32 = 1;
pub const READ: u32 = 2;
pub const WRITE: u32 = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub kind: Type,
    pub major: u32,
    /// None: every minor of the major.
    pub minor: Option<u32>,
    pub access: u32,
}

/// A standard device node of every sandbox.
pub struct Node {
    /// Its name under /dev.
    pub name: &'static str,
    pub major: u32,
    pub minor: u32,
    /// Bound from the host's node of the same name into the sandbox's /dev;
    /// ptmx is the sandbox's own devpts's instead.
    pub bound: bool,
}

/// Linux's fixed numbers (Documentation/admin-guide/devices.txt).
pub const NODES: &[Node] = &[
    Node { name: "null", major: 1, minor: 3, bound: true },
    Node { name: "zero", major: 1, minor: 5, bound: true },
    Node { name: "full", major: 1, minor: 7, bound: true },
    Node { name: "random", major: 1, minor: 8, bound: true },
    Node { name: "urandom", major: 1, minor: 9, bound: true },
    Node { name: "tty", major: 5, minor: 0, bound: true },
    Node { name: "ptmx", major: 5, minor: 2, bound: false },
];

/// The majors of the kernel's "pts" driver, from /proc/devices: the
/// sandbox's own terminals (`connect`).
pub fn pts_majors(proc_devices: &str) -> Vec<u32> {
    let mut in_char = false;
    let mut out = Vec::new();
    for line in proc_devices.lines() {
        match line.trim() {
            "Character devices:" => in_char = true,
            "Block devices:" => in_char = false,
            l if in_char => {
                if let Some((n, name)) = l.split_once(' ') {
                    if name.trim() == "pts" {
                        out.extend(n.trim().parse::<u32>().ok());
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Read and write on `NODES` and on every pts; nothing else, and mknod of
/// nothing at all.
pub fn allowed(pts: &[u32]) -> Vec<Rule> {
    let mut v: Vec<Rule> = NODES
        .iter()
        .map(|n| Rule { kind: Type::Char, major: n.major, minor: Some(n.minor), access: READ | WRITE })
        .collect();
    v.extend(pts.iter().map(|&m| Rule { kind: Type::Char, major: m, minor: None, access: READ | WRITE }));
    v
}

/// The same list as unit settings: systemd reads majors and minors from
/// the paths, and `char-pts` from /proc/devices as we do.
pub fn unit_settings() -> String {
    let mut s = String::from("DevicePolicy=closed\n");
    for n in NODES {
        s.push_str(&format!("DeviceAllow=/dev/{} rw\n", n.name));
    }
    s.push_str("DeviceAllow=char-pts rw\n");
    s
}

/// Where a process is in the cgroup hierarchies that can filter devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The unified hierarchy's mount and our path in it.
    pub v2: Option<(PathBuf, String)>,
    /// The v1 devices hierarchy's mount and our path in it.
    pub v1: Option<(PathBuf, String)>,
}

impl Place {
    /// From /proc/self/cgroup and what is mounted where.
    pub fn from(proc_cgroup: &str, exists: impl Fn(&Path) -> bool) -> Place {
        let mut v2 = None;
        let mut v1 = None;
        for line in proc_cgroup.lines() {
            let mut f = line.splitn(3, ':');
            let (Some(id), Some(ctrl), Some(path)) = (f.next(), f.next(), f.next()) else { continue };
            if id == "0" && ctrl.is_empty() {
                // Hybrid hosts mount it beside the v1 hierarchies; unified ones at the top.
                if exists(Path::new("/sys/fs/cgroup/unified/cgroup.procs")) {
                    v2 = Some((PathBuf::from("/sys/fs/cgroup/unified"), path.to_string()));
                } else if exists(Path::new("/sys/fs/cgroup/cgroup.controllers")) {
                    v2 = Some((PathBuf::from("/sys/fs/cgroup"), path.to_string()));
                }
            } else if ctrl.split(',').any(|c| c == "devices")
                && exists(Path::new("/sys/fs/cgroup/devices/devices.list"))
            {
                v1 = Some((PathBuf::from("/sys/fs/cgroup/devices"), path.to_string()));
            }
        }
        Place { v2, v1 }
    }

    pub fn of_self() -> Result<Place> {
        let text = std::fs::read_to_string("/proc/self/cgroup").context("reading /proc/self/cgroup")?;
        Ok(Place::from(&text, |p| p.exists()))
    }
}

/// The cgroup directory to filter in: the unit's own when systemd runs us
/// in it (nothing else lives there), else a new one of our own beneath
/// where we are, so the filter holds the container and nothing of the
/// caller's. Returns (directory, whether we make it).
pub fn target_dir(mount: &Path, path: &str, unit: &str, name: &str) -> (PathBuf, bool) {
    let here = mount.join(path.trim_start_matches('/'));
    if path.rsplit('/').next() == Some(unit) {
        (here, false)
    } else {
        (here.join(format!("sandbox-service-{name}")), true)
    }
}

/// A device filter in force on the container this process clones;
/// dropping it takes it down when the container is gone.
pub struct Filter {
    /// Taken by drop.
    backend: Option<Backend>,
    /// The cgroup we made, and the one we came from.
    made: Option<(PathBuf, PathBuf)>,
    /// The made cgroup v2 directory, for clone3(CLONE_INTO_CGROUP): the
    /// container starts in it and this process never moves. A move is a
    /// write to cgroup.procs, which waits for an RCU grace period (5 to
    /// 25 ms measured here, twice per start: in and out again).
    into: Option<std::os::fd::OwnedFd>,
    /// Whether this process moved into `made` (cgroup v1, or a kernel
    /// without CLONE_INTO_CGROUP) and must move back.
    moved: bool,
}

enum Backend {
    Bpf(bpf::Attached),
    V1,
}

impl Filter {
    /// Installs `rules` for this process and its children from now on.
    pub fn install(unit: &str, name: &str, rules: &[Rule]) -> Result<Filter> {
        let place = Place::of_self()?;
        let (mount, path, v1) = match (&place.v2, &place.v1) {
            (Some((m, p)), _) => (m, p, false),
            (None, Some((m, p))) => (m, p, true),
            (None, None) => bail!(
                "no cgroup hierarchy that can filter devices is mounted (neither cgroup2 nor the v1 devices \
                 controller under /sys/fs/cgroup): the sandbox would reach every device node it can make"
            ),
        };
        let (dir, make) = target_dir(mount, path, unit, name);
        let mut made = None;
        if make {
            let from = mount.join(path.trim_start_matches('/'));
            // One left by a run that was killed: empty, or still in use.
            if dir.exists() {
                std::fs::remove_dir(&dir).with_context(|| {
                    format!("{} is left from an earlier run and still holds processes: stop them first", dir.display())
                })?;
            }
            std::fs::create_dir(&dir).with_context(|| format!("creating cgroup {}", dir.display()))?;
            made = Some((dir.clone(), from));
        }
        let backend = (|| -> Result<Backend> {
            let b = if v1 {
                v1::apply(&dir, rules).map(|()| Backend::V1)?
            } else {
                Backend::Bpf(bpf::attach(&dir, rules)?)
            };
            Ok(b)
        })();
        let mut f = match backend {
            Ok(backend) => Filter { backend: Some(backend), made, into: None, moved: false },
            Err(e) => {
                if let Some((d, _)) = &made {
                    let _ = std::fs::remove_dir(d);
                }
                return Err(e);
            }
        };
        if make && !v1 {
            match std::fs::File::open(&dir) {
                Ok(d) => f.into = Some(d.into()),
                Err(e) => return Err(anyhow::Error::from(e).context(format!("opening cgroup {}", dir.display()))),
            }
        } else if make {
            f.enter_self()?;
        }
        Ok(f)
    }

    /// The cgroup to clone the container into, if it is one this process
    /// did not move into itself.
    pub fn clone_into(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.into.as_ref().map(|f| f.as_fd())
    }

    /// Moves this process into the cgroup made for the container (which
    /// it then clones into by inheritance).
    pub fn enter_self(&mut self) -> Result<()> {
        let Some((dir, _)) = &self.made else { return Ok(()) };
        std::fs::write(dir.join("cgroup.procs"), std::process::id().to_string())
            .with_context(|| format!("moving into cgroup {}", dir.display()))?;
        self.moved = true;
        self.into = None;
        Ok(())
    }

    pub fn describe(&self) -> &'static str {
        match self.backend {
            Some(Backend::Bpf(_)) | None => "a BPF device program on the cgroup v2 hierarchy",
            Some(Backend::V1) => "the cgroup v1 devices controller",
        }
    }
}

/// When the container is gone: our program off the unit's cgroup, or back
/// where we came from and our cgroup removed.
impl Drop for Filter {
    fn drop(&mut self) {
        if let Some((dir, from)) = &self.made {
            if self.moved {
                if let Err(e) = std::fs::write(from.join("cgroup.procs"), std::process::id().to_string()) {
                    tracing::warn!("leaving cgroup {}: {e}", dir.display());
                }
            }
            if let Err(e) = std::fs::remove_dir(dir) {
                tracing::warn!("removing cgroup {}: {e}", dir.display());
            }
        } else if let Some(Backend::Bpf(a)) = self.backend.take() {
            a.detach();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pts_majors_come_from_proc_devices() {
        let text = "Character devices:\n  1 mem\n  4 /dev/vc/0\n  5 /dev/tty\n136 pts\n137 pts\n\nBlock devices:\n  8 sd\n136 pts\n";
        assert_eq!(pts_majors(text), vec![136, 137]);
        let r = allowed(&[136]);
        assert_eq!(r.len(), NODES.len() + 1);
        assert!(r.iter().all(|r| r.access & MKNOD == 0 && r.kind == Type::Char));
    }

    #[test]
    fn the_unit_lists_the_same_nodes() {
        let s = unit_settings();
        assert!(s.starts_with("DevicePolicy=closed\n"));
        for n in NODES {
            assert!(s.contains(&format!("DeviceAllow=/dev/{} rw\n", n.name)), "{s}");
        }
        assert!(s.contains("DeviceAllow=char-pts rw\n"));
    }

    #[test]
    fn where_the_filter_goes() {
        let hybrid = "5:devices:/system.slice/a@w.service\n1:name=systemd:/system.slice/a@w.service\n0::/system.slice/a@w.service\n";
        let has = |p: &Path| {
            ["/sys/fs/cgroup/unified/cgroup.procs", "/sys/fs/cgroup/devices/devices.list"]
                .iter()
                .any(|x| Path::new(x) == p)
        };
        let p = Place::from(hybrid, has);
        assert_eq!(p.v2, Some((PathBuf::from("/sys/fs/cgroup/unified"), "/system.slice/a@w.service".into())));
        assert_eq!(p.v1.as_ref().unwrap().1, "/system.slice/a@w.service");
        let (m, path) = p.v2.unwrap();
        // Under systemd: the unit's own cgroup, as it is.
        assert_eq!(target_dir(&m, &path, "a@w.service", "w"), (m.join("system.slice/a@w.service"), false));
        // Anywhere else: one of our own beneath the caller's.
        assert_eq!(
            target_dir(&m, "/user.slice/s.scope", "a@w.service", "w"),
            (m.join("user.slice/s.scope/sandbox-service-w"), true)
        );
        assert_eq!(target_dir(&m, "/", "a@w.service", "w"), (m.join("sandbox-service-w"), true));
        let unified = |p: &Path| {
            ["/sys/fs/cgroup/cgroup.procs", "/sys/fs/cgroup/cgroup.controllers"].iter().any(|x| Path::new(x) == p)
        };
        let p = Place::from("0::/x.service\n", unified);
        assert_eq!(p.v2, Some((PathBuf::from("/sys/fs/cgroup"), "/x.service".into())));
        assert_eq!(p.v1, None);
    }
}
