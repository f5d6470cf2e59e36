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
    /// `bind-ports=` and `connect-ports=`: None is any port.
    pub bind_ports: Option<Vec<u16>>,
    pub connect_ports: Option<Vec<u16>>,
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
            bind_ports: cfg.container.bind_ports.clone(),
            connect_ports: cfg.container.connect_ports.clone(),
        })
    }

    /// Everything but seccomp, which comes last, right before exec: no
    /// system call it forbids may be needed after it. The container's
    /// init says on stderr (the unit's journal) what is not enforced; a
    /// joined process says nothing the start has not said already.
    pub fn apply(&self, role: Role, selinux: bool) -> Result<()> {
        let mut applied = Applied::default();
        no_new_privs()?;
        let ports = Ports { bind: self.bind_ports.as_deref(), connect: self.connect_ports.as_deref() };
        landlock(&self.writable, role.scopes(), &ports, &mut applied)?;
        if selinux {
            selinux_exec_label(self.label.as_ref(), self.context.as_deref(), &mut applied)?;
        } else {
            tracing::debug!("SELinux exec label not requested (-N): the caller's label stays");
        }
        capabilities(&self.caps)?;
        for n in &applied.notes {
            match role {
                Role::Init => eprintln!("sandbox-service: {}: {n}", self.name),
                // Said at start already; -v shows it again.
                Role::Joined => tracing::debug!("{n}"),
            }
        }
        Ok(())
    }
}

/// Which process takes the confinement: the container's first process
/// (the shim, so the service and everything it starts), or one that
/// `execute`, `connect` or `logrotate` joins in, which gets a Landlock
/// domain of its own beside the service's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Init,
    Joined,
}

impl Role {
    /// Abstract unix sockets belong to the network namespace, which the
    /// host's network shares, and no mount hides them: both roles are
    /// scoped to their own domain. Signals are scoped for the service's
    /// domain; a joined process keeps signalling the service (an admin's
    /// `kill -HUP`, a postrotate reload), which the pid namespace already
    /// holds to the sandbox's own processes.
    pub fn scopes(self) -> BitFlags<Scope> {
        match self {
            Role::Init => Scope::AbstractUnixSocket | Scope::Signal,
            Role::Joined => Scope::AbstractUnixSocket.into(),
        }
    }
}

use landlock::{
    path_beneath_rules, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

/// The TCP ports a domain may bind and connect to; None is any.
#[derive(Debug, Default)]
pub struct Ports<'a> {
    pub bind: Option<&'a [u16]>,
    pub connect: Option<&'a [u16]>,
}

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

/// Allows writes only beneath `writable` (absolute paths inside the new
/// root), and abstract sockets and signals only within `scopes`.
pub fn landlock(writable: &[String], scopes: BitFlags<Scope>, ports: &Ports, applied: &mut Applied) -> Result<()> {
    let mut net = BitFlags::<AccessNet>::EMPTY;
    let mut rules: Vec<NetPort> = Vec::new();
    for (list, access) in [(ports.bind, AccessNet::BindTcp), (ports.connect, AccessNet::ConnectTcp)] {
        if let Some(list) = list {
            net |= access;
            rules.extend(list.iter().map(|p| NetPort::new(*p, access)));
        }
    }
    let mut rs = Ruleset::default()
        .handle_access(write_rights())
        .context("Landlock: ruleset")?
        .scope(scopes)
        .context("Landlock: scopes")?;
    if !net.is_empty() {
        // Asked for by the admin: refused rather than silently dropped
        // where the kernel cannot (the rest stays best effort).
        rs = rs
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(net)
            .context("bind-ports=/connect-ports= need Landlock's network rules (ABI 4, Linux 6.7)")?
            .set_compatibility(CompatLevel::BestEffort);
    }
    let status = rs
        .create()
        .context("Landlock: create")?
        .add_rules(path_beneath_rules(writable, write_rights()))
        .context("Landlock: rules")?
        .add_rules(rules.into_iter().map(Ok::<_, landlock::RulesetError>))
        .context("Landlock: port rules")?
        .restrict_self()
        .context("Landlock: restrict_self")?;
    match status.ruleset {
        RulesetStatus::FullyEnforced => {}
        RulesetStatus::PartiallyEnforced => applied.notes.push(
            "Landlock partly enforced: this kernel lacks some write rights (ABI 4, Linux 6.7) or the scoping of \
                 abstract unix sockets and signals (ABI 6, Linux 6.12)"
                .into(),
        ),
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
