//! The OCI runtime configuration (config.json) of an exported sandbox:
//! what runtime/rootfs.rs and runtime/confine.rs do, said in the
//! runtime-spec's terms, built with oci-spec's types.

use super::stage::{PRIVATE, ROOTFS};
use super::ExportPlan;
use crate::runtime::devices::NODES;
use crate::runtime::rootfs::{PROC_MASKED, PROC_READONLY, SYS_MASKED};
use anyhow::{anyhow, Context, Result};
use oci_spec::runtime::{
    Capabilities, Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxDeviceBuilder,
    LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxIdMappingBuilder, LinuxMemoryBuilder, LinuxNamespaceBuilder,
    LinuxNamespaceType, LinuxPidsBuilder, LinuxResourcesBuilder, Mount, MountBuilder, PosixRlimitBuilder,
    PosixRlimitType, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};
use std::str::FromStr;

fn mount(dst: &str, typ: &str, src: &str, opts: &[&str]) -> Result<Mount> {
    Ok(MountBuilder::default()
        .destination(dst)
        .typ(typ)
        .source(src)
        .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()?)
}

/// tmpfs options as the sandbox mounts them (config::TmpfsSizes).
fn tmpfs(plan: &ExportPlan, dir: &str, flags: &[&str]) -> Result<Mount> {
    let data = plan.tmpfs.get(dir).ok_or_else(|| anyhow!("no tmpfs size for {dir}"))?;
    let mut opts: Vec<&str> = flags.to_vec();
    opts.extend(data.split(','));
    mount(dir, "tmpfs", "tmpfs", &opts)
}

pub fn mounts(plan: &ExportPlan) -> Result<Vec<Mount>> {
    let mut m = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        // Not nodev, unlike the sandbox's: the runtime makes the nodes of
        // linux.devices in it (youki refuses a node already bound there).
        // No CAP_MKNOD and the device list keep every other node out.
        mount("/dev", "tmpfs", "tmpfs", &["nosuid", "noexec", "mode=755", "size=64k", "nr_inodes=64"])?,
        // As rootfs.rs: no terminal is attached to a service.
        mount("/dev/console", "bind", "/dev/null", &["bind", "nosuid", "noexec"])?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        )?,
        tmpfs(plan, "/dev/shm", &["nosuid", "nodev", "noexec"])?,
        mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "nodev", "noexec"])?,
        mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"])?,
        tmpfs(plan, "/tmp", &["nosuid", "nodev"])?,
        tmpfs(plan, "/run", &["nosuid", "nodev"])?,
        tmpfs(plan, "/home", &["nosuid", "nodev"])?,
        tmpfs(plan, "/root", &["nosuid", "nodev"])?,
    ];
    // The sandbox's own paths, writable over the read-only root, as
    // rootfs::mount_var and mount_etc bind them.
    for p in &plan.private {
        m.push(mount(&p.path, "bind", &format!("{PRIVATE}{}", p.path), &["rbind", "rw", "nosuid", "nodev"])?);
    }
    Ok(m)
}

/// systemd's MemoryMax=512M style, in bytes; a percentage of the host's
/// RAM does not travel (the other host's RAM is not known).
fn bytes(v: &str) -> Option<i64> {
    let (n, mult) = match v.chars().last()? {
        'K' | 'k' => (&v[..v.len() - 1], 1i64 << 10),
        'M' | 'm' => (&v[..v.len() - 1], 1 << 20),
        'G' | 'g' => (&v[..v.len() - 1], 1 << 30),
        'T' | 't' => (&v[..v.len() - 1], 1 << 40),
        _ => (v, 1),
    };
    n.parse::<i64>().ok().map(|n| n * mult)
}

