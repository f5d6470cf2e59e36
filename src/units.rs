//! The systemd units a sandbox gets, rendered from templates/.

use crate::config::{Payload, SandboxConfig};
use crate::names::ServiceName;
use crate::network::publish::Publish;
use crate::unixsocket::SocketPublish;
use anyhow::{bail, Result};

const SANDBOX_SERVICE: &str = include_str!("../templates/sandbox.service");
const SANDBOXES_TARGET: &str = include_str!("../templates/sandboxes.target");
const PROXY_SOCKET: &str = include_str!("../templates/proxy.socket");
const PROXY_SERVICE: &str = include_str!("../templates/proxy.service");
const UNIX_SOCKET: &str = include_str!("../templates/unix.socket");
const UNIX_PROXY: &str = include_str!("../templates/unix-proxy.service");

/// Where systemd keeps its socket proxy (Debian: /lib, merged or not).
pub const PROXYD: &[&str] = &["/usr/lib/systemd/systemd-socket-proxyd", "/lib/systemd/systemd-socket-proxyd"];

/// The host unit of a sandbox: `SVC@NAME.service` for one service, so the
/// package's own `SVC@.service` still serves its other instances;
/// `NAME.service` for several services or a command.
pub fn unit_name(name: &str, payload: &Payload, pulled: &[String]) -> Result<String> {
    Ok(match payload {
        Payload::Services(s) if s.len() == 1 + pulled.len() => {
            format!("{}@{name}.service", ServiceName::parse(&s[0])?.prefix)
        }
        _ => format!("{name}.service"),
    })
}

/// `SVC-sandboxes.target` for a single-service sandbox.
pub fn target_name(service: &str) -> Result<String> {
    Ok(format!("{}-sandboxes.target", ServiceName::parse(service)?.prefix))
}

fn render(template: &str, vars: &[(&str, &str)]) -> Result<String> {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    if let Some(i) = out.find("{{") {
        bail!("template variable left unrendered near '{}'", &out[i..(i + 20).min(out.len())]);
    }
    Ok(out)
}

/// Quotes a path for an ExecStart= line when it needs it.
fn exec_path(p: &str) -> String {
    if p.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\' || c == '%' || c == '$') {
        format!("\"{}\"", p.replace('\\', "\\\\").replace('"', "\\\"").replace('%', "%%").replace('$', "$$"))
    } else {
        p.to_string()
    }
}

/// Settings of the service's own unit the sandbox's unit takes over: how
/// systemd restarts it is the package's decision, sandboxed or not; and
/// the process attributes that fork and exec pass on (limits, priorities,
/// affinity, OOM score), which systemd sets on `run` and so on everything
/// the container starts, as it would on the service itself.
pub const INHERITED: &[&str] = &[
    "Restart",
    "RestartSec",
    "RestartPreventExitStatus",
    "SuccessExitStatus",
    "LimitCPU",
    "LimitFSIZE",
    "LimitDATA",
    "LimitSTACK",
    "LimitCORE",
    "LimitRSS",
    "LimitNOFILE",
    "LimitAS",
    "LimitNPROC",
    "LimitMEMLOCK",
    "LimitLOCKS",
    "LimitSIGPENDING",
    "LimitMSGQUEUE",
    "LimitNICE",
    "LimitRTPRIO",
    "LimitRTTIME",
    "Nice",
    "OOMScoreAdjust",
    "CPUSchedulingPolicy",
    "CPUSchedulingPriority",
    "CPUSchedulingResetOnFork",
    "CPUAffinity",
    "NUMAPolicy",
    "NUMAMask",
    "IOSchedulingClass",
    "IOSchedulingPriority",
    "TimerSlackNSec",
    "CoredumpFilter",
    "Personality",
    "RestartForceExitStatus",
    "RuntimeMaxSec",
    "RuntimeRandomizedExtraSec",
    "OOMPolicy",
    "SyslogIdentifier",
    "SyslogFacility",
    "SyslogLevel",
    "SyslogLevelPrefix",
    "LogLevelMax",
    "LogExtraFields",
    "LogRateLimitIntervalSec",
    "LogRateLimitBurst",
];

