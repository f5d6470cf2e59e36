//! SELinux MCS labels: one unique category pair per sandbox, so that two
//! sandboxes running the same service still cannot touch each other's files.

use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// Categories c0..c1023, as in the targeted and MLS policies' default MCS range.
pub const CATEGORIES: u16 = 1024;
/// The file type of a sandbox's state tree, defined by policy/sandbox_service.te.
pub const FILE_TYPE: &str = "sandbox_service_file_t";
/// The domain sandboxed services run in (policy/sandbox_service.te).
pub const PROCESS_TYPE: &str = "sandbox_service_t";

/// `s0:cLO,cHI` with LO < HI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct McsLabel {
    lo: u16,
    hi: u16,
}

impl McsLabel {
    pub fn new(a: u16, b: u16) -> Result<Self> {
        if a == b || a >= CATEGORIES || b >= CATEGORIES {
            bail!("bad label categories c{a},c{b}: use two different categories between c0 and c{}", CATEGORIES - 1);
        }
        Ok(McsLabel { lo: a.min(b), hi: a.max(b) })
    }
}

impl fmt::Display for McsLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s0:c{},c{}", self.lo, self.hi)
    }
}

impl FromStr for McsLabel {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            anyhow::anyhow!("bad label '{s}': expected s0:cX,cY with X and Y different, from 0 to {}", CATEGORIES - 1)
        };
        let cats = s.strip_prefix("s0:").ok_or_else(bad)?;
        let (a, b) = cats.split_once(',').ok_or_else(bad)?;
        let num = |c: &str| c.strip_prefix('c').and_then(|n| n.parse::<u16>().ok()).ok_or_else(bad);
        McsLabel::new(num(a)?, num(b)?).map_err(|_| bad())
    }
}

/// How a sandbox is labelled (`-s`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Security {
    /// Allocate a unique pair (the default).
    Dynamic,
    /// A label the admin chose; `context` when a full context was given.
    Static { label: McsLabel, context: Option<String> },
    /// Run with the label of whoever starts it: no separation.
    Inherit,
}

impl FromStr for Security {
    type Err = anyhow::Error;
    /// `dynamic`, `inherit`, `static,label=s0:cX,cY` or
    /// `static,label=USER:ROLE:TYPE:s0:cX,cY`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "dynamic" => return Ok(Security::Dynamic),
            "inherit" => return Ok(Security::Inherit),
            _ => {}
        }
        let Some(rest) = s.strip_prefix("static,label=") else {
            bail!("bad security option '{s}': use dynamic, inherit, or static,label=s0:cX,cY");
        };
        let parts: Vec<&str> = rest.splitn(4, ':').collect();
        match parts.as_slice() {
            [user, role, ty, level] if !user.is_empty() && !role.is_empty() && !ty.is_empty() => {
                let label: McsLabel = level.parse()?;
                Ok(Security::Static { label, context: Some(format!("{user}:{role}:{ty}:{label}")) })
            }
            _ => Ok(Security::Static { label: rest.parse()?, context: None }),
        }
    }
}

impl Security {
    pub fn mode(&self) -> &'static str {
        match self {
            Security::Dynamic => "dynamic",
            Security::Static { .. } => "static",
            Security::Inherit => "inherit",
        }
    }
}

/// A random pair no other sandbox uses. The caller holds the state lock,
/// so `used` cannot change under it.
pub fn allocate(used: &BTreeSet<McsLabel>) -> Result<McsLabel> {
    let total = usize::from(CATEGORIES) * usize::from(CATEGORIES - 1) / 2;
    if used.len() >= total {
        bail!("all {total} MCS category pairs are in use: delete unused sandboxes");
    }
    let random = || -> Result<u32> {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).context("reading random bytes for the label")?;
        Ok(u32::from_le_bytes(b))
    };
    // Random picks almost always hit a free pair at once; when the space
    // is nearly full, choose uniformly among the free pairs instead.
    for _ in 0..64 {
        let r = random()?;
        let (a, c) = ((r & 0xffff) as u16 % CATEGORIES, (r >> 16) as u16 % CATEGORIES);
        if let Ok(l) = McsLabel::new(a, c) {
            if !used.contains(&l) {
                return Ok(l);
            }
        }
    }
    let free: Vec<McsLabel> = (0..CATEGORIES)
        .flat_map(|a| (a + 1..CATEGORIES).map(move |b| McsLabel { lo: a, hi: b }))
        .filter(|l| !used.contains(l))
        .collect();
    Ok(free[random()? as usize % free.len()])
}

