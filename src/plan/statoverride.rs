//! dpkg-statoverride(1)'s records: the owner, group and mode a
//! maintainer script set on a path (`redis redis 640 /etc/redis/redis.conf`).
//! Kept by dpkg in /var/lib/dpkg/statoverride, read here directly.

use crate::layout::Layout;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub user: String,
    pub group: String,
    pub path: String,
}

pub const FILE: &str = "/var/lib/dpkg/statoverride";

pub fn parse(text: &str) -> Vec<Override> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (user, group, _mode, path) = (f.next()?, f.next()?, f.next()?, f.next()?);
            Some(Override { user: user.into(), group: group.into(), path: path.into() })
        })
        .collect()
}

pub fn read(layout: &Layout) -> Vec<Override> {
    parse(&std::fs::read_to_string(layout.host(FILE)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_dpkgs_records() {
        let o = super::parse("root root 700 /etc/dovecot/private\nredis redis 640 /etc/redis/redis.conf\nshort line\n");
        assert_eq!(o.len(), 2);
        assert_eq!((o[1].user.as_str(), o[1].path.as_str()), ("redis", "/etc/redis/redis.conf"));
    }
}
