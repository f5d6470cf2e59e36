//! A Kubernetes Pod for the exported image (what `podman kube play` and
//! a kubelet run), its securityContext carrying the sandbox's
//! confinement, and a PersistentVolumeClaim for the sandbox's /var.

use super::ExportPlan;
use anyhow::Result;
use serde_json::json;

/// The profile's file name, written beside the Pod and the image; a
/// kubelet looks for it beneath its seccomp root (/var/lib/kubelet/seccomp;
/// podman kube play --seccomp-profile-root DIR).
pub fn profile_name(plan: &ExportPlan) -> String {
    format!("{}.seccomp.json", plan.name)
}

/// A Pod's name: DNS-1123 (lower case, digits, '-').
fn dns_name(s: &str) -> String {
    let mut n: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    n = n.trim_matches('-').to_string();
    if n.is_empty() {
        n = "sandbox".into();
    }
    n.truncate(63);
    n
}

pub fn yaml(plan: &ExportPlan, image: &str) -> Result<String> {
    let name = dns_name(&plan.name);
    let var_claim = format!("{name}-var");
    let tmpfs_limit = |dir: &str| {
        plan.tmpfs
            .get(dir)
            .and_then(|o| o.split(',').find_map(|kv| kv.strip_prefix("size=")))
            .filter(|s| !s.ends_with('%'))
            .map(|s| format!("{}i", s.to_ascii_uppercase()))
    };
    let empty_dir = |dir: &str| match tmpfs_limit(dir) {
        Some(l) => json!({"medium": "Memory", "sizeLimit": l}),
        None => json!({"medium": "Memory"}),
    };
    let ports: Vec<serde_json::Value> =
        plan.ports.iter().map(|p| json!({"containerPort": p, "protocol": "TCP"})).collect();
    let mut container = json!({
        "name": name,
        "image": image,
        "securityContext": {
            "capabilities": {"drop": ["ALL"], "add": plan.caps},
            "allowPrivilegeEscalation": false,
            "privileged": false,
            "readOnlyRootFilesystem": true,
            "runAsUser": 0,
            "seccompProfile": {"type": "Localhost", "localhostProfile": profile_name(plan)},
        },
        "volumeMounts": [
            {"name": "var", "mountPath": "/var"},
            {"name": "run", "mountPath": "/run"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    });
    // On the node's network the ports are the node's: a list would be
    // port mappings to podman, which refuses them there.
    if !ports.is_empty() && plan.network != "host" {
        container["ports"] = json!(ports);
    }
    // Readiness as the sandbox knows it: the service's port answering
    // (a Type=notify service's READY=1 reaches only the shim).
    if let Some(p) = plan.ports.first() {
        container["readinessProbe"] = json!({"tcpSocket": {"port": p}, "periodSeconds": 2, "failureThreshold": 30});
    }
    // A kubelet's volume starts empty: the shim seeds it with the image's
    // /var first (podman's copy-up, which fills a new named volume, makes
    // it a no-op there only for what it copied).
    let mut init = container.clone();
    init["name"] = json!(format!("{name}-seed-var"));
    init["command"] = json!([super::INIT_NAME, "--seed-var", "/mnt/var"]);
    init["volumeMounts"] = json!([{"name": "var", "mountPath": "/mnt/var"}]);
    if let Some(o) = init.as_object_mut() {
        o.remove("ports");
        o.remove("readinessProbe");
    }
    let mut annotations = serde_json::Map::new();
    // podman 4.3 removes a "once" init container as it exits and can race
    // itself doing so (podman issue 18477); seeding is idempotent, so it
    // may run at every start. A kubelet ignores the annotation.
    annotations.insert("io.podman.annotations.init.container.type".into(), json!("always"));
    // podman 4.3's kube play reads the profile from this annotation (the
    // securityContext field is the kubelet's).
    for c in [name.clone(), format!("{name}-seed-var")] {
        annotations.insert(
            format!("container.seccomp.security.alpha.kubernetes.io/{c}"),
            json!(format!("localhost/{}", profile_name(plan))),
        );
    }
    annotations.insert("io.sandbox-service.units".into(), json!(plan.labels.get("io.sandbox-service.units")));
    if plan.notify {
        annotations.insert(
            "io.sandbox-service.readiness".into(),
            json!("Type=notify: READY=1 is taken by the shim, PID 1; the probe checks the port"),
        );
    }
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}, "annotations": annotations},
        "spec": {
            "hostname": name,
            "restartPolicy": "Always",
            "initContainers": [init],
            "containers": [container],
            "volumes": [
                {"name": "var", "persistentVolumeClaim": {"claimName": var_claim}},
                {"name": "run", "emptyDir": empty_dir("/run")},
                {"name": "tmp", "emptyDir": empty_dir("/tmp")},
            ],
        },
    });
    // The sandbox's network: network=host shares the node's.
    if plan.network == "host" {
        pod["spec"]["hostNetwork"] = json!(true);
    }
    let pvc = json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": var_claim},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    });
    let mut out = String::from(
        "# Made by sandbox-service export. The seccomp profile is the sandbox's: install it as\n\
         # <kubelet seccomp root>/",
    );
    out.push_str(&profile_name(plan));
    out.push_str(" on each node.\n# The init container seeds the /var volume from the image once.\n");
    out.push_str(&serde_yaml_ng::to_string(&pvc)?);
    out.push_str("---\n");
    out.push_str(&serde_yaml_ng::to_string(&pod)?);
    Ok(out)
}
