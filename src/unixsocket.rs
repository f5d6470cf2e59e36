//! `publish-socket=HOSTPATH:PATH`: a unix socket the service makes in its
//! /run, offered on the host at HOSTPATH (a web server's PHP-FPM pool at
//! /run/php/site1.sock). systemd listens at HOSTPATH while the sandbox
//! runs, with the owner and mode the service gave its socket, and
//! systemd-socket-proxyd forwards each connection to the service's socket
//! as the host sees it, under /run/sandbox-service/NAME/run, where no link
//! is followed (runtime/hostrun.rs).

use anyhow::{bail, Result};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SocketPublish {
    /// Where the host's clients connect.
    pub host: String,
    /// The service's socket, inside the sandbox: under /run.
    pub path: String,
}

impl std::str::FromStr for SocketPublish {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let Some((host, path)) = s.split_once(':') else {
            bail!("publish-socket {s}: give HOSTPATH:PATH, e.g. /run/php/site1.sock:/run/php/php8.2-fpm.sock");
        };
        for (what, p) in [("HOSTPATH", host), ("PATH", path)] {
            let clean = Path::new(p)
                .components()
                .all(|c| matches!(c, std::path::Component::RootDir | std::path::Component::Normal(_)));
            if !p.starts_with('/') || !clean || p.ends_with('/') || p.contains(char::is_whitespace) {
                bail!("publish-socket {s}: {what} must be an absolute path without '..', spaces or a trailing '/'");
            }
        }
        if !path.starts_with("/run/") {
            bail!(
                "publish-socket {s}: the service's socket must be under /run, which the host can reach \
                 (/run/sandbox-service/NAME/run): point the service's configuration there"
            );
        }
        if host.starts_with(crate::runtime::control::DIR) {
            bail!("publish-socket {s}: HOSTPATH may not be under {}", crate::runtime::control::DIR);
        }
        Ok(SocketPublish { host: host.to_string(), path: path.to_string() })
    }
}

impl std::fmt::Display for SocketPublish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.path)
    }
}

impl SocketPublish {
    /// The service's socket as the host sees it, under sandbox `name`'s
    /// runtime directory.
    pub fn seen_from_host(&self, name: &str) -> std::path::PathBuf {
        crate::runtime::hostrun::seen_from_host(name, &self.path)
    }
}

/// `publish-socket=` of the `.sandbox` file: space-separated.
pub fn parse_list(v: &str) -> Result<Vec<SocketPublish>> {
    let list: Vec<SocketPublish> = v.split_whitespace().map(str::parse).collect::<Result<_>>()?;
    for (i, a) in list.iter().enumerate() {
        if let Some(b) = list[..i].iter().find(|b| escape_path(&b.host) == escape_path(&a.host)) {
            bail!("publish-socket: {} and {} would have the same unit: give one of them another path", a.host, b.host);
        }
    }
    Ok(list)
}

/// A path as a unit name's part: `/` as `-`, and `_` for what a unit name
/// cannot hold (no `\x` escapes: a dependency line would need them
/// doubled). Two paths that come out the same are refused by parse_list.
pub fn escape_path(p: &str) -> String {
    p.trim_matches('/')
        .chars()
        .map(|c| match c {
            '/' => '-',
            c if c.is_ascii_alphanumeric() || "_.:".contains(c) => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_names_escape() {
        let p: SocketPublish = "/run/php/site1.sock:/run/php/php8.2-fpm.sock".parse().unwrap();
        assert_eq!(p.to_string(), "/run/php/site1.sock:/run/php/php8.2-fpm.sock");
        assert_eq!(p.seen_from_host("s1"), Path::new("/run/sandbox-service/s1/run/php/php8.2-fpm.sock"));
        for bad in [
            "/run/a.sock",
            "run/a.sock:/run/b.sock",
            "/run/a.sock:/var/lib/mysql/mysql.sock",
            "/run/../etc/a:/run/b",
            "/run/sandbox-service/x:/run/b",
            "/run/a:/run/b/",
        ] {
            assert!(bad.parse::<SocketPublish>().is_err(), "{bad}");
        }
        assert!(parse_list("/run/a:/run/x /run/a:/run/y").is_err());
        assert_eq!(escape_path("/run/php/site1.sock"), "run-php-site1.sock");
        assert_eq!(escape_path("/run/my-db/.s"), "run-my_db-.s");
        assert!(parse_list("/run/a-b:/run/x /run/a_b:/run/y").is_err());
    }
}
