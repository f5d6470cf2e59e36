//! network=private in the harness's own network namespace: an address of
//! its own from the pool, outbound through the bridge and masquerade to a
//! server in another namespace, and nothing of the host's loopback, the
//! host's services or the other sandboxes reachable.
mod harness;
use harness::*;

fn address(s: &Systemd, name: &str) -> String {
    let c = s.sh_ok(&format!("cat /etc/sandbox-service/{name}.sandbox"));
    c.lines().find_map(|l| l.strip_prefix("address=")).unwrap_or_default().to_string()
}

/// "Outside": a namespace `far` on a veth from the harness, the harness
/// at NET.1 and fd00:N::1, far at NET.2 and fd00:N::2 (NET as
/// `192.168.77`, N its last part).
fn far_namespace(s: &Systemd, net: &str) {
    let n = net.rsplit('.').next().unwrap();
    s.sh_ok(&format!(
        "ip netns add far && ip link add vfar type veth peer name vfar0 netns far && \
         ip addr add {net}.1/24 dev vfar && ip addr add fd00:{n}::1/64 dev vfar nodad && ip link set vfar up && \
         ip -n far addr add {net}.2/24 dev vfar0 && ip -n far addr add fd00:{n}::2/64 dev vfar0 nodad && \
         ip -n far link set vfar0 up && ip -n far link set lo up && ip -n far -6 route add default via fd00:{n}::1"
    ));
}

