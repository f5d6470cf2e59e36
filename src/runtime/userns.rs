//! `private-users`: a user namespace whose ids 0-65535 are a range of the
//! host's that no other sandbox (and no /etc/subuid entry) has, so root in
//! the sandbox is an unprivileged, unique user on the host. The range is
//! allocated at create like the MCS label, and the state tree is owned by it.

use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Ids per sandbox: what a distribution's users and groups need.
pub const RANGE: u32 = 65536;
/// The bases handed out: 0x80000 up to below 0x70000000, the span
/// systemd-nspawn also uses for containers, clear of system and login ids.
const FIRST_SLOT: u32 = 0x8_0000 / RANGE;
const END_SLOT: u32 = 0x7000_0000 / RANGE;

/// Ranges taken in /etc/subuid or /etc/subgid ("name:start:count" lines).
pub fn subid_ranges(text: &str) -> Vec<(u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let (_, start, count) = (f.next()?, f.next()?.parse::<u64>().ok()?, f.next()?.parse::<u64>().ok()?);
            Some((start, start + count))
        })
        .collect()
}

/// A random free base: not used by another sandbox, not overlapping a
/// subordinate id range of the host. The caller holds the state lock.
pub fn allocate(used: &BTreeSet<u32>, taken: &[(u64, u64)]) -> Result<u32> {
    let free = |slot: u32| {
        let base = slot * RANGE;
        let (lo, hi) = (u64::from(base), u64::from(base) + u64::from(RANGE));
        !used.contains(&base) && !taken.iter().any(|&(s, e)| s < hi && lo < e)
    };
    for _ in 0..64 {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).context("reading random bytes for the id range")?;
        let slot = FIRST_SLOT + u32::from_le_bytes(b) % (END_SLOT - FIRST_SLOT);
        if free(slot) {
            return Ok(slot * RANGE);
        }
    }
    match (FIRST_SLOT..END_SLOT).find(|s| free(*s)) {
        Some(s) => Ok(s * RANGE),
        None => bail!("no free range of {RANGE} ids is left: delete unused sandboxes"),
    }
}

pub fn check_base(base: u32) -> Result<()> {
    if base % RANGE != 0 || !(FIRST_SLOT..END_SLOT).contains(&(base / RANGE)) {
        bail!(
            "private-users={base}: must be a multiple of {RANGE} from {} to {}",
            FIRST_SLOT * RANGE,
            (END_SLOT - 1) * RANGE
        );
    }
    Ok(())
}

/// Moves every file of `tree` from ids `from..from+RANGE` to the same
/// offsets at `to`. An id outside the source range has no place inside
/// the sandbox: that is an error, not a silent squash.
pub fn shift_tree(tree: &Path, from: u32, to: u32) -> Result<()> {
    if from == to {
        return Ok(());
    }
    let map = |id: u32, what: &str, p: &Path| -> Result<u32> {
        if id < from || id - from >= RANGE {
            bail!(
                "{} is owned by {what} {id}, outside the ids {from}-{} the sandbox maps",
                p.display(),
                from + RANGE - 1
            );
        }
        Ok(id - from + to)
    };
    for ent in walkdir::WalkDir::new(tree) {
        let ent = ent.with_context(|| format!("walking {}", tree.display()))?;
        let md = ent.path().symlink_metadata()?;
        let (uid, gid) = (map(md.uid(), "uid", ent.path())?, map(md.gid(), "gid", ent.path())?);
        // lchown clears set-id bits; put the mode back as it was.
        std::os::unix::fs::lchown(ent.path(), Some(uid), Some(gid))
            .with_context(|| format!("chown {}", ent.path().display()))?;
        if !ent.path_is_symlink() && md.mode() & 0o6000 != 0 {
            std::fs::set_permissions(ent.path(), std::os::unix::fs::PermissionsExt::from_mode(md.mode() & 0o7777))?;
        }
    }
    Ok(())
}

/// Writes the child's uid and gid maps: 0-65535 inside is `base`... outside.
/// setgroups stays allowed: services call initgroups when they drop root.
pub fn write_maps(pid: nix::unistd::Pid, base: u32) -> Result<()> {
    let line = format!("0 {base} {RANGE}\n");
    for f in ["uid_map", "gid_map"] {
        let p = format!("/proc/{pid}/{f}");
        std::fs::write(&p, &line).with_context(|| format!("writing {p}"))?;
    }
    Ok(())
}

/// Right after entering a new user namespace our ids are still the
/// host's root, which it does not map: become its root, that is the
/// sandbox's base id on the host.
pub fn become_root() -> Result<()> {
    nix::unistd::setgroups(&[]).context("setgroups in the user namespace")?;
    let g = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(g, g, g).context("setresgid in the user namespace")?;
    let u = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresuid(u, u, u).context("setresuid in the user namespace")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_avoids_used_and_subordinate_ranges() {
        let taken = subid_ranges("alice:100000:65536\nbad line\nbob:524288:65536\n");
        assert_eq!(taken, vec![(100000, 165536), (524288, 589824)]);
        let mut used = BTreeSet::new();
        for _ in 0..200 {
            let b = allocate(&used, &taken).unwrap();
            check_base(b).unwrap();
            assert!(b != 524288 && !used.contains(&b));
            used.insert(b);
        }
        assert!(check_base(12345).is_err() && check_base(0).is_err());
    }

    #[test]
    fn shifting_moves_owners_and_refuses_unmappable_ids() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        std::fs::write(&f, "x").unwrap();
        std::os::unix::fs::chown(&f, Some(33), Some(4)).unwrap();
        std::os::unix::fs::chown(d.path(), Some(0), Some(0)).unwrap();
        shift_tree(d.path(), 0, 0x8_0000).unwrap();
        let md = f.metadata().unwrap();
        assert_eq!((md.uid(), md.gid()), (0x8_0000 + 33, 0x8_0000 + 4));
        shift_tree(d.path(), 0x8_0000, 0x9_0000).unwrap();
        assert_eq!(f.metadata().unwrap().uid(), 0x9_0000 + 33);
        std::os::unix::fs::chown(&f, Some(5), None).unwrap();
        assert!(shift_tree(d.path(), 0x9_0000, 0).unwrap_err().to_string().contains("outside the ids"));
    }
}
