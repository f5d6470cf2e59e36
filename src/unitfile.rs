//! A systemd unit-file parser that keeps what ini parsers lose: repeated
//! keys, empty assignments that reset a list, `\` continuation lines and
//! drop-ins applied in order.

use anyhow::{bail, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    section: String,
    key: String,
    value: String,
}

/// One unit: its main file followed by its drop-ins, in application order.
#[derive(Debug, Clone, Default)]
pub struct UnitFile {
    entries: Vec<Entry>,
}

impl UnitFile {
    pub fn parse(text: &str) -> Result<Self> {
        let mut u = UnitFile::default();
        u.append(text)?;
        Ok(u)
    }

    /// Applies `text` (a drop-in) on top of what was parsed so far.
    pub fn append(&mut self, text: &str) -> Result<()> {
        let mut section: Option<String> = None;
        let mut lines = text.lines().enumerate();
        while let Some((n, raw)) = lines.next() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let Some(name) = rest.strip_suffix(']') else {
                    bail!("line {}: unterminated section header '{line}'", n + 1);
                };
                section = Some(name.to_string());
                continue;
            }
            let mut logical = line.to_string();
            // systemd joins a trailing backslash with the next line, replacing
            // the backslash by a space; comment lines inside are dropped.
            while logical.ends_with('\\') {
                logical.pop();
                logical.push(' ');
                let next = lines.by_ref().map(|(_, l)| l.trim()).find(|l| !(l.starts_with('#') || l.starts_with(';')));
                match next {
                    Some(next) => logical.push_str(next),
                    None => break,
                }
            }
            let Some((key, value)) = logical.split_once('=') else {
                bail!("line {}: expected KEY=VALUE, found '{line}'", n + 1);
            };
            let Some(section) = &section else {
                bail!("line {}: assignment '{}' outside of any [section]", n + 1, key.trim());
            };
            self.entries.push(Entry {
                section: section.clone(),
                key: key.trim().to_string(),
                value: value.trim().to_string(),
            });
        }
        Ok(())
    }

    /// The last value of a single-valued setting.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.entries.iter().rev().find(|e| e.section == section && e.key == key).map(|e| e.value.as_str())
    }

    /// Every assignment of a list setting, where an empty assignment resets
    /// the list (`ExecStart=` in a drop-in clears the package's ExecStart).
    pub fn get_all(&self, section: &str, key: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for e in self.entries.iter().filter(|e| e.section == section && e.key == key) {
            if e.value.is_empty() {
                out.clear();
            } else {
                out.push(e.value.as_str());
            }
        }
        out
    }

    /// Every assignment as written, empty ones included, for the settings
    /// whose empty assignment means something of its own (an empty
    /// CapabilityBoundingSet= is the empty set, not "unset").
    pub fn get_raw(&self, section: &str, key: &str) -> Vec<&str> {
        self.entries.iter().filter(|e| e.section == section && e.key == key).map(|e| e.value.as_str()).collect()
    }

    /// The unit's `Condition*=` (or, with `prefix` "Assert", `Assert*=`)
    /// assignments as `Key=value`, in order; an empty one resets them all,
    /// as systemd.unit(5) says.
    pub fn conditions(&self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.entries.iter().filter(|e| e.section == "Unit" && e.key.starts_with(prefix)) {
            if e.value.is_empty() {
                out.clear();
            } else {
                out.push(format!("{}={}", e.key, e.value));
            }
        }
        out
    }

    /// The words of a space-separated list setting such as `StateDirectory=`.
    pub fn get_words(&self, section: &str, key: &str) -> Vec<String> {
        self.get_all(section, key).iter().flat_map(|v| v.split_whitespace().map(str::to_string)).collect()
    }
}

/// What the specifiers of one unit expand to.
#[derive(Debug, Clone)]
pub struct Specifiers {
    /// Full unit name, e.g. `apache2@web1.service`.
    pub unit: String,
    /// Instance (`%i`), empty for a plain unit.
    pub instance: String,
    /// Hostname inside the sandbox (`%H`, `%l`).
    pub hostname: String,
}

