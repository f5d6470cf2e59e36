//! `export`: a sandbox as an OCI bundle, an OCI image or a Kubernetes Pod.
//!
//! The plan is a value (`ExportPlan`), made from the same evidence as the
//! sandbox: its packages and their dependency closure from the package
//! database (closure.rs), its private tree, the shim's inputs exactly as
//! `run` gives them (runtime::shim_inputs), the capability set and the
//! seccomp rules (runtime::seccomp::rules). stage.rs writes it as a root
//! file system; bundle.rs, image.rs and kube.rs each describe that root
//! to their engine. What the engines have no place for is listed in
//! `not_travelling`, with the engine's nearest setting.

pub mod bundle;
pub mod closure;
pub mod image;
pub mod kube;
pub mod seccomp_profile;
pub mod stage;

use crate::config::{Network, Payload, SandboxConfig};
use crate::layout::{Layout, MANIFEST};
use crate::manifest::Manifest;
use crate::plan::Kind;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Where the shim and its inputs sit in an exported root: read-only
/// content, outside /run (an engine mounts its own there) and /etc.
pub const EXPORT_DIR: &str = "/usr/lib/sandbox-service/export";
/// The shim, PID 1 of the exported container as of the sandbox: on PATH,
/// so that its argv[0] is the sandbox's (OCI has no separate argv[0]).
pub const INIT: &str = "/usr/sbin/sandbox-service-init";
/// Its name, found on PATH.
pub const INIT_NAME: &str = "sandbox-service-init";

/// Package files an image leaves out: no service reads them, and
/// Debian's own container images drop them the same way (dpkg
/// path-exclude). Copyrights stay (licences travel with the files).
const LEFT_OUT: &[&str] = &["/usr/share/man", "/usr/share/info", "/usr/share/lintian", "/usr/share/linda"];
const DOC: &str = "/usr/share/doc";

/// Where the sandbox's own files come from in the export, whatever the
/// host's package files there.
const FRESH: &[&str] = &["/var", "/run", "/tmp", "/proc", "/sys", "/dev", "/home", "/root"];

#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub what: String,
    pub why: String,
}

/// A file the export writes rather than copies.
#[derive(Debug, Clone, Serialize)]
pub struct Generated {
    pub path: String,
    pub mode: u32,
    pub why: String,
    #[serde(skip)]
    pub content: Vec<u8>,
}

/// A path inside the export that is the sandbox's own, from its tree.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Private {
    pub path: String,
    pub dir: bool,
}

