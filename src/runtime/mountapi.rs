//! The new mount API (open_tree, move_mount, mount_setattr): detached
//! copies of host trees that the container attaches, and mount flags set
//! on a whole subtree at once. `mount(MS_REMOUNT)` changes one mount only,
//! so a host submount under a read-only bind stayed writable with it.

use anyhow::{Context, Result};
use nix::libc;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

fn cpath(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_encoded_bytes()).context("a path holds a NUL byte")
}

/// A detached copy of the mount tree at `p` (open_tree(2) with
/// OPEN_TREE_CLONE), made by the parent on the host, to be attached inside
/// the container with `attach`. A plain O_PATH descriptor would not do: a
/// bind from a mount of another mount namespace is refused.
pub fn open_tree(p: &Path) -> Result<OwnedFd> {
    let c = cpath(p)?;
    let flags =
        libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as u32 | libc::AT_SYMLINK_NOFOLLOW as u32;
    // SAFETY: c outlives the call; the result is a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("open_tree {}", p.display()));
    }
    // SAFETY: the kernel just gave us this fd; nothing else owns it.
    private(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// A clone of a shared mount is a peer of it, and what the container
/// mounts beneath would propagate back to the host (the shim's bind, in
/// the host's /run/sandbox-service/NAME/run): each copy is made private,
/// recursively, before it is handed on.
fn private(tree: OwnedFd) -> Result<OwnedFd> {
    let attr = libc::mount_attr { attr_set: 0, attr_clr: 0, propagation: libc::MS_PRIVATE, userns_fd: 0 };
    setattr_fd(&tree, &attr, true).context("making a detached mount private")?;
    Ok(tree)
}

/// mount_setattr(2) on the detached tree `tree` itself (and the mounts
/// beneath it when `recursive`).
fn setattr_fd(tree: &OwnedFd, attr: &libc::mount_attr, recursive: bool) -> std::io::Result<()> {
    let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
    // SAFETY: tree is open; attr and the empty path outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            flags as libc::c_uint,
            attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `open_tree` of what `fd` (an O_PATH descriptor from
/// `safefs::open_beneath`) is: the path was resolved once, without links,
/// and nothing swapped in since can redirect the mount.
pub fn open_tree_fd(fd: &OwnedFd) -> Result<OwnedFd> {
    let flags =
        libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as u32 | libc::AT_EMPTY_PATH as u32;
    // SAFETY: fd is open; the empty path outlives the call.
    let t = unsafe { libc::syscall(libc::SYS_open_tree, fd.as_raw_fd(), c"".as_ptr(), flags) };
    if t < 0 {
        return Err(std::io::Error::last_os_error()).context("open_tree of a path in the sandbox's tree");
    }
    // SAFETY: the kernel just gave us this fd; nothing else owns it.
    private(unsafe { OwnedFd::from_raw_fd(t as i32) })
}

/// A new tmpfs with `options` ("mode=755,size=10%,..."), nosuid and
/// nodev, attached nowhere (fsopen, fsconfig, fsmount): for the container
/// to attach, gone with the last namespace that has it.
pub fn new_tmpfs(options: &str) -> Result<OwnedFd> {
    // <linux/mount.h>: FSOPEN_CLOEXEC, FSCONFIG_SET_STRING, FSCONFIG_CMD_CREATE, FSMOUNT_CLOEXEC.
    const FSOPEN_CLOEXEC: libc::c_uint = 1;
    const FSCONFIG_SET_STRING: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    const FSMOUNT_CLOEXEC: libc::c_uint = 1;
    let last = || std::io::Error::last_os_error();
    // SAFETY: a constant string; the result is a new fd or -1.
    let fs = unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC) };
    if fs < 0 {
        return Err(last()).context("fsopen tmpfs");
    }
    // SAFETY: the kernel just gave us this fd; nothing else owns it.
    let fs = unsafe { OwnedFd::from_raw_fd(fs as i32) };
    for opt in options.split(',').filter(|o| !o.is_empty()) {
        let (k, v) = opt.split_once('=').with_context(|| format!("tmpfs option {opt} has no value"))?;
        let (k, v) = (CString::new(k)?, CString::new(v)?);
        // SAFETY: fs is open; both strings outlive the call.
        let rc = unsafe {
            libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), FSCONFIG_SET_STRING, k.as_ptr(), v.as_ptr(), 0)
        };
        if rc != 0 {
            return Err(last()).with_context(|| format!("tmpfs option {opt}"));
        }
    }
    // SAFETY: fs is open; no key or value for this command.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<u8>(),
            std::ptr::null::<u8>(),
            0,
        )
    };
    if rc != 0 {
        return Err(last()).context("creating a tmpfs");
    }
    // SAFETY: fs is open; the result is a new fd or -1.
    let m = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, NOSUID | NODEV) };
    if m < 0 {
        return Err(last()).context("fsmount of a tmpfs");
    }
    // SAFETY: the kernel just gave us this fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(m as i32) })
}

