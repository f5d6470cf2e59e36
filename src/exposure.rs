//! `security`'s evidence and score: what a sandbox's service really gets
//! (read from its running process in /proc where it runs, from its
//! configuration otherwise) and what the service's bare host unit gets
//! (from its unit file), item by item, weighed as `systemd-analyze
//! security` weighs them, on its scale: 0.0 is confined, 10.0 exposed.

use serde::Serialize;

/// One thing a process may or may not be kept from.
pub struct Item {
    pub id: &'static str,
    pub what: &'static str,
    pub weight: u32,
    /// How to get it in a sandbox, where it can be had.
    pub fix: &'static str,
}

/// The dangerous capabilities each count on their own, as systemd-analyze
/// counts them.
pub const CAPS: [&str; 12] = [
    "cap_sys_admin",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_ptrace",
    "cap_net_admin",
    "cap_dac_read_search",
    "cap_sys_boot",
    "cap_sys_time",
    "cap_mknod",
    "cap_net_raw",
    "cap_bpf",
    "cap_mac_admin",
];

pub const ITEMS: [Item; 18] = [
    Item {
        id: "user",
        what: "runs as root",
        weight: 2000,
        fix: "set User= in the service's unit (a drop-in); the sandbox runs it as that user",
    },
    Item {
        id: "userns",
        what: "root is the host's root (no user namespace)",
        weight: 1500,
        fix: "create --private-users (root inside is an unprivileged id on the host)",
    },
    Item {
        id: "network",
        what: "shares the host's network",
        weight: 2500,
        fix: "create --network private (or none), with --publish for its ports",
    },
    Item { id: "pidns", what: "sees the host's processes", weight: 1000, fix: "" },
    Item { id: "mountns", what: "sees the host's file systems", weight: 1000, fix: "" },
    Item { id: "ipcns", what: "shares the host's System V IPC", weight: 500, fix: "" },
    Item { id: "utsns", what: "may change the host's hostname", weight: 300, fix: "" },
    Item { id: "cgroupns", what: "sees the host's cgroup tree", weight: 300, fix: "" },
    Item { id: "no_new_privs", what: "may gain privileges through setuid programs", weight: 1000, fix: "" },
    Item { id: "seccomp", what: "no system call filter", weight: 1000, fix: "" },
    Item {
        id: "landlock",
        what: "no Landlock rules on where it writes",
        weight: 500,
        fix: "a kernel with Landlock (5.13 and later, lsm=landlock)",
    },
    Item { id: "devices", what: "may open the host's devices", weight: 1000, fix: "" },
    Item { id: "usr", what: "may write /usr and the rest of the system", weight: 1000, fix: "" },
    Item { id: "home", what: "sees /home and /root", weight: 1000, fix: "" },
    Item { id: "tmp", what: "shares the host's /tmp", weight: 1000, fix: "" },
    Item { id: "kernel", what: "may write kernel tunables (/proc/sys, /sys)", weight: 1000, fix: "" },
    Item {
        id: "label",
        what: "no SELinux label of its own enforced",
        weight: 500,
        fix: "a host with SELinux enforcing: the sandbox's MCS label applies then",
    },
    Item {
        id: "caps",
        what: "holds dangerous capabilities",
        weight: 1500,
        fix: "create --cap-drop CAP (each one the service does not need)",
    },
];

/// Each item: Some(true) protected, Some(false) exposed, None unknown
/// (counted as exposed, as systemd-analyze does with what it cannot tell).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Facts {
    pub values: std::collections::BTreeMap<&'static str, Option<bool>>,
    /// The dangerous capabilities it holds.
    pub caps: Vec<String>,
    /// Where the facts come from.
    pub source: String,
}

impl Facts {
    pub fn set(&mut self, id: &'static str, protected: Option<bool>) {
        debug_assert!(ITEMS.iter().any(|i| i.id == id), "{id}");
        self.values.insert(id, protected);
    }

    pub fn protected(&self, id: &str) -> Option<bool> {
        self.values.get(id).copied().flatten()
    }

    /// The capabilities item: protected only with none of `CAPS`; each one
    /// held takes a share of its weight.
    fn exposed_weight(&self, item: &Item) -> f64 {
        if item.id == "caps" {
            return f64::from(item.weight) * (self.caps.len() as f64 / CAPS.len() as f64);
        }
        match self.protected(item.id) {
            Some(true) => 0.0,
            _ => f64::from(item.weight),
        }
    }

    /// On systemd-analyze's scale: 0.0 to 10.0, lower is better.
    pub fn score(&self) -> f64 {
        let total: u32 = ITEMS.iter().map(|i| i.weight).sum();
        let exposed: f64 = ITEMS.iter().map(|i| self.exposed_weight(i)).sum();
        (exposed / f64::from(total) * 100.0).round() / 10.0
    }
}

