//! Published ports of network=private: `[ADDR:]HOSTPORT:PORT[/tcp|/udp]`,
//! forwarded by destination NAT in our nftables table to the sandbox's
//! address, from other hosts (prerouting) and from the host itself
//! (output), loopback included (`route_localnet` on the bridge, and the
//! loopback source masqueraded to the bridge's address).

use anyhow::{anyhow, bail, Result};
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish {
    /// Only this host address (default: every local address).
    pub addr: Option<Ipv4Addr>,
    pub host_port: u16,
    pub port: u16,
    pub proto: Proto,
}

impl std::str::FromStr for Publish {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || anyhow!("publish {s}: give [ADDR:]HOSTPORT:PORT[/tcp|/udp], e.g. 8081:80 or 5353:53/udp");
        let (spec, proto) = match s.rsplit_once('/') {
            Some((x, "tcp")) => (x, Proto::Tcp),
            Some((x, "udp")) => (x, Proto::Udp),
            Some(_) => return Err(bad()),
            None => (s, Proto::Tcp),
        };
        let parts: Vec<&str> = spec.split(':').collect();
        let (addr, hp, p) = match parts.as_slice() {
            [hp, p] => (None, *hp, *p),
            [a, hp, p] => (Some(a.parse::<Ipv4Addr>().map_err(|_| bad())?), *hp, *p),
            _ => return Err(bad()),
        };
        let port = |x: &str| x.parse::<u16>().ok().filter(|n| *n > 0).ok_or_else(bad);
        Ok(Publish { addr, host_port: port(hp)?, port: port(p)?, proto })
    }
}

impl std::fmt::Display for Publish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(a) = self.addr {
            write!(f, "{a}:")?;
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

    /// The nftables rule that forwards it to `to`.
    pub fn rule(&self, to: Ipv4Addr) -> String {
        let dst = match self.addr {
            Some(a) => format!("ip daddr {a}"),
            None => "fib daddr type local".to_string(),
        };
        format!("{dst} {p} dport {} dnat ip to {to}:{}", self.host_port, self.port, p = self.proto.name())
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
        assert_eq!(u.rule("10.89.0.2".parse().unwrap()), "ip daddr 127.0.0.1 udp dport 5353 dnat ip to 10.89.0.2:53");
        for bad in ["80", "a:80", "8081:80/sctp", "0:80", "1:2:3:4"] {
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
