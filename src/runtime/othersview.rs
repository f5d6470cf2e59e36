//! The host's /etc as any other user of the host sees it: an idmapped
//! mount (mount_setattr MOUNT_ATTR_IDMAP) through a user namespace that
//! maps no id a file has (the kernel refuses one with no map at all; its
//! one id is the last before the invalid -1). Through it every file's
//! owner and group are unmapped, so only the "other" permission bits
//! apply to whoever looks, and no capability overrides them:
//! CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH count only on files whose
//! owner and group are mapped. Root in the sandbox reads what every user
//! of the host may read and nothing the host keeps from other users,
//! decided by the kernel at each access: nothing is walked at start, whatever the size of /etc, and
//! a mode changed on the host counts at once, in running sandboxes too.
//! Owners show as the overflow id (nobody), as in any user namespace.
//!
//! Not every file system can be idmapped (overlayfs cannot): there the
//! caller masks what a walk of /etc finds at each start instead
//! (`rootfs::etc_masks`), the same rule at a cost that grows with /etc.

use super::mountapi::{self, NODEV, NOSUID, RDONLY};
use anyhow::{Context, Result};
use nix::libc;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// How the container gets the host's /etc.
#[derive(Debug)]
pub enum View {
    /// A detached, read-only, idmapped copy of the tree, to be attached.
    Others(OwnedFd),
    /// The tree cannot be idmapped here (the reason): bind it as it is and
    /// mask what the host keeps from other users.
    Unsupported(String),
}

/// The view of `p` (the host's /etc) that other users have, as a detached
/// tree, or why it cannot be made here.
pub fn of(p: &Path) -> Result<View> {
    let userns = match userns_of_no_file() {
        Ok(ns) => ns,
        // A unit rendered before the runtime made user namespaces (its
        // RestrictNamespaces= lacks `user`) still starts, the slower way.
        Err(e) => return Ok(View::Unsupported(format!("no user namespace for the idmapped mount ({e:#})"))),
    };
    let tree = mountapi::open_tree(p)?;
    match mountapi::idmap_fd(&tree, userns.as_fd(), RDONLY | NOSUID | NODEV) {
        Ok(()) => Ok(View::Others(tree)),
        // EINVAL: a file system of the tree has no idmapped mounts.
        Err(e) => Ok(View::Unsupported(format!(
            "{} cannot be idmapped here ({e}; its file system is {})",
            p.display(),
            fs_type(p)
        ))),
    }
}

/// The type of the file system `p` is on: the last mount at or above it.
fn fs_type(p: &Path) -> String {
    let mounts = super::mountinfo::read().unwrap_or_default();
    mounts.iter().rev().find(|m| p.starts_with(&m.mount_point)).map_or_else(|| "unknown".into(), |m| m.fstype.clone())
}

/// The one id the namespace maps, to itself: no file has it.
const LONE_ID: u32 = u32::MAX - 1;

/// A user namespace that maps only LONE_ID. A child made with
/// CLONE_NEWUSER exits at once: as a zombie it keeps its credentials, and
/// with them the namespace, until it is reaped, which is after its maps
/// are written and the namespace is opened.
fn userns_of_no_file() -> Result<OwnedFd> {
    extern "C" fn exit_at_once(_: *mut libc::c_void) -> libc::c_int {
        0
    }
    // The child shares our memory (CLONE_VM): a fork would copy the page
    // tables of this process only for the child to free them, at every
    // start. It runs on a stack of its own, only a function that touches
    // nothing, and is reaped below, before the stack goes.
    let mut stack = [0u8; 4096];
    // SAFETY: the stack outlives the child (reaped before we return); glibc
    // aligns its top; the child's function reads and writes no memory of ours.
    let pid = unsafe {
        libc::clone(
            exit_at_once,
            stack.as_mut_ptr().add(stack.len()).cast(),
            libc::CLONE_VM | libc::CLONE_NEWUSER | libc::SIGCHLD,
            std::ptr::null_mut(),
        )
    };
    if pid < 0 {
        return Err(std::io::Error::last_os_error()).context("clone(CLONE_NEWUSER)");
    }
    let made = (|| -> Result<std::fs::File> {
        for map in ["uid_map", "gid_map"] {
            std::fs::write(format!("/proc/{pid}/{map}"), format!("{LONE_ID} {LONE_ID} 1\n"))
                .with_context(|| format!("writing the new user namespace's {map}"))?;
        }
        std::fs::File::open(format!("/proc/{pid}/ns/user")).context("opening the new user namespace")
    })();
    let reaped = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None);
    let ns = made?;
    reaped.context("reaping the user namespace's child")?;
    Ok(ns.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs root and a file system with idmapped mounts (tmpfs from 6.3,
    /// ext4, xfs, btrfs): skipped, and said so, where it has neither.
    #[test]
    fn through_the_view_root_reads_only_what_others_may() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("open"), "o").unwrap();
        std::fs::write(t.path().join("kept"), "k").unwrap();
        std::fs::set_permissions(t.path().join("kept"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let tree = match of(t.path()).unwrap() {
            View::Others(tree) => tree,
            View::Unsupported(why) => {
                eprintln!("skipped: {why}");
                return;
            }
        };
        // Read through the detached tree itself: no mount namespace needed.
        let open = crate::safefs::open_beneath(tree.as_fd(), Path::new("open"), nix::fcntl::OFlag::O_RDONLY).unwrap();
        let md = std::fs::File::from(open).metadata().unwrap();
        assert_eq!(md.uid(), 65534, "owners are unmapped through the view");
        let kept = crate::safefs::open_beneath(tree.as_fd(), Path::new("kept"), nix::fcntl::OFlag::O_RDONLY);
        assert_eq!(kept.as_ref().err().and_then(crate::safefs::errno), Some(libc::EACCES), "{kept:?}");
        // A mode changed after the view was made counts at once.
        std::fs::set_permissions(t.path().join("open"), std::fs::Permissions::from_mode(0o640)).unwrap();
        let now = crate::safefs::open_beneath(tree.as_fd(), Path::new("open"), nix::fcntl::OFlag::O_RDONLY);
        assert_eq!(now.err().as_ref().and_then(crate::safefs::errno), Some(libc::EACCES));
    }
}
