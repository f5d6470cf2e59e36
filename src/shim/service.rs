//! A service unit as the shim runs it: the [Service] settings it honours,
//! read with the project's unit-file parser (repeated keys, resets,
//! continuations) and expanded with the unit's specifiers.

use crate::unitfile::{Specifiers, UnitFile};
use anyhow::{anyhow, bail, Context, Result};
use caps::CapsHashSet;
use nix::sys::signal::Signal;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Simple,
    Exec,
    Forking,
    Notify,
    Oneshot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillMode {
    ControlGroup,
    Mixed,
    Process,
    None,
}

/// One command line: words still holding `$VAR` references, which are
/// expanded at spawn time against the service's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub path: String,
    /// argv, argv[0] included (the path, or the `@` override).
    pub argv: Vec<String>,
    /// `-`: a failure is ignored.
    pub ignore_failure: bool,
    /// `:`: no environment variable expansion.
    pub no_expand: bool,
    /// `+` or `!`: runs as root, whatever User= says.
    pub privilege: Privilege,
}

/// What a command's `+` or `!` prefix lifts (systemd.service(5)). Neither
/// lifts the sandbox's own confinement, which holds for everything inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Privilege {
    #[default]
    AsUnit,
    /// `+`: no user change and none of the unit's own restrictions.
    Full,
    /// `!` (and `!!`): no user change; the unit's restrictions still apply.
    NoUserChange,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub unit: String,
    pub kind: Type,
    /// ExecCondition=: an exit status 1-254 skips the service.
    pub condition: Vec<Cmd>,
    /// `Condition*=` and `Assert*=` of its [Unit], specifiers expanded:
    /// checked inside the sandbox, as the service sees its files.
    pub conditions: Vec<String>,
    pub asserts: Vec<String>,
    /// Its [Unit] After= and Before=: the order the sandbox's services start in.
    pub after: Vec<String>,
    pub before: Vec<String>,
    /// Pulled in by the sandbox's service (its Wants=, or a generator's
    /// .wants/): its clean exit leaves the others running.
    pub pulled: bool,
    pub start_pre: Vec<Cmd>,
    pub start: Vec<Cmd>,
    pub start_post: Vec<Cmd>,
    pub stop: Vec<Cmd>,
    pub stop_post: Vec<Cmd>,
    pub reload: Vec<Cmd>,
    /// Environment= assignments, in order.
    pub environment: Vec<(String, String)>,
    /// EnvironmentFile= paths; `-` prefixed ones may be missing.
    pub environment_files: Vec<(String, bool)>,
    pub user: Option<String>,
    pub group: Option<String>,
    /// WorkingDirectory=, and whether it may be missing (`-`).
    pub working_directory: Option<(String, bool)>,
    pub umask: u32,
    pub pid_file: Option<String>,
    pub kill_signal: Signal,
    pub kill_mode: KillMode,
    pub timeout_start: Duration,
    pub timeout_stop: Duration,
    pub remain_after_exit: bool,
    /// (base, names, mode) for Runtime/State/Cache/Logs/ConfigurationDirectory=.
    pub directories: Vec<(&'static str, Vec<String>, u32)>,
    /// SupplementaryGroups=, names or numbers.
    pub supplementary_groups: Vec<String>,
    /// AmbientCapabilities=: kept across the change to User=.
    pub ambient: CapsHashSet,
    /// CapabilityBoundingSet=, when the unit sets it (within the sandbox's).
    pub bounding: Option<CapsHashSet>,
    /// DynamicUser=yes: the service runs as a uid of its own that no
    /// account has; `dynamic_uid` is chosen when it starts.
    pub dynamic: bool,
    pub dynamic_uid: Option<u32>,
    /// The signal a Type=notify-reload service reloads on.
    pub reload_signal: Option<Signal>,
    /// The unit's own seccomp filters (runtime::unitseccomp), loaded before
    /// each command but `+` ones.
    pub filters: Vec<Vec<u8>>,
    /// Its file-system hardening, as Landlock rules (protect.rs).
    pub protect: super::protect::Protect,
    pub private_tmp: bool,
    /// IgnoreSIGPIPE= (systemd's default: yes).
    pub ignore_sigpipe: bool,
    /// PassEnvironment= and UnsetEnvironment=.
    pub pass_environment: Vec<String>,
    pub unset_environment: Vec<String>,
}

