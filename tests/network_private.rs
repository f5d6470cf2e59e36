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

#[test]
fn a_private_network_reaches_out_and_nothing_of_the_host() {
    let s = Systemd::boot();
    // "Outside": another namespace with a server, routed from the harness.
    s.sh_ok(
        "ip netns add far && ip link add vfar type veth peer name vfar0 netns far && \
         ip addr add 192.168.77.1/24 dev vfar && ip link set vfar up && \
         ip -n far addr add 192.168.77.2/24 dev vfar0 && ip -n far link set vfar0 up && ip -n far link set lo up",
    );
    s.sh_ok("systemd-run -q --unit far-server ip netns exec far socat TCP-LISTEN:9000,reuseaddr,fork SYSTEM:'echo from-far'");
    // The host's own services: one on its loopback, one on every address.
    s.sh_ok("systemd-run -q --unit host-lo socat TCP-LISTEN:9100,bind=127.0.0.1,reuseaddr,fork SYSTEM:'echo host-lo'");
    s.sh_ok("systemd-run -q --unit host-any socat TCP-LISTEN:9101,reuseaddr,fork SYSTEM:'echo host-any'");
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
    // The host's loopback is not the sandbox's; the host's services are
    // closed to the bridge; the other sandbox is isolated on it.
    for (target, what) in
        [("127.0.0.1:9100", "host-lo"), ("10.89.0.1:9101", "host-any"), (&format!("{a2}:7000")[..], "i-am-p2")]
    {
        let o = inside("p1", &format!("socat -T 2 - TCP:{target},connect-timeout=2 </dev/null"));
        assert!(!stdout(&o).contains(what), "{target} reached from p1: {o:?}");
    }
    // The host reaches the sandbox's own service through the bridge.
    let got = s.wait_for(&format!("socat -u TCP:{a2}:7000,connect-timeout=2 - 2>&1 || true"), |o| o.contains("i-am"));
    assert_eq!(got, "i-am-p2\n");
    // Our rules live in our table only.
    let tables = s.sh_ok("nft list tables");
    assert_eq!(tables.trim(), "table inet sandbox-service", "{tables}");
    s.ok(&["stop", "p1"]);
    s.ok(&["stop", "p2"]);
    // The veths went with the namespaces; the bridge stays for p2's next start.
    let links = s.sh_ok("ip -o link show");
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
