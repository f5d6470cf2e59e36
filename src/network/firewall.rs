//! The private network's rules, all in one nftables table of our own
//! (`inet sandbox-service`), replaced whole and atomically by `nft -f`;
//! never a rule in another table, so it coexists with the host's own
//! nftables or iptables-nft rules.
//!
//! `nft -f` takes some 15 ms (the kernel's commit waits for RCU), and a
//! start would pay it every time: so the table is loaded only when it may
//! differ. After a load the stamp records the network namespace, the
//! ruleset's generation (which every commit to any table increments) and
//! the rules; a start whose rules and namespace match, at the same
//! generation, knows the table is as loaded.

use anyhow::{bail, Context, Result};
use std::io::Write;

/// The table, with destination NAT rules for each published port of each
/// private sandbox (`forwards`: what, to which address), and IPv6 rules
/// when `v6`.
fn ruleset(forwards: &[(super::publish::Publish, std::net::Ipv4Addr)], v6: bool) -> String {
    let dnat: String = forwards.iter().flat_map(|(p, to)| p.rules(*to, v6)).map(|r| format!("\t\t{r}\n")).collect();
    let masquerade6 =
        if v6 { format!("\t\tip6 saddr {p} ip6 daddr != {p} masquerade\n", p = super::POOL6) } else { String::new() };
    format!(
        "table inet sandbox-service {{\n\
         \tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n{dnat}\t}}\n\
         \tchain output {{\n\t\ttype nat hook output priority -100; policy accept;\n{dnat}\t}}\n\
         \tchain postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\tip saddr {pool} ip daddr != {pool} masquerade\n{masquerade6}\
         \t\toifname \"{br}\" ip saddr 127.0.0.0/8 masquerade\n\t}}\n\
         \tchain input {{\n\t\ttype filter hook input priority filter; policy accept;\n\
         \t\tiifname \"{br}\" ct state established,related accept\n\
         \t\ticmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert }} iifname \"{br}\" accept\n\
         \t\tiifname \"{br}\" drop\n\t}}\n\
         \tchain forward {{\n\t\ttype filter hook forward priority filter; policy accept;\n\
         \t\toifname \"{br}\" ct state established,related accept\n\
         \t\toifname \"{br}\" ct status dnat accept\n\
         \t\toifname \"{br}\" drop\n\t}}\n\
         }}\n",
        pool = super::POOL,
        br = super::BRIDGE
    )
}

