//! `sandbox-service create`: plan, clone, label, write config and units.

use crate::clone::{self, Copier, Need, Stats};
use crate::config::{self, Payload, SandboxConfig};
use crate::label::{self, Security};
use crate::layout::{Layout, MANIFEST, TREE};
use crate::manifest::Manifest;
use crate::names::{check_sandbox_name, ServiceName};
use crate::payload::Databases;
use crate::plan::{self, Kind, Plan, UnitInput};
use crate::state::{self, Op, Txn};
use crate::unitfile::Specifiers;
use crate::{interrupt, sandbox, unitpath, units};
use anyhow::{bail, Context, Result};
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// Make a sandbox for a service (-u) or a command (after --).
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  sandbox-service create -u apache2 web1\n  sandbox-service create -u nginx --explain site2\n  sandbox-service create -P mypkg tool1 -- /usr/bin/mytool --serve"
)]
pub struct Args {
    /// A service unit to run in the sandbox (".service" may be left out; "foo@" names a template). Repeatable.
    #[arg(short = 'u', long = "unit", value_name = "UNIT")]
    pub units: Vec<String>,
    /// Also clone the /etc and /var files of PACKAGE. Repeatable.
    #[arg(short = 'P', long = "package", value_name = "PACKAGE")]
    pub packages: Vec<String>,
    /// Copy the service's files into the sandbox (the default; kept for virt-sandbox-service users).
    #[arg(short = 'C', long)]
    pub copy: bool,
    /// SELinux labelling: dynamic (a unique pair), static,label=s0:cX,cY (or a full context), or inherit.
    #[arg(short = 's', long, value_name = "SECURITY", default_value = "dynamic")]
    pub security: String,
    /// Also make PATH (under /etc or /var) private, e.g. a web root that a
    /// maintainer script made. Created empty if absent. Repeatable.
    #[arg(short = 'p', long = "private", value_name = "PATH")]
    pub private: Vec<String>,
    /// The unit is your own, owned by no package: make private only what its
    /// directives and -p name.
    #[arg(long)]
    pub no_package: bool,
    /// Print each private path and why it is private.
    #[arg(long)]
    pub explain: bool,
    /// Plan only: print the plan and change nothing.
    #[arg(long, requires = "explain")]
    pub dry_run: bool,
    #[command(flatten)]
    pub container: ContainerArgs,
    /// The sandbox's name: [A-Za-z0-9_-], at most 64 characters.
    pub name: String,
    /// For a generic sandbox: the command to run, with its arguments.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// How the container is made; each is a key of the .sandbox file
/// (sandbox-service.sandbox(5)) that can be changed later.
#[derive(clap::Args, Debug, Default)]
pub struct ContainerArgs {
    /// host: the host's network (the default, unless the unit has
    /// PrivateNetwork=yes); none: loopback only; private: a network of its
    /// own with an address on the host's sandbox bridge and outbound access.
    #[arg(long, value_name = "host|none|private")]
    pub network: Option<String>,
    /// Run in a user namespace: root inside is a unique unprivileged range of
    /// 65536 host ids, which own the sandbox's files.
    #[arg(long)]
    pub private_users: bool,
    /// Add a capability to the default set (e.g. CAP_NET_RAW, for ping). Repeatable.
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop a capability from the default set (e.g. CAP_KILL). Repeatable.
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// MemoryMax= of the unit, e.g. 512M.
    #[arg(long, value_name = "BYTES")]
    pub memory: Option<String>,
    /// CPUQuota= of the unit, e.g. 50%.
    #[arg(long, value_name = "PERCENT")]
    pub cpu: Option<String>,
    /// TasksMax= of the unit, e.g. 256.
    #[arg(long, value_name = "N")]
    pub tasks: Option<String>,
    /// The only TCP ports the service may bind (Landlock): "auto" for the
    /// ports its configuration names (--explain lists them), "none", or
    /// numbers such as 80,443. Unrestricted when not given.
    #[arg(long, value_name = "auto|none|PORTS")]
    pub bind_ports: Option<String>,
    /// The only TCP ports the service may connect to (Landlock): "none" or
    /// numbers such as 5432,6379. Unrestricted when not given.
    #[arg(long, value_name = "none|PORTS")]
    pub connect_ports: Option<String>,
    /// With --network private: forward the host's port to the sandbox's,
    /// [ADDR:]HOSTPORT:PORT[/tcp|/udp] (e.g. 8081:80). Repeatable.
    #[arg(long, value_name = "[ADDR:]HOSTPORT:PORT[/PROTO]")]
    pub publish: Vec<String>,
    /// With --publish: the published TCP ports are systemd sockets, and the
    /// sandbox starts on the first connection to one of them.
    #[arg(long)]
    pub socket_activate: bool,
    /// With --socket-activate: stop the sandbox again after this many
    /// seconds without a connection.
    #[arg(long, value_name = "SECONDS")]
    pub idle_stop: Option<u32>,
    /// Offer the service's unix socket PATH (under /run) on the host at
    /// HOSTPATH while it runs, with the owner and mode the service gave
    /// it, e.g. /run/php/site1.sock:/run/php/php8.2-fpm.sock. Repeatable.
    #[arg(long, value_name = "HOSTPATH:PATH")]
    pub publish_socket: Vec<String>,
}

impl ContainerArgs {
    pub fn to_container(&self) -> Result<config::Container> {
        let c = config::Container {
            network: match self.network.as_deref() {
                None | Some("host") => config::Network::Host,
                Some("none") => config::Network::None,
                Some("private") => config::Network::Private,
                Some(n) => bail!("--network {n}: use host, none or private"),
            },
            // Allocated under the state lock, with the label.
            private_users: None,
            caps_add: self.cap_add.clone(),
            caps_drop: self.cap_drop.clone(),
            memory: self.memory.clone(),
            cpu: self.cpu.clone(),
            tasks: self.tasks.clone(),
            tmpfs: Default::default(),
            // "auto" is filled from the plan by create.
            bind_ports: match self.bind_ports.as_deref() {
                None | Some("auto") => None,
                Some(v) => config::parse_ports("--bind-ports", v)?,
            },
            connect_ports: config::parse_ports("--connect-ports", self.connect_ports.as_deref().unwrap_or(""))?,
            // Allocated under the state lock, with the label.
            address: None,
            publish: self.publish.iter().map(|p| p.parse()).collect::<Result<_>>()?,
            socket_activate: self.socket_activate,
            idle_stop: self.idle_stop,
            publish_sockets: crate::unixsocket::parse_list(&self.publish_socket.join(" "))?,
        };
        c.validate()?;
        Ok(c)
    }
}

pub fn run(layout: &Layout, a: Args, quiet: bool) -> Result<()> {
    check_sandbox_name(&a.name)?;
    let security: Security = a.security.parse()?;
    let mut container = a.container.to_container()?;
    let payload = match (a.units.is_empty(), a.command.is_empty()) {
        (true, true) => bail!("nothing to run: name a service with -u UNIT, or a command after --"),
        (false, false) => bail!("give either -u UNIT or a command after --, not both"),
        (false, true) => {
            Payload::Services(a.units.iter().map(|u| ServiceName::parse(u).map(|s| s.unit)).collect::<Result<_>>()?)
        }
        (true, false) => {
            if !a.command[0].starts_with('/') {
                bail!("command '{}' must be an absolute path (e.g. /usr/bin/{})", a.command[0], a.command[0]);
            }
            Payload::Command(a.command.clone())
        }
    };
    let mut payload = payload;
    let plan = make_plan(layout, &a, &payload)?;
    // The services the units pull in run with them, after them.
    let pulled: Vec<String> = plan.pulled.iter().map(|n| n.path.clone()).collect();
    if let Payload::Services(s) = &mut payload {
        s.extend(pulled.iter().cloned());
    }
    let unit = units::unit_name(&a.name, &payload, &pulled)?;
    // What the units ask of the container, unless the command line said.
    let mut private_users = a.container.private_users;
    for n in &plan.container {
        match n.path.as_str() {
            "network=none" if a.container.network.is_none() => container.network = config::Network::None,
            "private-users" => private_users = true,
            _ => {}
        }
    }
    if a.container.bind_ports.as_deref() == Some("auto") {
        if plan.ports.is_empty() {
            bail!("--bind-ports auto: the configuration of the service's packages names no TCP port; give the ports, e.g. --bind-ports 8080");
        }
        container.bind_ports = Some(plan.ports.iter().map(|p| p.port).collect());
    }
    if a.explain {
        print!("{}", super::explain(layout, &plan));
        println!("{}", super::describe::ports_line("bind", &container.bind_ports, !plan.ports.is_empty()));
        println!("{}", super::describe::ports_line("connect", &container.connect_ports, false));
        println!("network: {}", super::describe::network_line(&container));
        for l in super::describe::socket_lines(&a.name, &container) {
            println!("{l}");
        }
    }
    if container.network == config::Network::Private {
        if let Some(n) =
            std::fs::read_to_string(layout.host("/etc/resolv.conf")).ok().and_then(|t| crate::network::resolv_note(&t))
        {
            eprintln!("note: {n}");
        }
    }
    if a.dry_run {
        return Ok(());
    }

    interrupt::install()?;
    let _lock = state::lock(layout)?;
    sandbox::check_unused(layout, &a.name, &unit)?;
    if layout.is_live() {
        // Nothing lost: a database being written is not copied as if at rest.
        let tops: Vec<std::path::PathBuf> = plan.clones().map(|p| layout.host(&p.path)).collect();
        if let Some(w) = crate::livestate::writers(&tops).first() {
            let top = tops.iter().find(|t| w.path.starts_with(t)).cloned().unwrap_or_default();
            bail!("{}", crate::livestate::refusal(w, &top));
        }
    }
    let configs = config::load_all(layout)?;
    let label = sandbox::choose_label(&security, &configs)?;
    if private_users {
        container.private_users = Some(sandbox::choose_id_range(layout, &configs)?);
    }
    if container.network == config::Network::Private {
        container.address = Some(sandbox::choose_address(&configs)?);
    }
    if layout.is_live() {
        sandbox::check_published(&container.publish, &configs)?;
    }
    sandbox::check_published_sockets(layout, &container.publish_sockets, &configs)?;
    let cfg = SandboxConfig {
        name: a.name.clone(),
        unit,
        payload,
        pulled,
        packages: plan.packages.iter().map(|p| p.name.clone()).collect(),
        security,
        label,
        created: sandbox::now(),
        container,
    };

    let txn = Txn::begin(layout, &a.name, Op::Create)?;
    // The keys are made while the tree is copied.
    let keys = crate::plan::keys::start_all(&plan.keys, txn.work_dir(), &cfg.name)?;
    let built = txn.work_dir().join("state");
    fs::DirBuilder::new().mode(0o700).create(&built)?;
    let tree = built.join(TREE);
    fs::DirBuilder::new().mode(0o755).create(&tree)?;
    let stats = clone_plan(layout, &plan, &tree)?;
    // What the sandbox got, for upgrade's merges and diff (the id shift
    // and the label change no content): measured while the keys are made,
    // and the keys' files once they are.
    let baseline = crate::pristine::record_unwritten(&plan, &tree, &built)?;
    let mut made = Vec::new();
    for k in keys {
        made.extend(k.finish(layout, &tree, None)?);
    }
    crate::pristine::record_made(&plan, &tree, &built, baseline, &made)?;
    if let Some(base) = cfg.container.private_users {
        crate::runtime::userns::shift_tree(&tree, 0, base)?;
    }
    let label_note = label::label_tree(&tree, cfg.label.as_ref())?;
    Manifest { plan: plan.clone(), stats: stats.clone(), label_note: label_note.clone(), cloned_from: None }
        .write(&built.join(MANIFEST))?;
    sandbox::commit_new(txn, layout, &cfg, &built)?;
    drop(_lock);

    sandbox::announce_new(layout, &cfg);
    if !quiet {
        println!(
            "created sandbox {}: unit {}, {} private paths ({} files, {} dirs, {} links), label {}",
            cfg.name,
            cfg.unit,
            plan.private.len(),
            stats.files,
            stats.dirs,
            stats.symlinks,
            label_note
        );
        if !stats.skipped.is_empty() {
            println!("not copied (sockets, fifos, devices): {}", stats.skipped.join(" "));
        }
        let sockets = units::activated_sockets(&cfg);
        if sockets.is_empty() {
            println!("start it with: systemctl start {}", cfg.unit);
        } else {
            println!("open its ports with: systemctl start {} (it starts on the first connection)", sockets.join(" "));
        }
    }
    Ok(())
}

fn make_plan(layout: &Layout, a: &Args, payload: &Payload) -> Result<Plan> {
    let services = match payload {
        Payload::Services(s) => s.clone(),
        Payload::Command(_) => Vec::new(),
    };
    if services.is_empty() && a.packages.is_empty() {
        // A command sandbox with no package: no database to open.
        return plan::build(layout, None, &[], &[], &a.private);
    }
    let mut resolved = Vec::new();
    for s in &services {
        resolved.push(unitpath::resolve(layout, &ServiceName::parse(s)?)?);
    }
    let dbs = Databases::open_for_plan(layout)?;
    let primary: Vec<UnitInput> = resolved.iter().map(|u| input(u, &a.name)).collect();
    let packages = plan::resolve_packages(&dbs, &primary, &a.packages, a.no_package)?;
    drop(primary);
    // What starting the units starts too: the services they pull in that
    // the same packages own (a package's "master" unit and its instances).
    let ours: std::collections::BTreeSet<String> = packages.iter().map(|(p, _)| p.name.clone()).collect();
    let mut pulled = Vec::new();
    let mut i = 0;
    while i < resolved.len() {
        for dep in unitpath::pulled_services(layout, &resolved[i]) {
            if resolved.iter().any(|r| r.name.unit == dep) {
                continue;
            }
            let Ok(r) = ServiceName::parse(&dep).and_then(|n| unitpath::resolve(layout, &n)) else { continue };
            let owners = plan::unit_owners(&dbs, &r)?;
            if let Some(pkg) = owners.iter().map(|o| &o.name).find(|o| ours.contains(*o)) {
                pulled.push(plan::Note {
                    path: dep.clone(),
                    why: format!("pulled in by {}, of package {pkg} too", resolved[i].name.unit),
                });
                resolved.push(r);
            }
        }
        i += 1;
    }
    let inputs: Vec<UnitInput> = resolved.iter().map(|u| input(u, &a.name)).collect();
    // What the shim will make of each unit, said now rather than at start.
    for i in &inputs {
        crate::shim::service::Service::from_unit(&i.spec.unit, &i.unit.text(layout)?, &i.spec)?;
    }
    let mut plan = plan::build(layout, Some(&dbs), &inputs, &packages, &a.private)?;
    plan.pulled = pulled;
    Ok(plan)
}

/// A unit as sandbox `name` runs it, with its specifiers.
fn input<'a>(u: &'a unitpath::ResolvedUnit, name: &str) -> UnitInput<'a> {
    let (unit, instance) = u.name.running_as(name);
    UnitInput { unit: u, spec: Specifiers { unit, instance, hostname: name.to_string() } }
}

