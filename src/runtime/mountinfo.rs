//! /proc/self/mountinfo, read to check the container's mounts after they
//! are made: every mount is nosuid, and every one but the device nodes
//! and devpts is nodev.

use anyhow::{bail, Context, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub mount_point: String,
    /// The per-mount options (`rw,nosuid,nodev,...`), not the superblock's.
    pub options: Vec<String>,
    pub fstype: String,
}

impl Mount {
    pub fn has(&self, opt: &str) -> bool {
        self.options.iter().any(|o| o == opt)
    }
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse(text: &str) -> Result<Vec<Mount>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(sep) = f.iter().position(|w| *w == "-") else { bail!("mountinfo line without ' - ': {line}") };
        if sep < 6 || f.len() < sep + 2 {
            bail!("short mountinfo line: {line}");
        }
        out.push(Mount {
            mount_point: unescape(f[4]),
            options: f[5].split(',').map(str::to_string).collect(),
            fstype: f[sep + 1].to_string(),
        });
    }
    Ok(out)
}

pub fn read() -> Result<Vec<Mount>> {
    parse(&std::fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?)
}

/// What a mount must have: nosuid always; nodev unless it is a device
/// node (a bind of /dev/null, /dev/tty...: `is_device` says) or devpts,
/// whose nodes the kernel makes. The device allow-list decides what those
/// may open.
pub fn required(m: &Mount, is_device: bool) -> &'static [&'static str] {
    if is_device || m.fstype == "devpts" {
        &["nosuid"]
    } else {
        &["nosuid", "nodev"]
    }
}

/// The mounts that lack a required option, with the options they lack.
pub fn lacking(mounts: &[Mount], is_device: impl Fn(&str) -> bool) -> Vec<(String, Vec<&'static str>)> {
    mounts
        .iter()
        .filter_map(|m| {
            let missing: Vec<&'static str> =
                required(m, is_device(&m.mount_point)).iter().copied().filter(|o| !m.has(o)).collect();
            (!missing.is_empty()).then(|| (m.mount_point.clone(), missing))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
1 0 0:50 / / ro,nosuid,nodev,relatime - tmpfs tmpfs ro,size=1024k,mode=755
2 1 253:0 /usr /usr ro,nodev,relatime shared:1 - ext4 /dev/vda rw
3 1 0:6 /null /dev/null rw,nosuid,relatime - devtmpfs devtmpfs rw,mode=755
4 1 0:51 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666
5 1 253:0 /var/lib/x/tree/etc/my\\040app /etc/my\\040app rw,relatime - ext4 /dev/vda rw
";

    #[test]
    fn finds_mounts_without_nosuid_or_nodev() {
        let m = parse(SAMPLE).unwrap();
        assert_eq!(m.len(), 5);
        assert_eq!(m[4].mount_point, "/etc/my app");
        assert_eq!(m[3].fstype, "devpts");
        let lack = lacking(&m, |p| p == "/dev/null");
        assert_eq!(
            lack,
            vec![("/usr".to_string(), vec!["nosuid"]), ("/etc/my app".to_string(), vec!["nosuid", "nodev"])]
        );
        // A device bind must keep working: only nosuid is asked of it.
        assert!(lacking(&m[2..3], |_| true).is_empty());
        assert!(parse("garbage").is_err());
    }
}