/// Whether the running kernel enforces SELinux labels at all.
pub fn selinux_enabled() -> bool {
    !matches!(selinux::kernel_support(), selinux::KernelSupport::Unsupported)
}

/// The context a sandbox's files get: the policy's sandbox file type at the
/// sandbox's categories.
pub fn file_context(label: &McsLabel) -> String {
    format!("system_u:object_r:{FILE_TYPE}:{label}")
}

/// The context a sandbox's processes run with.
pub fn process_context(label: &McsLabel) -> String {
    format!("system_u:system_r:{PROCESS_TYPE}:{label}")
}

/// Labels every file of `tree` with the sandbox's file context. Only called
/// when SELinux is enabled: on other kernels setting the context would just
/// write an xattr nothing enforces.
pub fn apply(tree: &Path, label: &McsLabel) -> Result<()> {
    let ctx = file_context(label);
    let c = std::ffi::CString::new(ctx.clone()).expect("no NUL in a context");
    let sc = selinux::SecurityContext::from_c_str(&c, false);
    for ent in walkdir::WalkDir::new(tree).follow_links(false) {
        let ent = ent.with_context(|| format!("walking {}", tree.display()))?;
        sc.set_for_path(ent.path(), false, false).with_context(|| {
            format!(
                "labelling {} {ctx}: is the sandbox_service policy module loaded (semodule -i sandbox_service.pp)?",
                ent.path().display()
            )
        })?;
    }
    Ok(())
}

/// Labels one file made later in a sandbox's tree (by `upgrade`), by its
/// descriptor: a path in a live tree could lead elsewhere by then. Only
/// when SELinux is on and the sandbox has a label, as `label_tree`.
pub fn apply_to_fd(fd: &impl std::os::fd::AsRawFd, label: Option<&McsLabel>) -> Result<()> {
    let Some(label) = label.filter(|_| selinux_enabled()) else { return Ok(()) };
    let ctx = file_context(label);
    let c = std::ffi::CString::new(ctx.clone()).expect("no NUL in a context");
    let sc = selinux::SecurityContext::from_c_str(&c, false);
    sc.set_for_file(fd).with_context(|| {
        format!(
            "labelling a new file {ctx}: is the sandbox_service policy module loaded (semodule -i sandbox_service.pp)?"
        )
    })?;
    Ok(())
}

/// Labels a sandbox's tree when SELinux is on; says plainly when it is not.
pub fn label_tree(tree: &Path, label: Option<&McsLabel>) -> Result<String> {
    let Some(l) = label else {
        return Ok("none (inherit: runs with the label of whoever starts it)".into());
    };
    if selinux_enabled() {
        apply(tree, l)?;
        Ok(format!("{l} (files labelled {})", file_context(l)))
    } else {
        Ok(format!("{l} (recorded, not enforced: SELinux is disabled on this kernel)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let l: McsLabel = "s0:c12,c3".parse().unwrap();
        assert_eq!(l.to_string(), "s0:c3,c12");
        for bad in ["s0:c1,c1", "s0:c1", "c1,c2", "s0:c1,c1024", "s0:1,2", "s1:c1,c2", "s0:c1,c2,c3"] {
            assert!(bad.parse::<McsLabel>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn security_options() {
        assert_eq!("dynamic".parse::<Security>().unwrap(), Security::Dynamic);
        assert_eq!("inherit".parse::<Security>().unwrap(), Security::Inherit);
        let s: Security = "static,label=s0:c1,c2".parse().unwrap();
        assert_eq!(s, Security::Static { label: McsLabel::new(1, 2).unwrap(), context: None });
        let s: Security = "static,label=system_u:system_r:svirt_lxc_net_t:s0:c9,c7".parse().unwrap();
        assert_eq!(
            s,
            Security::Static {
                label: McsLabel::new(7, 9).unwrap(),
                context: Some("system_u:system_r:svirt_lxc_net_t:s0:c7,c9".into())
            }
        );
        for bad in
            ["static", "static,label=", "static,label=s0:c1", "label=s0:c1,c2", "dynamicx", "static,label=a:b:s0:c1,c2"]
        {
            assert!(bad.parse::<Security>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn allocation_avoids_used_pairs() {
        // Leave exactly one free pair: allocation must find it.
        let mut used = BTreeSet::new();
        for a in 0..CATEGORIES {
            for b in a + 1..CATEGORIES {
                used.insert(McsLabel::new(a, b).unwrap());
            }
        }
        let free = McsLabel::new(5, 700).unwrap();
        used.remove(&free);
        assert_eq!(allocate(&used).unwrap(), free);
        used.insert(free);
        assert!(allocate(&used).is_err());
    }
}
