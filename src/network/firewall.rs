//! The private network's rules, all in one nftables table of our own
//! (`inet sandbox-service`), replaced whole and atomically by `nft -f`;
//! never a rule in another table, so it coexists with the host's own
//! nftables or iptables-nft rules.

use anyhow::{bail, Context, Result};
use std::io::Write;

/// The table, with a destination NAT rule for each published port of
/// each private sandbox (`forwards`: what, to which address).
fn ruleset(forwards: &[(super::publish::Publish, std::net::Ipv4Addr)]) -> String {
    let dnat: String = forwards.iter().map(|(p, to)| format!("\t\t{}\n", p.rule(*to))).collect();
    format!(
        "table inet sandbox-service {{\n\
         \tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n{dnat}\t}}\n\
         \tchain output {{\n\t\ttype nat hook output priority -100; policy accept;\n{dnat}\t}}\n\
         \tchain postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\tip saddr {pool} ip daddr != {pool} masquerade\n\
         \t\toifname \"{br}\" ip saddr 127.0.0.0/8 masquerade\n\t}}\n\
         \tchain input {{\n\t\ttype filter hook input priority filter; policy accept;\n\
         \t\tiifname \"{br}\" ct state established,related accept\n\
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

/// The table as it must be: made, or replaced in one transaction.
pub fn ensure(forwards: &[(super::publish::Publish, std::net::Ipv4Addr)]) -> Result<()> {
    // "table …" first makes the delete valid when the table is absent.
    nft(&format!("table inet sandbox-service\ndelete table inet sandbox-service\n{}", ruleset(forwards)))
}

pub fn remove() -> Result<()> {
    nft("table inet sandbox-service\ndelete table inet sandbox-service\n")
}