impl Specifiers {
    /// Expands the specifiers systemd defines for the system manager that a
    /// sandbox can answer; an unknown one is an error, as in systemd.
    pub fn expand(&self, s: &str) -> Result<String> {
        let stem = self.unit.rsplit_once('.').map_or(self.unit.as_str(), |(a, _)| a);
        let prefix = stem.split_once('@').map_or(stem, |(p, _)| p);
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let Some(spec) = chars.next() else {
                bail!("'{s}' ends in a lone '%'");
            };
            match spec {
                '%' => out.push('%'),
                'n' => out.push_str(&self.unit),
                'N' => out.push_str(stem),
                'p' => out.push_str(prefix),
                'P' => out.push_str(&unescape(prefix)),
                'i' => out.push_str(&self.instance),
                'I' => out.push_str(&unescape(&self.instance)),
                'j' => out.push_str(prefix.rsplit('-').next().unwrap_or(prefix)),
                'J' => out.push_str(&unescape(prefix.rsplit('-').next().unwrap_or(prefix))),
                'f' => {
                    let v = if self.instance.is_empty() { prefix } else { &self.instance };
                    out.push('/');
                    out.push_str(unescape(v).trim_start_matches('/'));
                }
                'H' | 'l' => out.push_str(&self.hostname),
                't' => out.push_str("/run"),
                'S' => out.push_str("/var/lib"),
                'C' => out.push_str("/var/cache"),
                'L' => out.push_str("/var/log"),
                'E' => out.push_str("/etc"),
                'T' => out.push_str("/tmp"),
                'V' => out.push_str("/var/tmp"),
                'h' => out.push_str("/root"),
                'u' => out.push_str("root"),
                'U' | 'g' | 'G' => out.push('0'),
                's' => out.push_str("/bin/sh"),
                other => bail!("'{s}': specifier %{other} is not supported in a sandbox"),
            }
        }
        Ok(out)
    }
}

/// Reverses systemd's unit-name escaping (`-` is `/`, `\xNN` a byte).
pub fn unescape(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'-' {
            out.push(b'/');
        } else if b[i] == b'\\' && i + 3 < b.len() && b[i + 1] == b'x' {
            if let Ok(v) = u8::from_str_radix(&s[i + 2..i + 4], 16) {
                out.push(v);
                i += 4;
                continue;
            }
            out.push(b[i]);
        } else {
            out.push(b[i]);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const APACHE: &str = "[Unit]\nDescription=The Apache HTTP Server\n\n[Service]\nType=forking\n\
        Environment=APACHE_STARTED_BY_SYSTEMD=true\nExecStart=/usr/sbin/apachectl start\n\
        ExecReload=/usr/sbin/apachectl graceful\nPrivateTmp=true\n";

    #[test]
    fn single_and_list_values() {
        let u = UnitFile::parse(APACHE).unwrap();
        assert_eq!(u.get("Service", "Type"), Some("forking"));
        assert_eq!(u.get_all("Service", "ExecStart"), vec!["/usr/sbin/apachectl start"]);
        assert_eq!(u.get("Unit", "Type"), None);
    }

    #[test]
    fn dropin_reset_and_repeat() {
        let mut u = UnitFile::parse(APACHE).unwrap();
        u.append("[Service]\nExecStart=\nExecStart=/bin/a\nExecStart=/bin/b\nType=simple\n").unwrap();
        assert_eq!(u.get_all("Service", "ExecStart"), vec!["/bin/a", "/bin/b"]);
        assert_eq!(u.get("Service", "Type"), Some("simple"));
    }

    #[test]
    fn continuation_lines_and_comments() {
        let u = UnitFile::parse(
            "[Service]\nExecStart=/bin/echo a \\\n# a comment\n  b \\\n  c\nStateDirectory=x y\nStateDirectory=z\n",
        )
        .unwrap();
        assert_eq!(u.get("Service", "ExecStart"), Some("/bin/echo a  b  c"));
        assert_eq!(u.get_words("Service", "StateDirectory"), vec!["x", "y", "z"]);
    }

    #[test]
    fn malformed_input_is_refused() {
        assert!(UnitFile::parse("Type=simple\n").is_err());
        assert!(UnitFile::parse("[Service\n").is_err());
        assert!(UnitFile::parse("[Service]\nnonsense\n").is_err());
    }

    #[test]
    fn specifiers() {
        let s = Specifiers { unit: "apache2@web1.service".into(), instance: "web1".into(), hostname: "web1".into() };
        assert_eq!(s.expand("/etc/apache2-%i").unwrap(), "/etc/apache2-web1");
        assert_eq!(s.expand("%n %N %p %% %t/%p").unwrap(), "apache2@web1.service apache2@web1 apache2 % /run/apache2");
        assert_eq!(s.expand("%S/%C/%L/%E").unwrap(), "/var/lib//var/cache//var/log//etc");
        assert!(s.expand("%Z").is_err());
        assert!(s.expand("50%").is_err());
        assert_eq!(unescape("foo-bar\\x2dbaz"), "foo/bar-baz");
    }
}
