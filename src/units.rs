//! The systemd units a sandbox gets, rendered from templates/.

use crate::config::{Payload, SandboxConfig};
use crate::names::ServiceName;
use anyhow::{bail, Result};

const SANDBOX_SERVICE: &str = include_str!("../templates/sandbox.service");
const SANDBOXES_TARGET: &str = include_str!("../templates/sandboxes.target");

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
}
