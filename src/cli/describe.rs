//! What `create --explain` and `status` say of a sandbox's container
//! settings: one place, so the two never disagree.

/// What --explain says of a Landlock port rule; `auto` when --bind-ports
/// auto would take the plan's ports.
pub fn ports_line(kind: &str, ports: &Option<Vec<u16>>, auto: bool) -> String {
    match ports {
        None if auto => format!("{kind}-ports: any (--bind-ports auto restricts binding to the ports above)"),
        None => format!("{kind}-ports: any TCP port"),
        Some(v) if v.is_empty() => format!("{kind}-ports: none (Landlock refuses every TCP {kind})"),
        Some(_) => format!("{kind}-ports: {} only (Landlock)", crate::config::render_ports(ports)),
    }
}

/// One line on the sandbox's network, for status and create --explain.
pub fn network_line(c: &crate::config::Container) -> String {
    use crate::network as net;
    match (c.network, c.address) {
        (crate::config::Network::Private, a) => {
            let mut s = format!(
                "private: address {} on {} ({}/{}) and {} ({}, where the host has IPv6), outbound through \
                 masquerade; the host's services and other sandboxes are not reachable",
                a.map_or("allocated at create".to_string(), |a| a.to_string()),
                net::BRIDGE,
                net::GATEWAY,
                net::PREFIX,
                a.map_or("one derived from it".to_string(), |a| net::address6(a).to_string()),
                net::POOL6,
            );
            let sockets = c.socket_ports();
            for p in &c.publish {
                if sockets.contains(p) {
                    s += &format!(
                        "; publishes {p}: a systemd socket on {}, IPv4 and IPv6 loopback included, whose first \
                         connection starts the sandbox, forwarded by systemd-socket-proxyd once the port listens \
                         inside{}; the service sees every client as {}",
                        p.addr.map_or("every local address".to_string(), |a| a.to_string()),
                        c.idle_stop.map_or(String::new(), |t| format!(", stopped again after {t} s without one")),
                        net::GATEWAY
                    );
                    continue;
                }
                let loopback6 = match p.proto {
                    net::publish::Proto::Tcp if p.on_ipv6_loopback() => {
                        ", and from [::1] by systemd-socket-proxyd while it runs (NAT cannot leave IPv6 loopback)"
                    }
                    net::publish::Proto::Udp if p.on_ipv6_loopback() => {
                        ", but not from [::1] (NAT cannot leave IPv6 loopback)"
                    }
                    _ => "",
                };
                s += &format!(
                    "; publishes {p}: destination NAT from {}{loopback6}; the client's address seen as is, but from \
                     the host's loopback as {}",
                    p.addr.map_or("every local address, IPv4 and IPv6".to_string(), |a| a.to_string()),
                    net::GATEWAY
                );
            }
            s
        }
        (crate::config::Network::None, _) => "none: loopback only".into(),
        (crate::config::Network::Host, _) => "host: the host's network namespace".into(),
    }
}

/// What the sandbox offers the host of its unix sockets, one line each:
/// its /run while it runs, and each published socket.
pub fn socket_lines(name: &str, c: &crate::config::Container) -> Vec<String> {
    let mut out = vec![format!(
        "runtime: {} is the sandbox's /run while it runs (links in it are not followed from the host)",
        crate::runtime::hostrun::dir(name).display()
    )];
    for p in &c.publish_sockets {
        out.push(format!(
            "socket: {} on the host is the service's {} (owner and mode copied from it, forwarded by \
             systemd-socket-proxyd while it runs)",
            p.host, p.path
        ));
    }
    out
}
