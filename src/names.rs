//! Sandbox names and unit names: what is accepted and how it is normalised.

use anyhow::{bail, Result};

/// Longest sandbox name: leaves room for `SVC@NAME.service` within systemd's
/// 255-byte unit name limit for any reasonable SVC.
pub const MAX_NAME: usize = 64;

/// A sandbox name must be usable verbatim as a unit instance name, a file
/// name and a hostname label, so it is kept to a conservative alphabet.
pub fn check_sandbox_name(name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if name.is_empty() || name.len() > MAX_NAME {
        bail!("bad sandbox name '{name}': use 1 to {MAX_NAME} characters of [A-Za-z0-9_-]");
    }
    if !name.chars().all(ok_char) {
        bail!("bad sandbox name '{name}': use only letters, digits, '-' and '_' (it becomes a unit instance and a hostname)");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        bail!("bad sandbox name '{name}': it must start with a letter or digit");
    }
    Ok(())
}

/// A service unit named on the command line, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceName {
    /// Full unit name, e.g. `apache2.service` or `nginx@.service`.
    pub unit: String,
    /// The part before `@` or `.service`, e.g. `apache2`.
    pub prefix: String,
    /// True for a template (`foo@.service`).
    pub template: bool,
}

impl ServiceName {
    /// Accepts `apache2`, `apache2.service`, `nginx@` and `nginx@.service`.
    pub fn parse(arg: &str) -> Result<Self> {
        let unit = if arg.ends_with(".service") {
            arg.to_string()
        } else if let Some((_, suffix)) = arg.rsplit_once('.').filter(|(_, s)| is_unit_suffix(s)) {
            bail!("unit '{arg}' is a .{suffix} unit: only .service units can be sandboxed");
        } else {
            format!("{arg}.service")
        };
        let stem = &unit[..unit.len() - ".service".len()];
        let ok_char = |c: char| c.is_ascii_alphanumeric() || ":-_.\\@".contains(c);
        if stem.is_empty() || !stem.chars().all(ok_char) || unit.len() > 255 {
            bail!("bad unit name '{arg}': expected a service such as apache2 or nginx@");
        }
        let (prefix, template) = match stem.split_once('@') {
            Some((p, "")) => (p, true),
            Some((_, _)) => bail!(
                "unit '{arg}' is an instance: name the service (e.g. '{}') or the template ('{}@')",
                stem.split('@').next().unwrap_or(stem),
                stem.split('@').next().unwrap_or(stem)
            ),
            None => (stem, false),
        };
        if prefix.is_empty() {
            bail!("bad unit name '{arg}': nothing before '@'");
        }
        let prefix = prefix.to_string();
        Ok(ServiceName { unit, prefix, template })
    }
}

fn is_unit_suffix(s: &str) -> bool {
    matches!(s, "socket" | "target" | "timer" | "path" | "mount" | "automount" | "swap" | "slice" | "scope" | "device")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_names() {
        for ok in ["web1", "a", "my_site-2", &"x".repeat(64)] {
            check_sandbox_name(ok).unwrap();
        }
        for bad in ["", "-x", "_x", "a b", "a/b", "a@b", "a.b", "é", &"x".repeat(65)] {
            assert!(check_sandbox_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn unit_names() {
        let s = ServiceName::parse("apache2").unwrap();
        assert_eq!((s.unit.as_str(), s.prefix.as_str(), s.template), ("apache2.service", "apache2", false));
        let s = ServiceName::parse("nginx@").unwrap();
        assert_eq!((s.unit.as_str(), s.prefix.as_str(), s.template), ("nginx@.service", "nginx", true));
        assert_eq!(ServiceName::parse("httpd.service").unwrap().unit, "httpd.service");
        assert!(ServiceName::parse("cron.timer").is_err());
        assert!(ServiceName::parse("apache2@web1").is_err());
        assert!(ServiceName::parse("@").is_err());
        assert!(ServiceName::parse("a b").is_err());
        assert!(ServiceName::parse("../x").is_err());
    }
}
