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

/// The first PEM certificate of `p`, a regular file of at most 1 MiB
/// (a bundle may hold text before it, as `openssl x509 -text` writes).
fn certificate(p: &std::path::Path) -> Option<x509_cert::Certificate> {
    use std::io::Read;
    use x509_cert::der::DecodePem;
    let f = std::fs::File::open(p).ok()?;
    if !f.metadata().is_ok_and(|m| m.is_file() && m.len() <= 1 << 20) {
        return None;
    }
    let mut bytes = Vec::new();
    f.take(1 << 20).read_to_end(&mut bytes).ok()?;
    // The text around the PEM block need not be UTF-8.
    x509_cert::Certificate::from_pem(pem_block(&String::from_utf8_lossy(&bytes), "CERTIFICATE")?).ok()
}

/// The first PEM block labelled `label` in `text`, from its BEGIN line to
/// its END line: a file or an openssl output may hold other text around it.
fn pem_block<'t>(text: &'t str, label: &str) -> Option<&'t str> {
    let end_line = format!("-----END {label}-----");
    let start = text.find(&format!("-----BEGIN {label}-----"))?;
    let end = start + text[start..].find(&end_line)? + end_line.len();
    Some(&text[start..end])
}

/// The public key (SubjectPublicKeyInfo, DER) in what `openssl pkey
/// -pubout -text` prints: its PEM block, then text such as "Public-Key:
/// (2048 bit)" and, for EC, "ASN1 OID: prime256v1".
fn public_key(text: &str) -> Option<Vec<u8>> {
    let (label, der) = x509_cert::der::pem::decode_vec(pem_block(text, "PUBLIC KEY")?.as_bytes()).ok()?;
    (label == "PUBLIC KEY").then_some(der)
}