#[test]
fn a_private_network_reaches_out_and_nothing_of_the_host() {
    let s = Systemd::boot();
    far_namespace(&s, "192.168.77");
    s.sh_ok("systemd-run -q --unit far-server ip netns exec far socat TCP6-LISTEN:9000,reuseaddr,fork SYSTEM:'echo from-far'");
    // The host's own services: one on its loopback, one on every address.
    s.sh_ok("systemd-run -q --unit host-lo socat TCP-LISTEN:9100,bind=127.0.0.1,reuseaddr,fork SYSTEM:'echo host-lo'");
    s.sh_ok("systemd-run -q --unit host-any socat TCP6-LISTEN:9101,reuseaddr,fork SYSTEM:'echo host-any'");
    s.wait_for("socat -u TCP:127.0.0.1:9101 - 2>&1 || true", |o| o.contains("host-any"));

    for n in ["p1", "p2"] {
        s.ok(&[
            "create",
            "--network",
            "private",
            n,
            "--",
            "/bin/sh",
            "-c",
            "exec socat TCP-LISTEN:7000,reuseaddr,fork SYSTEM:'echo i-am-$(hostname)'",
        ]);
    }
    let (a1, a2) = (address(&s, "p1"), address(&s, "p2"));
    assert!(a1.starts_with("10.89.") && a2.starts_with("10.89.") && a1 != a2, "{a1} {a2}");
    let st = s.ok(&["status", "p1"]);
    assert!(st.contains(&format!("network:  private: address {a1} on sbx0")), "{st}");
    s.ok(&["start", "p1"]);
    s.ok(&["start", "p2"]);
    let inside = |n: &str, cmd: &str| s.sh(&format!("{BIN} execute {n} -- sh -c '{cmd}'"));
    // Its own address and route.
    let ip = stdout(&inside("p1", "cat /proc/net/fib_trie; cat /proc/net/route"));
    assert!(ip.contains(&a1), "{ip}");
    // Outbound: the far server answers, seeing the harness's address (masquerade).
    let far = stdout(&inside("p1", "socat -T 3 - TCP:192.168.77.2:9000,connect-timeout=3 </dev/null"));
    assert_eq!(far, "from-far\n");
    // And over IPv6: its ULA address, masqueraded too.
    let ip6 = stdout(&inside("p1", "cat /proc/net/if_inet6"));
    assert!(ip6.contains("fd89005b00000000000000000000000") && ip6.contains("eth0"), "{ip6}");
    let far6 = stdout(&inside("p1", "socat -T 3 - TCP6:[fd00:77::2]:9000,connect-timeout=3 </dev/null"));
    assert_eq!(far6, "from-far\n");
    // The host's loopback is not the sandbox's; the host's services are
    // closed to the bridge; the other sandbox is isolated on it.
    for (target, what) in [
        ("TCP:127.0.0.1:9100", "host-lo"),
        ("TCP:10.89.0.1:9101", "host-any"),
        ("TCP6:[fd89:5b::1]:9101", "host-any"),
        (&format!("TCP:{a2}:7000")[..], "i-am-p2"),
    ] {
        let o = inside("p1", &format!("socat -T 2 - {target},connect-timeout=2 </dev/null"));
        assert!(!stdout(&o).contains(what), "{target} reached from p1: {o:?}");
    }
    // A host daemon's abstract unix socket: not the sandbox's namespace.
    s.sh_ok(
        "systemd-run -q --unit host-abstract socat ABSTRACT-LISTEN:host-abstract-9,fork SYSTEM:'echo host-abstract'",
    );
    s.wait_for("socat - ABSTRACT-CONNECT:host-abstract-9 </dev/null 2>&1 || true", |o| o.contains("host-abstract"));
    let o = inside("p1", "socat -T 2 - ABSTRACT-CONNECT:host-abstract-9 </dev/null");
    assert!(!stdout(&o).contains("host-abstract"), "the host's abstract socket reached from p1: {o:?}");
    // A packet socket (with CAP_NET_RAW, which a private network may be
    // given) sees the sandbox's own links only: none of the host's traffic
    // to the far namespace. The same capture on the host's network sees it,
    // so the capture works.
    for (n, net) in [("raw-private", "private"), ("raw-host", "host")] {
        s.ok(&["create", "--network", net, "--cap-add", "CAP_NET_RAW", n, "--", "/bin/sleep", "infinity"]);
        s.ok(&["start", n]);
    }
    let capture = "import socket, time\n\
                   s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))\n\
                   s.settimeout(0.2)\n\
                   end, seen = time.time() + 4, 0\n\
                   while time.time() < end:\n    \
                       try: seen += b'marker-of-the-host' in s.recv(65535)\n    \
                       except socket.timeout: pass\n\
                   print(seen)\n";
    s.sh_ok(&format!("printf '%s' \"{capture}\" > /tmp/capture.py"));
    let seen = |n: &str| {
        s.sh_ok(&format!(
            "{BIN} execute {n} -- python3 -c \"$(cat /tmp/capture.py)\" > /tmp/seen-{n} & sleep 1; \
             for i in $(seq 15); do echo marker-of-the-host | socat -T 1 - TCP:192.168.77.2:9000 >/dev/null; sleep 0.1; done; \
             wait; cat /tmp/seen-{n}"
        ))
        .trim()
        .parse::<u32>()
        .unwrap()
    };
    assert!(seen("raw-host") > 0, "the capture saw nothing even on the host's network");
    assert_eq!(seen("raw-private"), 0, "a private sandbox's packet socket saw the host's traffic");
    for n in ["raw-private", "raw-host"] {
        s.ok(&["stop", n]);
        s.ok(&["delete", n]);
    }
    // The host reaches the sandbox's own service through the bridge.
    let got = s.wait_for(&format!("socat -u TCP:{a2}:7000,connect-timeout=2 - 2>&1 || true"), |o| o.contains("i-am"));
    assert_eq!(got, "i-am-p2\n");
    // Our rules live in our table only.
    let tables = s.sh_ok("nft list tables");
    assert_eq!(tables.trim(), "table inet sandbox-service", "{tables}");
    s.ok(&["stop", "p1"]);
    s.ok(&["stop", "p2"]);
    // The veths go with the namespaces (the kernel tears a namespace down
    // in the background: give it time); the bridge stays for the next start.
    let links = s.wait_for("ip -o link show", |o| !o.contains("sbx-"));
    assert!(!links.contains("sbx-") && links.contains("sbx0"), "{links}");
    // Delete frees the address; the last one takes the bridge and table.
    s.ok(&["delete", "p1"]);
    s.ok(&["create", "--network", "private", "p3", "--", "/bin/true"]);
    assert_eq!(address(&s, "p3"), a1, "p1's address was not freed");
    s.ok(&["delete", "p3"]);
    s.ok(&["delete", "p2"]);
    assert!(!s.sh_ok("ip -o link show").contains("sbx0"));
    assert_eq!(s.sh_ok("nft list tables").trim(), "");
}

