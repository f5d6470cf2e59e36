//! sysusers.d(5) of the service's packages: the users and groups they make
//! for the service, and the homes they give them.

/// Where systemd looks for sysusers.d files.
pub const DIRS: &[&str] = &["/usr/lib/sysusers.d", "/lib/sysusers.d"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// `u NAME ID GECOS HOME`
    User { name: String, home: Option<String> },
    /// `g NAME`, or the group of `m USER GROUP`.
    Group { name: String },
}

/// Whether a package file is a sysusers.d file.
pub fn is_conf(path: &str) -> bool {
    path.rsplit_once('/').is_some_and(|(d, n)| DIRS.contains(&d) && n.ends_with(".conf"))
}

pub fn parse(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for l in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let Ok(w) = shell_words::split(l) else { continue };
        let field = |i: usize| w.get(i).filter(|s| *s != "-" && !s.is_empty()).cloned();
        match (w.first().map(String::as_str), field(1)) {
            (Some("u"), Some(name)) => out.push(Entry::User { name, home: field(4) }),
            (Some("g"), Some(name)) => out.push(Entry::Group { name }),
            (Some("m"), Some(_)) => out.extend(field(2).map(|name| Entry::Group { name })),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_groups_and_homes() {
        let e =
            parse("# x\nu redis - \"Redis\" /var/lib/redis /usr/sbin/nologin\ng redis -\nm redis adm\nr - 500-900\n");
        assert_eq!(
            e,
            vec![
                Entry::User { name: "redis".into(), home: Some("/var/lib/redis".into()) },
                Entry::Group { name: "redis".into() },
                Entry::Group { name: "adm".into() },
            ]
        );
        assert!(is_conf("/usr/lib/sysusers.d/redis.conf") && !is_conf("/etc/redis/redis.conf"));
    }
}