/// Settings a sandbox cannot give, refused at create (and at start) with
/// the reason, rather than run a service without them.
pub const REFUSED: &[(&str, &str)] = &[
    ("RootDirectory", "the sandbox is the service's root; run the service from the host's file system"),
    ("RootImage", "the sandbox's programs are the host's /usr, not an image's"),
    ("MountImages", "the sandbox mounts no images"),
    ("ExtensionImages", "the sandbox mounts no images"),
    ("ExtensionDirectories", "the sandbox's /usr is the host's, with no extensions"),
    ("LoadCredential", "systemd's credentials do not reach inside a sandbox"),
    ("LoadCredentialEncrypted", "systemd's credentials do not reach inside a sandbox"),
    ("SetCredential", "systemd's credentials do not reach inside a sandbox"),
    ("SetCredentialEncrypted", "systemd's credentials do not reach inside a sandbox"),
    ("NetworkNamespacePath", "a sandbox has the host's network or one of its own, not another unit's"),
];

/// The longest a service may take to stop inside; the host unit allows a
/// little more, so the shim, not systemd's SIGKILL, ends it.
pub const MAX_STOP: Duration = Duration::from_secs(90);

/// The sandbox's services in the order their After= and Before= say
/// (among themselves; the rest as given), like systemd's one transaction.
/// Within a cycle, which systemd would break too, the given order holds.
pub fn start_order(mut left: Vec<Service>) -> Vec<Service> {
    let mut out: Vec<Service> = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let waits = |s: &Service, others: &[Service]| {
            others.iter().any(|o| o.unit != s.unit && (s.after.contains(&o.unit) || o.before.contains(&s.unit)))
        };
        let i = (0..left.len()).find(|&i| !waits(&left[i], &left)).unwrap_or(0);
        out.push(left.remove(i));
    }
    out
}

/// Splits a command line the way systemd does: quotes, backslash escapes,
/// and the prefixes `@ - : + !`.
pub fn parse_cmd(line: &str) -> Result<Cmd> {
    let line = line.trim_start();
    let mut rest = line;
    let (mut ignore, mut argv0, mut no_expand) = (false, false, false);
    let mut privilege = Privilege::AsUnit;
    loop {
        match rest.chars().next() {
            Some('-') => ignore = true,
            Some('@') => argv0 = true,
            Some(':') => no_expand = true,
            // Privileges outside the sandbox's confinement do not exist
            // here: the command runs as root inside, confined like the rest.
            Some('+') => privilege = Privilege::Full,
            Some('!') if privilege == Privilege::AsUnit => privilege = Privilege::NoUserChange,
            Some('!') => {}
            _ => break,
        }
        rest = &rest[1..];
    }
    let words = shell_words::split(rest).map_err(|e| anyhow!("bad command line '{line}': {e}"))?;
    let mut words = words.into_iter();
    let path = words.next().ok_or_else(|| anyhow!("empty command line '{line}'"))?;
    let mut argv = Vec::new();
    if argv0 {
        argv.push(words.next().ok_or_else(|| anyhow!("'{line}': @ needs an argv[0] after the path"))?);
    } else {
        argv.push(path.clone());
    }
    argv.extend(words);
    Ok(Cmd { path, argv, ignore_failure: ignore, no_expand, privilege })
}

