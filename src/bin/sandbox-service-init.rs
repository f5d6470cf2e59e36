//! sandbox-service-init: PID 1 of a sandbox, started by `sandbox-service
//! run`. See sandbox-service-init(8).
//!
//! Usage: sandbox-service-init --name NAME [--seccomp FILE] [--tmpfiles FILE] [--unit FILE]... [--pulled FILE]... [-- COMMAND ARGS...]

use anyhow::{bail, Context, Result};
use sandbox_service::shim::service::{Service, Type};
use sandbox_service::shim::Shim;
use sandbox_service::unitfile::Specifiers;

fn main() {
    match real_main() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("sandbox-service-init: error: {e:#}");
            std::process::exit(1);
        }
    }
}

fn real_main() -> Result<i32> {
    let mut args = std::env::args().skip(1);
    let (mut name, mut units, mut command, mut tmpfiles) = (None, Vec::new(), Vec::new(), None);
    // An exported sandbox (sandbox-service export): no runtime of ours
    // made the Landlock domain, so the shim makes it for itself.
    let (mut writable, mut bind, mut connect): (Option<Vec<String>>, Option<String>, Option<String>) =
        (None, None, None);
    let mut seed: Option<String> = None;
    let mut seccomp: Option<String> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--name" => name = args.next(),
            "--unit" => units.push((args.next().context("--unit needs a file")?, false)),
            "--pulled" => units.push((args.next().context("--pulled needs a file")?, true)),
            "--tmpfiles" => tmpfiles = Some(args.next().context("--tmpfiles needs a file")?),
            "--landlock-writable" => {
                writable =
                    Some(args.next().context("--landlock-writable needs paths")?.split(':').map(String::from).collect())
            }
            "--bind-ports" => bind = Some(args.next().context("--bind-ports needs ports")?),
            "--connect-ports" => connect = Some(args.next().context("--connect-ports needs ports")?),
            "--seed-var" => seed = Some(args.next().context("--seed-var needs a directory")?),
            "--seccomp" => seccomp = Some(args.next().context("--seccomp needs a file")?),
            "--" => command.extend(args.by_ref()),
            other => bail!("unknown argument '{other}'"),
        }
    }
    if let Some(dir) = seed {
        return seed_var(&dir);
    }
    let name = name.context("--name is required")?;
    if std::process::id() != 1 {
        bail!("must run as PID 1 of a sandbox (started by sandbox-service run)");
    }
    if let Some(w) = writable {
        use sandbox_service::runtime::confine;
        let bind = bind.map(|b| sandbox_service::config::parse_ports("bind-ports", &b)).transpose()?.flatten();
        let connect = connect.map(|c| sandbox_service::config::parse_ports("connect-ports", &c)).transpose()?.flatten();
        let ports = confine::Ports { bind: bind.as_deref(), connect: connect.as_deref() };
        let mut applied = confine::Applied::default();
        confine::landlock(&w, confine::Role::Init.scopes(), &ports, &mut applied)?;
        for n in &applied.notes {
            eprintln!("sandbox-service-init: {name}: {n}");
        }
    }
    // The sandbox's own filter, stacked on the engine's: the kernel runs
    // both and the stricter answer wins, so the rules hold whatever the
    // engine made of their OCI rendering. Last, as `run` loads it.
    if let Some(f) = seccomp {
        use sandbox_service::runtime::seccomp;
        nix::sys::prctl::set_no_new_privs().context("setting no_new_privs before the seccomp filter")?;
        seccomp::load(&seccomp::read(std::path::Path::new(&f))?)?;
    }
    let mut services = Vec::new();
    for (path, pulled) in &units {
        let unit =
            std::path::Path::new(path).file_name().and_then(|f| f.to_str()).context("bad unit path")?.to_string();
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        let instance =
            unit.split_once('@').map(|(_, r)| r.trim_end_matches(".service").to_string()).unwrap_or_default();
        let spec = Specifiers { unit: unit.clone(), instance, hostname: name.clone() };
        let mut svc = Service::from_unit(&unit, &text, &spec)?;
        svc.pulled = *pulled;
        // The unit's own seccomp restrictions, compiled at create.
        if let Ok(b) = std::fs::read(format!("{path}.seccomp")) {
            svc.filters = sandbox_service::runtime::unitseccomp::decode(&b)?;
        }
        services.push(svc);
    }
    if !command.is_empty() {
        services.push(Service::from_command(&command)?);
    }
    let services = sandbox_service::shim::service::start_order(services);
    if services.is_empty() {
        bail!("nothing to run: give --unit or a command");
    }
    let host_fd = std::env::var("SANDBOX_NOTIFY_FD").ok().and_then(|v| v.parse().ok());
    std::env::remove_var("SANDBOX_NOTIFY_FD");
    let want_notify = services.iter().any(|s| s.kind == Type::Notify);
    let mut shim = Shim::new(host_fd, want_notify)?;
    if let Some(conf) = tmpfiles {
        shim.apply_tmpfiles(&conf)?;
    }
    shim.run(services)
}

/// Marks a volume seeded with the image's /var.
const SEEDED: &str = ".sandbox-service-seeded";

/// `--seed-var DIR`: an exported Pod's init container. A Kubernetes
/// volume starts empty where podman copies the image's content into it:
/// copies the image's /var into DIR once, keeping owners, modes and
/// times, so the service finds its /var as the sandbox had it.
fn seed_var(dir: &str) -> Result<i32> {
    let dir = std::path::Path::new(dir);
    if dir.join(SEEDED).exists() {
        println!("sandbox-service-init: {} already seeded", dir.display());
        return Ok(0);
    }
    let keep = |_: &std::path::Path| true;
    let mut copier = sandbox_service::clone::Copier::new(&keep, "seeding /var");
    let mut names: Vec<_> =
        std::fs::read_dir("/var").context("reading /var")?.flatten().map(|e| e.file_name()).collect();
    names.sort();
    for n in names {
        let to = dir.join(&n);
        // What podman's copy-up put there already stays.
        if to.symlink_metadata().is_ok() {
            continue;
        }
        copier.copy(&std::path::Path::new("/var").join(&n), &to)?;
    }
    std::fs::write(dir.join(SEEDED), b"").with_context(|| format!("marking {}", dir.display()))?;
    println!("sandbox-service-init: seeded {} with /var ({} files)", dir.display(), copier.stats.files);
    Ok(0)
}
