//! Host secrets: never cloned into a sandbox, whoever owns them, and
//! masked in the host /etc every sandbox sees. A leaf: the planner and the
//! runtime both read it, neither owns it.

use crate::rootpath::is_under;

/// Each with what it holds.
pub const SECRETS: &[(&str, &str)] = &[
    ("/etc/shadow", "password hashes"),
    ("/etc/shadow-", "password hashes"),
    ("/etc/gshadow", "group password hashes"),
    ("/etc/gshadow-", "group password hashes"),
    ("/etc/ssh", "ssh host keys"),
    ("/etc/ssl/private", "TLS private keys"),
    ("/etc/pki/tls/private", "TLS private keys"),
    ("/etc/sudoers", "privilege rules"),
    ("/etc/sudoers.d", "privilege rules"),
    ("/etc/security/opasswd", "old password hashes"),
    ("/etc/machine-id", "the host's identity"),
    ("/etc/sandbox-service", "the configuration of every sandbox"),
    ("/var/lib/sandbox-service", "the state of every sandbox"),
];

/// Secret directories that are also a service's configuration: only the
/// files named with the prefix are secrets (with what they hold). Masked
/// whole like the rest in every sandbox, but a sandbox of the package that
/// owns one gets it private: its other files copied, keys of its own in
/// place of the host's (`plan::keys`).
pub const KEY_DIRS: &[(&str, &str, &str)] = &[("/etc/ssh", "ssh_host_", "ssh host keys")];

/// What `path` holds, if it is (beneath) a secret.
pub fn secret(path: &str) -> Option<&'static str> {
    if let Some((_, _, why)) = KEY_DIRS.iter().find(|(d, _, _)| is_under(path, d)) {
        let (dir, name) = path.rsplit_once('/')?;
        return KEY_DIRS.iter().any(|(d, pre, _)| *d == dir && name.starts_with(pre)).then_some(*why);
    }
    SECRETS.iter().find(|(s, _)| is_under(path, s)).map(|(_, why)| *why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_their_children() {
        assert_eq!(secret("/etc/ssh/ssh_host_rsa_key"), Some("ssh host keys"));
        assert_eq!(secret("/etc/shadow"), Some("password hashes"));
        assert_eq!(secret("/etc/shadowy"), None);
        assert_eq!(secret("/etc/ssh/ssh_host_rsa_key.pub"), Some("ssh host keys"));
        assert_eq!(secret("/etc/ssh"), None, "sshd's configuration may be private to its sandbox");
        assert_eq!(secret("/etc/ssh/sshd_config"), None);
        assert_eq!(secret("/etc/ssh/sshd_config.d/ssh_host_x"), None);
        assert!(SECRETS.iter().any(|(p, _)| *p == "/etc/ssh"), "masked whole in every other sandbox");
    }
}
