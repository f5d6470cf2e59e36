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

/// What `path` holds, if it is (beneath) a secret.
pub fn secret(path: &str) -> Option<&'static str> {
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
    }
}