/// A capability list as systemd.exec(5) reads it: None when never set;
/// lines of names are merged by OR, lines starting with `~` (all but
/// those) by AND; an empty assignment is the empty set, whatever came
/// before.
pub fn parse_caps(values: &[&str]) -> Result<Option<CapsHashSet>> {
    let mut set: Option<CapsHashSet> = None;
    for v in values {
        let v = v.trim();
        if v.is_empty() {
            set = Some(CapsHashSet::new());
            continue;
        }
        let (invert, list) = match v.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, v),
        };
        let named = list.split_whitespace().map(crate::runtime::caps::parse).collect::<Result<CapsHashSet>>()?;
        set = Some(match (set, invert) {
            (None, false) => named,
            (Some(mut cur), false) => {
                cur.extend(named);
                cur
            }
            (None, true) => caps::all().difference(&named).copied().collect(),
            (Some(cur), true) => cur.difference(&named).copied().collect(),
        });
    }
    Ok(set)
}

/// The uid systemd's DynamicUser= would give the unit: one of its range
/// 61184-65519, from a hash of the name, that no account in the
/// sandbox's /etc/passwd has.
pub fn dynamic_uid(unit: &str, taken: impl Fn(u32) -> bool) -> Result<u32> {
    const FIRST: u32 = 61184;
    const COUNT: u32 = 65519 - 61184 + 1;
    let mut h: u32 = 2166136261;
    for b in unit.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(16777619);
    }
    (0..COUNT)
        .map(|i| FIRST + (h.wrapping_add(i)) % COUNT)
        .find(|u| !taken(*u))
        .ok_or_else(|| anyhow!("{unit}: DynamicUser=: no free uid in 61184-65519"))
}

/// `$VAR` as a whole word becomes the variable's words; `${VAR}` is
/// replaced in place, as systemd.service(5) says.
pub fn expand_words(argv: &[String], env: &[(String, String)]) -> Vec<String> {
    let lookup = |k: &str| env.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let mut out = Vec::new();
    for w in argv {
        if let Some(name) = w.strip_prefix('$').filter(|n| !n.is_empty() && n.bytes().all(is_var_byte)) {
            out.extend(lookup(name).unwrap_or("").split_whitespace().map(str::to_string));
            continue;
        }
        let mut s = String::new();
        let mut rest = w.as_str();
        while let Some(i) = rest.find("${") {
            s.push_str(&rest[..i]);
            match rest[i + 2..].find('}') {
                Some(j) => {
                    s.push_str(lookup(&rest[i + 2..i + 2 + j]).unwrap_or(""));
                    rest = &rest[i + 3 + j..];
                }
                None => {
                    s.push_str(&rest[i..]);
                    rest = "";
                }
            }
        }
        s.push_str(rest);
        out.push(s);
    }
    out
}

fn is_var_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// systemd time spans: "90", "5s", "1min 30s", "500ms", "infinity".
pub fn parse_timespan(s: &str) -> Result<Option<Duration>> {
    let s = s.trim();
    if s == "infinity" {
        return Ok(None);
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.trim_start().is_empty() {
        rest = rest.trim_start();
        let n = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let num: f64 = rest[..n].parse().map_err(|_| anyhow!("bad time span '{s}'"))?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c.is_whitespace()).unwrap_or(rest.len());
        let unit = &rest[..u];
        rest = &rest[u..];
        let secs = match unit {
            "" | "s" | "sec" | "second" | "seconds" => 1.0,
            "ms" | "msec" => 0.001,
            "us" | "usec" => 0.000_001,
            "m" | "min" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hour" | "hours" => 3600.0,
            _ => bail!("bad time unit '{unit}' in '{s}'"),
        };
        total += Duration::from_secs_f64(num * secs);
    }
    Ok(Some(total))
}

fn signal(name: &str) -> Result<Signal> {
    let n = name.trim();
    let full = if n.starts_with("SIG") { n.to_string() } else { format!("SIG{n}") };
    full.parse::<Signal>().map_err(|_| anyhow!("unknown signal '{name}'"))
}

