//! What create, clone and delete share: which names are taken, which labels
//! are used, which unit files a sandbox has, and telling systemd.

use crate::config::{Payload, SandboxConfig};
use crate::label::{self, McsLabel, Security};
use crate::layout::Layout;
use crate::names::ServiceName;
use crate::state::Txn;
use crate::{interrupt, systemd, unitpath, units};
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Refuses a name or unit that is taken. Called with the state lock held.
pub fn check_unused(layout: &Layout, name: &str, unit: &str) -> Result<()> {
    if layout.config_file(name).exists() {
        bail!("sandbox '{name}' already exists: choose another name, or remove it with sandbox-service delete {name}");
    }
    if layout.state_dir(name).exists() {
        bail!(
            "{} exists but no sandbox '{name}' is configured: move it away or choose another name",
            layout.state_dir(name).display()
        );
    }
    if unitpath::exists(layout, unit) {
        bail!("a unit named {unit} already exists: choose another sandbox name");
    }
    Ok(())
}

/// The label a new sandbox gets: a fresh pair, the static one if no other
/// sandbox has it, or none. Called with the state lock held.
pub fn choose_label(security: &Security, configs: &[SandboxConfig]) -> Result<Option<McsLabel>> {
    match security {
        Security::Dynamic => {
            let used: BTreeSet<McsLabel> = configs.iter().filter_map(|c| c.label).collect();
            Ok(Some(label::allocate(&used)?))
        }
        Security::Static { label, .. } => match configs.iter().find(|c| c.label.as_ref() == Some(label)) {
            Some(other) => {
                bail!("label {label} is already used by sandbox '{}': choose another, or use -s dynamic", other.name)
            }
            None => Ok(Some(*label)),
        },
        Security::Inherit => Ok(None),
    }
}

/// A free base of 65536 host ids for a sandbox in a user namespace, clear
/// of other sandboxes and of the host's /etc/subuid and /etc/subgid.
/// Called with the state lock held.
/// An address of the private network's pool no other sandbox has; called
/// under the state lock, as the label is.
pub fn choose_address(configs: &[SandboxConfig]) -> Result<std::net::Ipv4Addr> {
    let taken: Vec<std::net::Ipv4Addr> = configs.iter().filter_map(|c| c.container.address).collect();
    crate::network::allocate(&taken)
}

/// Refuses a published host port another sandbox publishes or a host
/// process holds, naming the holder; under the state lock.
pub fn check_published(list: &[crate::network::publish::Publish], configs: &[SandboxConfig]) -> Result<()> {
    for p in list {
        if let Some((c, q)) =
            configs.iter().find_map(|c| c.container.publish.iter().find(|q| q.clashes(p)).map(|q| (c, q)))
        {
            bail!("publish {p}: sandbox '{}' publishes {q} already: choose another host port", c.name);
        }
        if let Some(h) = p.holder() {
            bail!("publish {p}: the host's port {} is held by {h}: choose another host port", p.host_port);
        }
    }
    Ok(())
}

/// Refuses a host path for a published socket that another sandbox
/// publishes or that exists on the host; under the state lock.
pub fn check_published_sockets(
    layout: &Layout,
    list: &[crate::unixsocket::SocketPublish],
    configs: &[SandboxConfig],
) -> Result<()> {
    for p in list {
        if let Some(c) = configs.iter().find(|c| c.container.publish_sockets.iter().any(|q| q.host == p.host)) {
            bail!("publish-socket {p}: sandbox '{}' publishes {} already: choose another host path", c.name, p.host);
        }
        if std::fs::symlink_metadata(layout.host(&p.host)).is_ok() {
            bail!(
                "publish-socket {p}: {} exists on the host (a host service's socket?): choose another host path",
                p.host
            );
        }
    }
    Ok(())
}

pub fn choose_id_range(layout: &Layout, configs: &[SandboxConfig]) -> Result<u32> {
    use crate::runtime::userns;
    let used: BTreeSet<u32> = configs.iter().filter_map(|c| c.container.private_users).collect();
    let mut taken = Vec::new();
    for f in ["/etc/subuid", "/etc/subgid"] {
        taken.extend(userns::subid_ranges(&std::fs::read_to_string(layout.host(f)).unwrap_or_default()));
    }
    userns::allocate(&used, &taken)
}