/// Copies every private path of `plan` from the tree into `tree`, once it
/// is known to fit.
pub fn clone_plan(layout: &Layout, plan: &Plan, tree: &Path) -> Result<Stats> {
    let root = layout.root();
    let keep = |p: &Path| {
        let inside = Path::new("/").join(p.strip_prefix(root).unwrap_or(p));
        crate::secrets::secret(&inside.to_string_lossy()).is_none()
    };
    let mut need = Need::default();
    for p in plan.clones().filter(|p| p.kind != Kind::EmptyDir) {
        let n = clone::measure(&layout.host(&p.path))?;
        need.bytes += n.bytes;
        need.inodes += n.inodes;
    }
    clone::check_room(need, tree)?;
    let mut copier = Copier::new(&keep, "copying the private paths");
    for p in plan.clones() {
        interrupt::check()?;
        let rel = Path::new(p.path.trim_start_matches('/'));
        clone::make_parents(root, tree, rel)?;
        let dst = tree.join(rel);
        match p.kind {
            Kind::EmptyDir => {
                fs::DirBuilder::new().mode(0o755).create(&dst).with_context(|| format!("creating {}", dst.display()))?
            }
            Kind::Dir | Kind::File | Kind::Symlink => copier.copy(&layout.host(&p.path), &dst)?,
            Kind::Runtime | Kind::Key => unreachable!("clones() leaves runtime paths and keys out"),
        }
    }
    Ok(copier.stats)
}
