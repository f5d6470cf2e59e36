//! What the service's units declare: the directories systemd makes for
//! them (StateDirectory= and friends), the paths they write or need
//! (ReadWritePaths=, RequiresMountsFor=, AssertPathExists=,
//! WorkingDirectory=, PIDFile=), their environment files and what those
//! name, and the users and groups they run as.

use super::accounts::{Accounts, ServiceIds};
use super::{in_scope, is_runtime, Builder, UnitInput};
use crate::payload::PkgFile;
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Settings whose value lists paths the unit writes or cannot do without.
const PATH_LISTS: &[&str] = &["ReadWritePaths", "ReadWriteDirectories", "RequiresMountsFor"];
/// Conditions and assertions on a path that the unit needs to be there.
const PATH_CONDITIONS: &[&str] =
    &["AssertPathExists", "ConditionPathExists", "AssertPathIsDirectory", "ConditionPathIsDirectory"];

/// Whether a unit's setting names a path through its instance: such a path
/// is that instance's own (PostgreSQL's /var/lib/postgresql/%I).
fn names_instance(raw: &str) -> bool {
    raw.contains("%i") || raw.contains("%I")
}

pub fn read(
    b: &mut Builder,
    units: &[UnitInput],
    entries: &BTreeMap<String, (String, PkgFile)>,
    ids: &mut ServiceIds,
    acc: &Accounts,
) -> Result<()> {
    let mut env_files: Vec<(String, String)> = Vec::new();
    // (variable, value, where it was set) of every environment assignment.
    let mut assignments: Vec<(String, String, String)> = Vec::new();
    for u in units {
        let f = &u.unit.file;
        let name = &u.spec.unit;
        for key in ["User", "Group", "SupplementaryGroups"] {
            for w in f.get_words("Service", key) {
                let w = u.spec.expand(&w)?;
                let why = format!("{key}= of {name}");
                if key == "User" {
                    ids.add_user(acc, &w, &why);
                    if let Some(g) = acc.user(&w).and_then(|u| acc.group_name(u.gid)) {
                        ids.add_group(acc, g, &why);
                    }
                } else {
                    ids.add_group(acc, &w, &why);
                }
            }
        }
        for (key, base) in [
            ("StateDirectory", "/var/lib"),
            ("LogsDirectory", "/var/log"),
            ("CacheDirectory", "/var/cache"),
            ("ConfigurationDirectory", "/etc"),
            ("RuntimeDirectory", "/run"),
        ] {
            for w in f.get_words("Service", key) {
                let w = u.spec.expand(&w)?;
                let rel = w.split(':').next().unwrap_or(&w).trim_matches('/');
                if rel.is_empty() || rel.split('/').any(|c| c == ".." || c == ".") {
                    b.skip(&format!("{base}/{rel}"), format!("{key}={w} of {name} is not a plain relative path"));
                    continue;
                }
                b.add_named(&format!("{base}/{rel}"), format!("{key}= of {name}"), true)?;
            }
        }
        for (section, key) in PATH_LISTS.iter().map(|k| ("Service", *k)).chain([("Unit", "RequiresMountsFor")]) {
            for raw in f.get_words(section, key) {
                // `-`: may be missing; `+`: relative to RootDirectory=, which we do not have.
                let w = u.spec.expand(raw.trim_start_matches(['-', '+']))?;
                if w.starts_with('/') && w != "/" {
                    if names_instance(&raw) {
                        b.instance_paths.push((b.canonical(&w)?, format!("{key}= of {name}")));
                    }
                    b.add_named(&w, format!("{key}= of {name}"), false)?;
                }
            }
        }
        for key in PATH_CONDITIONS {
            for v in f.get_all("Unit", key) {
                // `!` negates and `|` makes it one of several: neither says the path must be there.
                if v.starts_with(['!', '|']) {
                    continue;
                }
                let p = u.spec.expand(v)?;
                let instance = names_instance(v);
                let dir = if key.ends_with("IsDirectory") {
                    p.clone()
                } else {
                    Path::new(&p).parent().map(|d| d.to_string_lossy().into_owned()).unwrap_or_default()
                };
                let canon = b.canonical(&dir)?;
                if instance && in_scope(&canon) {
                    b.instance_paths.push((canon.clone(), format!("holds {key}={p} of {name}")));
                }
                if in_scope(&canon) && !b.is_shared(&canon) && !b.covered(&canon) {
                    b.add_named(&dir, format!("holds {key}={p} of {name}"), false)?;
                }
            }
        }
        if let Some(wd) = f.get("Service", "WorkingDirectory") {
            let wd = u.spec.expand(wd.trim_start_matches('-'))?;
            if wd.starts_with("/var/") {
                b.add_named(&wd, format!("WorkingDirectory= of {name}"), false)?;
            }
        }
        for env in f.get_all("Service", "Environment") {
            for word in shell_words::split(&u.spec.expand(env)?).unwrap_or_default() {
                if let Some((k, v)) = word.split_once('=') {
                    assignments.push((k.to_string(), v.to_string(), format!("Environment= of {name}")));
                }
            }
        }
        if let Some(pid) = f.get("Service", "PIDFile") {
            let pid = u.spec.expand(pid)?;
            let dir = Path::new(&pid).parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            let canon = b.canonical(&dir)?;
            let own_dir = if is_runtime(&canon) { canon != "/run" } else { in_scope(&canon) && !b.is_shared(&canon) };
            if own_dir {
                b.add_named(&dir, format!("holds PIDFile= of {name}"), true)?;
            } else {
                b.add_named(&pid, format!("PIDFile= of {name}"), false)?;
            }
        }
        for ef in f.get_all("Service", "EnvironmentFile") {
            let optional = ef.starts_with('-');
            let p = u.spec.expand(ef.trim_start_matches('-'))?;
            let canon = b.canonical(&p)?;
            if b.lstat(&canon).is_none() && optional {
                b.skip(&canon, format!("EnvironmentFile=- of {name}: optional and absent on the host"));
                continue;
            }
            b.add_named(&p, format!("EnvironmentFile= of {name}"), false)?;
            env_files.push((canon, format!("EnvironmentFile= of {name}")));
        }
    }
    // EnvironmentFile= is read by systemd's parser; the packages' own
    // scripts are sourced by a shell, which alone says what their `if`s
    // pick: they are evaluated with the unit's Environment= given.
    let n_unit_files = env_files.len();
    for (path, (pkg, f)) in entries {
        let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
        if f.config && (path.ends_with("/envvars") || parent == "/etc/default" || parent == "/etc/sysconfig") {
            env_files.push((path.clone(), format!("environment file of {pkg}")));
        }
    }
    let given: Vec<(String, String)> = assignments
        .iter()
        .filter(|(_, _, place)| place.starts_with("Environment="))
        .map(|(k, v, _)| (k.clone(), v.clone()))
        .collect();
    // A file named by EnvironmentFile= and shipped as a conffile is read once.
    let mut seen = BTreeSet::new();
    let env_files: Vec<(usize, (String, String))> =
        env_files.into_iter().enumerate().filter(|(_, (f, _))| seen.insert(f.clone())).collect();
    for (i, (file, what)) in env_files {
        let host = b.layout.host(&file);
        let sourced =
            (i >= n_unit_files && b.layout.is_live()).then(|| super::envscript::evaluate(&host, &given)).flatten();
        let vars = match sourced {
            Some(v) => v,
            None => {
                let Ok(text) = std::fs::read_to_string(&host) else { continue };
                crate::envfile::env_assignments(&text)
            }
        };
        for (var, value) in vars {
            assignments.push((var, value, format!("{file} ({what})")));
        }
    }
    for (var, value, place) in assignments {
        for word in value.split_whitespace().filter(|w| w.starts_with('/')) {
            let canon = b.canonical(word.trim_end_matches('/'))?;
            if !(in_scope(&canon) || is_runtime(&canon)) || b.covered(&canon) {
                continue;
            }
            b.add_named(word, format!("named by {var} in {place}"), false)?;
        }
    }
    Ok(())
}
