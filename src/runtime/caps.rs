//! Capability sets: Docker's default fourteen less MKNOD and NET_RAW,
//! changed by the sandbox's
//! capabilities-add/-drop, applied to the bounding, permitted and effective
//! sets; inheritable and ambient are emptied so nothing crosses an exec
//! except through the bounding set.

use anyhow::{anyhow, bail, Context, Result};
use caps::{CapSet, Capability, CapsHashSet};

/// What a typical daemon needs to start as root and drop to its user:
/// Docker's default set, which real services have been run under for
/// years, less CAP_MKNOD: a service has no device nodes to make, and a
/// node made in a writable directory is the way to the host's disks; and
/// less CAP_NET_RAW, as Podman's set: on the host's network a packet
/// socket reads and forges every packet of the host, its loopback traffic
/// of other services and sandboxes too, and `ping` is not worth that.
pub const DEFAULT: &[Capability] = &[
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

/// `CAP_NET_ADMIN`, `cap_net_admin` or `net_admin`.
pub fn parse(name: &str) -> Result<Capability> {
    let up = name.to_ascii_uppercase();
    let full = if up.starts_with("CAP_") { up } else { format!("CAP_{up}") };
    full.parse::<Capability>()
        .map_err(|_| anyhow!("unknown capability '{name}': see capabilities(7), e.g. CAP_NET_ADMIN"))
}

/// The sandbox's set: the default, plus `add`, minus `drop`.
pub fn effective_set(add: &[String], drop: &[String]) -> Result<CapsHashSet> {
    let mut set: CapsHashSet = DEFAULT.iter().copied().collect();
    for a in add {
        set.insert(parse(a)?);
    }
    for d in drop {
        set.remove(&parse(d)?);
    }
    Ok(set)
}

/// Cuts the calling thread down to `set`. Runs as root before exec of the
/// shim; after exec, root's permitted set becomes the bounding set, so the
/// bounding set is what really holds.
pub fn apply(set: &CapsHashSet) -> Result<()> {
    for cap in caps::all() {
        if !set.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap).with_context(|| format!("dropping {cap} from the bounding set"))?;
        }
    }
    caps::clear(None, CapSet::Ambient).context("clearing the ambient set")?;
    caps::clear(None, CapSet::Inheritable).context("clearing the inheritable set")?;
    let have = caps::read(None, CapSet::Permitted).context("reading the permitted set")?;
    let keep: CapsHashSet = set.intersection(&have).copied().collect();
    caps::set(None, CapSet::Effective, &keep).context("setting the effective set")?;
    caps::set(None, CapSet::Permitted, &keep).context("setting the permitted set")?;
    if keep.len() != set.len() {
        bail!(
            "the runtime lacks capabilities the sandbox asks for: {:?} (its unit's CapabilityBoundingSet= is older than \
             the .sandbox file: sandbox-service update rewrites it)",
            set.difference(&have).collect::<Vec<_>>()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sets() {
        assert_eq!(parse("net_admin").unwrap(), Capability::CAP_NET_ADMIN);
        assert_eq!(parse("CAP_KILL").unwrap(), Capability::CAP_KILL);
        assert!(parse("CAP_FLY").unwrap_err().to_string().contains("CAP_FLY"));
        let s = effective_set(&["sys_ptrace".into()], &["kill".into()]).unwrap();
        assert_eq!(s.len(), 12);
        assert!(s.contains(&Capability::CAP_SYS_PTRACE) && !s.contains(&Capability::CAP_KILL));
        assert_eq!(DEFAULT.len(), 12);
        assert!(!DEFAULT.contains(&Capability::CAP_MKNOD) && !DEFAULT.contains(&Capability::CAP_NET_RAW));
    }
}