/// The container's first process: the shim, as `run` starts it.
#[derive(Debug, Clone, Serialize)]
pub struct Process {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportPlan {
    pub name: String,
    pub hostname: String,
    pub packages: Vec<closure::Member>,
    /// Dependencies nothing installed satisfies (unchosen alternatives).
    pub unmet: Vec<String>,
    /// Host paths copied, as seen on the host, sorted.
    pub files: Vec<String>,
    pub private: Vec<Private>,
    pub generated: Vec<Generated>,
    pub left_out: Vec<Note>,
    pub process: Process,
    /// Capability names without CAP_, sorted.
    pub caps: Vec<String>,
    pub network: String,
    /// TCP ports the service listens on (its configuration, bind-ports=,
    /// published ones).
    pub ports: Vec<u16>,
    /// network=private: (host port, sandbox port) published over TCP.
    pub published: Vec<(u16, u16)>,
    /// Each unit's ExecStart=, specifiers and Environment= resolved.
    pub exec_start: Vec<Note>,
    /// A unit is Type=notify: its readiness reaches the shim only.
    pub notify: bool,
    pub user_namespace: Option<u32>,
    pub memory: Option<String>,
    pub cpu: Option<String>,
    pub tasks: Option<String>,
    pub tmpfs: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub not_travelling: Vec<Note>,
    /// The sandbox's creation time: every generated file's time, so an
    /// export of the same sandbox gives the same bytes.
    pub created: u64,
}

/// Builds the plan of `name`'s export; reads only.
pub fn plan(layout: &Layout, cfg: &SandboxConfig) -> Result<ExportPlan> {
    let name = cfg.name.as_str();
    let state = layout.state_dir(name);
    let manifest = Manifest::load(&state.join(MANIFEST))?;
    let dbs = crate::payload::Databases::open(layout)?;
    let mut roots = Vec::new();
    for p in &cfg.packages {
        match dbs.info(p)? {
            Some(i) => roots.push(i),
            None => bail!(
                "package {p} of sandbox '{name}' is no longer installed on this host: install it again, \
                 or delete the sandbox"
            ),
        }
    }
    let (members, unmet) = closure::of(&dbs, &roots)?;
    let services = services(layout, cfg)?;
    let tree = state.join(crate::layout::TREE);
    let tree_fd = crate::safefs::open_dir(&tree)?;

    let private_paths: Vec<&crate::plan::PrivatePath> = manifest
        .plan
        .private
        .iter()
        .filter(|p| p.path.starts_with("/etc/") && !matches!(p.kind, Kind::Runtime | Kind::Symlink))
        .collect();
    let is_private = |p: &str| private_paths.iter().any(|q| crate::rootpath::is_under(p, &q.path));
    let mut files = BTreeSet::new();
    let (mut docs, mut left) = (0usize, 0usize);
    for (_, info) in &members {
        for f in dbs.files(info)? {
            if f.ghost {
                continue;
            }
            let Ok(real) = crate::rootpath::resolve(layout.root(), Path::new(&f.path), false) else { continue };
            let real = real.to_string_lossy().into_owned();
            if FRESH.iter().any(|t| crate::rootpath::is_under(&real, t)) || is_private(&real) {
                continue;
            }
            if LEFT_OUT.iter().any(|t| crate::rootpath::is_under(&real, t)) {
                left += 1;
                continue;
            }
            if crate::rootpath::is_under(&real, DOC) && !real.ends_with("/copyright") && real != DOC {
                docs += 1;
                continue;
            }
            if layout.host(&real).symlink_metadata().is_ok() {
                files.insert(real);
            }
        }
    }
    // Links into /etc/alternatives are dpkg's choice of provider: the
    // choice travels when what it chose is in the closure.
    let alternatives: Vec<String> = files
        .iter()
        .filter_map(|f| std::fs::read_link(layout.host(f)).ok())
        .map(|t| t.to_string_lossy().into_owned())
        .filter(|t| t.starts_with("/etc/alternatives/"))
        .collect();
    for a in alternatives {
        if let Ok(real) = crate::rootpath::resolve(layout.root(), Path::new(&a), true) {
            if files.contains(real.to_string_lossy().as_ref()) {
                files.insert(a);
            }
        }
    }

    let mut private: Vec<Private> = vec![Private { path: "/var".into(), dir: true }];
    for p in &private_paths {
        private.push(Private { path: p.path.clone(), dir: p.kind != Kind::File && p.kind != Kind::Key });
    }
    private.sort();
    private.dedup();

    let shim_in = crate::runtime::shim_inputs(layout, cfg, &state, &manifest, EXPORT_DIR)?;
    let mut generated = Vec::new();
    for (file, content) in &shim_in.files {
        generated.push(Generated {
            path: format!("{EXPORT_DIR}/{file}"),
            mode: 0o644,
            why: "the shim's input, as `run` gives it".into(),
            content: content.clone(),
        });
    }
    let shim = std::fs::read(crate::runtime::shim_path()?).context("reading the shim")?;
    generated.push(Generated {
        path: INIT.into(),
        mode: 0o755,
        why: "sandbox-service-init, PID 1 as in the sandbox: runs the unit's Exec*= lines, Type=, readiness, stop"
            .into(),
        content: shim,
    });
    generated.push(Generated {
        path: "/etc/hostname".into(),
        mode: 0o644,
        why: "the sandbox's name".into(),
        content: format!("{name}\n").into_bytes(),
    });
    generated.push(Generated {
        path: "/etc/hosts".into(),
        mode: 0o644,
        why: "the sandbox's name (an engine may write its own)".into(),
        content: crate::runtime::rootfs::hosts_file(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback",
            name,
        )
        .into_bytes(),
    });
    generated.push(Generated {
        path: "/etc/nsswitch.conf".into(),
        mode: 0o644,
        why: "no package owns it; only the files below and DNS exist in the container".into(),
        content: b"passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n".to_vec(),
    });
    let (passwd, group) = accounts(layout, cfg, &tree, &services, &files)?;
    generated.push(Generated {
        path: "/etc/passwd".into(),
        mode: 0o644,
        why: "the host's entries for root, the unit's User=/Group= and every owner of an exported file".into(),
        content: passwd.into_bytes(),
    });
    generated.push(Generated {
        path: "/etc/group".into(),
        mode: 0o644,
        why: "as /etc/passwd".into(),
        content: group.into_bytes(),
    });
    // The sandbox's Landlock domain and seccomp filter, which `run` makes
    // before the shim.
    let confinement = crate::runtime::confine::Confinement::load(cfg, &state, &manifest)?;
    let bpf = format!("{EXPORT_DIR}/{}", crate::runtime::seccomp::FILE);
    generated.push(Generated {
        path: bpf.clone(),
        mode: 0o644,
        why: "the sandbox's compiled seccomp filter, which the shim loads under the engine's: an engine that \
              misreads the OCI profile (youki 0.7.0's masked compare) still leaves the sandbox's rules in force"
            .into(),
        content: confinement.bpf.clone(),
    });
    generated.sort_by(|a, b| a.path.cmp(&b.path));

    let mut args = shim_in.argv;
    let mut confine =
        vec!["--landlock-writable".to_string(), confinement.writable.join(":"), "--seccomp".to_string(), bpf];
    if let Some(b) = &cfg.container.bind_ports {
        confine.extend(["--bind-ports".to_string(), crate::config::render_ports(&Some(b.clone()))]);
    }
    if let Some(c) = &cfg.container.connect_ports {
        confine.extend(["--connect-ports".to_string(), crate::config::render_ports(&Some(c.clone()))]);
    }
    args.splice(3..3, confine);
    // run passes the host's LANG on; C.UTF-8 is in every libc6 and
    // names no locale the image may lack.
    let env = vec![
        format!("PATH={}", crate::runtime::PATH),
        "container=sandbox-service".to_string(),
        "LANG=C.UTF-8".to_string(),
    ];
    let process = Process { args, env, cwd: "/".into() };

    let set = crate::runtime::caps::effective_set(&cfg.container.caps_add, &cfg.container.caps_drop)?;
    let mut caps: Vec<String> = set.iter().map(|c| c.to_string().trim_start_matches("CAP_").to_string()).collect();
    caps.sort();

    // The ports the sandbox's configuration says now (its admin may have
    // changed Listen since create), read as create read the host's.
    // In the order the files say them: the first is the readiness probe's
    // (ports.conf's Listen before its <IfModule ssl_module> 443).
    let mut ports: Vec<u16> = Vec::new();
    fn add(ports: &mut Vec<u16>, p: u16) {
        if p != 0 && !ports.contains(&p) {
            ports.push(p);
        }
    }
    for f in manifest.plan.files.iter().filter(|f| f.config) {
        if let Some(text) = in_tree(tree_fd.as_fd(), &f.path) {
            crate::plan::configfiles::listen_ports(&text).into_iter().for_each(|(p, _)| add(&mut ports, p));
        }
    }
    if ports.is_empty() {
        manifest.plan.ports.iter().for_each(|p| add(&mut ports, p.port));
    }
    cfg.container
        .publish
        .iter()
        .filter(|p| p.proto == crate::network::publish::Proto::Tcp)
        .for_each(|p| add(&mut ports, p.port));
    if let Some(b) = &cfg.container.bind_ports {
        b.iter().for_each(|p| add(&mut ports, *p));
    }

    let (exec_start, notify) = exec_starts(layout, &services, tree_fd.as_fd());
    let mut labels = BTreeMap::new();
    labels.insert("org.opencontainers.image.title".into(), name.to_string());
    labels.insert(
        "org.opencontainers.image.description".into(),
        format!("sandbox '{name}' exported by sandbox-service {}", env!("CARGO_PKG_VERSION")),
    );
    labels.insert("io.sandbox-service.name".into(), name.to_string());
    labels.insert("io.sandbox-service.units".into(), cfg_units(cfg).join(" "));
    labels.insert("io.sandbox-service.capabilities".into(), caps.join(","));
    for (m, _) in &members {
        labels.insert(format!("io.sandbox-service.package.{}", m.name), format!("{} ({})", m.version, m.db));
    }
    // One label per unit; several ExecStart= lines (Type=oneshot) in order.
    for n in &exec_start {
        labels
            .entry(format!("io.sandbox-service.exec-start.{}", n.what))
            .and_modify(|v: &mut String| *v = format!("{v}; {}", n.why))
            .or_insert_with(|| n.why.clone());
    }

    let mut left_out = vec![Note {
        what: format!("{docs} files under {DOC}, {left} under {}", LEFT_OUT.join(" ")),
        why: "documentation: no service reads it (each package's copyright file stays)".into(),
    }];
    left_out.push(Note {
        what: "the host's /var".into(),
        why: "the sandbox's /var is its own tree, exported whole".into(),
    });
    let mut tmpfs = BTreeMap::new();
    for d in ["/tmp", "/run", "/dev/shm", "/home", "/root"] {
        tmpfs.insert(
            d.to_string(),
            cfg.container.tmpfs.options(
                d,
                if d == "/tmp" || d == "/dev/shm" {
                    0o1777
                } else if d == "/root" {
                    0o700
                } else {
                    0o755
                },
            ),
        );
    }
    let mut not_travelling = not_travelling(cfg);
    if !shim_in.unit_binds.is_empty() {
        not_travelling.push(Note {
            what: "the units' BindPaths=/BindReadOnlyPaths=".into(),
            why: "they name host paths: give the engine a volume for each (podman -v, a Pod volume)".into(),
        });
    }
    Ok(ExportPlan {
        name: name.to_string(),
        hostname: name.to_string(),
        packages: members.into_iter().map(|(m, _)| m).collect(),
        unmet: unmet.into_iter().collect(),
        files: files.into_iter().collect(),
        private,
        generated,
        left_out,
        process,
        caps,
        network: match cfg.container.network {
            Network::Host => "host",
            Network::None => "none",
            Network::Private => "private",
        }
        .into(),
        ports,
        published: cfg
            .container
            .publish
            .iter()
            .filter(|p| p.proto == crate::network::publish::Proto::Tcp)
            .map(|p| (p.host_port, p.port))
            .collect(),
        exec_start,
        notify,
        user_namespace: cfg.container.private_users,
        memory: cfg.container.memory.clone(),
        cpu: cfg.container.cpu.clone(),
        tasks: cfg.container.tasks.clone(),
        tmpfs,
        labels,
        not_travelling,
        created: cfg.created,
    })
}

fn cfg_units(cfg: &SandboxConfig) -> Vec<String> {
    match &cfg.payload {
        Payload::Services(s) => s.clone(),
        Payload::Command(c) => vec![shell_words::join(c)],
    }
}

/// What no engine can be told, and what it has instead.
fn not_travelling(cfg: &SandboxConfig) -> Vec<Note> {
    let mut v = Vec::new();
    if let Some(l) = cfg.label {
        v.push(Note {
            what: format!("the SELinux label {l}"),
            why: "engines allocate their own MCS pair per container (podman: container_t with a random pair; \
                  --security-opt label=level:s0:cX,cY to keep this one)"
                .into(),
        });
    }
    v.push(Note {
        what: "reload propagation (systemctl reload of the host unit)".into(),
        why: "send SIGHUP: podman kill --signal HUP; the shim runs the unit's ExecReload=".into(),
    });
    if matches!(cfg.payload, Payload::Services(_)) {
        v.push(Note {
            what: "the logrotate hooks (sandbox-service logrotate from the host's timer)".into(),
            why: "logs go to the engine's log (stdout and stderr); files under /var/log grow unless a job \
                  runs logrotate in the container (podman exec NAME logrotate /etc/logrotate.conf)"
                .into(),
        });
    }
    v.push(Note {
        what: "the host's syslog socket at /dev/log".into(),
        why: "syslog(3) messages are lost unless the engine binds one in (podman -v /dev/log:/dev/log)".into(),
    });
    v.push(Note {
        what: "the device filter in the sandbox's cgroup".into(),
        why: "the bundle's linux.resources.devices says the same list; podman and Kubernetes apply their own default \
              (no device beyond the standard nodes)"
            .into(),
    });
    if cfg.container.network == Network::Private {
        v.push(Note {
            what: "network=private's address, bridge and published ports".into(),
            why: "the engine's network: podman -p HOSTPORT:PORT, a Kubernetes Service".into(),
        });
    }
    if !cfg.container.publish_sockets.is_empty() {
        v.push(Note {
            what: "unix sockets published on the host".into(),
            why: "a volume at the socket's directory (podman -v)".into(),
        });
    }
    v
}

/// Each unit's ExecStart= lines as the shim will run them: specifiers
/// and the unit's Environment= (and its EnvironmentFile= as exported)
/// resolved.
fn exec_starts(
    layout: &Layout,
    services: &[(String, crate::shim::service::Service)],
    tree: std::os::fd::BorrowedFd,
) -> (Vec<Note>, bool) {
    let mut out = Vec::new();
    let mut notify = false;
    for (unit, svc) in services {
        notify |= svc.kind == crate::shim::service::Type::Notify;
        let mut env = svc.environment.clone();
        for (path, _) in &svc.environment_files {
            // The sandbox's copy where it has one (/etc/default/NAME), else the host's.
            let own = in_tree(tree, path);
            if let Some(t) = own.or_else(|| std::fs::read_to_string(layout.host(path)).ok()) {
                env.extend(crate::envfile::env_assignments(&t));
            }
        }
        for c in &svc.start {
            let argv = if c.no_expand { c.argv.clone() } else { crate::shim::service::expand_words(&c.argv, &env) };
            out.push(Note { what: unit.clone(), why: shell_words::join(argv) });
        }
    }
    (out, notify)
}

/// Each of the sandbox's units as the shim will read it: the name it runs
/// under and the parsed service (specifiers expanded). Parsed once for
/// the ExecStart= labels and the accounts.
fn services(layout: &Layout, cfg: &SandboxConfig) -> Result<Vec<(String, crate::shim::service::Service)>> {
    let Payload::Services(services) = &cfg.payload else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for s in services {
        let name = crate::names::ServiceName::parse(s)?;
        let text = crate::unitpath::resolve(layout, &name)?.text(layout)?;
        let (unit, instance) = name.running_as(&cfg.name);
        let spec = crate::unitfile::Specifiers { unit: unit.clone(), instance, hostname: cfg.name.clone() };
        let svc = crate::shim::service::Service::from_unit(&unit, &text, &spec)?;
        out.push((unit, svc));
    }
    Ok(out)
}

/// A text file of the sandbox's tree, read beneath it (root inside may
/// have planted a link to a host file on the way): None where absent; a
/// file that cannot be read so is said, and left out.
fn in_tree(tree: std::os::fd::BorrowedFd, path: &str) -> Option<String> {
    match crate::upgrade::read_in_tree(tree, Path::new(path.trim_start_matches('/'))) {
        Ok(Some(b)) => String::from_utf8(b).ok(),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("{path} in the sandbox's tree not read: {e:#}");
            None
        }
    }
}

