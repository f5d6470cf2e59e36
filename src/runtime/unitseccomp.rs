//! The service's own seccomp restrictions, stacked on the sandbox's: what
//! its unit asks of systemd (SystemCallFilter=, RestrictAddressFamilies=,
//! MemoryDenyWriteExecute=, RestrictRealtime=, RestrictSUIDSGID=,
//! LockPersonality=, RestrictNamespaces=, the Protect*= settings that
//! deny system calls, SystemCallArchitectures=), so a sandboxed service is
//! never less confined than bare. Built as systemd builds them: a filter
//! for each restriction and each architecture the machine runs, compiled
//! at create (libseccomp), loaded by the shim after the sandbox's filter,
//! right before it executes each of the service's commands but `+` ones.
//! The system call groups (@system-service...) are the host systemd's own,
//! read from `systemd-analyze syscall-filter`.

use crate::unitfile::UnitFile;
use anyhow::{anyhow, bail, Context, Result};
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek};

/// What the unit restricts, as systemd.exec(5) reads it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Restrictions {
    /// (allow-list, the names and groups) of SystemCallFilter=.
    pub syscalls: Option<(bool, Vec<String>)>,
    /// SystemCallErrorNumber=: None kills the process, as systemd does.
    pub errno: Option<i32>,
    pub native_only: bool,
    /// (allow-list, families) of RestrictAddressFamilies=.
    pub families: Option<(bool, Vec<i32>)>,
    pub deny_write_execute: bool,
    pub realtime: bool,
    pub suid_sgid: bool,
    pub lock_personality: bool,
    pub namespaces: bool,
    /// Deny-lists of the Protect*= and PrivateDevices= settings.
    pub denied_groups: Vec<(&'static str, Vec<&'static str>)>,
}

fn yes(f: &UnitFile, key: &str) -> bool {
    f.get("Service", key).is_some_and(|v| matches!(v, "yes" | "true" | "1" | "on"))
}

const AF: &[(&str, i32)] = &[
    ("AF_UNIX", 1),
    ("AF_LOCAL", 1),
    ("AF_INET", 2),
    ("AF_AX25", 3),
    ("AF_IPX", 4),
    ("AF_APPLETALK", 5),
    ("AF_NETROM", 6),
    ("AF_BRIDGE", 7),
    ("AF_ATMPVC", 8),
    ("AF_X25", 9),
    ("AF_INET6", 10),
    ("AF_ROSE", 11),
    ("AF_DECnet", 12),
    ("AF_NETBEUI", 13),
    ("AF_SECURITY", 14),
    ("AF_KEY", 15),
    ("AF_NETLINK", 16),
    ("AF_ROUTE", 16),
    ("AF_PACKET", 17),
    ("AF_ASH", 18),
    ("AF_ECONET", 19),
    ("AF_ATMSVC", 20),
    ("AF_RDS", 21),
    ("AF_SNA", 22),
    ("AF_IRDA", 23),
    ("AF_PPPOX", 24),
    ("AF_WANPIPE", 25),
    ("AF_LLC", 26),
    ("AF_IB", 27),
    ("AF_MPLS", 28),
    ("AF_CAN", 29),
    ("AF_TIPC", 30),
    ("AF_BLUETOOTH", 31),
    ("AF_IUCV", 32),
    ("AF_RXRPC", 33),
    ("AF_ISDN", 34),
    ("AF_PHONET", 35),
    ("AF_IEEE802154", 36),
    ("AF_CAIF", 37),
    ("AF_ALG", 38),
    ("AF_NFC", 39),
    ("AF_VSOCK", 40),
    ("AF_KCM", 41),
    ("AF_QIPCRTR", 42),
    ("AF_SMC", 43),
    ("AF_XDP", 44),
    ("AF_MCTP", 45),
];
const AF_MAX: i32 = 46;

fn errno_number(name: &str) -> Option<i32> {
    if let Ok(n) = name.parse::<i32>() {
        return Some(n);
    }
    let e = match name {
        "EPERM" => nix::libc::EPERM,
        "EACCES" => nix::libc::EACCES,
        "ENOSYS" => nix::libc::ENOSYS,
        "EINVAL" => nix::libc::EINVAL,
        "EAFNOSUPPORT" => nix::libc::EAFNOSUPPORT,
        "ENOTSUP" | "EOPNOTSUPP" => nix::libc::EOPNOTSUPP,
        "EIO" => nix::libc::EIO,
        "ENOENT" => nix::libc::ENOENT,
        _ => return None,
    };
    Some(e)
}

