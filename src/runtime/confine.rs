//! The last steps before the shim is executed: no_new_privs, Landlock,
//! capabilities, the SELinux exec label and seccomp, in the order each
//! needs the privileges the previous one leaves.

use crate::config::SandboxConfig;
use crate::label::{McsLabel, Security};
use crate::manifest::Manifest;
use crate::plan::Kind;
use anyhow::{Context, Result};
use caps::CapsHashSet;
use std::path::Path;

/// What confines every process started in a sandbox: the service through
/// the shim, and `execute`/`connect` the same way.
#[derive(Debug, Clone)]
pub struct Confinement {
    pub name: String,
    /// Paths (inside) Landlock lets it write beneath.
    pub writable: Vec<String>,
    pub caps: CapsHashSet,
    /// The compiled seccomp filter from the state directory.
    pub bpf: Vec<u8>,
    pub label: Option<McsLabel>,
    pub context: Option<String>,
}

impl Confinement {
    pub fn load(cfg: &SandboxConfig, state: &Path, manifest: &Manifest) -> Result<Self> {
        // /var is the sandbox's own: its service may write anywhere in it,
        // as it does in the host's. /home and /root are left out.
        let mut writable: Vec<String> =
            ["/tmp", "/run", "/var", "/dev", "/proc"].iter().map(|s| s.to_string()).collect();
        for p in &manifest.plan.private {
            if p.kind != Kind::Runtime && p.kind != Kind::Symlink {
                writable.push(p.path.clone());
            }
        }
        Ok(Confinement {
            name: cfg.name.clone(),
            writable,
            caps: super::caps::effective_set(&cfg.container.caps_add, &cfg.container.caps_drop)?,
            bpf: super::seccomp::read(&state.join(super::seccomp::FILE))?,
            label: cfg.label,
            context: match &cfg.security {
                Security::Static { context, .. } => context.clone(),
                _ => None,
            },
        })
    }

    /// Everything but seccomp, which comes last, right before exec: no
    /// system call it forbids may be needed after it. Says what is not
    /// enforced on stderr.
    pub fn apply(&self, selinux: bool) -> Result<()> {
        let mut applied = Applied::default();
        no_new_privs()?;
        landlock(&self.writable, &mut applied)?;
        if selinux {
            selinux_exec_label(self.label.as_ref(), self.context.as_deref(), &mut applied)?;
        }
        capabilities(&self.caps)?;
        for n in &applied.notes {
            eprintln!("sandbox-service: {}: {n}", self.name);
        }
        Ok(())
    }
}
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