/// passwd and group for the export: root, the units' users and groups,
/// and the owners of every exported file, as the host has them.
fn accounts(
    layout: &Layout,
    cfg: &SandboxConfig,
    tree: &Path,
    services: &[(String, crate::shim::service::Service)],
    files: &BTreeSet<String>,
) -> Result<(String, String)> {
    // A --root tree may have no accounts yet (packages installed with
    // rpm --root and nothing else): root is given then.
    let read = |p: &str| match std::fs::read_to_string(layout.host(p)) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("reading {p}")),
    };
    let mut passwd = read("/etc/passwd")?;
    let mut group = read("/etc/group")?;
    if !passwd.lines().any(|l| l.starts_with("root:")) {
        passwd.insert_str(0, "root:x:0:0:root:/root:/bin/sh\n");
    }
    if !group.lines().any(|l| l.starts_with("root:")) {
        group.insert_str(0, "root:x:0:\n");
    }
    let (mut uids, mut gids) = (BTreeSet::from([0u32]), BTreeSet::from([0u32]));
    let (mut unames, mut gnames) = (BTreeSet::new(), BTreeSet::new());
    for f in files {
        if let Ok(m) = layout.host(f).symlink_metadata() {
            uids.insert(m.uid());
            gids.insert(m.gid());
        }
    }
    let shift = cfg.container.private_users.unwrap_or(0);
    for e in walkdir::WalkDir::new(tree).into_iter().flatten() {
        if let Ok(m) = e.metadata() {
            uids.insert(m.uid().saturating_sub(shift));
            gids.insert(m.gid().saturating_sub(shift));
        }
    }
    for (_, svc) in services {
        unames.extend(svc.user.clone());
        gnames.extend(svc.group.clone());
        gnames.extend(svc.supplementary_groups.clone());
    }
    let mut out_p = String::new();
    let mut users = BTreeSet::new();
    for l in passwd.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 {
            continue;
        }
        let uid: Option<u32> = f[2].parse().ok();
        if uid.is_some_and(|u| uids.contains(&u)) || unames.contains(f[0]) || unames.contains(f[2]) {
            out_p.push_str(l);
            out_p.push('\n');
            users.insert(f[0].to_string());
            if let Ok(g) = f[3].parse() {
                gids.insert(g);
            }
        }
    }
    let mut out_g = String::new();
    for l in group.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 {
            continue;
        }
        let gid: Option<u32> = f[2].parse().ok();
        if gid.is_some_and(|g| gids.contains(&g)) || gnames.contains(f[0]) {
            // Members who do not travel are left out of the list.
            let members: Vec<&str> = f[3].split(',').filter(|m| users.contains(*m)).collect();
            out_g.push_str(&format!("{}:{}:{}:{}\n", f[0], f[1], f[2], members.join(",")));
        }
    }
    Ok((out_p, out_g))
}

impl ExportPlan {
    /// What `export` says before it writes: the summary, and what does
    /// not travel.
    pub fn explain(&self) -> String {
        let mut s = format!(
            "export of sandbox '{}': {} packages ({} named, the rest their dependency closure), {} host files, \
             {} private paths from the sandbox's tree, {} files written\n",
            self.name,
            self.packages.len(),
            self.packages.iter().filter(|p| p.why == "the sandbox's").count(),
            self.files.len(),
            self.private.len(),
            self.generated.len()
        );
        for n in &self.left_out {
            s.push_str(&format!("  left out: {}: {}\n", n.what, n.why));
        }
        s.push_str(&format!("  process: {}\n", shell_words::join(&self.process.args)));
        for n in &self.exec_start {
            s.push_str(&format!("  {} runs: {}\n", n.what, n.why));
        }
        s.push_str(&format!("  capabilities: {}\n", self.caps.join(" ")));
        s.push_str(
            "  seccomp: the sandbox's filter as an OCI profile, and compiled, loaded by the shim on top of the \
             engine's; no_new_privs; read-only root\n",
        );
        for n in &self.not_travelling {
            s.push_str(&format!("  does not travel: {}: {}\n", n.what, n.why));
        }
        s
    }
}
