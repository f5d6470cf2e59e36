//! `network=private`: a network namespace of the sandbox's own, one veth
//! link to the bridge sandbox-service owns (`sbx0`, 10.89.0.1/16), an
//! address from that pool allocated at create (under the state lock, as
//! the MCS label is) and stored in the `.sandbox` file, a default route
//! through the bridge, and outbound access through masquerade in one
//! nftables table of our own (`inet sandbox-service`). The bridge's ports
//! are isolated from one another, and the host takes from the bridge only
//! what answers its own traffic: a sandbox reaches the outside, not the
//! host's services nor other sandboxes.

pub mod firewall;
pub mod netlink;
pub mod publish;

use anyhow::{bail, Context, Result};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const BRIDGE: &str = "sbx0";
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 89, 0, 1);
pub const PREFIX: u8 = 16;
/// The pool, as nftables and --explain write it.
pub const POOL: &str = "10.89.0.0/16";
/// The IPv6 side: a unique local prefix (RFC 4193), one /64 on the bridge.
/// Each sandbox's address is derived from its IPv4 one, so the allocation
/// under the lock makes both unique and nothing more is stored.
pub const GATEWAY6: Ipv6Addr = Ipv6Addr::new(0xfd89, 0x5b, 0, 0, 0, 0, 0, 1);
pub const PREFIX6: u8 = 64;
pub const POOL6: &str = "fd89:5b::/64";
/// The link's name inside the sandbox.
pub const INSIDE: &str = "eth0";

/// The lowest address of the pool no sandbox in `taken` has.
pub fn allocate(taken: &[Ipv4Addr]) -> Result<Ipv4Addr> {
    // .0.1 is the bridge; .255.255 the broadcast.
    for n in 2u32..0xffff {
        let a = Ipv4Addr::from(u32::from(GATEWAY) - 1 + n);
        if !taken.contains(&a) {
            return Ok(a);
        }
    }
    bail!("the address pool {POOL} is used up: delete a network=private sandbox first")
}

/// The sandbox's IPv6 address: the pool's /64 with the low 16 bits of its
/// IPv4 address (10.89.0.2 is fd89:5b::2; the bridge's ::1 is .0.1's).
pub fn address6(a: Ipv4Addr) -> Ipv6Addr {
    let o = a.octets();
    let s = GATEWAY6.segments();
    Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, u16::from_be_bytes([o[2], o[3]]))
}

/// Whether the calling process's network namespace has IPv6: a kernel
/// without it, or a host that turned it off, gets IPv4 only.
pub fn ipv6_on() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/disable_ipv6").is_ok_and(|v| v.trim() == "0")
}

/// Whether `a` is one the pool hands out.
pub fn in_pool(a: Ipv4Addr) -> bool {
    let (base, mask) = (u32::from(GATEWAY) & 0xffff_0000, 0xffff_0000u32);
    (u32::from(a) & mask) == base && a != GATEWAY && u32::from(a) & 0xffff != 0xffff && u32::from(a) & 0xffff != 0
}

/// The host end of sandbox `name`'s link: at most 15 bytes, unique per
/// name (a hash: names are up to 64 characters).
pub fn host_link(name: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    format!("sbx-{h:08x}")
}

/// The published ports of every private sandbox, with its address: what
/// the table forwards. A stopped sandbox's forward finds no one. Its
/// socket-activated ports are the sockets', whose proxies forward them.
pub fn forwards(configs: &[crate::config::SandboxConfig]) -> Vec<(publish::Publish, Ipv4Addr)> {
    configs
        .iter()
        .filter_map(|c| c.container.address.map(|a| (c, a)))
        .flat_map(|(c, a)| {
            let sockets = c.container.socket_ports();
            c.container.publish.iter().filter(move |p| !sockets.contains(p)).map(move |p| (*p, a))
        })
        .collect()
}

/// On the host, before the container is made: the bridge with its
/// addresses, forwarding, and our nftables table with `forwards`, each
/// made if missing. Returns whether the sandbox gets IPv6 too.
pub fn prepare_host(forwards: &[(publish::Publish, Ipv4Addr)]) -> Result<bool> {
    let mut nl = netlink::Netlink::open()?;
    netlink::exists_ok(nl.add_bridge(BRIDGE)).context("making the sandboxes' bridge sbx0")?;
    netlink::exists_ok(nl.add_address(BRIDGE, IpAddr::V4(GATEWAY), PREFIX)).context("addressing sbx0")?;
    let v6 = ipv6_on();
    if v6 {
        netlink::exists_ok(nl.add_address(BRIDGE, IpAddr::V6(GATEWAY6), PREFIX6))
            .context("giving sbx0 its IPv6 address")?;
    } else {
        eprintln!("sandbox-service: note: IPv6 is off on this host (net.ipv6.conf.all.disable_ipv6): IPv4 only");
    }
    nl.up(BRIDGE)?;
    // Per network namespace: the host's (or the test harness's) own.
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").context("enabling IPv4 forwarding")?;
    if v6 {
        enable_ipv6_forwarding()?;
    }
    // The host's own 127.0.0.1:HOSTPORT is forwarded too: a packet from
    // loopback may then leave through the bridge (and is masqueraded).
    std::fs::write(format!("/proc/sys/net/ipv4/conf/{BRIDGE}/route_localnet"), "1")
        .context("letting loopback traffic to published ports through sbx0")?;
    firewall::ensure(forwards, v6)?;
    Ok(v6)
}