/// Attaches a tree from `open_tree` at `dst`.
pub fn attach(tree: &OwnedFd, dst: &Path) -> Result<()> {
    let c = cpath(dst)?;
    // SAFETY: both strings outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("attaching a mount at {}", dst.display()));
    }
    Ok(())
}

/// Mount attributes, as mount_setattr(2) names them.
pub const RDONLY: u64 = libc::MOUNT_ATTR_RDONLY;
pub const NOSUID: u64 = libc::MOUNT_ATTR_NOSUID;
pub const NODEV: u64 = libc::MOUNT_ATTR_NODEV;
pub const NOEXEC: u64 = libc::MOUNT_ATTR_NOEXEC;

/// Clears `attrs` on a detached tree from `open_tree` (not recursively),
/// before it is handed to the container: cleared by root of the host's
/// user namespace, they need not be cleared where they would be locked.
pub fn clear_fd(tree: &OwnedFd, attrs: u64) -> Result<()> {
    let attr = libc::mount_attr { attr_set: 0, attr_clr: attrs, propagation: 0, userns_fd: 0 };
    setattr_fd(tree, &attr, false).context("clearing mount flags on a detached mount")
}

pub const NOSYMFOLLOW: u64 = libc::MOUNT_ATTR_NOSYMFOLLOW;

/// Sets `attrs` on a detached tree and every mount beneath it, and maps
/// its ids through the user namespace `userns` (MOUNT_ATTR_IDMAP): once,
/// before the tree is attached anywhere, as the kernel requires.
pub fn idmap_fd(tree: &OwnedFd, userns: std::os::fd::BorrowedFd, attrs: u64) -> std::io::Result<()> {
    let attr = libc::mount_attr {
        attr_set: attrs | libc::MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    setattr_fd(tree, &attr, true)
}

/// Sets `attrs` on the mount at `p`, and on every mount beneath it when
/// `recursive`. Only sets: flags the kernel locked in a user namespace are
/// never touched, so nothing needs repeating (unlike a bind remount).
pub fn set(p: &Path, attrs: u64, recursive: bool) -> Result<()> {
    let c = cpath(p)?;
    let attr = libc::mount_attr { attr_set: attrs, attr_clr: 0, propagation: 0, userns_fd: 0 };
    let flags = libc::AT_SYMLINK_NOFOLLOW | if recursive { libc::AT_RECURSIVE } else { 0 };
    // SAFETY: c and attr outlive the call; the size is the struct's.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            flags as libc::c_uint,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("setting mount flags {} on {}", names(attrs), p.display()));
    }
    Ok(())
}

fn names(attrs: u64) -> String {
    let all = [(RDONLY, "ro"), (NOSUID, "nosuid"), (NODEV, "nodev"), (NOEXEC, "noexec")];
    all.iter().filter(|(a, _)| attrs & a != 0).map(|(_, n)| *n).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    #[test]
    fn flag_names_read_like_mount_options() {
        assert_eq!(super::names(super::RDONLY | super::NODEV), "ro,nodev");
    }
}