/// The sandbox filter as BPF. It is the same for every sandbox, and
/// libseccomp takes about half of a command sandbox's create to compile
/// it: compiled once per build of the program and of libseccomp, and kept
/// (memo.rs) beside the state, which only root may write.
fn compiled_filter(layout: &Layout) -> Result<Vec<u8>> {
    use crate::runtime::seccomp;
    let mut memo = crate::memo::Memo::<Vec<u8>>::open(&layout.state_base().join(".seccomp.memo"));
    let v = libseccomp::ScmpVersion::current().context("seccomp: libseccomp's version")?;
    let key = format!("libseccomp {}.{}.{} {:?}", v.major, v.minor, v.micro, seccomp::rules());
    let bpf = memo.get(key, |_| seccomp::compile())?;
    memo.save();
    Ok(bpf)
}

/// Stages the units and the state directory `built`, and commits.
/// The seccomp filter is stored here, once, so starting only loads it.
pub fn commit_new(mut txn: Txn, layout: &Layout, cfg: &SandboxConfig, built: &Path) -> Result<()> {
    let bpf = compiled_filter(layout)?;
    std::fs::write(built.join(crate::runtime::seccomp::FILE), bpf).context("storing the seccomp filter")?;
    crate::runtime::unitseccomp::store(layout, cfg, built)?;
    stage_units(&mut txn, layout, cfg)?;
    txn.stage_dir(built, &layout.state_dir(&cfg.name))?;
    interrupt::check()?;
    txn.commit_create(&cfg.render())
}

/// The host services whose reload reaches this sandbox: for each service
/// it runs, `SVC.service` (for a template, the plain service) if it
/// exists, and an instance itself (`postgresql@15-main.service`).
pub fn reload_sources(layout: &Layout, cfg: &SandboxConfig) -> Result<Vec<String>> {
    let Payload::Services(s) = &cfg.payload else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for svc in s {
        let name = ServiceName::parse(svc)?;
        let mut cands = vec![format!("{}.service", name.prefix)];
        if let (Some(_), Some(t)) = (&name.instance, name.template_unit()) {
            if unitpath::exists(layout, &t) || unitpath::exists(layout, &name.unit) {
                cands.push(name.unit.clone());
            }
        }
        for host in cands {
            if (host == name.unit || unitpath::exists(layout, &host)) && !out.contains(&host) {
                out.push(host);
            }
        }
    }
    Ok(out)
}

/// The `units::INHERITED` settings of a single-service sandbox's unit, as
/// systemd would read them (drop-ins included). With several services
/// there is no one answer, and a command has no unit: none.
pub fn inherited_settings(layout: &Layout, cfg: &SandboxConfig) -> Vec<(String, String)> {
    let Some(svc) = cfg.single_service() else { return Vec::new() };
    let Ok(unit) = ServiceName::parse(svc).and_then(|n| unitpath::resolve(layout, &n)) else { return Vec::new() };
    units::INHERITED
        .iter()
        .filter_map(|k| unit.file.get("Service", k).filter(|v| !v.is_empty()).map(|v| (k.to_string(), v.to_string())))
        .collect()
}

/// The unit binary path the units call: this very program.
pub fn exe() -> Result<String> {
    Ok(std::env::current_exe()?.to_string_lossy().into_owned())
}