fn yes(v: &str) -> bool {
    matches!(v, "yes" | "true" | "1" | "on")
}

fn octal(s: &str) -> Result<u32> {
    u32::from_str_radix(s.trim(), 8).map_err(|_| anyhow!("bad mode '{s}': give octal, e.g. 0755"))
}

impl Service {
    pub fn from_unit(unit: &str, text: &str, spec: &Specifiers) -> Result<Self> {
        let f = UnitFile::parse(text).with_context(|| format!("parsing {unit}"))?;
        let x = |v: &str| spec.expand(v).with_context(|| format!("in {unit}"));
        let one = |k: &str| -> Result<Option<String>> { f.get("Service", k).map(x).transpose() };
        let cmds = |k: &str| -> Result<Vec<Cmd>> {
            f.get_all("Service", k)
                .into_iter()
                .map(|v| parse_cmd(&x(v)?).with_context(|| format!("{unit}: {k}=")))
                .collect()
        };
        for (key, why) in REFUSED {
            if f.get("Service", key).is_some_and(|v| !v.is_empty()) {
                bail!("{unit}: {key}= cannot be honoured in a sandbox: {why}");
            }
        }
        let start = cmds("ExecStart")?;
        // PermissionsStartOnly=yes (deprecated, still shipped by tor and
        // others) is `+` on every command but ExecStart=.
        let full_others = one("PermissionsStartOnly")?.is_some_and(|v| yes(&v));
        let others = |k: &str| -> Result<Vec<Cmd>> {
            let mut v = cmds(k)?;
            if full_others {
                for c in &mut v {
                    c.privilege = Privilege::Full;
                }
            }
            Ok(v)
        };
        let kind = match one("Type")?.as_deref() {
            None if start.is_empty() => Type::Oneshot,
            // idle only waits for other jobs to be dispatched first.
            None | Some("simple") | Some("idle") => Type::Simple,
            Some("exec") => Type::Exec,
            Some("forking") => Type::Forking,
            Some("notify") | Some("notify-reload") => Type::Notify,
            Some("oneshot") => Type::Oneshot,
            // Ready when its bus name appears on a bus the sandbox cannot
            // reach: ready once it runs, as simple (sandbox-service-init(8)).
            Some("dbus") => Type::Simple,
            Some(t) => bail!("{unit}: unknown Type={t} (systemd.service(5) names simple, exec, forking, oneshot, dbus, notify, notify-reload, idle)"),
        };
        let reload_signal = match one("Type")?.as_deref() {
            Some("notify-reload") => {
                Some(one("ReloadSignal")?.map(|s| signal(&s)).transpose()?.unwrap_or(Signal::SIGHUP))
            }
            _ => None,
        };
        if start.is_empty() && kind != Type::Oneshot {
            bail!("{unit} has no ExecStart=");
        }
        if start.len() > 1 && kind != Type::Oneshot {
            bail!("{unit}: several ExecStart= lines need Type=oneshot");
        }
        let mut environment = Vec::new();
        for v in f.get_all("Service", "Environment") {
            for w in shell_words::split(&x(v)?).map_err(|e| anyhow!("{unit}: Environment={v}: {e}"))? {
                if let Some((k, val)) = w.split_once('=') {
                    environment.push((k.to_string(), val.to_string()));
                }
            }
        }
        let environment_files = f
            .get_all("Service", "EnvironmentFile")
            .into_iter()
            .map(|v| {
                let v = x(v)?;
                Ok(match v.strip_prefix('-') {
                    Some(p) => (p.to_string(), true),
                    None => (v, false),
                })
            })
            .collect::<Result<_>>()?;
        // 0, like infinity, means no timeout at all.
        let timeout = |k: &str, default: Duration| -> Result<Duration> {
            let both = one("TimeoutSec")?;
            Ok(match one(k)?.or(both) {
                Some(v) => parse_timespan(&v)?.filter(|d| !d.is_zero()).unwrap_or(Duration::MAX),
                None => default,
            })
        };
        let mut directories = Vec::new();
        for (key, base, mode_key) in [
            ("RuntimeDirectory", "/run", "RuntimeDirectoryMode"),
            ("StateDirectory", "/var/lib", "StateDirectoryMode"),
            ("CacheDirectory", "/var/cache", "CacheDirectoryMode"),
            ("LogsDirectory", "/var/log", "LogsDirectoryMode"),
            ("ConfigurationDirectory", "/etc", "ConfigurationDirectoryMode"),
        ] {
            let names: Vec<String> = f.get_words("Service", key).iter().map(|w| x(w)).collect::<Result<_>>()?;
            if !names.is_empty() {
                let mode = one(mode_key)?.map(|m| octal(&m)).transpose()?.unwrap_or(0o755);
                directories.push((base, names, mode));
            }
        }
        Ok(Service {
            unit: unit.to_string(),
            kind,
            condition: others("ExecCondition")?,
            conditions: f.conditions("Condition").iter().map(|c| x(c)).collect::<Result<_>>()?,
            asserts: f.conditions("Assert").iter().map(|c| x(c)).collect::<Result<_>>()?,
            after: f.get_words("Unit", "After"),
            before: f.get_words("Unit", "Before"),
            pulled: false,
            start_pre: others("ExecStartPre")?,
            start,
            start_post: others("ExecStartPost")?,
            stop: others("ExecStop")?,
            stop_post: others("ExecStopPost")?,
            reload: others("ExecReload")?,
            environment,
            environment_files,
            user: one("User")?,
            group: one("Group")?,
            working_directory: one("WorkingDirectory")?.map(|w| match w.strip_prefix('-') {
                Some(p) => (p.to_string(), true),
                None => (w, false),
            }),
            umask: one("UMask")?.map(|m| octal(&m)).transpose()?.unwrap_or(0o022),
            pid_file: one("PIDFile")?,
            kill_signal: one("KillSignal")?.map(|s| signal(&s)).transpose()?.unwrap_or(Signal::SIGTERM),
            kill_mode: match one("KillMode")?.as_deref() {
                None | Some("control-group") => KillMode::ControlGroup,
                Some("mixed") => KillMode::Mixed,
                Some("process") => KillMode::Process,
                Some("none") => KillMode::None,
                Some(m) => bail!("{unit}: unknown KillMode={m}"),
            },
            timeout_start: timeout("TimeoutStartSec", Duration::from_secs(90))?,
            timeout_stop: timeout("TimeoutStopSec", MAX_STOP)?.min(MAX_STOP),
            remain_after_exit: one("RemainAfterExit")?.is_some_and(|v| yes(&v)),
            directories,
            supplementary_groups: f
                .get_words("Service", "SupplementaryGroups")
                .iter()
                .map(|w| x(w))
                .collect::<Result<_>>()?,
            ambient: parse_caps(&f.get_raw("Service", "AmbientCapabilities"))
                .with_context(|| format!("{unit}: AmbientCapabilities="))?
                .unwrap_or_default(),
            bounding: parse_caps(&f.get_raw("Service", "CapabilityBoundingSet"))
                .with_context(|| format!("{unit}: CapabilityBoundingSet="))?,
            dynamic_uid: None,
            dynamic: one("DynamicUser")?.is_some_and(|v| yes(&v)),
            reload_signal,
            filters: vec![],
            protect: {
                let list = |keys: &[&str]| -> Result<Vec<String>> {
                    let mut out = Vec::new();
                    for k in keys {
                        for w in f.get_words("Service", k) {
                            out.push(x(w.trim_start_matches(['-', '+']))?);
                        }
                    }
                    Ok(out)
                };
                super::protect::Protect {
                    system: match one("ProtectSystem")?.as_deref() {
                        None | Some("no") | Some("false") | Some("0") | Some("off") => None,
                        Some("yes") | Some("true") | Some("1") | Some("on") => Some("yes".into()),
                        Some(v @ ("full" | "strict")) => Some(v.to_string()),
                        Some(v) => bail!("{unit}: unknown ProtectSystem={v}"),
                    },
                    read_write: list(&["ReadWritePaths", "ReadWriteDirectories"])?,
                    read_only: list(&["ReadOnlyPaths", "ReadOnlyDirectories"])?,
                    inaccessible: list(&["InaccessiblePaths", "InaccessibleDirectories"])?,
                    exec: list(&["ExecPaths"])?,
                    no_exec: list(&["NoExecPaths"])?,
                }
            },
            private_tmp: one("PrivateTmp")?.is_some_and(|v| yes(&v)),
            ignore_sigpipe: one("IgnoreSIGPIPE")?.is_none_or(|v| yes(&v)),
            pass_environment: f.get_words("Service", "PassEnvironment"),
            unset_environment: f.get_words("Service", "UnsetEnvironment"),
        })
    }

