//! Published ports of network=private: `[ADDR:]HOSTPORT:PORT[/tcp|/udp]`,
//! forwarded by destination NAT in our nftables table to the sandbox's
//! addresses, IPv4 and IPv6, from other hosts (prerouting) and from the
//! host itself (output), 127.0.0.1 included (`route_localnet` on the
//! bridge, and the loopback source masqueraded to the bridge's address).
//! IPv6 has no route_localnet: [::1] is served by a proxy (units.rs).

use anyhow::{anyhow, bail, Result};
use std::net::{IpAddr, Ipv4Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Publish {
    /// Only this host address (default: every local address).
    pub addr: Option<IpAddr>,
    pub host_port: u16,
    pub port: u16,
    pub proto: Proto,
}

impl std::str::FromStr for Publish {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad =
            || anyhow!("publish {s}: give [ADDR:]HOSTPORT:PORT[/tcp|/udp], e.g. 8081:80, [::1]:8081:80 or 5353:53/udp");
        let (spec, proto) = match s.rsplit_once('/') {
            Some((x, "tcp")) => (x, Proto::Tcp),
            Some((x, "udp")) => (x, Proto::Udp),
            Some(_) => return Err(bad()),
            None => (s, Proto::Tcp),
        };
        // An IPv6 address is in brackets, as in a URL.
        let (addr, ports) = match spec.strip_prefix('[') {
            Some(r) => {
                let (a, rest) = r.split_once("]:").ok_or_else(bad)?;
                (Some(IpAddr::V6(a.parse().map_err(|_| bad())?)), rest)
            }
            None => match spec.matches(':').count() {
                1 => (None, spec),
                2 => {
                    let (a, rest) = spec.split_once(':').ok_or_else(bad)?;
                    (Some(IpAddr::V4(a.parse::<Ipv4Addr>().map_err(|_| bad())?)), rest)
                }
                _ => return Err(bad()),
            },
        };
        let (hp, p) = ports.split_once(':').ok_or_else(bad)?;
        let port = |x: &str| x.parse::<u16>().ok().filter(|n| *n > 0).ok_or_else(bad);
        Ok(Publish { addr, host_port: port(hp)?, port: port(p)?, proto })
    }
}

impl std::fmt::Display for Publish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.addr {
            Some(IpAddr::V6(a)) => write!(f, "[{a}]:")?,
            Some(a) => write!(f, "{a}:")?,
            None => {}
        }
        write!(f, "{}:{}/{}", self.host_port, self.port, self.proto.name())
    }
}

impl Publish {
    /// Whether two publications want the same host port.
    pub fn clashes(&self, o: &Publish) -> bool {
        self.proto == o.proto
            && self.host_port == o.host_port
            && (self.addr.is_none() || o.addr.is_none() || self.addr == o.addr)
    }

    /// The nftables rules that forward it to the sandbox at `to`, and at
    /// its IPv6 address when `v6`: one per family it is published on.
    pub fn rules(&self, to: Ipv4Addr, v6: bool) -> Vec<String> {
        let (p, hp, port) = (self.proto.name(), self.host_port, self.port);
        let to6 = super::address6(to);
        let mut out = Vec::new();
        match self.addr {
            Some(IpAddr::V4(a)) => out.push(format!("ip daddr {a} {p} dport {hp} dnat ip to {to}:{port}")),
            Some(IpAddr::V6(a)) if v6 => out.push(format!("ip6 daddr {a} {p} dport {hp} dnat ip6 to [{to6}]:{port}")),
            Some(IpAddr::V6(_)) => {}
            None => {
                out.push(format!("fib daddr type local {p} dport {hp} dnat ip to {to}:{port}"));
                if v6 {
                    // [::1] is the proxy's: a NATed packet from it goes nowhere.
                    out.push(format!(
                        "fib daddr type local ip6 daddr != ::1 {p} dport {hp} dnat ip6 to [{to6}]:{port}"
                    ));
                }
            }
        }
        out
    }

    /// Whether the host's [::1] is one of the addresses it is published
    /// on: NAT cannot take a packet from IPv6 loopback to the bridge.
    pub fn on_ipv6_loopback(&self) -> bool {
        self.addr.is_none_or(|a| a == IpAddr::V6(std::net::Ipv6Addr::LOCALHOST))
    }