/// Stages the sandbox's units: its service, for a single-service sandbox
/// the `SVC-sandboxes.target` (if new) and its link in the target, and a
/// socket and proxy per socket-activated port (the target then wants the
/// sockets, not the service: starting it opens the ports).
pub fn stage_units(txn: &mut Txn, layout: &Layout, cfg: &SandboxConfig) -> Result<()> {
    let dir = layout.unit_dir();
    let exe = exe()?;
    let text = units::render_service(cfg, &exe, &reload_sources(layout, cfg)?, &inherited_settings(layout, cfg))?;
    txn.stage_file(&dir.join(&cfg.unit), &text, 0o644)?;
    let proxied: Vec<_> = units::activated(cfg).into_iter().chain(units::loopback6(cfg)).collect();
    if !proxied.is_empty() || !cfg.container.publish_sockets.is_empty() {
        let Some(proxyd) = units::PROXYD.iter().find(|p| layout.host(p).is_file()) else {
            bail!("a published port or socket needs systemd-socket-proxyd, which is not in /usr/lib/systemd: install systemd's own package");
        };
        for p in &cfg.container.publish_sockets {
            let socket = units::unix_socket_name(&cfg.name, p);
            txn.stage_file(&dir.join(&socket), &units::render_unix_socket(cfg, p, &exe)?, 0o644)?;
            let proxy = units::proxy_of(&socket);
            txn.stage_file(&dir.join(proxy), &units::render_unix_proxy(cfg, p, proxyd)?, 0o644)?;
        }
        for p in &proxied {
            txn.stage_file(&dir.join(units::socket_name(&cfg.name, p)), &units::render_socket(cfg, p)?, 0o644)?;
            txn.stage_file(
                &dir.join(units::proxy_name(&cfg.name, p)),
                &units::render_proxy(cfg, p, &exe, proxyd)?,
                0o644,
            )?;
        }
    }
    if let Some(svc) = cfg.single_service() {
        let target = units::target_name(svc)?;
        if !dir.join(&target).exists() {
            txn.stage_file(&dir.join(&target), &units::render_target(svc)?, 0o644)?;
        }
        for u in wanted_by_target(cfg) {
            txn.stage_symlink(&dir.join(format!("{target}.wants")).join(&u), &format!("../{u}"))?;
        }
    }
    Ok(())
}

/// What `SVC-sandboxes.target` starts of the sandbox: its sockets when it
/// is socket-activated, else its service.
fn wanted_by_target(cfg: &SandboxConfig) -> Vec<String> {
    let sockets = units::activated_sockets(cfg);
    if sockets.is_empty() {
        vec![cfg.unit.clone()]
    } else {
        sockets
    }
}

/// The socket and proxy units sandbox `name` has in `dir`, found by
/// name rather than from its config: one edited or damaged since create
/// leaves none behind.
pub fn socket_unit_files(dir: &Path, name: &str) -> Vec<String> {
    let prefix = format!("sandbox-service-{name}@");
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.starts_with(&prefix) && (n.ends_with(".socket") || n.ends_with(".service")))
        .collect();
    out.sort();
    out
}

/// What deleting `cfg` removes: its files, and the directories to remove
/// if they end up empty. `others` are the remaining sandboxes.
pub fn owned_paths(
    layout: &Layout,
    cfg: &SandboxConfig,
    others: &[SandboxConfig],
) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let dir = layout.unit_dir();
    let mut paths = vec![dir.join(&cfg.unit), layout.state_dir(&cfg.name)];
    paths.extend(socket_unit_files(&dir, &cfg.name).iter().map(|u| dir.join(u)));
    let mut dirs = Vec::new();
    if let Some(svc) = cfg.single_service() {
        let target = units::target_name(svc)?;
        let wants = dir.join(format!("{target}.wants"));
        paths.push(wants.join(&cfg.unit));
        paths.extend(socket_unit_files(&wants, &cfg.name).iter().map(|u| wants.join(u)));
        dirs.push(wants);
        let shared = others.iter().any(|o| {
            o.name != cfg.name && o.single_service().is_some_and(|s| units::target_name(s).ok() == Some(target.clone()))
        });
        if !shared {
            paths.push(dir.join(&target));
        }
    }
    Ok((paths, dirs))
}

