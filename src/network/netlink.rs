//! rtnetlink requests, one at a time and synchronous: the few a private
//! network needs (a bridge, a veth pair, moving its peer into the
//! container's namespace, addresses, a default route). Each request asks
//! for an acknowledgement, and the kernel's error is the error.

use anyhow::{anyhow, Context, Result};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo,
    LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::net::IpAddr;

pub struct Netlink {
    sock: Socket,
    seq: u32,
}

/// EEXIST from the kernel: what an idempotent setup may meet.
pub fn is_exists(e: &anyhow::Error) -> bool {
    crate::safefs::errno(e) == Some(nix::libc::EEXIST)
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Self> {
        let mut sock = Socket::new(NETLINK_ROUTE).context("opening a netlink socket")?;
        sock.bind_auto().context("binding the netlink socket")?;
        sock.connect(&SocketAddr::new(0, 0)).context("connecting the netlink socket")?;
        Ok(Netlink { sock, seq: 0 })
    }

    fn request(&mut self, msg: RouteNetlinkMessage, flags: u16) -> Result<()> {
        self.seq += 1;
        let mut hdr = NetlinkHeader::default();
        hdr.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        hdr.sequence_number = self.seq;
        let mut m = NetlinkMessage::new(hdr, NetlinkPayload::from(msg));
        m.finalize();
        let mut buf = vec![0u8; m.buffer_len()];
        m.serialize(&mut buf);
        self.sock.send(&buf, 0).context("sending a netlink request")?;
        let mut rx = vec![0u8; 1 << 16];
        loop {
            let n = self.sock.recv(&mut &mut rx[..], 0).context("reading netlink's answer")?;
            let mut off = 0;
            while off < n {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rx[off..n])
                    .map_err(|e| anyhow!("a netlink answer we cannot read: {e}"))?;
                let len = reply.header.length as usize;
                if reply.header.sequence_number == self.seq {
                    if let NetlinkPayload::Error(e) = reply.payload {
                        return match e.code {
                            None => Ok(()),
                            Some(c) => Err(std::io::Error::from_raw_os_error(-c.get()).into()),
                        };
                    }
                }
                if len == 0 {
                    break;
                }
                off += len;
            }
        }
    }

    /// The index of link `name`, if there is one.
    pub fn index(name: &str) -> Option<u32> {
        let c = std::ffi::CString::new(name).ok()?;
        // SAFETY: c outlives the call.
        let i = unsafe { nix::libc::if_nametoindex(c.as_ptr()) };
        (i != 0).then_some(i)
    }

    /// A bridge called `name` (EEXIST if it is there).
    pub fn add_bridge(&mut self, name: &str) -> Result<()> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.into()));
        m.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
        self.request(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// A veth pair `host` – `peer`, the peer made directly in the network
    /// namespace of process `pid` (where it is called `peer`), with the
    /// hardware address `mac`.
    pub fn add_veth_into(&mut self, host: &str, peer: &str, pid: u32, mac: [u8; 6]) -> Result<()> {
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.into()));
        p.attributes.push(LinkAttribute::NetNsPid(pid));
        p.attributes.push(LinkAttribute::Address(mac.to_vec()));
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(host.into()));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
        ]));
        self.request(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
    }

    fn set_link(&mut self, name: &str, attrs: Vec<LinkAttribute>, up: bool) -> Result<()> {
        let index = Self::index(name).with_context(|| format!("no network link {name}"))?;
        let mut m = LinkMessage::default();
        m.header.index = index;
        if up {
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
        }
        m.attributes = attrs;
        self.request(RouteNetlinkMessage::SetLink(m), 0)
    }

    pub fn up(&mut self, name: &str) -> Result<()> {
        self.set_link(name, vec![], true).with_context(|| format!("bringing {name} up"))
    }

    /// `port` into bridge `bridge`, isolated: isolated ports reach the
    /// bridge (the host) but not one another, so sandboxes do not see
    /// each other's services.
    pub fn enslave_isolated(&mut self, port: &str, bridge: &str) -> Result<()> {
        let b = Self::index(bridge).with_context(|| format!("no bridge {bridge}"))?;
        self.set_link(port, vec![LinkAttribute::Controller(b)], false)
            .with_context(|| format!("attaching {port} to {bridge}"))?;
        self.set_link(
            port,
            vec![LinkAttribute::LinkInfo(vec![
                LinkInfo::PortKind(InfoPortKind::Bridge),
                LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::Isolated(true)])),
            ])],
            false,
        )
        .with_context(|| format!("isolating {port} on {bridge}"))
    }

    /// `addr/prefix` on link `name` (EEXIST if it is there). An IPv6 one
    /// skips duplicate address detection: the pool's addresses are unique
    /// by allocation, and DAD would hold the address back for a second or
    /// more at every start.
    pub fn add_address(&mut self, name: &str, addr: IpAddr, prefix: u8) -> Result<()> {
        let index = Self::index(name).with_context(|| format!("no network link {name}"))?;
        let mut m = AddressMessage::default();
        m.header.family = if addr.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
        m.header.prefix_len = prefix;
        m.header.index = index;
        if addr.is_ipv6() {
            m.header.flags = AddressHeaderFlags::Nodad;
            m.attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        m.attributes.push(AddressAttribute::Local(addr));
        m.attributes.push(AddressAttribute::Address(addr));
        self.request(RouteNetlinkMessage::NewAddress(m), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// The default route of `gateway`'s family through it.
    pub fn add_default_route(&mut self, gateway: IpAddr) -> Result<()> {
        let mut m = RouteMessage::default();
        m.header.address_family = if gateway.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Boot;
        m.header.scope = RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        m.attributes.push(RouteAttribute::Gateway(RouteAddress::from(gateway)));
        self.request(RouteNetlinkMessage::NewRoute(m), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// Removes link `name` (a veth takes its peer with it).
    pub fn delete_link(&mut self, name: &str) -> Result<()> {
        let Some(index) = Self::index(name) else { return Ok(()) };
        let mut m = LinkMessage::default();
        m.header.index = index;
        self.request(RouteNetlinkMessage::DelLink(m), 0).with_context(|| format!("removing {name}"))
    }
}

/// Fails unless `e` is EEXIST, for setups that may find their work done.
pub fn exists_ok(r: Result<()>) -> Result<()> {
    match r {
        Err(e) if is_exists(&e) => Ok(()),
        r => r,
    }
}
