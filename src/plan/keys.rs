//! The service's own private keys that its install made among the host's
//! secrets: dovecot's /etc/dovecot/private/dovecot.key is a link to
//! /etc/ssl/private/ssl-cert-snakeoil.key, which no sandbox may see. The
//! sandbox gets a key of its own in its place, made at create the way
//! make-ssl-cert made the host's (same algorithm and size, a self-signed
//! certificate for the sandbox's name, as long-lived), with each link to
//! a certificate for that key replaced by the new certificate: two
//! sandboxes never share a key. Where the certificate was signed by a CA
//! a new key would not match it, so the key is copied, and `--explain`
//! says so.

use super::{Kind, PrivatePath};
use crate::layout::Layout;
use crate::secrets::secret;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::os::fd::AsFd;
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyPlan {
    /// The link inside the sandbox's private tree.
    pub path: String,
    /// The host secret it points to.
    pub target: String,
    /// Links to certificates of that key: (link, certificate).
    pub certs: Vec<(String, String)>,
    pub how: How,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum How {
    /// A new key (`openssl genpkey` arguments; `kind` says it for people)
    /// and self-signed certificates valid this many days.
    New {
        algorithm: Vec<String>,
        kind: String,
        days: u32,
    },
    Copy {
        why: String,
    },
    /// A new ssh host key (`ssh-keygen -t kind -b bits`) and its `.pub`;
    /// `dropped_cert` when the host's had a CA's certificate, which no new
    /// key matches.
    Ssh {
        kind: String,
        bits: u32,
        dropped_cert: bool,
    },
}

impl How {
    /// Made anew for each sandbox (so made again by clone), not copied.
    pub fn is_new(&self) -> bool {
        !matches!(self, How::Copy { .. })
    }
}

impl KeyPlan {
    pub fn explain(&self) -> String {
        let whose = if self.path == self.target {
            format!(
                "{} ({}) is named by the service's configuration",
                self.path,
                secret(&self.target).unwrap_or("a secret")
            )
        } else {
            format!("{} links to {} ({})", self.path, self.target, secret(&self.target).unwrap_or("a secret"))
        };
        match &self.how {
            How::New { kind, days, .. } => format!(
                "{whose}; the sandbox gets a new {kind} key made at create{}, valid {days} days, as the host's was \
                 made: sandboxes never share a key",
                if self.certs.is_empty() {
                    String::new()
                } else {
                    format!(
                        " with a self-signed certificate at {}",
                        self.certs.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>().join(", ")
                    )
                },
            ),
            How::Copy { why } => format!("{whose}: copied into the sandbox, {why}"),
            How::Ssh { kind, bits, dropped_cert } => format!(
                "{} ({}) is the host's: the sandbox gets a new {} {bits}-bit host key and its .pub, made at create: \
                 sandboxes never share a key{}",
                self.path,
                secret(&self.target).unwrap_or("a secret"),
                kind.to_uppercase(),
                if *dropped_cert {
                    "; the host's certificate for it is not carried over (sign the new key with your CA)"
                } else {
                    ""
                }
            ),
        }
    }
}

fn openssl(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("openssl").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The files of the private /etc paths (walked four levels deep: keys
/// and the configuration naming them live near the top).
fn private_files(layout: &Layout, private: &[PrivatePath]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for p in private
        .iter()
        .filter(|p| p.path.starts_with("/etc/") && matches!(p.kind, Kind::Dir | Kind::File | Kind::Symlink))
    {
        for e in walkdir::WalkDir::new(layout.host(&p.path)).max_depth(4).into_iter().flatten() {
            out.push(e.into_path());
        }
    }
    out
}

/// Where keys and certificates of the service are found: its links in its
/// private /etc paths (dovecot's dovecot.key -> /etc/ssl/private/...), and
/// the /etc files its private configuration names (PostgreSQL's
/// `ssl_key_file = '/etc/ssl/private/ssl-cert-snakeoil.key'`). Each as (the
/// path the sandbox's own copy goes to, the host file it stands for).
fn places(layout: &Layout, private: &[PrivatePath]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut push = |at: String, target: String| {
        if !out.iter().any(|(a, _)| *a == at) {
            out.push((at, target));
        }
    };
    for f in private_files(layout, private) {
        let Ok(inside) = f.strip_prefix(layout.root()) else { continue };
        let inside = Path::new("/").join(inside);
        let Ok(m) = std::fs::symlink_metadata(&f) else { continue };
        if m.file_type().is_symlink() {
            if let Ok(t) = crate::rootpath::resolve(layout.root(), &inside, true) {
                push(inside.display().to_string(), t.display().to_string());
            }
            continue;
        }
        if !m.is_file() || m.len() > super::configfiles::MAX_SIZE {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&f) else { continue };
        for named in super::configfiles::etc_paths(&text) {
            if !std::fs::metadata(layout.host(&named)).is_ok_and(|m| m.is_file()) {
                continue;
            }
            // A named link is its target's, as it is when walked to.
            if let Ok(t) = crate::rootpath::resolve(layout.root(), Path::new(&named), true) {
                push(named, t.display().to_string());
            }
        }
    }
    out
}

/// The host keys in the key directories (`secrets::KEY_DIRS`) the sandbox
/// has private: sshd's ssh_host_*_key, each with its kind and size as
/// `ssh-keygen -l` reads them.
fn ssh_host_keys(layout: &Layout, private: &[PrivatePath]) -> Vec<KeyPlan> {
    let mut out = Vec::new();
    for (dir, prefix, _) in crate::secrets::KEY_DIRS {
        let mine = private.iter().any(|p| matches!(p.kind, Kind::Dir) && crate::rootpath::is_under(dir, &p.path));
        if !mine {
            continue;
        }
        let Ok(rd) = std::fs::read_dir(layout.host(dir)) else { continue };
        let mut names: Vec<String> = rd.flatten().filter_map(|e| e.file_name().into_string().ok()).collect();
        names.sort();
        for n in names.iter().filter(|n| n.starts_with(prefix) && !n.ends_with(".pub")) {
            let host = layout.host(format!("{dir}/{n}"));
            if !std::fs::symlink_metadata(&host).is_ok_and(|m| m.is_file()) {
                continue;
            }
            // "3072 SHA256:... root@host (RSA)"
            let Some(line) = std::process::Command::new("ssh-keygen")
                .arg("-l")
                .arg("-f")
                .arg(&host)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            else {
                continue;
            };
            let bits = line.split_whitespace().next().and_then(|b| b.parse().ok()).unwrap_or(0);
            let kind = line.rsplit_once('(').map(|(_, k)| k.trim_end().trim_end_matches(')').to_lowercase());
            let Some(kind) = kind.filter(|k| ["rsa", "ecdsa", "ed25519", "dsa"].contains(&k.as_str())) else {
                continue;
            };
            let path = format!("{dir}/{n}");
            let dropped_cert = names.iter().any(|c| *c == format!("{n}-cert.pub"));
            out.push(KeyPlan { target: path.clone(), path, certs: vec![], how: How::Ssh { kind, bits, dropped_cert } });
        }
    }
    out
}

/// Whether `p` is a regular file of at most 1 MiB with a PEM certificate.
fn holds_certificate(p: &std::path::Path) -> bool {
    use std::io::Read;
    let Ok(f) = std::fs::File::open(p) else { return false };
    if !f.metadata().is_ok_and(|m| m.is_file() && m.len() <= 1 << 20) {
        return false;
    }
    let mut text = Vec::new();
    f.take(1 << 20).read_to_end(&mut text).is_ok() && text.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----")
}

/// What to do for each of the service's keys among the host's secrets.
pub fn find(layout: &Layout, private: &[PrivatePath]) -> Vec<KeyPlan> {
    let all = places(layout, private);
    let mut out: Vec<KeyPlan> = ssh_host_keys(layout, private);
    for (path, target) in all.iter().filter(|(_, t)| secret(t).is_some()) {
        if out.iter().any(|k| k.path == *path) {
            continue;
        }
        let host_key = layout.host(target);
        let how_copy = |why: &str| How::Copy { why: why.to_string() };
        let Some(text) = openssl(&["pkey", "-in", &host_key.to_string_lossy(), "-noout", "-text"]) else {
            out.push(KeyPlan {
                path: path.clone(),
                target: target.clone(),
                certs: vec![],
                how: how_copy("since it is no private key openssl reads (or openssl is missing)"),
            });
            continue;
        };
        let pubkey = openssl(&["pkey", "-in", &host_key.to_string_lossy(), "-pubout"]).unwrap_or_default();
        let mut certs = Vec::new();
        let mut ca_signed = None;
        let mut days = 3650;
        for (l, t) in all.iter().filter(|(_, t)| secret(t).is_none()) {
            // openssl takes up to seconds to give up on a file that holds no
            // PEM (mime.types: 1.9 s); a certificate says what it is.
            if !holds_certificate(&layout.host(t)) {
                continue;
            }
            let c = layout.host(t).to_string_lossy().into_owned();
            if openssl(&["x509", "-in", &c, "-noout", "-pubkey"]).as_deref() != Some(pubkey.as_str()) {
                continue;
            }
            let info = openssl(&["x509", "-in", &c, "-noout", "-subject", "-issuer", "-startdate", "-enddate"])
                .unwrap_or_default();
            let field = |k: &str| info.lines().find_map(|x| x.strip_prefix(k)).unwrap_or("").trim().to_string();
            if field("subject=") != field("issuer=") {
                ca_signed = Some(field("issuer="));
            }
            if let (Some(a), Some(b)) = (date(&field("notBefore=")), date(&field("notAfter="))) {
                days = ((b - a) / 86400).clamp(1, 36500) as u32;
            }
            certs.push((l.clone(), t.clone()));
        }
        let (algorithm, kind) = if let Some(bits) = text.lines().next().and_then(|l| l.strip_prefix("Private-Key: (")) {
            let bits = bits.split_whitespace().next().unwrap_or("2048");
            if text.contains("ASN1 OID:") {
                let curve = text.lines().find_map(|l| l.trim().strip_prefix("ASN1 OID: ")).unwrap_or("prime256v1");
                (
                    vec!["-algorithm".into(), "EC".into(), "-pkeyopt".into(), format!("ec_paramgen_curve:{curve}")],
                    format!("EC {curve}"),
                )
            } else {
                (
                    vec!["-algorithm".into(), "RSA".into(), "-pkeyopt".into(), format!("rsa_keygen_bits:{bits}")],
                    format!("RSA {bits}-bit"),
                )
            }
        } else {
            (vec![], String::new())
        };
        let how = match (ca_signed, algorithm.is_empty()) {
            (Some(issuer), _) => {
                how_copy(&format!("since its certificate is signed by {issuer}: a new key would not match it"))
            }
            (None, true) => how_copy("since its kind of key cannot be made again here"),
            (None, false) => How::New { algorithm, kind, days },
        };
        out.push(KeyPlan { path: path.clone(), target: target.clone(), certs, how });
    }
    out
}

/// Seconds since the epoch of an `openssl x509 -dates` date
/// ("May 20 16:27:28 2026 GMT"), to the day.
fn date(s: &str) -> Option<i64> {
    let w: Vec<&str> = s.split_whitespace().collect();
    let first = *w.first()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| *m == first)? as i64
        + 1;
    let (day, year): (i64, i64) = (w.get(1)?.parse().ok()?, w.get(3)?.parse().ok()?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146097 + doe - 719468) * 86400)
}

/// Carries the plan out in the sandbox's staged `tree`: the links become
/// the new (or copied) key and certificates, owned and moded as the host's
/// (ids moved up to `shift` in a user namespace).
pub fn make(layout: &Layout, k: &KeyPlan, tree: &Path, hostname: &str, shift: Option<u32>) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dst = tree.join(k.path.trim_start_matches('/'));
    let src = layout.host(&k.target);
    // A clone's tree is a copy of one that root inside controlled: its
    // directories are reached with no link on the way, so a private
    // directory swapped for a link to the host's /etc takes no new key.
    let tree_fd = crate::safefs::open_dir(tree)?;
    for p in std::iter::once(&k.path).chain(k.certs.iter().map(|(l, _)| l)) {
        crate::clone::parents_beneath(layout.root(), tree_fd.as_fd(), Path::new(p.trim_start_matches('/')), shift)?;
    }
    let meta = std::fs::metadata(&src).with_context(|| format!("reading {}", src.display()))?;
    let _ = std::fs::remove_file(&dst);
    match &k.how {
        How::Ssh { kind, bits, .. } => {
            let pubkey = std::path::PathBuf::from(format!("{}.pub", dst.display()));
            let _ = std::fs::remove_file(&pubkey);
            let mut cmd = std::process::Command::new("ssh-keygen");
            cmd.args(["-q", "-N", "", "-t", kind, "-C", &format!("root@{hostname}"), "-f"]).arg(&dst);
            if kind != "ed25519" && *bits > 0 {
                cmd.args(["-b", &bits.to_string()]);
            }
            let st = cmd.output().context("running ssh-keygen (from openssh-client)")?;
            if !st.status.success() {
                bail!("ssh-keygen for {}: {}", k.path, String::from_utf8_lossy(&st.stderr).trim());
            }
            std::os::unix::fs::chown(&pubkey, Some(shift.unwrap_or(0)), Some(shift.unwrap_or(0)))?;
            std::fs::set_permissions(&pubkey, std::fs::Permissions::from_mode(0o644))?;
        }
        How::Copy { .. } => {
            std::fs::copy(&src, &dst).with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
        }
        How::New { algorithm, days, .. } => {
            let mut args: Vec<String> = vec!["genpkey".into()];
            args.extend(algorithm.iter().cloned());
            args.extend(["-out".into(), dst.display().to_string()]);
            let st = std::process::Command::new("openssl").args(&args).output().context("running openssl")?;
            if !st.status.success() {
                bail!("openssl genpkey for {}: {}", k.path, String::from_utf8_lossy(&st.stderr).trim());
            }
            for (link, _) in &k.certs {
                let c = tree.join(link.trim_start_matches('/'));
                let _ = std::fs::remove_file(&c);
                let st = std::process::Command::new("openssl")
                    .args(["req", "-new", "-x509", "-sha256", "-days", &days.to_string(), "-key"])
                    .arg(&dst)
                    .arg("-out")
                    .arg(&c)
                    .args(["-subj", &format!("/CN={hostname}"), "-addext", &format!("subjectAltName=DNS:{hostname}")])
                    .output()
                    .context("running openssl")?;
                if !st.status.success() {
                    bail!("openssl req for {link}: {}", String::from_utf8_lossy(&st.stderr).trim());
                }
                std::fs::set_permissions(&c, std::fs::Permissions::from_mode(0o644))?;
            }
        }
    }
    let base = shift.unwrap_or(0);
    std::os::unix::fs::chown(&dst, Some(base + meta.uid()), Some(base + meta.gid()))?;
    for (link, _) in k.certs.iter().filter(|_| matches!(k.how, How::New { .. })) {
        std::os::unix::fs::lchown(tree.join(link.trim_start_matches('/')), Some(base), Some(base))?;
    }
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn openssl_dates() {
        let a = super::date("May 20 16:27:28 2026 GMT").unwrap();
        let b = super::date("May 17 16:27:28 2036 GMT").unwrap();
        assert_eq!((b - a) / 86400, 3650);
        assert_eq!(super::date("Jan  1 00:00:00 1970 GMT"), Some(0));
        assert_eq!(super::date("nonsense"), None);
    }
}