/// The sandbox's service unit. `reload_from` lists the host services whose
/// reload propagates to it (only those that exist); `inherited` are
/// (key, value) pairs of `INHERITED` from the service's unit.
pub fn render_service(
    cfg: &SandboxConfig,
    exe: &str,
    reload_from: &[String],
    inherited: &[(String, String)],
) -> Result<String> {
    let mut relations = String::new();
    let description = match &cfg.payload {
        Payload::Services(s) => {
            if let Some(svc) = cfg.single_service() {
                relations.push_str(&format!("PartOf={}\n", target_name(svc)?));
            }
            for p in loopback6(cfg) {
                relations.push_str(&format!("Wants={}\n", socket_name(&cfg.name, &p)));
            }
            for p in &cfg.container.publish_sockets {
                relations.push_str(&format!("Wants={}\n", unix_socket_name(&cfg.name, p)));
            }
            if cfg.container.idle_stop.is_some() {
                // Its proxies need it; once the last one exits idle, nothing does.
                relations.push_str("StopWhenUnneeded=yes\n");
            }
            format!("{} in sandbox {}", s.join(" "), cfg.name)
        }
        Payload::Command(c) => format!("{} in sandbox {}", c.first().map_or("command", String::as_str), cfg.name),
    };
    for r in reload_from {
        relations.push_str(&format!("ReloadPropagatedFrom={r}\n"));
    }
    // systemd owns the cgroup: the limits are its settings.
    let mut limits = String::new();
    for (k, v) in inherited {
        limits.push_str(&format!("{k}={v}\n"));
    }
    for (key, v) in
        [("MemoryMax", &cfg.container.memory), ("CPUQuota", &cfg.container.cpu), ("TasksMax", &cfg.container.tasks)]
    {
        if let Some(v) = v {
            limits.push_str(&format!("{key}={v}\n"));
        }
    }
    render(
        SANDBOX_SERVICE,
        &[
            ("name", &cfg.name),
            ("description", &description),
            ("exec", &exec_path(exe)),
            ("relations", &relations),
            ("devices", &crate::runtime::devices::unit_settings()),
            ("hardening", &crate::unithardening::render(cfg, crate::unithardening::host_has_cgroup2())?),
            ("settings", &limits),
        ],
    )
}

/// The published ports that are systemd sockets: the TCP ones of a
/// socket-activated sandbox.
pub fn activated(cfg: &SandboxConfig) -> Vec<Publish> {
    cfg.container.socket_ports()
}

/// The socket unit of published port `p` of sandbox `name`; its proxy is
/// the service of the same name.
pub fn socket_name(name: &str, p: &Publish) -> String {
    match p.addr {
        Some(a) => format!("sandbox-service-{name}@{a}:{}.socket", p.host_port),
        None => format!("sandbox-service-{name}@{}.socket", p.host_port),
    }
}

pub fn proxy_name(name: &str, p: &Publish) -> String {
    proxy_of(&socket_name(name, p))
}

/// The service a socket unit starts: the one of the same name.
pub fn proxy_of(socket: &str) -> String {
    socket.replace(".socket", ".service")
}

/// The socket units of sandbox `cfg`'s socket-activated ports.
pub fn activated_sockets(cfg: &SandboxConfig) -> Vec<String> {
    activated(cfg).iter().map(|p| socket_name(&cfg.name, p)).collect()
}

/// The published TCP ports NAT cannot serve on the host's [::1] (IPv6
/// has no route_localnet), each as a [::1] socket that listens while the
/// sandbox runs, its proxy forwarding to the sandbox.
pub fn loopback6(cfg: &SandboxConfig) -> Vec<Publish> {
    let activated = cfg.container.socket_ports();
    cfg.container
        .publish
        .iter()
        .filter(|p| p.proto == crate::network::publish::Proto::Tcp && p.on_ipv6_loopback() && !activated.contains(p))
        .map(|p| Publish { addr: Some(std::net::Ipv6Addr::LOCALHOST.into()), ..*p })
        .collect()
}

/// The socket of port `p`: one of `activated` (listening whether or not
/// the sandbox runs: its first connection starts it) or of `loopback6`
/// (part of the running sandbox).
pub fn render_socket(cfg: &SandboxConfig, p: &Publish) -> Result<String> {
    let on_demand = activated(cfg).contains(p);
    let relations = match (on_demand, cfg.single_service()) {
        (true, Some(svc)) => format!("PartOf={}\n", target_name(svc)?),
        (true, None) => String::new(),
        // Listening only while it runs: gone when it stops, or dies.
        (false, _) => format!("BindsTo={u}\nAfter={u}\n", u = cfg.unit),
    };
    let listen = match p.addr {
        Some(std::net::IpAddr::V6(a)) => format!("[{a}]:{}", p.host_port),
        Some(a) => format!("{a}:{}", p.host_port),
        None => p.host_port.to_string(),
    };
    let (why, install) = if on_demand {
        ("the first connection starts the sandbox", "\n[Install]\nWantedBy=sockets.target\n")
    } else {
        ("IPv6 loopback, which no NAT rule reaches, while the sandbox runs", "")
    };
    render(
        PROXY_SOCKET,
        &[("name", &cfg.name), ("listen", &listen), ("relations", &relations), ("why", why), ("install", install)],
    )
}