fn nft(script: &str) -> Result<()> {
    let Some(nft) = ["/usr/sbin/nft", "/sbin/nft"].into_iter().find(|p| std::path::Path::new(p).is_file()) else {
        bail!("network=private needs nft for its masquerade rules: install the nftables package");
    };
    let mut child = std::process::Command::new(nft)
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running nft")?;
    child.stdin.take().context("nft's stdin")?.write_all(script.as_bytes()).context("writing to nft")?;
    let out = child.wait_with_output().context("waiting for nft")?;
    if !out.status.success() {
        bail!("nft refused the sandbox-service table: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

const STAMP: &str = "/run/sandbox-service/nft.stamp";
const NFTA_GEN_ID: u16 = 1;

/// The table as it must be: made, or replaced in one transaction, unless
/// the stamp shows it is so already.
pub fn ensure(forwards: &[(super::publish::Publish, std::net::Ipv4Addr)], v6: bool) -> Result<()> {
    let rules = ruleset(forwards, v6);
    // Starts and deletes of several sandboxes at once: one load at a time.
    let _lock = stamp_lock()?;
    let netns = std::fs::read_link("/proc/self/ns/net").map(|l| l.to_string_lossy().into_owned()).unwrap_or_default();
    let stamp = |generation: u32| format!("{netns}\n{generation}\n{rules}");
    if let Some(g) = generation() {
        if std::fs::read_to_string(STAMP).is_ok_and(|s| s == stamp(g)) {
            return Ok(());
        }
    }
    // "table …" first makes the delete valid when the table is absent.
    nft(&format!("table inet sandbox-service\ndelete table inet sandbox-service\n{rules}"))?;
    match generation() {
        Some(g) => {
            let tmp = format!("{STAMP}.new");
            std::fs::write(&tmp, stamp(g))
                .and_then(|()| std::fs::rename(&tmp, STAMP))
                .context("writing the firewall's stamp")
        }
        None => {
            let _ = std::fs::remove_file(STAMP);
            Ok(())
        }
    }
}

pub fn remove() -> Result<()> {
    let _lock = stamp_lock()?;
    let _ = std::fs::remove_file(STAMP);
    nft("table inet sandbox-service\ndelete table inet sandbox-service\n")
}

fn stamp_lock() -> Result<nix::fcntl::Flock<std::fs::File>> {
    std::fs::create_dir_all(crate::runtime::control::DIR).context("creating /run/sandbox-service")?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(format!("{STAMP}.lock"))
        .context("opening the firewall's lock")?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| anyhow::anyhow!("locking the firewall's lock: {e}"))
}

/// The nftables ruleset generation of this network namespace
/// (NFT_MSG_GETGEN over nfnetlink), or None if the kernel does not say.
fn generation() -> Option<u32> {
    use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};
    const NFNL_SUBSYS_NFTABLES: u16 = 10;
    const NFT_MSG_GETGEN: u16 = 16;
    let sock = Socket::new(NETLINK_NETFILTER).ok()?;
    sock.connect(&SocketAddr::new(0, 0)).ok()?;
    // nlmsghdr (len, type, flags, seq, pid) and nfgenmsg (family, version, res_id).
    let mut req = Vec::with_capacity(20);
    req.extend_from_slice(&20u32.to_ne_bytes());
    req.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN).to_ne_bytes());
    req.extend_from_slice(&(nix::libc::NLM_F_REQUEST as u16).to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.extend_from_slice(&[nix::libc::AF_UNSPEC as u8, 0, 0, 0]);
    sock.send(&req, 0).ok()?;
    let mut buf = vec![0u8; 4096];
    let n = sock.recv(&mut &mut buf[..], 0).ok()?;
    parse_generation(&buf[..n])
}

/// NFTA_GEN_ID from a NFT_MSG_NEWGEN answer (attributes after the 16
/// bytes of nlmsghdr and the 4 of nfgenmsg; the id is big-endian).
fn parse_generation(msg: &[u8]) -> Option<u32> {
    let len = u32::from_ne_bytes(msg.get(0..4)?.try_into().ok()?) as usize;
    let kind = u16::from_ne_bytes(msg.get(4..6)?.try_into().ok()?);
    if kind == nix::libc::NLMSG_ERROR as u16 {
        return None;
    }
    let mut off = 20;
    while off + 4 <= len.min(msg.len()) {
        let alen = u16::from_ne_bytes(msg[off..off + 2].try_into().ok()?) as usize;
        let atype = u16::from_ne_bytes(msg[off + 2..off + 4].try_into().ok()?) & 0x3fff;
        if alen < 4 {
            return None;
        }
        if atype == NFTA_GEN_ID && alen == 8 {
            return Some(u32::from_be_bytes(msg.get(off + 4..off + 8)?.try_into().ok()?));
        }
        off += (alen + 3) & !3;
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_generation_is_read_from_a_newgen_answer() {
        let mut m = Vec::new();
        m.extend_from_slice(&36u32.to_ne_bytes());
        m.extend_from_slice(&((10u16 << 8) | 15).to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(&[0, 0, 0, 0]);
        // NFTA_GEN_ID = 0x01020304, then NFTA_GEN_PROC_PID.
        m.extend_from_slice(&8u16.to_ne_bytes());
        m.extend_from_slice(&1u16.to_ne_bytes());
        m.extend_from_slice(&[1, 2, 3, 4]);
        m.extend_from_slice(&8u16.to_ne_bytes());
        m.extend_from_slice(&2u16.to_ne_bytes());
        m.extend_from_slice(&[0, 0, 0, 9]);
        assert_eq!(super::parse_generation(&m), Some(0x0102_0304));
        assert_eq!(super::parse_generation(&m[..20]), None);
    }
}
