//! What systemd itself enforces on a sandbox's unit: on the runtime (`run`)
//! and so on everything the container starts, on top of the container's
//! own confinement. Each setting is one the runtime can live with for this
//! sandbox's configuration; what it would break is left out, and why is
//! said beside it. `systemd-analyze security` sees these, and nothing of
//! the confinement the runtime builds itself.

use crate::config::{Network, SandboxConfig};
use anyhow::Result;
use caps::Capability;

/// What the runtime itself needs beyond the sandbox's own set: mounts,
/// namespaces, pivot_root and the device filter's BPF program
/// (CAP_SYS_ADMIN), dropping the bounding set (CAP_SETPCAP).
const RUNTIME: &[Capability] = &[
    Capability::CAP_SYS_ADMIN,
    Capability::CAP_SETPCAP,
    Capability::CAP_SETUID,
    Capability::CAP_SETGID,
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FOWNER,
    Capability::CAP_KILL,
];

fn has(caps: &caps::CapsHashSet, c: Capability) -> bool {
    caps.contains(&c)
}

/// The unit lines; `state` and `run` are the directories the runtime
/// writes in, `cgroup2` whether the host has the unified hierarchy (where
/// the device filter needs no write to the cgroup file system).
pub fn render(cfg: &SandboxConfig, cgroup2: bool) -> Result<String> {
    let sandbox = crate::runtime::caps::effective_set(&cfg.container.caps_add, &cfg.container.caps_drop)?;
    let mut bound: caps::CapsHashSet = sandbox.clone();
    bound.extend(RUNTIME.iter().copied());
    if cfg.container.network.own_namespace() {
        // Loopback (and for private, the veth, bridge and addresses) comes
        // up in the sandbox's own network namespace.
        bound.insert(Capability::CAP_NET_ADMIN);
    }
    let userns = cfg.container.private_users.is_some();
    let mut names: Vec<String> = bound.iter().map(|c| c.to_string()).collect();
    names.sort();
    let mut l: Vec<String> = vec![
        "NoNewPrivileges=yes".into(),
        format!("CapabilityBoundingSet={}", names.join(" ")),
        "PrivateTmp=yes".into(),
        "PrivateMounts=yes".into(),
        "ProtectHome=yes".into(),
        "ProtectSystem=strict".into(),
        // `-`: a missing state directory is for `run` to report clearly.
        format!("ReadWritePaths=-{}", crate::layout::Layout::new(None).state_dir(&cfg.name).display()),
        // The runtime's pid files, sockets and locks: made by systemd before
        // the unit's namespace is (it may not exist yet after a boot), kept
        // across stops, shared by every sandbox.
        format!("RuntimeDirectory={}", crate::runtime::control::DIR.trim_start_matches("/run/")),
        "RuntimeDirectoryMode=0711".into(),
        "RuntimeDirectoryPreserve=yes".into(),
        "RestrictRealtime=yes".into(),
        "UMask=0077".into(),
        // The container's own filter denies these already; here systemd
        // holds the runtime to it too.
        "SystemCallFilter=~@clock @cpu-emulation @debug @module @obsolete @raw-io @reboot @swap".into(),
        "SystemCallErrorNumber=EPERM".into(),
    ];
    // The namespaces the runtime makes, and no others. A user namespace
    // always: the container sees /etc through an idmapped mount made with
    // one (runtime/othersview.rs), even where it has none of its own.
    let mut ns = vec!["mnt", "pid", "ipc", "uts", "cgroup"];
    if cfg.container.network.own_namespace() {
        ns.push("net");
    }
    ns.push("user");
    l.push(format!("RestrictNamespaces={}", ns.join(" ")));
    // Raw packets need CAP_NET_RAW: only where the sandbox holds it.
    let mut families = vec!["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"];
    if has(&sandbox, Capability::CAP_NET_RAW) {
        families.push("AF_PACKET");
    }
    l.push(format!("RestrictAddressFamilies={}", families.join(" ")));
    // Each of these takes capabilities away; where the admin gave the
    // sandbox one of them, it is left out.
    for (line, takes) in [
        ("PrivateDevices=yes", &[Capability::CAP_MKNOD, Capability::CAP_SYS_RAWIO][..]),
        ("ProtectClock=yes", &[Capability::CAP_SYS_TIME, Capability::CAP_WAKE_ALARM][..]),
        ("ProtectKernelModules=yes", &[Capability::CAP_SYS_MODULE][..]),
        ("ProtectKernelLogs=yes", &[Capability::CAP_SYSLOG][..]),
    ] {
        if takes.iter().all(|c| !has(&sandbox, *c)) {
            l.push(line.into());
        }
    }
    // Settings that cover parts of /proc and /sys: a user namespace may
    // not mount a /proc of its own over covered ones.
    if !userns {
        // network=private turns on IPv4 forwarding at start.
        if cfg.container.network != Network::Private {
            l.push("ProtectKernelTunables=yes".into());
        }
        l.push("ProtectProc=invisible".into());
        if cgroup2 {
            l.push("ProtectControlGroups=yes".into());
        }
    }
    if cfg.container.network == Network::None {
        l.push("PrivateNetwork=yes".into());
    }
    Ok(l.join("\n") + "\n")
}