/// The proxy service of port `p`: `proxyd` is systemd-socket-proxyd.
pub fn render_proxy(cfg: &SandboxConfig, p: &Publish, exe: &str, proxyd: &str) -> Result<String> {
    let Some(addr) = cfg.container.address else { bail!("sandbox {} has no address to forward to", cfg.name) };
    let idle = cfg.container.idle_stop.map(|s| format!("--exit-idle-time={s}s ")).unwrap_or_default();
    render(
        PROXY_SERVICE,
        &[
            ("name", &cfg.name),
            ("socket", &socket_name(&cfg.name, p)),
            ("unit", &cfg.unit),
            ("port", &p.port.to_string()),
            ("exec", &exec_path(exe)),
            ("proxyd", proxyd),
            ("idle", &idle),
            ("target", &format!("{addr}:{}", p.port)),
        ],
    )
}

/// The host socket of the service's `p`, and (as .service) its proxy.
pub fn unix_socket_name(name: &str, p: &SocketPublish) -> String {
    format!("sandbox-service-{name}@unix-{}.socket", crate::unixsocket::escape_path(&p.host))
}

pub fn render_unix_socket(cfg: &SandboxConfig, p: &SocketPublish, exe: &str) -> Result<String> {
    render(
        UNIX_SOCKET,
        &[("name", &cfg.name), ("unit", &cfg.unit), ("path", &p.path), ("host", &p.host), ("exec", &exec_path(exe))],
    )
}

pub fn render_unix_proxy(cfg: &SandboxConfig, p: &SocketPublish, proxyd: &str) -> Result<String> {
    render(
        UNIX_PROXY,
        &[
            ("name", &cfg.name),
            ("unit", &cfg.unit),
            ("socket", &unix_socket_name(&cfg.name, p)),
            ("path", &p.path),
            ("proxyd", proxyd),
            ("target", &p.seen_from_host(&cfg.name).to_string_lossy()),
        ],
    )
}