/// systemd-analyze's words for a score.
pub fn verdict(score: f64) -> &'static str {
    match score {
        s if s < 2.0 => "OK",
        s if s < 5.0 => "MEDIUM",
        s if s < 9.0 => "EXPOSED",
        _ => "UNSAFE",
    }
}

/// The bare unit's facts from its settings (`get` reads the last value
/// of a [Service] key, as systemd does).
pub fn of_unit(get: &dyn Fn(&str) -> Option<String>, source: String) -> Facts {
    let yes = |k: &str| get(k).is_some_and(|v| matches!(v.as_str(), "yes" | "true" | "1" | "on"));
    let mut f = Facts { source, ..Facts::default() };
    let user = get("User").filter(|u| !u.is_empty() && u != "root" && u != "0");
    f.set("user", Some(user.is_some() || yes("DynamicUser")));
    f.set("userns", Some(yes("PrivateUsers")));
    f.set("network", Some(yes("PrivateNetwork")));
    // systemd 252 has no pid namespace for a unit; ProtectProc=invisible
    // hides other users' processes, not the host's.
    f.set("pidns", Some(false));
    f.set("mountns", Some(get("RootDirectory").is_some() || get("RootImage").is_some()));
    f.set("ipcns", Some(yes("PrivateIPC")));
    f.set("utsns", Some(yes("ProtectHostname")));
    f.set("cgroupns", Some(yes("ProtectControlGroups")));
    f.set("no_new_privs", Some(yes("NoNewPrivileges")));
    f.set("seccomp", Some(get("SystemCallFilter").is_some_and(|v| !v.is_empty())));
    f.set("landlock", Some(false));
    let policy = get("DevicePolicy").unwrap_or_default();
    f.set("devices", Some(yes("PrivateDevices") || policy == "closed" || policy == "strict"));
    f.set("usr", Some(get("ProtectSystem").is_some_and(|v| matches!(v.as_str(), "yes" | "full" | "strict" | "true"))));
    f.set("home", Some(get("ProtectHome").is_some_and(|v| !v.is_empty() && v != "no" && v != "false")));
    f.set("tmp", Some(yes("PrivateTmp")));
    f.set("kernel", Some(yes("ProtectKernelTunables")));
    f.set("label", Some(get("SELinuxContext").is_some() && crate::label::selinux_enabled()));
    f.caps = match get("CapabilityBoundingSet") {
        None => CAPS.iter().map(|c| c.to_string()).collect(),
        Some(v) => {
            let v = v.to_lowercase();
            let (inverted, list) = match v.strip_prefix('~') {
                Some(rest) => (true, rest.to_string()),
                None => (false, v),
            };
            let named: Vec<&str> = list.split_whitespace().collect();
            CAPS.iter().filter(|c| named.contains(c) != inverted).map(|c| c.to_string()).collect()
        }
    };
    f
}

/// A capability set as `/proc/PID/status` prints it (CapBnd: hex), as names.
pub fn caps_of_mask(hex: &str) -> Vec<String> {
    let Ok(mask) = u64::from_str_radix(hex.trim(), 16) else { return CAPS.iter().map(|c| c.to_string()).collect() };
    CAPS.iter()
        .filter(|c| c.to_uppercase().parse::<caps::Capability>().is_ok_and(|cap| mask & (1u64 << cap.index()) != 0))
        .map(|c| c.to_string())
        .collect()
}

/// The running process `pid`'s facts, against the host's (pid 1's)
/// namespaces. What /proc does not show (Landlock, the device filter) is
/// taken from `config`'s.
pub fn of_process(pid: i32, config: &Facts) -> Option<Facts> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |k: &str| status.lines().find_map(|l| l.strip_prefix(k)).map(|v| v.trim().to_string());
    let mut f = Facts { source: format!("its running process {pid} (/proc)"), ..Facts::default() };
    let uid = field("Uid:").and_then(|v| v.split_whitespace().nth(1).map(str::to_string));
    // Root inside a user namespace is not the host's root: the host's uid shows.
    f.set("user", Some(uid.as_deref() != Some("0")));
    let own = |ns: &str| {
        let a = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).ok()?;
        let b = std::fs::read_link(format!("/proc/1/ns/{ns}")).ok()?;
        Some(a != b)
    };
    for (id, ns) in [
        ("userns", "user"),
        ("network", "net"),
        ("pidns", "pid"),
        ("mountns", "mnt"),
        ("ipcns", "ipc"),
        ("utsns", "uts"),
        ("cgroupns", "cgroup"),
    ] {
        f.set(id, own(ns));
    }
    f.set("no_new_privs", field("NoNewPrivs:").map(|v| v == "1"));
    f.set("seccomp", field("Seccomp:").map(|v| v == "2"));
    f.caps = caps_of_mask(&field("CapBnd:").unwrap_or_default());
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
    let mount = |at: &str| {
        mounts.lines().rev().find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.get(4) == Some(&at)).then(|| (w.get(5).copied().unwrap_or(""), l.split(" - ").nth(1).unwrap_or("")))
        })
    };
    let ro = |at: &str| mount(at).map(|(opts, _)| opts.split(',').any(|o| o == "ro"));
    f.set("usr", ro("/usr"));
    f.set("kernel", ro("/proc/sys"));
    // Its /tmp and /home are its own empty file systems, not the host's.
    let own_fs = |at: &str| Some(mount(at).is_some_and(|(_, fs)| fs.starts_with("tmpfs")));
    f.set("tmp", own_fs("/tmp"));
    f.set("home", own_fs("/home"));
    let label = std::fs::read_to_string(format!("/proc/{pid}/attr/current")).unwrap_or_default();
    f.set("label", Some(crate::label::selinux_enabled() && label.contains(":c")));
    for id in ["landlock", "devices"] {
        f.set(id, config.protected(id));
    }
    Some(f)
}

