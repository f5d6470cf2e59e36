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
    /// The instance of an instance unit (`15-main` of `postgresql@15-main`).
    pub instance: Option<String>,
}

impl ServiceName {
    /// Accepts `apache2`, `apache2.service`, `nginx@`, `nginx@.service` and
    /// instances such as `postgresql@15-main`.
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
        let (prefix, template, instance) = match stem.split_once('@') {
            Some((p, "")) => (p, true, None),
            Some((_, i)) if i.contains('@') => bail!("bad unit name '{arg}': one '@' at most"),
            Some((p, i)) => (p, false, Some(i.to_string())),
            None => (stem, false, None),
        };
        if prefix.is_empty() {
            bail!("bad unit name '{arg}': nothing before '@'");
        }
        let prefix = prefix.to_string();
        Ok(ServiceName { unit, prefix, template, instance })
    }

    /// The template an instance is made from (`postgresql@.service`).
    pub fn template_unit(&self) -> Option<String> {
        (self.template || self.instance.is_some()).then(|| format!("{}@.service", self.prefix))
    }

    /// The unit name and instance the service runs with in sandbox
    /// `sandbox`: a template takes the sandbox's name as its instance
    /// (Debian's apache2@.service reads /etc/apache2-%i), an instance keeps
    /// its own.
    pub fn running_as(&self, sandbox: &str) -> (String, String) {
        match (&self.instance, self.template) {
            (Some(i), _) => (self.unit.clone(), i.clone()),
            (None, true) => (format!("{}@{sandbox}.service", self.prefix), sandbox.to_string()),
            (None, false) => (self.unit.clone(), String::new()),
        }
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
        let s = ServiceName::parse("postgresql@15-main").unwrap();
        assert_eq!(
            (s.unit.as_str(), s.prefix.as_str(), s.instance.as_deref()),
            ("postgresql@15-main.service", "postgresql", Some("15-main"))
        );
        assert_eq!(s.template_unit().as_deref(), Some("postgresql@.service"));
        assert_eq!(s.running_as("pg1"), ("postgresql@15-main.service".to_string(), "15-main".to_string()));
        assert_eq!(ServiceName::parse("apache2@").unwrap().running_as("w"), ("apache2@w.service".into(), "w".into()));
        assert!(ServiceName::parse("a@b@c").is_err());
        assert!(ServiceName::parse("@").is_err());
        assert!(ServiceName::parse("a b").is_err());
        assert!(ServiceName::parse("../x").is_err());
    }
}