/// IPv6 forwarding on, keeping what the host's links take from router
/// advertisements: a forwarding host ignores them where accept_ra is 1,
/// and would lose its SLAAC address and default route; 2 keeps them.
fn enable_ipv6_forwarding() -> Result<()> {
    let conf = std::path::Path::new("/proc/sys/net/ipv6/conf");
    let read = |p: std::path::PathBuf| std::fs::read_to_string(p).map(|v| v.trim().to_string()).unwrap_or_default();
    if read(conf.join("all/forwarding")) == "1" {
        return Ok(());
    }
    for e in std::fs::read_dir(conf).context("reading /proc/sys/net/ipv6/conf")?.flatten() {
        let link = e.file_name().to_string_lossy().into_owned();
        if ["all", "default", "lo", BRIDGE].contains(&link.as_str()) || link.starts_with("sbx-") {
            continue;
        }
        if read(e.path().join("accept_ra")) == "1" {
            std::fs::write(e.path().join("accept_ra"), "2")
                .with_context(|| format!("keeping router advertisements on {link} (accept_ra=2)"))?;
            eprintln!("sandbox-service: note: {link}: accept_ra 1 -> 2, so that IPv6 forwarding keeps its router advertisements");
        }
    }
    std::fs::write(conf.join("all/forwarding"), "1").context("enabling IPv6 forwarding")
}

/// On the host, once the container's process `pid` exists: its veth pair,
/// the peer moved into its namespace as eth0, the host end isolated on
/// the bridge. The pair goes when the namespace does.
pub fn attach(name: &str, pid: u32, addr: Ipv4Addr) -> Result<()> {
    let host = host_link(name);
    let mut nl = netlink::Netlink::open()?;
    // One left by a runtime that died with its namespace still held.
    nl.delete_link(&host)?;
    nl.add_veth_into(&host, INSIDE, pid, mac_of(addr)).with_context(|| format!("making the veth pair {host}"))?;
    nl.enslave_isolated(&host, BRIDGE)?;
    nl.up(&host)
}

/// The sandbox's hardware address, from its IPv4 one (locally
/// administered, unicast): the same at every start, so the host's
/// neighbour entry for the address stays right across a restart instead
/// of sending to the last start's address until it expires.
pub fn mac_of(a: Ipv4Addr) -> [u8; 6] {
    let o = a.octets();
    [0x02, 0x5b, o[0], o[1], o[2], o[3]]
}

/// Inside the container, before its confinement: loopback, eth0 with the
/// sandbox's addresses, the default routes through the bridge.
pub fn configure_inside(addr: Ipv4Addr, v6: bool) -> Result<()> {
    let mut nl = netlink::Netlink::open()?;
    nl.up("lo")?;
    nl.add_address(INSIDE, IpAddr::V4(addr), PREFIX).with_context(|| format!("giving eth0 {addr}/{PREFIX}"))?;
    if v6 {
        let a6 = address6(addr);
        nl.add_address(INSIDE, IpAddr::V6(a6), PREFIX6).with_context(|| format!("giving eth0 {a6}/{PREFIX6}"))?;
    }
    nl.up(INSIDE)?;
    nl.add_default_route(IpAddr::V4(GATEWAY)).context("adding the default route through sbx0")?;
    if v6 {
        nl.add_default_route(IpAddr::V6(GATEWAY6)).context("adding the IPv6 default route through sbx0")?;
    }
    Ok(())
}

/// What is left of the private network once no sandbox uses it.
pub fn remove_host() -> Result<()> {
    let mut nl = netlink::Netlink::open()?;
    nl.delete_link(BRIDGE)?;
    firewall::remove()
}

/// A note for `--explain` and create when the host's resolv.conf names
/// a resolver on its loopback, which a private namespace cannot reach.
pub fn resolv_note(resolv_conf: &str) -> Option<String> {
    let loopback: Vec<&str> = resolv_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .map(str::trim)
        .filter(|a| a.parse::<IpAddr>().is_ok_and(|a| a.is_loopback()))
        .collect();
    (!loopback.is_empty()).then(|| {
        format!(
            "the host's /etc/resolv.conf names {} on its loopback, which a private network cannot reach: make \
             /etc/resolv.conf private (-p /etc/resolv.conf) and name a reachable server in it",
            loopback.join(" ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_names_and_notes() {
        assert_eq!(allocate(&[]).unwrap(), Ipv4Addr::new(10, 89, 0, 2));
        let taken = [Ipv4Addr::new(10, 89, 0, 2), Ipv4Addr::new(10, 89, 0, 4)];
        assert_eq!(allocate(&taken).unwrap(), Ipv4Addr::new(10, 89, 0, 3));
        assert!(in_pool(Ipv4Addr::new(10, 89, 3, 7)) && !in_pool(GATEWAY) && !in_pool(Ipv4Addr::new(10, 90, 0, 2)));
        assert!(host_link("a-very-long-sandbox-name-of-sixty-four-characters-or-so").len() <= 15);
        assert_ne!(host_link("web1"), host_link("web2"));
        assert_eq!(mac_of(Ipv4Addr::new(10, 89, 0, 3)), [2, 0x5b, 10, 89, 0, 3]);
        assert_eq!(address6(Ipv4Addr::new(10, 89, 1, 2)).to_string(), "fd89:5b::102");
        assert_eq!(address6(GATEWAY), GATEWAY6);
        assert!(resolv_note("nameserver 127.0.0.53\n").unwrap().contains("127.0.0.53"));
        assert!(resolv_note("nameserver 192.168.1.1\n").is_none());
    }
}