/// The three Apaches: /etc/apache2 untouched, each published on
/// its own host port, answering on 127.0.0.1 and on an address of the
/// harness from another namespace; a UDP service published too; a taken
/// port refused at create with its holder.
#[test]
fn three_untouched_apaches_published_on_their_own_ports_and_a_udp_service() {
    let s = Systemd::boot();
    far_namespace(&s, "192.168.78");
    let package_conf = s.sh_ok("md5sum /etc/apache2/ports.conf /etc/apache2/sites-available/000-default.conf");
    for n in 1..=3 {
        let (name, publish) = (format!("web{n}"), format!("808{n}:80"));
        s.ok(&["create", "-u", "apache2", "--network", "private", "--publish", &publish, &name]);
        s.sh_ok(&format!("echo 'page of {name}' > {}", tree(&name, "/var/www/html/index.html")));
        let conf = s.sh_ok(&format!(
            "cd {} && md5sum ports.conf sites-available/000-default.conf",
            tree(&name, "/etc/apache2")
        ));
        assert_eq!(
            conf.split_whitespace().step_by(2).collect::<Vec<_>>(),
            package_conf.split_whitespace().step_by(2).collect::<Vec<_>>(),
            "{name}'s /etc/apache2 was edited"
        );
    }
    let st = s.ok(&["status", "web2"]);
    assert!(st.contains("publishes 8082:80/tcp"), "{st}");
    s.sh_ok("systemctl start apache2@web1.service apache2@web2.service apache2@web3.service");
    for n in 1..=3 {
        assert_eq!(s.http(8080 + n), format!("page of web{n}\n200"));
        let far = s.sh_ok(&format!("ip netns exec far curl -s -m 5 http://192.168.78.1:808{n}/"));
        assert_eq!(far, format!("page of web{n}\n"), "from another namespace");
        let far6 = s.sh_ok(&format!("ip netns exec far curl -s -m 5 'http://[fd00:78::1]:808{n}/'"));
        assert_eq!(far6, format!("page of web{n}\n"), "from another namespace, over IPv6");
        let lo6 = s.sh_ok(&format!("curl -s -m 5 'http://[::1]:808{n}/'"));
        assert_eq!(lo6, format!("page of web{n}\n"), "from the host's IPv6 loopback");
    }
    // The client's own address reaches the service; from loopback, the bridge's.
    let log = s.sh_ok(&format!("cat {}", tree("web1", "/var/log/apache2/access.log")));
    assert!(log.contains("192.168.78.2 ") && log.contains("fd00:78::2 ") && log.contains("10.89.0.1 "), "{log}");
    // A restart is a new veth: the host's neighbour entry must still fit
    // (the same hardware address), or this would time out for a while.
    s.ok(&["restart", "web2"]);
    assert_eq!(s.http(8082), "page of web2\n200");
    let mac = s.ok(&["execute", "web2", "--", "cat", "/sys/class/net/eth0/address"]);
    assert!(mac.starts_with("02:5b:0a:59:"), "{mac}");
    // systemd re-executed: still running and reachable.
    s.sh_ok("systemctl daemon-reexec");
    s.wait_for("systemctl is-system-running 2>&1 || true", |o| !o.contains("Failed to connect"));
    assert_eq!(s.prop("apache2@web1.service", "ActiveState"), "active");
    assert_eq!(s.http(8081), "page of web1\n200");
    // Killed outright (the runtime and all): its veth goes with its
    // namespace, and it starts again.
    let veth = s.sh_ok("ip -o link show | grep -c sbx-");
    assert_eq!(veth.trim(), "3", "three veths while three run");
    s.sh_ok("systemctl kill -s KILL apache2@web3.service");
    let links = s.wait_for("ip -o link show | grep -c sbx- || true", |o| o.trim() == "2");
    assert_eq!(links.trim(), "2", "web3's veth outlived it");
    let sock = s.wait_for("systemctl is-active sandbox-service-web3@::1:8083.socket || true", |o| o.trim() != "active");
    assert_ne!(sock.trim(), "active", "web3's [::1] socket outlived it");
    s.sh_ok("systemctl reset-failed apache2@web3.service 2>/dev/null || true; systemctl start apache2@web3.service");
    assert_eq!(s.http(8083), "page of web3\n200");
    // Taken ports: by a sandbox, by a host process.
    let o = s.tool(&["create", "-u", "apache2", "--network", "private", "--publish", "8081:80", "web4"]);
    assert!(!o.status.success() && stderr(&o).contains("sandbox 'web1' publishes 8081:80/tcp"), "{o:?}");
    s.sh_ok("systemd-run -q --unit holder socat TCP-LISTEN:8090,reuseaddr,fork SYSTEM:true");
    s.wait_for("ss -ltn 2>/dev/null | grep -c :8090 || true", |o| o.trim() != "0");
    let o = s.tool(&["create", "-u", "apache2", "--network", "private", "--publish", "8090:80", "web5"]);
    assert!(!o.status.success() && stderr(&o).contains("held by socat (pid "), "{o:?}");
    // UDP: dnsmasq answers DNS on 5353 of the host.
    s.ok(&["create", "-u", "dnsmasq", "--network", "private", "--publish", "5353:53/udp", "dns1"]);
    s.ok(&["start", "dns1"]);
    let dig =
        s.wait_for("dig +short +time=2 +tries=1 -p 5353 @127.0.0.1 localhost A || true", |o| o.contains("127.0.0.1"));
    assert!(dig.contains("127.0.0.1"), "{dig}\n{}", s.journal("dnsmasq@dns1.service"));
    // (dnsmasq answers only its local networks: UDP from another host, over
    // IPv4 and IPv6, is tried with a server that answers anyone.)
    s.ok(&[
        "create",
        "--network",
        "private",
        "--publish",
        "5354:7000/udp",
        "udp1",
        "--",
        "/usr/bin/socat",
        "UDP6-RECVFROM:7000,fork",
        "SYSTEM:echo udp-pong",
    ]);
    s.ok(&["start", "udp1"]);
    for to in ["UDP:192.168.78.1:5354", "UDP6:[fd00:78::1]:5354"] {
        let o = s.wait_for(&format!("echo ping | ip netns exec far socat -T 2 - {to} || true"), |o| o.contains("pong"));
        assert_eq!(o, "udp-pong\n", "UDP from another host to {to}");
    }
    s.sh_ok("systemctl stop apache2@web1.service apache2@web2.service apache2@web3.service dnsmasq@dns1.service udp1.service");
    // Their [::1] sockets went with them.
    let units = s.sh_ok("systemctl list-units --no-legend 'sandbox-service-*'");
    assert_eq!(units.trim(), "", "{units}");
    for n in ["web1", "web2", "web3", "dns1", "udp1"] {
        s.ok(&["delete", n]);
    }
    assert_eq!(s.sh_ok("nft list tables").trim(), "", "the table outlived the last private sandbox");
}