/// What to do for each of the service's keys among the host's secrets.
/// One `openssl` run reads the key (what openssl cannot read is copied);
/// certificates are read here: `openssl x509` takes about 25 ms a run.
pub fn find(layout: &Layout, private: &[PrivatePath]) -> Vec<KeyPlan> {
    use x509_cert::der::Encode;
    let all = places(layout, private);
    let mut out: Vec<KeyPlan> = ssh_host_keys(layout, private);
    for (path, target) in all.iter().filter(|(_, t)| secret(t).is_some()) {
        if out.iter().any(|k| k.path == *path) {
            continue;
        }
        let host_key = layout.host(target);
        let how_copy = |why: &str| How::Copy { why: why.to_string() };
        let read = openssl(&["pkey", "-in", &host_key.to_string_lossy(), "-pubout", "-text"]);
        let Some((text, pubkey)) = read.and_then(|t| public_key(&t).map(|k| (t, k))) else {
            out.push(KeyPlan {
                path: path.clone(),
                target: target.clone(),
                certs: vec![],
                how: how_copy("since it is no private key openssl reads (or openssl is missing)"),
            });
            continue;
        };
        let mut certs = Vec::new();
        let mut ca_signed = None;
        let mut days = 3650;
        for (l, t) in all.iter().filter(|(_, t)| secret(t).is_none()) {
            let Some(c) = certificate(&layout.host(t)) else { continue };
            let tbs = &c.tbs_certificate;
            if tbs.subject_public_key_info.to_der().ok().as_deref() != Some(pubkey.as_slice()) {
                continue;
            }
            if tbs.subject != tbs.issuer {
                ca_signed = Some(tbs.issuer.to_string());
            }
            let (a, b) = (tbs.validity.not_before.to_unix_duration(), tbs.validity.not_after.to_unix_duration());
            days = (b.saturating_sub(a).as_secs() / 86400).clamp(1, 36500) as u32;
            certs.push((l.clone(), t.clone()));
        }
        let (algorithm, kind) = if let Some(bits) = text.lines().find_map(|l| l.strip_prefix("Public-Key: (")) {
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

/// A key being made, started before the sandbox's tree is copied so
/// that its prime search (an RSA 2048 key takes 70 to 460 ms here)
/// overlaps the copy. The new files are written in `scratch`, a directory
/// of the staging area beside the tree, and moved in by `finish`; a key
/// dropped unfinished (create failed or was interrupted) is killed.
pub struct Making<'a> {
    plan: &'a KeyPlan,
    scratch: std::path::PathBuf,
    child: Option<(&'static str, std::process::Child)>,
}

impl Drop for Making<'_> {
    fn drop(&mut self) {
        if let Some((_, mut c)) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts making `k` in `scratch` (made here, mode 0700; it must not
/// exist). One `openssl req` makes a key and its self-signed certificate.
pub fn start<'a>(k: &'a KeyPlan, scratch: &Path, hostname: &str) -> Result<Making<'a>> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(scratch)
        .with_context(|| format!("creating {}", scratch.display()))?;
    let key = scratch.join("key");
    let (tool, mut cmd) = match &k.how {
        How::Copy { .. } => return Ok(Making { plan: k, scratch: scratch.to_path_buf(), child: None }),
        How::Ssh { kind, bits, .. } => {
            let mut cmd = std::process::Command::new("ssh-keygen");
            cmd.args(["-q", "-N", "", "-t", kind, "-C", &format!("root@{hostname}"), "-f"]).arg(&key);
            if kind != "ed25519" && *bits > 0 {
                cmd.args(["-b", &bits.to_string()]);
            }
            ("ssh-keygen (from openssh-client)", cmd)
        }
        How::New { algorithm, .. } if k.certs.is_empty() => {
            let mut cmd = std::process::Command::new("openssl");
            cmd.arg("genpkey").args(algorithm).arg("-out").arg(&key);
            ("openssl genpkey", cmd)
        }
        How::New { algorithm, days, .. } => {
            let mut cmd = std::process::Command::new("openssl");
            cmd.args(["req", "-x509", "-nodes", "-sha256", "-days", &days.to_string()]);
            // genpkey's `-algorithm RSA -pkeyopt ...` is req's `-newkey RSA -pkeyopt ...`.
            cmd.args(algorithm.iter().map(|a| if a == "-algorithm" { "-newkey" } else { a.as_str() }));
            cmd.arg("-keyout").arg(&key).arg("-out").arg(scratch.join("cert"));
            cmd.args(["-subj", &format!("/CN={hostname}"), "-addext", &format!("subjectAltName=DNS:{hostname}")]);
            ("openssl req", cmd)
        }
    };
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    let child = cmd.spawn().with_context(|| format!("running {tool}"))?;
    Ok(Making { plan: k, scratch: scratch.to_path_buf(), child: Some((tool, child)) })
}

/// Starts every key of `keys`, each in its own directory under `work`.
pub fn start_all<'a>(keys: &'a [KeyPlan], work: &Path, hostname: &str) -> Result<Vec<Making<'a>>> {
    keys.iter().enumerate().map(|(i, k)| start(k, &work.join(format!("key{i}")), hostname)).collect()
}

impl Making<'_> {
    /// Carries the plan out in the sandbox's staged `tree`: the links
    /// become the new (or copied) key and certificates, owned and moded as
    /// the host's (ids moved up to `shift` in a user namespace). Returns
    /// the paths (inside) it wrote.
    pub fn finish(mut self, layout: &Layout, tree: &Path, shift: Option<u32>) -> Result<Vec<String>> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let k = self.plan;
        if let Some((tool, c)) = self.child.take() {
            let out = c.wait_with_output().with_context(|| format!("running {tool}"))?;
            if !out.status.success() {
                bail!("{tool} for {}: {}", k.path, String::from_utf8_lossy(&out.stderr).trim());
            }
        }
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
        // rename replaces what is there, a link to a host file included,
        // without following it.
        let made = |name: &str, to: &Path| {
            std::fs::rename(self.scratch.join(name), to)
                .with_context(|| format!("moving the new {name} to {}", to.display()))
        };
        match &k.how {
            How::Ssh { .. } => {
                let pubkey = std::path::PathBuf::from(format!("{}.pub", dst.display()));
                made("key", &dst)?;
                made("key.pub", &pubkey)?;
                std::os::unix::fs::chown(&pubkey, Some(shift.unwrap_or(0)), Some(shift.unwrap_or(0)))?;
                std::fs::set_permissions(&pubkey, std::fs::Permissions::from_mode(0o644))?;
            }
            How::Copy { .. } => {
                std::fs::copy(&src, &dst).with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
            }
            How::New { .. } => {
                made("key", &dst)?;
                // Every link to the host's certificate gets the one made for
                // the new key.
                let mut first: Option<std::path::PathBuf> = None;
                for (link, _) in &k.certs {
                    let c = tree.join(link.trim_start_matches('/'));
                    match &first {
                        None => made("cert", &c)?,
                        Some(f) => {
                            let _ = std::fs::remove_file(&c);
                            std::fs::copy(f, &c).with_context(|| format!("writing {}", c.display()))?;
                        }
                    }
                    std::fs::set_permissions(&c, std::fs::Permissions::from_mode(0o644))?;
                    first.get_or_insert(c);
                }
            }
        }
        let base = shift.unwrap_or(0);
        std::os::unix::fs::chown(&dst, Some(base + meta.uid()), Some(base + meta.gid()))?;
        for (link, _) in k.certs.iter().filter(|_| matches!(k.how, How::New { .. })) {
            std::os::unix::fs::lchown(tree.join(link.trim_start_matches('/')), Some(base), Some(base))?;
        }
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        std::fs::remove_dir(&self.scratch).with_context(|| format!("removing {}", self.scratch.display()))?;
        let mut wrote = vec![k.path.clone()];
        match &k.how {
            How::Ssh { .. } => wrote.push(format!("{}.pub", k.path)),
            How::New { .. } => wrote.extend(k.certs.iter().map(|(l, _)| l.clone())),
            How::Copy { .. } => {}
        }
        Ok(wrote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key and certificate made as make-ssl-cert makes the host's, read
    /// back as `find` reads them.
    #[test]
    fn a_made_key_and_its_certificate_are_read_back() {
        let d = tempfile::tempdir().unwrap();
        let k = KeyPlan {
            path: "/etc/ssl/private/k.key".into(),
            target: "/etc/ssl/private/k.key".into(),
            certs: vec![("/etc/ssl/certs/k.pem".into(), "/etc/ssl/certs/k.pem".into())],
            how: How::New {
                algorithm: vec![
                    "-algorithm".into(),
                    "EC".into(),
                    "-pkeyopt".into(),
                    "ec_paramgen_curve:prime256v1".into(),
                ],
                kind: "EC prime256v1".into(),
                days: 30,
            },
        };
        let scratch = d.path().join("s");
        let m = start(&k, &scratch, "web1").unwrap();
        let pid = m.child.as_ref().unwrap().1.id();
        drop(m);
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "killed and reaped");
        // Dropped unfinished: the process is gone, its directory left for
        // the staging area's removal.
        assert!(scratch.is_dir());
        let scratch = d.path().join("t");
        let mut m = start(&k, &scratch, "web1").unwrap();
        let (_, c) = m.child.take().unwrap();
        assert!(c.wait_with_output().unwrap().status.success());
        let text = openssl(&["pkey", "-in", &scratch.join("key").to_string_lossy(), "-pubout", "-text"]).unwrap();
        assert!(text.contains("ASN1 OID: prime256v1"), "{text}");
        let cert = certificate(&scratch.join("cert")).unwrap();
        use x509_cert::der::Encode;
        let tbs = &cert.tbs_certificate;
        assert_eq!(tbs.subject_public_key_info.to_der().unwrap(), public_key(&text).unwrap());
        assert_eq!(tbs.subject, tbs.issuer);
        assert_eq!(tbs.subject.to_string(), "CN=web1");
        let (a, b) = (tbs.validity.not_before.to_unix_duration(), tbs.validity.not_after.to_unix_duration());
        assert_eq!((b - a).as_secs() / 86400, 30);
        // Text before the certificate, as `openssl x509 -text` writes it.
        let bundle = d.path().join("bundle.pem");
        std::fs::write(
            &bundle,
            format!("Certificate:\n  noise\n{}", std::fs::read_to_string(scratch.join("cert")).unwrap()),
        )
        .unwrap();
        assert_eq!(certificate(&bundle).unwrap(), cert);
        let mut latin1 = b"Zertifikat f\xfcr web1\n".to_vec();
        latin1.extend(std::fs::read(scratch.join("cert")).unwrap());
        std::fs::write(&bundle, latin1).unwrap();
        assert_eq!(certificate(&bundle).unwrap(), cert);
        std::fs::write(&bundle, "-----BEGIN CERTIFICATE-----\nbm90IGRlcg==\n-----END CERTIFICATE-----\n").unwrap();
        assert!(certificate(&bundle).is_none());
        assert!(public_key("Public-Key: (2048 bit)").is_none());
    }
}