impl Restrictions {
    pub fn from_unit(f: &UnitFile) -> Result<Restrictions> {
        let mut r = Restrictions::default();
        // SystemCallFilter=: the first line decides allow- or deny-list; a
        // later ~ line takes from an allow-list, a plain one adds to it (and
        // the other way round for a deny-list); an empty one resets.
        for v in f.get_raw("Service", "SystemCallFilter") {
            let v = v.trim();
            if v.is_empty() {
                r.syscalls = None;
                continue;
            }
            let (deny, words) = match v.strip_prefix('~') {
                Some(w) => (true, w),
                None => (false, v),
            };
            let words: Vec<String> =
                words.split_whitespace().map(|w| w.split(':').next().unwrap_or(w).to_string()).collect();
            match &mut r.syscalls {
                None => r.syscalls = Some((!deny, words.iter().map(|w| format!("+{w}")).collect())),
                Some((allow, list)) => {
                    let add = deny != *allow;
                    list.extend(words.iter().map(|w| format!("{}{w}", if add { '+' } else { '-' })));
                }
            }
        }
        if let Some(e) = f.get("Service", "SystemCallErrorNumber") {
            r.errno = match e {
                "" | "kill" => None,
                name => Some(errno_number(name).ok_or_else(|| anyhow!("SystemCallErrorNumber={name}: unknown errno"))?),
            };
        }
        r.native_only = f.get_words("Service", "SystemCallArchitectures").iter().any(|a| a == "native");
        for v in f.get_raw("Service", "RestrictAddressFamilies") {
            let v = v.trim();
            if v.is_empty() || v == "none" {
                r.families = Some((true, vec![]));
                continue;
            }
            let (deny, words) = match v.strip_prefix('~') {
                Some(w) => (true, w),
                None => (false, v),
            };
            let mut fams = Vec::new();
            for w in words.split_whitespace() {
                fams.push(
                    AF.iter()
                        .find(|(n, _)| *n == w)
                        .map(|(_, n)| *n)
                        .ok_or_else(|| anyhow!("RestrictAddressFamilies: unknown family {w}"))?,
                );
            }
            // Later lines add to the list the first chose, or take from it.
            match &mut r.families {
                Some((allow, list)) if *allow != deny => list.extend(fams),
                Some((_, list)) => list.retain(|f| !fams.contains(f)),
                None => r.families = Some((!deny, fams)),
            }
        }
        r.deny_write_execute = yes(f, "MemoryDenyWriteExecute");
        r.realtime = yes(f, "RestrictRealtime");
        r.suid_sgid = yes(f, "RestrictSUIDSGID");
        r.lock_personality = yes(f, "LockPersonality");
        r.namespaces = yes(f, "RestrictNamespaces");
        for (key, group) in [
            ("ProtectKernelModules", "@module"),
            ("ProtectKernelLogs", "syslog"),
            ("ProtectClock", "@clock"),
            ("PrivateDevices", "@raw-io"),
            ("ProtectHostname", "sethostname setdomainname"),
            ("ProtectKernelTunables", "_sysctl"),
        ] {
            if yes(f, key) {
                r.denied_groups.push((key, group.split(' ').collect()));
            }
        }
        Ok(r)
    }

    pub fn is_empty(&self) -> bool {
        *self == Restrictions::default()
    }
}

/// systemd's system call groups, from `systemd-analyze syscall-filter`.
pub struct Groups(BTreeMap<String, Vec<String>>);

impl Groups {
    pub fn parse(text: &str) -> Groups {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut cur: Option<String> = None;
        for line in text.lines() {
            if let Some(g) = line.strip_prefix('@') {
                cur = Some(format!("@{}", g.trim()));
                map.entry(cur.clone().unwrap_or_default()).or_default();
            } else if let (Some(c), w) = (&cur, line.trim()) {
                if !w.is_empty() && !w.starts_with('#') {
                    map.entry(c.clone()).or_default().push(w.to_string());
                }
            }
        }
        Groups(map)
    }