#[test]
fn a_socket_activated_sandbox_starts_on_the_first_connection_and_stops_when_idle() {
    let s = Systemd::boot();
    far_namespace(&s, "192.168.79");
    s.ok(&[
        "create",
        "-u",
        "apache2",
        "--network",
        "private",
        "--publish",
        "8091:80",
        "--socket-activate",
        "--idle-stop",
        "3",
        "od1",
    ]);
    s.sh_ok(&format!("echo 'page of od1' > {}", tree("od1", "/var/www/html/index.html")));
    let st = s.ok(&["status", "od1"]);
    assert!(
        st.contains("socket:   sandbox-service-od1@8091.socket (inactive)") && st.contains("stopped again after 3 s"),
        "{st}"
    );
    let js: serde_json::Value = serde_json::from_str(&s.ok(&["status", "od1", "--json"])).unwrap();
    assert_eq!((js["socket_activate"].as_bool(), js["idle_stop"].as_u64()), (Some(true), Some(3)), "{js}");
    assert_eq!(js["sockets"][0]["unit"], "sandbox-service-od1@8091.socket", "{js}");
    assert!(js["address6"].as_str().is_some_and(|a| a.starts_with("fd89:5b::")), "{js}");
    // start opens the port only.
    let o = s.ok(&["start", "od1"]);
    assert!(o.contains("starts on the first connection"), "{o}");
    assert_eq!(s.prop("apache2@od1.service", "ActiveState"), "inactive");
    // The first connection starts it and is answered, on IPv4 and IPv6
    // loopback and from another host.
    assert_eq!(s.http(8091), "page of od1\n200");
    assert_eq!(s.prop("apache2@od1.service", "ActiveState"), "active");
    assert_eq!(s.sh_ok("curl -sS -m 5 'http://[::1]:8091/'"), "page of od1\n");
    assert_eq!(s.sh_ok("ip netns exec far curl -sS -m 5 http://192.168.79.1:8091/"), "page of od1\n");
    // No NAT rule for it: the socket serves the port.
    assert!(!s.sh_ok("nft list table inet sandbox-service").contains("8091"));
    // Idle: the proxy exits, and nothing needs the sandbox any more.
    let idle = s.wait_for("systemctl is-active apache2@od1.service || true", |o| o.trim() == "inactive");
    assert_eq!(idle.trim(), "inactive", "{}", s.journal("apache2@od1.service"));
    assert_eq!(s.prop("sandbox-service-od1@8091.socket", "ActiveState"), "active");
    assert_eq!(s.http(8091), "page of od1\n200", "started again by the next connection");

    // A service that listens a while after it is up (Type=simple): the
    // proxy waits for the port, so the first client is answered, not refused
    // (shut-none: systemd-socket-proxyd ends a connection its client half-closes).
    s.ok(&[
        "create",
        "--network",
        "private",
        "--publish",
        "8092:7000",
        "--socket-activate",
        "slow1",
        "--",
        "/bin/sh",
        "-c",
        "sleep 2; exec socat TCP-LISTEN:7000,reuseaddr,fork SYSTEM:'echo late-but-there'",
    ]);
    s.ok(&["start", "slow1"]);
    assert_eq!(s.sh_ok("socat -t 10 -T 10 - TCP:127.0.0.1:8092,shut-none </dev/null"), "late-but-there\n");
    assert_eq!(s.prop("slow1.service", "ActiveState"), "active");

    // stop closes the ports and stops it; delete leaves no unit behind.
    s.ok(&["stop", "slow1"]);
    assert_eq!(s.prop("sandbox-service-slow1@8092.socket", "ActiveState"), "inactive");
    assert_eq!(s.prop("slow1.service", "ActiveState"), "inactive");
    s.ok(&["delete", "--force", "od1"]);
    s.ok(&["delete", "slow1"]);
    let left = s.sh_ok("ls /etc/systemd/system; systemctl list-units --all --no-legend 'sandbox-service-*'");
    assert!(!left.contains("sandbox-service-") && !left.contains("od1"), "{left}");
    assert_eq!(s.sh_ok("nft list tables").trim(), "");
    let o = s.sh("curl -sS -m 2 http://127.0.0.1:8091/");
    assert!(!o.status.success(), "port 8091 still answers after delete");
}
