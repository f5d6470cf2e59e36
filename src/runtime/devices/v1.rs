//! The cgroup v1 devices controller: deny everything, then allow each
//! rule, then read the list back. The kernel keeps one list per cgroup,
//! so under systemd this rewrites the unit's list with the same entries.

use super::{Rule, Type, MKNOD, READ, WRITE};
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::path::Path;

/// A rule as devices.allow and devices.list spell it: `c 1:3 rw`.
pub fn line(r: &Rule) -> String {
    let kind = match r.kind {
        Type::Char => 'c',
        Type::Block => 'b',
    };
    let minor = r.minor.map_or("*".to_string(), |m| m.to_string());
    let mut access = String::new();
    for (bit, c) in [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')] {
        if r.access & bit != 0 {
            access.push(c);
        }
    }
    format!("{kind} {}:{minor} {access}", r.major)
}

pub fn apply(dir: &Path, rules: &[Rule]) -> Result<()> {
    let write = |file: &str, what: &str| {
        std::fs::write(dir.join(file), what)
            .with_context(|| format!("writing '{what}' to {}", dir.join(file).display()))
    };
    write("devices.deny", "a")?;
    for r in rules {
        write("devices.allow", &line(r))?;
    }
    let list = std::fs::read_to_string(dir.join("devices.list")).context("reading devices.list")?;
    let have: BTreeSet<&str> = list.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let want: Vec<String> = rules.iter().map(line).collect();
    let want: BTreeSet<&str> = want.iter().map(String::as_str).collect();
    if have != want {
        bail!("the devices controller of {} holds {:?}, not the sandbox's list {:?}", dir.display(), have, want);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_like_devices_list() {
        let r = Rule { kind: Type::Char, major: 1, minor: Some(3), access: READ | WRITE };
        assert_eq!(line(&r), "c 1:3 rw");
        let r = Rule { kind: Type::Block, major: 8, minor: None, access: READ | WRITE | MKNOD };
        assert_eq!(line(&r), "b 8:* rwm");
    }
}