/// The sandbox's facts from its configuration: what the runtime applies
/// to every sandbox, and what this one's settings add.
pub fn of_config(cfg: &crate::config::SandboxConfig, user: bool) -> Facts {
    use crate::config::Network;
    let mut f = Facts { source: "its configuration (it is not running)".into(), ..Facts::default() };
    f.set("user", Some(user));
    f.set("userns", Some(cfg.container.private_users.is_some()));
    f.set("network", Some(cfg.container.network != Network::Host));
    for id in [
        "pidns",
        "mountns",
        "ipcns",
        "utsns",
        "cgroupns",
        "no_new_privs",
        "seccomp",
        "devices",
        "usr",
        "home",
        "tmp",
        "kernel",
    ] {
        f.set(id, Some(true));
    }
    // Every process of a sandbox takes its Landlock rules where the kernel
    // has Landlock (runtime/confine.rs): asked as the runtime asks.
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION with no attributes: a query.
    let abi =
        unsafe { nix::libc::syscall(nix::libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, 1u32) };
    f.set("landlock", Some(abi > 0));
    f.set("label", Some(cfg.label.is_some() && crate::label::selinux_enabled()));
    f.caps = match crate::runtime::caps::effective_set(&cfg.container.caps_add, &cfg.container.caps_drop) {
        Ok(set) => CAPS
            .iter()
            .filter(|c| set.iter().any(|s| s.to_string().eq_ignore_ascii_case(c)))
            .map(|c| c.to_string())
            .collect(),
        Err(_) => CAPS.iter().map(|c| c.to_string()).collect(),
    };
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_unit_without_settings_is_unsafe_and_a_hardened_one_is_not() {
        let none = of_unit(&|_| None, "t".into());
        assert_eq!(none.score(), 10.0);
        assert_eq!(verdict(none.score()), "UNSAFE");
        let settings = [
            ("User", "www-data"),
            ("PrivateNetwork", "yes"),
            ("NoNewPrivileges", "yes"),
            ("SystemCallFilter", "@system-service"),
            ("PrivateDevices", "yes"),
            ("ProtectSystem", "strict"),
            ("ProtectHome", "yes"),
            ("PrivateTmp", "yes"),
            ("ProtectKernelTunables", "yes"),
            ("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"),
        ];
        let get = |k: &str| settings.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
        let hard = of_unit(&get, "t".into());
        assert!(hard.caps.is_empty());
        assert!(hard.score() < 5.0, "{}", hard.score());
        let inverted = |k: &str| (k == "CapabilityBoundingSet").then(|| "~CAP_SYS_ADMIN CAP_NET_RAW".to_string());
        let f = of_unit(&inverted, "t".into());
        assert_eq!(f.caps.len(), CAPS.len() - 2);
        assert!(!f.caps.contains(&"cap_sys_admin".to_string()));
    }

    #[test]
    fn capabilities_from_a_proc_mask() {
        // CAP_NET_RAW (13) and CAP_SYS_ADMIN (21).
        let m = format!("{:016x}", (1u64 << 13) | (1u64 << 21));
        let mut got = caps_of_mask(&m);
        got.sort();
        assert_eq!(got, ["cap_net_raw", "cap_sys_admin"]);
        assert!(caps_of_mask("0000000000000000").is_empty());
    }

    #[test]
    fn our_own_process_reads_as_facts() {
        let f = of_process(std::process::id() as i32, &Facts::default()).unwrap();
        assert!(f.values.contains_key("seccomp") && f.values.contains_key("usr"));
        assert!(f.source.contains("/proc"));
    }
}
