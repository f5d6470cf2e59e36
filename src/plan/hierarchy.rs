//! The hierarchy directories: shared by many packages by definition, so
//! only a package's own entries in them are ever private. A table with a
//! reason for each, and the drop-in directory convention.

/// Directories that hold many packages' files by definition. Only a
/// package's own entries inside them are private.
pub const HIERARCHY: &[(&str, &str)] = &[
    ("/etc", "the host's configuration root"),
    ("/var", "the host's variable data root"),
    ("/etc/default", "holds every package's defaults file"),
    ("/etc/sysconfig", "holds every package's environment file"),
    ("/etc/init.d", "holds every package's init script"),
    ("/etc/rc.d", "holds every package's init script"),
    ("/etc/cron.daily", "holds every package's daily job"),
    ("/etc/cron.hourly", "holds every package's hourly job"),
    ("/etc/cron.weekly", "holds every package's weekly job"),
    ("/etc/cron.monthly", "holds every package's monthly job"),
    ("/etc/cron.yearly", "holds every package's yearly job"),
    ("/etc/systemd", "the host's service manager configuration"),
    ("/etc/ssl", "the host's certificates and keys"),
    ("/etc/pki", "the host's certificates and keys"),
    ("/etc/alternatives", "the host's alternatives links"),
    ("/etc/skel", "the host's new-user template"),
    ("/etc/X11", "the host's display configuration"),
    ("/etc/opt", "FHS: configuration of add-on packages"),
    ("/etc/selinux", "the host's SELinux policy"),
    ("/etc/security", "the host's PAM and limits configuration"),
    ("/etc/ufw", "the host's firewall configuration"),
    ("/etc/firewalld", "the host's firewall configuration"),
    ("/etc/apparmor.d", "the host's AppArmor profiles"),
    ("/etc/polkit-1", "the host's polkit rules"),
    ("/etc/dbus-1", "the host's D-Bus configuration"),
    ("/var/lib", "FHS: every package's state"),
    ("/var/log", "FHS: every service's logs"),
    ("/var/cache", "FHS: every package's cache"),
    ("/var/spool", "FHS: every package's queues"),
    ("/var/tmp", "FHS: temporary files kept across reboots"),
    ("/var/backups", "the host's backups"),
    ("/var/mail", "FHS: every user's mailbox"),
    ("/var/opt", "FHS: variable data of add-on packages"),
    ("/var/local", "FHS: variable data of local programs"),
    ("/var/lib/misc", "FHS: state of many packages"),
    ("/var/lib/systemd", "the host's service manager state"),
    ("/var/lib/private", "systemd's DynamicUser= state of every service"),
    ("/var/cache/private", "systemd's DynamicUser= cache of every service"),
    ("/var/log/private", "systemd's DynamicUser= logs of every service"),
    ("/var/log/journal", "the host's journal"),
    ("/var/spool/cron", "every user's crontab"),
];

pub fn hierarchy(path: &str) -> Option<&'static str> {
    if let Some((_, why)) = HIERARCHY.iter().find(|(h, _)| *h == path) {
        return Some(why);
    }
    // /etc/foo.d: drop-in directories are shared between packages by convention.
    let parent = path.rsplit_once('/').map(|(p, _)| p);
    (parent == Some("/etc") && path.ends_with(".d")).then_some("an /etc drop-in directory, shared by convention")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchy_and_drop_ins() {
        assert!(hierarchy("/etc/logrotate.d").is_some());
        assert!(hierarchy("/var/log").is_some());
        assert!(hierarchy("/etc/apache2").is_none());
        assert!(hierarchy("/etc/apache2/conf.d").is_none(), "only /etc's own drop-in dirs");
    }
}