    /// What on the host holds the port already, if anything: a listening
    /// TCP socket or a bound UDP one, named by its process.
    pub fn holder(&self) -> Option<String> {
        let files: &[&str] = match self.proto {
            Proto::Tcp => &["/proc/net/tcp", "/proc/net/tcp6"],
            Proto::Udp => &["/proc/net/udp", "/proc/net/udp6"],
        };
        let mut inodes = Vec::new();
        for f in files {
            let Ok(t) = std::fs::read_to_string(f) else { continue };
            inodes.extend(listening(&t, self.host_port, self.proto).into_iter().map(|i| format!("socket:[{i}]")));
        }
        if inodes.is_empty() {
            return None;
        }
        for p in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else { continue };
            for fd in fds.flatten() {
                if std::fs::read_link(fd.path()).is_ok_and(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str())) {
                    let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
                    return Some(format!("{} (pid {pid})", comm.trim()));
                }
            }
        }
        Some("a socket of another network namespace's process".into())
    }
}

/// The inodes of the sockets in a /proc/net/{tcp,udp}[6] table that
/// listen on `port`: TCP ones in LISTEN, UDP ones bound in any state.
pub fn listening(table: &str, port: u16, proto: Proto) -> Vec<String> {
    let mut out = Vec::new();
    for l in table.lines().skip(1) {
        let w: Vec<&str> = l.split_whitespace().collect();
        let (Some(local), Some(state), Some(inode)) = (w.get(1), w.get(3), w.get(9)) else { continue };
        let p = local.rsplit_once(':').and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
        // 0A: LISTEN.
        if p == Some(port) && (proto == Proto::Udp || *state == "0A") {
            out.push(inode.to_string());
        }
    }
    out
}

/// `publish=` of the `.sandbox` file: space-separated.
pub fn parse_list(v: &str) -> Result<Vec<Publish>> {
    let list: Vec<Publish> = v.split_whitespace().map(str::parse).collect::<Result<_>>()?;
    for (i, a) in list.iter().enumerate() {
        if let Some(b) = list[..i].iter().find(|b| b.clashes(a)) {
            bail!("publish {a} and {b} want the same host port");
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_print_and_clash() {
        let p: Publish = "8081:80".parse().unwrap();
        assert_eq!(p, Publish { addr: None, host_port: 8081, port: 80, proto: Proto::Tcp });
        assert_eq!(p.to_string(), "8081:80/tcp");
        let u: Publish = "127.0.0.1:5353:53/udp".parse().unwrap();
        assert_eq!(u.to_string(), "127.0.0.1:5353:53/udp");
        let to: Ipv4Addr = "10.89.0.2".parse().unwrap();
        assert_eq!(u.rules(to, true), vec!["ip daddr 127.0.0.1 udp dport 5353 dnat ip to 10.89.0.2:53"]);
        assert_eq!(
            p.rules(to, true),
            vec![
                "fib daddr type local tcp dport 8081 dnat ip to 10.89.0.2:80",
                "fib daddr type local ip6 daddr != ::1 tcp dport 8081 dnat ip6 to [fd89:5b::2]:80"
            ]
        );
        assert_eq!(p.rules(to, false).len(), 1);
        let v6: Publish = "[2001:db8::5]:8443:443".parse().unwrap();
        assert_eq!(v6.to_string(), "[2001:db8::5]:8443:443/tcp");
        assert_eq!(v6.rules(to, true), vec!["ip6 daddr 2001:db8::5 tcp dport 8443 dnat ip6 to [fd89:5b::2]:443"]);
        assert!(p.on_ipv6_loopback() && !u.on_ipv6_loopback() && !v6.on_ipv6_loopback());
        for bad in ["80", "a:80", "8081:80/sctp", "0:80", "1:2:3:4", "[::1:8081:80", "[nope]:1:2", "::1:8081:80"] {
            assert!(bad.parse::<Publish>().is_err(), "{bad}");
        }
        assert!(parse_list("8081:80 8081:81").is_err());
        assert!(parse_list("8081:80 8081:80/udp").is_ok());
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
                   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4711 1\n\
                   1: 0100007F:0050 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4712 1\n";
        assert_eq!(listening(tcp, 80, Proto::Tcp), vec!["4711"], "an established connection is no listener");
        assert!(listening(tcp, 8080, Proto::Tcp).is_empty());
    }
}