/// Makes systemd see a new sandbox's units, reloading only where it must.
/// A unit systemd holds nothing of is read from disk when first asked for
/// (systemd rebuilds its unit cache when a unit directory has changed), so
/// a new service, target, socket or proxy needs no reload; a `.wants` link
/// does when its target is loaded already, since systemd reads `.wants`
/// only when it loads the target. Each new unit is then loaded once to
/// make sure: one not found (a directory changed within the clock tick of
/// systemd's last look), or loaded before from another file, gets the
/// reload after all.
pub fn announce_new(layout: &Layout, cfg: &SandboxConfig) {
    if !layout.is_live() {
        return reload_systemd(layout);
    }
    let c = match systemd::connect() {
        Ok(c) => c,
        Err(why) => {
            eprintln!("note: {why}: units written; run systemctl daemon-reload once systemd runs");
            return;
        }
    };
    let why = (|| -> Result<Option<String>> {
        if let Some(svc) = cfg.single_service() {
            let target = units::target_name(svc)?;
            if systemd::load_state(&c, &target, false)?.is_some_and(|(state, _)| state == "loaded") {
                return Ok(Some(format!("{target} is loaded and reads its new .wants link only at a reload")));
            }
        }
        let dir = layout.unit_dir();
        let mut new = vec![cfg.unit.clone()];
        new.extend(socket_unit_files(&dir, &cfg.name));
        for u in &new {
            let ours = dir.join(u);
            match systemd::load_state(&c, u, true)? {
                Some((state, from)) if state == "loaded" && Path::new(&from) == ours => {}
                // Loaded before from elsewhere: an instance of the host's
                // template (apache2@.service) that someone asked for.
                Some((state, from)) => return Ok(Some(format!("{u} is {state} from {from:?}"))),
                None => return Ok(Some(format!("{u} is unknown to systemd"))),
            }
        }
        Ok(None)
    })();
    let why = match why {
        Ok(None) => return tracing::debug!("systemd sees the new units; no reload needed"),
        Ok(Some(why)) => why,
        Err(e) => format!("{e:#}"),
    };
    tracing::debug!("reloading systemd: {why}");
    reload_with(&c);
}

fn reload_with(c: &zbus::Connection) {
    match systemd::daemon_reload(c) {
        Ok(()) => tracing::debug!("systemd reloaded its units"),
        Err(e) => eprintln!("warning: {e:#}: run systemctl daemon-reload"),
    }
}

/// Asks systemd to reload units after a change, or says why it was not.
pub fn reload_systemd(layout: &Layout) {
    if !layout.is_live() {
        eprintln!("note: --root given: systemd was not asked to reload; it reads the units when that tree boots");
        return;
    }
    match systemd::connect() {
        Ok(c) => reload_with(&c),
        Err(why) => eprintln!("note: {why}: units written; run systemctl daemon-reload once systemd runs"),
    }
}

/// Refuses a sandbox that runs, in any way: its unit active, or a `run`
/// of it alive (started by hand, or by a unit systemd has lost track of).
/// The lock returned keeps it from starting until dropped. `what` says
/// what is done to it ("copied", "deleted").
pub fn hold_stopped(
    layout: &Layout,
    cfg: &SandboxConfig,
    what: &str,
) -> Result<Option<crate::runtime::control::RunLock>> {
    if let Some(st) = unit_state(layout, &cfg.unit)? {
        if systemd::is_running(&st) {
            bail!(
                "sandbox '{}' is running ({} is {st}): stop it first (systemctl stop {}), so that it is not {what} \
                 while it changes",
                cfg.name,
                cfg.unit,
                cfg.unit
            );
        }
    }
    if !layout.is_live() {
        // Nothing runs in an offline tree.
        return Ok(None);
    }
    match crate::runtime::control::try_run_lock(&cfg.name)? {
        Some(l) => Ok(Some(l)),
        None => bail!(
            "sandbox '{}' is running outside its unit (a sandbox-service run of it holds its lock): stop that \
             first, so that it is not {what} while it changes",
            cfg.name
        ),
    }
}

/// The sandbox's unit state if systemd can be asked, else None.
pub fn unit_state(layout: &Layout, unit: &str) -> Result<Option<String>> {
    if !layout.is_live() {
        return Ok(None);
    }
    match systemd::connect() {
        Ok(c) => Ok(Some(systemd::active_state(&c, unit)?)),
        Err(_) => Ok(None),
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