/// Whether the unit `text` lets the runtime build this sandbox: its
/// capability bound holds what the sandbox and the runtime need, its
/// namespace restriction the namespaces the runtime makes. An older unit
/// without either setting passes; one that was rendered for other
/// settings (a .sandbox file edited since) says what is missing.
pub fn check(cfg: &SandboxConfig, text: &str) -> Result<()> {
    let unit = crate::unitfile::UnitFile::parse(text)?;
    let want = render(cfg, false)?;
    let wanted = crate::unitfile::UnitFile::parse(&format!("[Service]\n{want}"))?;
    let mut missing = Vec::new();
    if let Some(have) = crate::shim::service::parse_caps(&unit.get_raw("Service", "CapabilityBoundingSet"))? {
        let need =
            crate::shim::service::parse_caps(&wanted.get_raw("Service", "CapabilityBoundingSet"))?.unwrap_or_default();
        let mut lacking: Vec<String> = need.difference(&have).map(|c| c.to_string()).collect();
        lacking.sort();
        if !lacking.is_empty() {
            missing.push(format!("CapabilityBoundingSet= lacks {}", lacking.join(" ")));
        }
    }
    if let Some(have) = unit.get("Service", "RestrictNamespaces") {
        let have: Vec<&str> = have.split_whitespace().collect();
        let need = wanted.get("Service", "RestrictNamespaces").unwrap_or_default();
        // Without `user` (a unit rendered before idmapped /etc) the runtime
        // walks /etc instead: slower, as safe.
        let optional = |n: &&str| *n == "user" && cfg.container.private_users.is_none();
        let lacking: Vec<&str> = need.split_whitespace().filter(|n| !have.contains(n) && !optional(n)).collect();
        if !lacking.is_empty() {
            missing.push(format!("RestrictNamespaces= lacks {}", lacking.join(" ")));
        }
    }
    if !missing.is_empty() {
        anyhow::bail!("{}", missing.join(", "));
    }
    Ok(())
}

/// Whether this host has the unified cgroup hierarchy, where the device
/// filter is a BPF program and never writes the cgroup file system.
pub fn host_has_cgroup2() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
        || std::path::Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Container, Payload};
    use crate::label::Security;

    fn cfg(c: Container) -> SandboxConfig {
        SandboxConfig {
            name: "w1".into(),
            unit: "apache2@w1.service".into(),
            payload: Payload::Services(vec!["apache2.service".into()]),
            pulled: vec![],
            packages: vec![],
            security: Security::Inherit,
            label: None,
            created: 0,
            container: c,
        }
    }

    #[test]
    fn what_a_sandbox_needs_stays() {
        let s = render(&cfg(Container::default()), true).unwrap();
        assert!(
            s.contains("ProtectKernelTunables=yes")
                && s.contains("PrivateDevices=yes")
                && s.contains("ProtectControlGroups=yes")
        );
        assert!(s.contains("RestrictNamespaces=mnt pid ipc uts cgroup user\n"), "{s}");
        assert!(s.contains("ReadWritePaths=-/var/lib/sandbox-service/w1\nRuntimeDirectory=sandbox-service\n"), "{s}");
        assert!(s.contains("CAP_SYS_ADMIN") && !s.contains("CAP_MKNOD") && !s.contains("CAP_SYS_PTRACE"));
        assert!(!s.contains("PrivateNetwork") && !s.contains("AF_PACKET"), "NET_RAW is not in the default set: {s}");
        let mut raw = Container::default();
        raw.caps_add.push("CAP_NET_RAW".into());
        assert!(render(&cfg(raw), true).unwrap().contains("AF_PACKET"));
        let mut c = Container { network: Network::None, private_users: Some(0x90000), ..Default::default() };
        c.caps_add.push("CAP_MKNOD".into());
        let s = render(&cfg(c), false).unwrap();
        assert!(s.contains("RestrictNamespaces=mnt pid ipc uts cgroup net user"), "{s}");
        assert!(s.contains("PrivateNetwork=yes") && s.contains("CAP_NET_ADMIN"));
        assert!(!s.contains("PrivateDevices") && !s.contains("ProtectKernelTunables") && !s.contains("ProtectProc"));
        assert!(!s.contains("AF_PACKET"));
        // Private: its own namespace, CAP_NET_ADMIN for the links, and
        // /proc/sys writable for the forwarding switch; systemd's
        // PrivateNetwork= would keep the runtime from the bridge.
        let p =
            Container { network: Network::Private, address: Some("10.89.0.2".parse().unwrap()), ..Default::default() };
        let s = render(&cfg(p), true).unwrap();
        assert!(
            s.contains("RestrictNamespaces=mnt pid ipc uts cgroup net user\n") && s.contains("CAP_NET_ADMIN"),
            "{s}"
        );
        assert!(!s.contains("PrivateNetwork") && !s.contains("ProtectKernelTunables"), "{s}");
    }

    #[test]
    fn a_unit_for_other_settings_says_what_it_lacks() {
        let default = cfg(Container::default());
        let unit = format!("[Service]\n{}", render(&default, true).unwrap());
        check(&default, &unit).unwrap();
        check(&default, "[Service]\nExecStart=/x\n").unwrap();
        // Rendered before idmapped /etc: the runtime walks /etc instead.
        check(&default, "[Service]\nRestrictNamespaces=mnt pid ipc uts cgroup\n").unwrap();
        let mut wider = cfg(Container { network: Network::None, ..Default::default() });
        wider.container.caps_add.push("CAP_SYS_PTRACE".into());
        let e = check(&wider, &unit).unwrap_err().to_string();
        assert!(
            e.contains("CAP_NET_ADMIN") && e.contains("CAP_SYS_PTRACE") && e.contains("RestrictNamespaces= lacks net"),
            "{e}"
        );
    }
}