    /// A generic sandbox's command, run like `Type=exec`.
    pub fn from_command(argv: &[String]) -> Result<Self> {
        let path = argv.first().ok_or_else(|| anyhow!("no command to run"))?.clone();
        Ok(Service {
            unit: "command".into(),
            kind: Type::Exec,
            condition: vec![],
            conditions: vec![],
            asserts: vec![],
            after: vec![],
            before: vec![],
            pulled: false,
            start_pre: vec![],
            start: vec![Cmd {
                path,
                argv: argv.to_vec(),
                ignore_failure: false,
                no_expand: true,
                privilege: Privilege::AsUnit,
            }],
            start_post: vec![],
            stop: vec![],
            stop_post: vec![],
            reload: vec![],
            environment: vec![],
            environment_files: vec![],
            user: None,
            group: None,
            working_directory: None,
            umask: 0o022,
            pid_file: None,
            kill_signal: Signal::SIGTERM,
            kill_mode: KillMode::ControlGroup,
            timeout_start: Duration::from_secs(90),
            timeout_stop: Duration::from_secs(10),
            remain_after_exit: false,
            directories: vec![],
            supplementary_groups: vec![],
            ambient: CapsHashSet::new(),
            bounding: None,
            dynamic_uid: None,
            dynamic: false,
            reload_signal: None,
            filters: vec![],
            protect: Default::default(),
            private_tmp: false,
            ignore_sigpipe: true,
            pass_environment: vec![],
            unset_environment: vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Specifiers {
        Specifiers { unit: "web@a1.service".into(), instance: "a1".into(), hostname: "a1".into() }
    }

    #[test]
    fn nginx_and_apache_units_read_as_systemd_reads_them() {
        let nginx = "[Service]\nType=forking\nPIDFile=/run/nginx.pid\n\
            ExecStartPre=/usr/sbin/nginx -t -q -g 'daemon on; master_process on;'\n\
            ExecStart=/usr/sbin/nginx -g 'daemon on; master_process on;'\n\
            ExecStop=-/sbin/start-stop-daemon --quiet --stop --retry QUIT/5 --pidfile /run/nginx.pid\n\
            TimeoutStopSec=5\nKillMode=mixed\n";
        let s = Service::from_unit("nginx.service", nginx, &spec()).unwrap();
        assert_eq!(s.kind, Type::Forking);
        assert_eq!(s.start_pre[0].argv, vec!["/usr/sbin/nginx", "-t", "-q", "-g", "daemon on; master_process on;"]);
        assert!(s.stop[0].ignore_failure);
        assert_eq!(s.stop[0].path, "/sbin/start-stop-daemon");
        assert_eq!(s.timeout_stop, Duration::from_secs(5));
        assert_eq!(s.kill_mode, KillMode::Mixed);
        assert_eq!(s.pid_file.as_deref(), Some("/run/nginx.pid"));
    }

    #[test]
    fn resets_continuations_specifiers_and_prefixes() {
        let text = "[Service]\nExecStart=/bin/old\nExecStart=\nExecStart=@/bin/real argv0 \\\n  --name %i\n\
            Environment=A=1 \"B=two words\"\nEnvironment=C=%n\nRuntimeDirectory=web/%i\nRuntimeDirectoryMode=0750\n\
            User=www-data\nUMask=0027\nKillSignal=SIGQUIT\nTimeoutSec=1min 30s\n";
        let s = Service::from_unit("web@a1.service", text, &spec()).unwrap();
        assert_eq!(s.kind, Type::Simple);
        assert_eq!(s.start.len(), 1);
        assert_eq!(s.start[0].path, "/bin/real");
        assert_eq!(s.start[0].argv, vec!["argv0", "--name", "a1"]);
        assert_eq!(
            s.environment,
            vec![("A".into(), "1".into()), ("B".into(), "two words".into()), ("C".into(), "web@a1.service".into())]
        );
        assert_eq!(s.directories, vec![("/run", vec!["web/a1".to_string()], 0o750)]);
        assert_eq!(s.umask, 0o027);
        assert_eq!(s.kill_signal, Signal::SIGQUIT);
        assert_eq!(s.timeout_stop, Duration::from_secs(90));
        assert_eq!(s.timeout_start, Duration::from_secs(90));
        assert!(Service::from_unit("x.service", "[Service]\nType=weird\nExecStart=/bin/x\n", &spec()).is_err());
        assert!(Service::from_unit("x.service", "[Service]\nType=simple\n", &spec()).is_err());
    }

    #[test]
    fn what_systemd_exec_settings_say() {
        let text = "[Service]\nType=notify-reload\nExecStart=/bin/x\nExecStartPost=!/bin/post\nExecStopPost=+/bin/clean\n\
            TimeoutStartSec=0\nTimeoutStopSec=0\nSupplementaryGroups=adm ssl-cert\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n\
            CapabilityBoundingSet=CAP_SETUID\nCapabilityBoundingSet=CAP_SETGID\nDynamicUser=yes\n";
        let s = Service::from_unit("x.service", text, &spec()).unwrap();
        assert_eq!((s.kind, s.reload_signal), (Type::Notify, Some(Signal::SIGHUP)));
        assert_eq!(s.start_post[0].privilege, Privilege::NoUserChange);
        assert_eq!(s.stop_post[0].privilege, Privilege::Full);
        assert_eq!(s.start[0].privilege, Privilege::AsUnit);
        assert_eq!(s.timeout_start, Duration::MAX, "0 is no timeout");
        assert_eq!(s.timeout_stop, MAX_STOP);
        assert_eq!(s.supplementary_groups, vec!["adm", "ssl-cert"]);
        assert!(s.ambient.contains(&caps::Capability::CAP_NET_BIND_SERVICE));
        let b = s.bounding.unwrap();
        assert_eq!(b.len(), 2);
        assert!(s.dynamic);
        assert_eq!(parse_caps(&["CAP_KILL", ""]).unwrap(), Some(CapsHashSet::new()), "an empty assignment empties");
        assert_eq!(parse_caps(&[]).unwrap(), None);
        let and = parse_caps(&["CAP_KILL CAP_CHOWN", "~CAP_KILL"]).unwrap().unwrap();
        assert_eq!(and.into_iter().collect::<Vec<_>>(), vec![caps::Capability::CAP_CHOWN]);
        let all_but = parse_caps(&["~CAP_SYS_ADMIN"]).unwrap().unwrap();
        assert!(!all_but.contains(&caps::Capability::CAP_SYS_ADMIN) && all_but.contains(&caps::Capability::CAP_KILL));
        // tor's PermissionsStartOnly=yes: only ExecStart= is confined as the unit.
        let t = Service::from_unit(
            "t.service",
            "[Service]\nExecStartPre=/bin/install -d /run/t\nExecStart=/bin/t\nExecReload=/bin/kill -HUP 1\nPermissionsStartOnly=yes\n",
            &spec(),
        )
        .unwrap();
        assert_eq!((t.start_pre[0].privilege, t.reload[0].privilege), (Privilege::Full, Privilege::Full));
        assert_eq!(t.start[0].privilege, Privilege::AsUnit);
        // "CapabilityBoundingSet=" alone (redis) is the empty set.
        let r =
            Service::from_unit("r.service", "[Service]\nExecStart=/bin/r\nCapabilityBoundingSet=\n", &spec()).unwrap();
        assert_eq!(r.bounding, Some(CapsHashSet::new()));
        let u = dynamic_uid("x.service", |_| false).unwrap();
        assert!((61184..=65519).contains(&u));
        assert_ne!(dynamic_uid("x.service", |n| n == u).unwrap(), u);
        assert_eq!(
            Service::from_unit("i.service", "[Service]\nType=idle\nExecStart=/bin/i\n", &spec()).unwrap().kind,
            Type::Simple
        );
    }

    #[test]
    fn variables_expand_as_systemd_says() {
        let env = vec![("OPTS".to_string(), "-a  -b".to_string()), ("D".to_string(), "/x".to_string())];
        let w: Vec<String> =
            ["/bin/p", "$OPTS", "--dir=${D}/y", "$MISSING", "${D"].iter().map(|s| s.to_string()).collect();
        assert_eq!(expand_words(&w, &env), vec!["/bin/p", "-a", "-b", "--dir=/x/y", "${D"]);
    }

    #[test]
    fn units_start_in_the_order_after_and_before_say() {
        let unit = |name: &str, head: &str| {
            Service::from_unit(name, &format!("[Unit]\n{head}\n[Service]\nExecStart=/bin/x\n"), &spec()).unwrap()
        };
        // postgresql.service pulls its cluster, which is Before= it;
        // unbound-resolvconf is After= unbound.
        let order = start_order(vec![
            unit("postgresql.service", ""),
            unit("helper.service", "After=postgresql.service"),
            unit("postgresql@15-main.service", "Before=postgresql.service"),
        ]);
        let names: Vec<&str> = order.iter().map(|s| s.unit.as_str()).collect();
        assert_eq!(names, vec!["postgresql@15-main.service", "postgresql.service", "helper.service"]);
        let cycle = start_order(vec![unit("a.service", "After=b.service"), unit("b.service", "After=a.service")]);
        assert_eq!(cycle[0].unit, "a.service", "a cycle keeps the given order");
    }

    #[test]
    fn conditions_and_asserts_of_the_unit() {
        let text = "[Unit]\nConditionPathExists=/etc/%i\nConditionPathExists=\nConditionFileIsExecutable=|/sbin/x\n\
            AssertPathExists=/etc\n[Service]\nExecStart=/bin/x\n";
        let s = Service::from_unit("web@a1.service", text, &spec()).unwrap();
        assert_eq!(s.conditions, vec!["ConditionFileIsExecutable=|/sbin/x"], "an empty one resets the list");
        assert_eq!(s.asserts, vec!["AssertPathExists=/etc"]);
        let s = Service::from_unit(
            "web@a1.service",
            "[Unit]\nConditionPathExists=/etc/%i\n[Service]\nExecStart=/x\n",
            &spec(),
        )
        .unwrap();
        assert_eq!(s.conditions, vec!["ConditionPathExists=/etc/a1"]);
    }

    #[test]
    fn time_spans() {
        assert_eq!(parse_timespan("5").unwrap(), Some(Duration::from_secs(5)));
        assert_eq!(parse_timespan("1min 30s").unwrap(), Some(Duration::from_secs(90)));
        assert_eq!(parse_timespan("250ms").unwrap(), Some(Duration::from_millis(250)));
        assert_eq!(parse_timespan("infinity").unwrap(), None);
        assert!(parse_timespan("5 parsecs").is_err());
    }
}
