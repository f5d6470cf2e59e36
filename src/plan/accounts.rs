//! The tree's users and groups, read from its /etc/passwd and /etc/group
//! (not NSS: `--root` trees have their own), and the service's own among
//! them: the ones its unit runs as and its packages' metadata names.

use crate::layout::Layout;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

#[derive(Debug, Default)]
pub struct Accounts {
    pub users: Vec<User>,
    /// Group name -> gid.
    pub groups: BTreeMap<String, u32>,
}

impl Accounts {
    pub fn parse(passwd: &str, group: &str) -> Accounts {
        let users = passwd
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                if f.len() < 7 {
                    return None;
                }
                Some(User {
                    name: f[0].to_string(),
                    uid: f[2].parse().ok()?,
                    gid: f[3].parse().ok()?,
                    home: f[5].to_string(),
                })
            })
            .collect();
        let groups = group
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                Some((f.first()?.to_string(), f.get(2)?.parse().ok()?))
            })
            .collect();
        Accounts { users, groups }
    }

    pub fn read(layout: &Layout) -> Accounts {
        let r = |p: &str| std::fs::read_to_string(layout.host(p)).unwrap_or_default();
        Accounts::parse(&r("/etc/passwd"), &r("/etc/group"))
    }

    /// A user by name or number.
    pub fn user(&self, name: &str) -> Option<&User> {
        match name.parse::<u32>() {
            Ok(n) => self.users.iter().find(|u| u.uid == n),
            Err(_) => self.users.iter().find(|u| u.name == name),
        }
    }

    /// A group's gid by name or number.
    pub fn gid(&self, name: &str) -> Option<u32> {
        name.parse().ok().or_else(|| self.groups.get(name).copied())
    }

    pub fn group_name(&self, gid: u32) -> Option<&str> {
        self.groups.iter().find(|(_, g)| **g == gid).map(|(n, _)| n.as_str())
    }
}

/// Ids that stand for everyone or no one: never a service's own.
pub fn is_shared_uid(uid: u32) -> bool {
    uid == 0 || uid == 65534
}

/// Groups many services share by convention: owning a file with one of
/// them says nothing about which service it is for.
pub const SHARED_GROUPS: &[&str] = &[
    "root",
    "adm",
    "staff",
    "users",
    "nogroup",
    "mail",
    "utmp",
    "tty",
    "disk",
    "shadow",
    "ssl-cert",
    "systemd-journal",
];

/// The users and groups a service owns files as, each with where it was
/// named (`User= of redis-server.service`).
#[derive(Debug, Default, Clone)]
pub struct ServiceIds {
    pub uids: BTreeMap<u32, String>,
    pub gids: BTreeMap<u32, String>,
}

impl ServiceIds {
    pub fn add_user(&mut self, acc: &Accounts, name: &str, why: &str) {
        if let Some(u) = acc.user(name) {
            if !is_shared_uid(u.uid) {
                self.uids.entry(u.uid).or_insert_with(|| format!("user {} ({why})", u.name));
            }
        }
    }

    pub fn add_group(&mut self, acc: &Accounts, name: &str, why: &str) {
        if SHARED_GROUPS.contains(&name) {
            return;
        }
        if let Some(g) = acc.gid(name) {
            if g != 0 && !acc.group_name(g).is_some_and(|n| SHARED_GROUPS.contains(&n)) {
                self.gids.entry(g).or_insert_with(|| format!("group {name} ({why})"));
            }
        }
    }

    /// Why a file owned by `uid`:`gid` is the service's, if it is.
    pub fn owns(&self, uid: u32, gid: u32) -> Option<&str> {
        self.uids.get(&uid).or_else(|| self.gids.get(&gid)).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_groups_and_the_services_own() {
        let acc = Accounts::parse(
            "root:x:0:0:root:/root:/bin/bash\nredis:x:105:108::/var/lib/redis:/usr/sbin/nologin\nbad line\n",
            "root:x:0:\nadm:x:4:\nredis:x:108:\n",
        );
        assert_eq!(acc.user("redis").unwrap().home, "/var/lib/redis");
        assert_eq!(acc.user("105").unwrap().name, "redis");
        let mut ids = ServiceIds::default();
        ids.add_user(&acc, "redis", "User= of redis-server.service");
        ids.add_user(&acc, "root", "User= of x");
        ids.add_group(&acc, "redis", "Group= of redis-server.service");
        ids.add_group(&acc, "adm", "a tmpfiles.d line");
        assert_eq!(ids.owns(105, 4), Some("user redis (User= of redis-server.service)"));
        assert_eq!(ids.owns(0, 108), Some("group redis (Group= of redis-server.service)"));
        assert_eq!(ids.owns(0, 4), None, "adm is everyone's");
        assert_eq!(ids.owns(0, 0), None);
    }
}