    pub fn from_host() -> Result<Groups> {
        let out = std::process::Command::new("systemd-analyze")
            .arg("syscall-filter")
            .output()
            .context("running systemd-analyze syscall-filter (the host's system call groups)")?;
        if !out.status.success() {
            bail!("systemd-analyze syscall-filter failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(Groups::parse(&String::from_utf8_lossy(&out.stdout)))
    }

    /// The system calls a name or group stands for.
    pub fn expand(&self, name: &str, out: &mut BTreeSet<String>) -> Result<()> {
        if !name.starts_with('@') {
            out.insert(name.to_string());
            return Ok(());
        }
        let items = self.0.get(name).ok_or_else(|| anyhow!("unknown system call group {name}"))?;
        for i in items {
            self.expand(i, out)?;
        }
        Ok(())
    }
}

/// The architectures a filter is made for, native last: the native
/// allow-list leaves no seccomp(2) for loading what comes after it, and
/// the others' filters pass native calls through.
fn arches() -> Vec<ScmpArch> {
    let native = ScmpArch::native();
    if native == ScmpArch::X8664 {
        vec![ScmpArch::X86, ScmpArch::X32, native]
    } else {
        vec![native]
    }
}

/// A filter context for one architecture, passing the others through.
fn context(arch: ScmpArch, default: ScmpAction) -> Result<ScmpFilterContext> {
    let mut f = ScmpFilterContext::new(default).context("seccomp: new filter")?;
    f.set_ctl_nnp(false)?;
    f.set_act_badarch(ScmpAction::Allow)?;
    if arch != ScmpArch::native() {
        f.add_arch(arch)?;
        f.remove_arch(ScmpArch::native())?;
    }
    Ok(f)
}

/// The call `name` for a rule in a context of `arch`: None where that
/// architecture lacks it. libseccomp takes the native number (or its
/// pseudo-number for a call only other architectures have) and translates.
fn syscall(name: &str, arch: ScmpArch) -> Option<ScmpSyscall> {
    ScmpSyscall::from_name_by_arch(name, arch).ok()?;
    ScmpSyscall::from_name(name).ok()
}

fn export(f: &ScmpFilterContext) -> Result<Vec<u8>> {
    let mut tmp = tempfile::tempfile().context("seccomp: temporary file")?;
    f.export_bpf(&tmp).context("seccomp: export BPF")?;
    tmp.rewind()?;
    let mut bpf = Vec::new();
    tmp.read_to_end(&mut bpf)?;
    Ok(bpf)
}

fn eperm() -> ScmpAction {
    ScmpAction::Errno(nix::libc::EPERM)
}

/// Compiles `r` to BPF programs, in the order they are to be loaded.
pub fn compile(r: &Restrictions, groups: &Groups) -> Result<Vec<Vec<u8>>> {
    let mut progs = Vec::new();
    let mut last = Vec::new();
    let fail = r.errno.map_or(ScmpAction::KillProcess, ScmpAction::Errno);
    if r.native_only {
        let mut f = ScmpFilterContext::new(ScmpAction::Allow)?;
        f.set_ctl_nnp(false)?;
        f.set_act_badarch(ScmpAction::KillProcess)?;
        progs.push(export(&f)?);
    }
    if let Some((allow, fams)) = &r.families {
        for arch in arches() {
            let Some(socket) = syscall("socket", arch) else { continue };
            let mut f = context(arch, ScmpAction::Allow)?;
            let refuse = ScmpAction::Errno(nix::libc::EAFNOSUPPORT);
            for af in 0..AF_MAX {
                if fams.contains(&af) != *allow {
                    f.add_rule_conditional(refuse, socket, &[ScmpArgCompare::new(0, ScmpCompareOp::Equal, af as u64)])?;
                }
            }
            if *allow {
                f.add_rule_conditional(
                    refuse,
                    socket,
                    &[ScmpArgCompare::new(0, ScmpCompareOp::GreaterEqual, AF_MAX as u64)],
                )?;
            }
            progs.push(export(&f)?);
        }
    }
    for arch in arches() {
        let each: &[(bool, &Builder)] = &[
            (r.deny_write_execute, &|f| deny_write_execute(f, arch)),
            (r.realtime, &|f| realtime(f, arch)),
            (r.suid_sgid, &|f| suid_sgid(f, arch)),
            (r.lock_personality, &|f| personality(f, arch)),
            (r.namespaces, &|f| namespaces(f, arch)),
        ];
        for (on, build) in each {
            if *on {
                let mut f = context(arch, ScmpAction::Allow)?;
                build(&mut f)?;
                progs.push(export(&f)?);
            }
        }
        for (_, names) in &r.denied_groups {
            let mut set = BTreeSet::new();
            for n in names {
                groups.expand(n, &mut set)?;
            }
            let mut f = context(arch, ScmpAction::Allow)?;
            let mut any = false;
            for name in &set {
                if let Some(sc) = syscall(name, arch) {
                    any |= f.add_rule(eperm(), sc).is_ok();
                }
            }
            if any {
                progs.push(export(&f)?);
            }
        }
    }
    // SystemCallFilter= last, as systemd loads it: an allow-list without
    // seccomp(2) would refuse the filters after it.
    if let Some((allow, items)) = &r.syscalls {
        let mut set = BTreeSet::new();
        if *allow {
            // What systemd always permits in an allow-list.
            groups.expand("@default", &mut set)?;
        }
        for i in items {
            let (add, name) = i.split_at(1);
            let mut one = BTreeSet::new();
            groups.expand(name, &mut one)?;
            if add == "+" {
                set.extend(one);
            } else {
                set.retain(|s| !one.contains(s));
            }
        }
        for arch in arches() {
            let (default, listed) = if *allow { (fail, ScmpAction::Allow) } else { (ScmpAction::Allow, fail) };
            let mut f = context(arch, default)?;
            for name in &set {
                // A name this architecture lacks is no call of it to filter.
                if let Some(sc) = syscall(name, arch) {
                    f.add_rule(listed, sc).with_context(|| format!("seccomp: {name}"))?;
                }
            }
            last.push(export(&f)?);
        }
    }
    progs.extend(last);
    Ok(progs)
}

/// Adds one restriction's rules to a filter of one architecture.
type Builder<'a> = dyn Fn(&mut ScmpFilterContext) -> Result<()> + 'a;

fn deny_write_execute(f: &mut ScmpFilterContext, arch: ScmpArch) -> Result<()> {
    let (w, x) = (nix::libc::PROT_WRITE as u64, nix::libc::PROT_EXEC as u64);
    for name in ["mmap", "mmap2"] {
        if let Some(sc) = syscall(name, arch) {
            f.add_rule_conditional(eperm(), sc, &[ScmpArgCompare::new(2, ScmpCompareOp::MaskedEqual(w | x), w | x)])?;
        }
    }
    for (name, arg) in [("mprotect", 2), ("pkey_mprotect", 2)] {
        if let Some(sc) = syscall(name, arch) {
            f.add_rule_conditional(eperm(), sc, &[ScmpArgCompare::new(arg, ScmpCompareOp::MaskedEqual(x), x)])?;
        }
    }
    if let Some(sc) = syscall("shmat", arch) {
        let exec = nix::libc::SHM_EXEC as u64;
        f.add_rule_conditional(eperm(), sc, &[ScmpArgCompare::new(2, ScmpCompareOp::MaskedEqual(exec), exec)])?;
    }
    Ok(())
}

fn realtime(f: &mut ScmpFilterContext, arch: ScmpArch) -> Result<()> {
    const RESET_ON_FORK: u64 = 0x4000_0000;
    let Some(sc) = syscall("sched_setscheduler", arch) else { return Ok(()) };
    for policy in [1u64, 2, 6] {
        for p in [policy, policy | RESET_ON_FORK] {
            f.add_rule_conditional(eperm(), sc, &[ScmpArgCompare::new(1, ScmpCompareOp::Equal, p)])?;
        }
    }
    Ok(())
}

fn suid_sgid(f: &mut ScmpFilterContext, arch: ScmpArch) -> Result<()> {
    let (suid, sgid) = (nix::libc::S_ISUID as u64, nix::libc::S_ISGID as u64);
    for (name, arg) in [
        ("chmod", 1),
        ("fchmod", 1),
        ("fchmodat", 2),
        ("fchmodat2", 2),
        ("mkdir", 1),
        ("mkdirat", 2),
        ("mknod", 1),
        ("mknodat", 2),
        ("open", 2),
        ("openat", 3),
        ("creat", 1),
    ] {
        if let Some(sc) = syscall(name, arch) {
            for bit in [suid, sgid] {
                f.add_rule_conditional(eperm(), sc, &[ScmpArgCompare::new(arg, ScmpCompareOp::MaskedEqual(bit), bit)])?;
            }
        }
    }
    Ok(())
}

fn personality(f: &mut ScmpFilterContext, arch: ScmpArch) -> Result<()> {
    let Some(sc) = syscall("personality", arch) else { return Ok(()) };
    // Only the current persona, PER_LINUX, stays allowed.
    f.add_rule_conditional(eperm(), sc, &[ScmpArgCompare::new(0, ScmpCompareOp::NotEqual, 0)])?;
    Ok(())
}

fn namespaces(f: &mut ScmpFilterContext, arch: ScmpArch) -> Result<()> {
    for name in ["unshare", "setns"] {
        if let Some(sc) = syscall(name, arch) {
            f.add_rule(eperm(), sc)?;
        }
    }
    if let Some(sc) = syscall("clone", arch) {
        // Any one of the namespace flags: a rule for each.
        for bit in (0..64).map(|b| 1u64 << b).filter(|b| super::seccomp::CLONE_NEW_ANY & b != 0) {
            f.add_rule_conditional(eperm(), sc, &[ScmpArgCompare::new(0, ScmpCompareOp::MaskedEqual(bit), bit)])?;
        }
    }
    Ok(())
}

/// Where a sandbox's state keeps the filters of the service it runs as `unit`.
pub fn state_file(state: &std::path::Path, unit: &str) -> std::path::PathBuf {
    state.join("unit-seccomp").join(unit)
}

/// Compiles the filters of every service of `cfg` into `state`; a service
/// whose unit restricts nothing gets no file.
pub fn store(
    layout: &crate::layout::Layout,
    cfg: &crate::config::SandboxConfig,
    state: &std::path::Path,
) -> Result<()> {
    let crate::config::Payload::Services(services) = &cfg.payload else { return Ok(()) };
    let dir = state.join("unit-seccomp");
    let _ = std::fs::remove_dir_all(&dir);
    let mut groups = None;
    for svc in services {
        let name = crate::names::ServiceName::parse(svc)?;
        let unit = crate::unitpath::resolve(layout, &name)?;
        let r = Restrictions::from_unit(&unit.file).with_context(|| format!("in {}", unit.real_fragment.display()))?;
        if r.is_empty() {
            continue;
        }
        if groups.is_none() {
            groups = Some(Groups::from_host()?);
        }
        let progs = compile(&r, groups.as_ref().expect("just set"))
            .with_context(|| format!("compiling the system call restrictions of {}", name.unit))?;
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let (running, _) = name.running_as(&cfg.name);
        std::fs::write(state_file(state, &running), encode(&progs)).context("storing a unit's seccomp filters")?;
    }
    Ok(())
}

/// The stored form: a count, then each program's length and bytes.
pub fn encode(progs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = (progs.len() as u32).to_le_bytes().to_vec();
    for p in progs {
        out.extend((p.len() as u32).to_le_bytes());
        out.extend(p);
    }
    out
}

pub fn decode(mut b: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut take = |n: usize| -> Result<Vec<u8>> {
        if b.len() < n {
            bail!("a stored unit filter is cut short: recreate the sandbox");
        }
        let (h, t) = b.split_at(n);
        b = t;
        Ok(h.to_vec())
    };
    let count = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
    let mut out = Vec::new();
    for _ in 0..count {
        let len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
        let p = take(len)?;
        if p.is_empty() || p.len() % 8 != 0 {
            bail!("a stored unit filter is not BPF: recreate the sandbox");
        }
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: &str = "@default\n    # always\n    exit_group\n    brk\n\n@basic-io\n    read\n    write\n\n\
        @system-service\n    # general\n    @basic-io\n    getpid\n    setuid\n\n@privileged\n    setuid\n\n@module\n    init_module\n";

    #[test]
    fn groups_expand_as_systemd_lists_them() {
        let g = Groups::parse(GROUPS);
        let mut s = BTreeSet::new();
        g.expand("@system-service", &mut s).unwrap();
        assert_eq!(s.into_iter().collect::<Vec<_>>(), vec!["getpid", "read", "setuid", "write"]);
        assert!(g.expand("@nope", &mut BTreeSet::new()).is_err());
    }

    #[test]
    fn redis_units_settings_read_as_systemd_reads_them() {
        let unit = "[Service]\nSystemCallFilter=@system-service\nSystemCallFilter=~ @privileged @resources\n\
            RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\nMemoryDenyWriteExecute=true\nLockPersonality=true\n\
            SystemCallArchitectures=native\nProtectKernelModules=true\nRestrictNamespaces=true\n";
        let r = Restrictions::from_unit(&UnitFile::parse(unit).unwrap()).unwrap();
        assert_eq!(
            r.syscalls,
            Some((true, vec!["+@system-service".into(), "-@privileged".into(), "-@resources".into()]))
        );
        assert_eq!(r.families, Some((true, vec![2, 10, 1])));
        assert!(r.deny_write_execute && r.lock_personality && r.native_only && r.namespaces);
        assert_eq!(r.errno, None);
        assert_eq!(r.denied_groups.len(), 1);
        assert!(Restrictions::from_unit(&UnitFile::parse("[Service]\nExecStart=/bin/x\n").unwrap())
            .unwrap()
            .is_empty());
        let mut g = GROUPS.to_string();
        g.push_str("@resources\n    setrlimit\n");
        let progs = compile(&r, &Groups::parse(&g)).unwrap();
        assert!(progs.len() >= 10, "{}", progs.len());
        assert_eq!(decode(&encode(&progs)).unwrap(), progs);
    }
}