pub fn render_target(service: &str) -> Result<String> {
    render(SANDBOXES_TARGET, &[("service", service), ("target", &target_name(service)?)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::{McsLabel, Security};
    use crate::unitfile::UnitFile;

    fn cfg(payload: Payload) -> SandboxConfig {
        SandboxConfig {
            name: "web1".into(),
            unit: unit_name("web1", &payload, &[]).unwrap(),
            payload,
            pulled: vec![],
            packages: vec![],
            security: Security::Dynamic,
            label: Some(McsLabel::new(1, 2).unwrap()),
            created: 0,
            container: Default::default(),
        }
    }

    #[test]
    fn one_service_gets_an_instance_of_its_name() {
        let c = cfg(Payload::Services(vec!["apache2.service".into()]));
        assert_eq!(c.unit, "apache2@web1.service");
        let text = render_service(
            &c,
            "/usr/bin/sandbox-service",
            &["apache2.service".into()],
            &[("Restart".into(), "on-abort".into())],
        )
        .unwrap();
        let u = UnitFile::parse(&text).unwrap();
        assert_eq!(u.get("Service", "ExecStart"), Some("/usr/bin/sandbox-service run web1"));
        assert_eq!(u.get("Unit", "ReloadPropagatedFrom"), Some("apache2.service"));
        assert_eq!(u.get("Unit", "PartOf"), Some("apache2-sandboxes.target"));
        assert_eq!(u.get("Install", "WantedBy"), Some("multi-user.target"));
        assert_eq!(u.get("Service", "Type"), Some("notify"));
        assert_eq!(u.get("Service", "MemoryMax"), None);
        assert_eq!(u.get("Service", "Restart"), Some("on-abort"));
        assert_eq!(u.get("Service", "DevicePolicy"), Some("closed"));
        assert!(u.get_all("Service", "DeviceAllow").contains(&"/dev/null rw"));
        let mut limited = c.clone();
        limited.container.memory = Some("256M".into());
        limited.container.tasks = Some("32".into());
        let u = UnitFile::parse(&render_service(&limited, "/b", &[], &[]).unwrap()).unwrap();
        assert_eq!(u.get("Service", "MemoryMax"), Some("256M"));
        assert_eq!(u.get("Service", "TasksMax"), Some("32"));
        assert_eq!(u.get("Service", "CPUQuota"), None);
        let t = UnitFile::parse(&render_target("apache2.service").unwrap()).unwrap();
        assert_eq!(t.get("Unit", "Description"), Some("Every sandbox of apache2.service"));
    }

    #[test]
    fn several_services_or_a_command_get_the_sandbox_name() {
        let c = cfg(Payload::Services(vec!["a.service".into(), "b.service".into()]));
        assert_eq!(c.unit, "web1.service");
        let u =
            UnitFile::parse(&render_service(&c, "/x y/bin", &["a.service".into(), "b.service".into()], &[]).unwrap())
                .unwrap();
        assert_eq!(u.get_all("Unit", "ReloadPropagatedFrom"), vec!["a.service", "b.service"]);
        assert_eq!(u.get("Unit", "PartOf"), None);
        assert_eq!(u.get("Service", "ExecStart"), Some("\"/x y/bin\" run web1"));
        assert_eq!(cfg(Payload::Command(vec!["/bin/true".into()])).unit, "web1.service");
        assert_eq!(unit_name("w", &Payload::Services(vec!["nginx@.service".into()]), &[]).unwrap(), "nginx@w.service");
    }

    #[test]
    fn socket_activated_ports_get_a_socket_and_a_waiting_proxy() {
        let mut c = cfg(Payload::Services(vec!["apache2.service".into()]));
        c.container.network = crate::config::Network::Private;
        c.container.address = Some("10.89.0.7".parse().unwrap());
        c.container.publish = crate::network::publish::parse_list("8081:80 127.0.0.1:8443:443 5353:53/udp").unwrap();
        assert!(activated(&c).is_empty());
        c.container.socket_activate = true;
        c.container.idle_stop = Some(5);
        let ps = activated(&c);
        assert_eq!(ps.len(), 2, "UDP stays NAT: systemd-socket-proxyd is TCP only");
        assert_eq!(socket_name("web1", &ps[0]), "sandbox-service-web1@8081.socket");
        assert_eq!(proxy_name("web1", &ps[1]), "sandbox-service-web1@127.0.0.1:8443.service");
        let s = UnitFile::parse(&render_socket(&c, &ps[1]).unwrap()).unwrap();
        assert_eq!(s.get("Socket", "ListenStream"), Some("127.0.0.1:8443"));
        assert_eq!(s.get("Unit", "PartOf"), Some("apache2-sandboxes.target"));
        let p = UnitFile::parse(&render_proxy(&c, &ps[0], "/usr/bin/sandbox-service", PROXYD[0]).unwrap()).unwrap();
        assert_eq!(p.get("Unit", "BindsTo"), Some("apache2@web1.service"));
        assert_eq!(p.get("Unit", "Requires"), Some("sandbox-service-web1@8081.socket"));
        assert_eq!(p.get("Service", "ExecStartPre"), Some("+/usr/bin/sandbox-service wait-listen web1 80"));
        assert_eq!(
            p.get("Service", "ExecStart"),
            Some("/usr/lib/systemd/systemd-socket-proxyd --exit-idle-time=5s 10.89.0.7:80")
        );
        let u = UnitFile::parse(&render_service(&c, "/b", &[], &[]).unwrap()).unwrap();
        assert_eq!(u.get("Unit", "StopWhenUnneeded"), Some("yes"));
        assert_eq!(u.get("Unit", "Wants"), None, "every TCP port is a socket already");

        c.container.socket_activate = false;
        c.container.idle_stop = None;
        let l = loopback6(&c);
        assert_eq!(l.len(), 1, "8081:80 is on every address, [::1] included; 127.0.0.1:8443 is not");
        assert_eq!(socket_name("web1", &l[0]), "sandbox-service-web1@::1:8081.socket");
        let s = UnitFile::parse(&render_socket(&c, &l[0]).unwrap()).unwrap();
        assert_eq!(s.get("Socket", "ListenStream"), Some("[::1]:8081"));
        assert_eq!(s.get("Unit", "BindsTo"), Some("apache2@web1.service"));
        assert_eq!(s.get("Install", "WantedBy"), None);
        let u = UnitFile::parse(&render_service(&c, "/b", &[], &[]).unwrap()).unwrap();
        assert_eq!(u.get("Unit", "Wants"), Some("sandbox-service-web1@::1:8081.socket"));
        assert_eq!(u.get("Unit", "StopWhenUnneeded"), None);
    }
}
