//! The last steps before the shim is executed: no_new_privs, Landlock,
//! capabilities, the SELinux exec label and seccomp, in the order each
//! needs the privileges the previous one leaves.

use crate::label::McsLabel;
use anyhow::{Context, Result};
use caps::CapsHashSet;
use landlock::{path_beneath_rules, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, ABI};

/// What is enforced; what is not is said, never skipped in silence.
#[derive(Debug, Default)]
pub struct Applied {
    pub notes: Vec<String>,
}

/// The access rights Landlock takes over: every kind of write. Reads stay
/// the mount layout's business (masks, read-only binds).
fn write_rights() -> landlock::BitFlags<AccessFs> {
    AccessFs::from_write(ABI::V4)
}

pub fn no_new_privs() -> Result<()> {
    nix::sys::prctl::set_no_new_privs().context("setting no_new_privs")
}

/// Allows writes only beneath `writable` (absolute paths inside the new root).
pub fn landlock(writable: &[String], applied: &mut Applied) -> Result<()> {
    let status = Ruleset::default()
        .handle_access(write_rights())
        .context("Landlock: ruleset")?
        .create()
        .context("Landlock: create")?
        .add_rules(path_beneath_rules(writable, write_rights()))
        .context("Landlock: rules")?
        .restrict_self()
        .context("Landlock: restrict_self")?;
    match status.ruleset {
        RulesetStatus::FullyEnforced => {}
        RulesetStatus::PartiallyEnforced => {
            applied.notes.push("Landlock partly enforced: this kernel lacks some write rights (ABI < 4)".into())
        }
        RulesetStatus::NotEnforced => applied.notes.push("Landlock not enforced: the kernel does not have it".into()),
    }
    Ok(())
}

/// Sets the label the shim (and so the service) runs with.
pub fn selinux_exec_label(label: Option<&McsLabel>, context: Option<&str>, applied: &mut Applied) -> Result<()> {
    let Some(label) = label else { return Ok(()) };
    if !crate::label::selinux_enabled() {
        applied.notes.push(format!("SELinux label {label} recorded, not enforced: SELinux is disabled"));
        return Ok(());
    }
    let ctx = match context {
        Some(c) => c.to_string(),
        None => crate::label::process_context(label),
    };
    let cstring = std::ffi::CString::new(ctx.clone()).context("SELinux context has a NUL")?;
    let c = selinux::SecurityContext::from_c_str(&cstring, false);
    // Files the service creates take the categories from its process
    // label through the policy's type transitions; exec is what we set.
    c.set_for_next_exec().with_context(|| format!("setexeccon({ctx}): is the sandbox_service policy loaded?"))?;
    Ok(())
}

pub fn capabilities(set: &CapsHashSet) -> Result<()> {
    super::caps::apply(set)
}

pub fn seccomp(bpf: &[u8]) -> Result<()> {
    super::seccomp::load(bpf)
}