pub fn spec(plan: &ExportPlan) -> Result<Spec> {
    let caps: Capabilities = plan
        .caps
        .iter()
        .map(|c| Capability::from_str(c).map_err(|_| anyhow!("capability {c} is not known to the OCI spec")))
        .collect::<Result<_>>()?;
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .permitted(caps.clone())
        .effective(caps)
        .inheritable(Capabilities::new())
        .ambient(Capabilities::new())
        .build()?;
    let (_, host_hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).context("reading RLIMIT_NOFILE")?;
    let hard = host_hard.min(524_288);
    let process = ProcessBuilder::default()
        .terminal(false)
        .user(UserBuilder::default().uid(0u32).gid(0u32).build()?)
        .args(plan.process.args.clone())
        .env(plan.process.env.clone())
        .cwd(plan.process.cwd.clone())
        .capabilities(capabilities)
        .no_new_privileges(true)
        // What systemd gives the sandbox's unit (DefaultLimitNOFILE=1024:524288),
        // within what the exporting host's runtime may set; without it crun
        // gives 1024:1024 and apachectl cannot raise its limit to 8192.
        .rlimits(vec![PosixRlimitBuilder::default()
            .typ(PosixRlimitType::RlimitNofile)
            .soft(1024u64.min(hard))
            .hard(hard)
            .build()?])
        .build()?;

    let mut ns = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Cgroup,
    ];
    if plan.network != "host" {
        ns.push(LinuxNamespaceType::Network);
    }
    if plan.user_namespace.is_some() {
        ns.push(LinuxNamespaceType::User);
    }
    let namespaces =
        ns.into_iter().map(|t| LinuxNamespaceBuilder::default().typ(t).build()).collect::<Result<Vec<_>, _>>()?;

    // The nodes rootfs.rs binds, and the device filter's list (runtime::devices).
    let mut allowed = vec![LinuxDeviceCgroupBuilder::default().allow(false).access("rwm").build()?];
    for n in NODES {
        allowed.push(
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::C)
                .major(i64::from(n.major))
                .minor(i64::from(n.minor))
                .access("rw")
                .build()?,
        );
    }
    let pts = crate::runtime::devices::pts_majors(&std::fs::read_to_string("/proc/devices").unwrap_or_default());
    for m in pts {
        allowed.push(
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::C)
                .major(i64::from(m))
                .access("rw")
                .build()?,
        );
    }
    let mut res = LinuxResourcesBuilder::default().devices(allowed);
    // The nodes rootfs.rs binds from the host, made by the runtime (the
    // runtime-spec's defaults, said rather than left to each runtime).
    let nodes = NODES
        .iter()
        .filter(|n| n.bound)
        .map(|n| {
            LinuxDeviceBuilder::default()
                .path(format!("/dev/{}", n.name))
                .typ(LinuxDeviceType::C)
                .major(i64::from(n.major))
                .minor(i64::from(n.minor))
                .file_mode(0o666u32)
                .uid(0u32)
                .gid(0u32)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(b) = plan.memory.as_deref().and_then(bytes) {
        res = res.memory(LinuxMemoryBuilder::default().limit(b).build()?);
    }
    if let Some(t) = plan.tasks.as_deref().and_then(|t| t.parse::<i64>().ok()) {
        res = res.pids(LinuxPidsBuilder::default().limit(t).build()?);
    }
    if let Some(pct) = plan.cpu.as_deref().and_then(|c| c.strip_suffix('%')).and_then(|c| c.parse::<i64>().ok()) {
        res = res.cpu(LinuxCpuBuilder::default().period(100_000u64).quota(pct * 1000).build()?);
    }

    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .devices(nodes)
        .resources(res.build()?)
        .masked_paths(PROC_MASKED.iter().chain(SYS_MASKED).map(|s| s.to_string()).collect::<Vec<_>>())
        .readonly_paths(PROC_READONLY.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .seccomp(super::seccomp_profile::profile()?);
    if let Some(base) = plan.user_namespace {
        let map = |host: u32| LinuxIdMappingBuilder::default().host_id(host).container_id(0u32).size(65536u32).build();
        linux = linux.uid_mappings(vec![map(base)?]).gid_mappings(vec![map(base)?]);
    }
    SpecBuilder::default()
        .version("1.0.2")
        .root(RootBuilder::default().path(ROOTFS).readonly(true).build()?)
        .hostname(plan.hostname.clone())
        .process(process)
        .mounts(mounts(plan)?)
        .linux(linux.build()?)
        .build()
        .context("building the runtime configuration")
}
