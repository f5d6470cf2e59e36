//! The `.sandbox` file: what a sandbox is (its units or command, its
//! packages, its label). Every key is documented in sandbox-service.sandbox(5);
//! an unknown key is an error, never silently ignored.

use crate::label::{McsLabel, Security};
use crate::layout::Layout;
use anyhow::{anyhow, bail, Context, Result};
use ini::{Ini, ParseOption};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Payload {
    /// Runs these service units (e.g. `apache2.service`).
    Services(Vec<String>),
    /// Runs this command.
    Command(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SandboxConfig {
    pub name: String,
    /// The host unit that runs the sandbox, e.g. `apache2@web1.service`.
    pub unit: String,
    pub payload: Payload,
    /// Services among `payload`'s that the first ones pull in (tor's
    /// tor@default.service): run with them, not named for.
    pub pulled: Vec<String>,
    /// Packages whose /etc and /var files were cloned.
    pub packages: Vec<String>,
    pub security: Security,
    /// The allocated or static label; None with `inherit`.
    pub label: Option<McsLabel>,
    /// Seconds since the epoch.
    pub created: u64,
    /// How the container is made: network, capabilities, limits.
    pub container: Container,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Network {
    /// The host's network namespace: the service binds the host's ports.
    #[default]
    Host,
    /// A network namespace of its own with loopback only.
    None,
    /// A network namespace of its own with a veth link to the host's
    /// sandbox bridge, its `address=` and outbound access (src/network).
    Private,
}

impl Network {
    /// Whether the sandbox has a network namespace of its own.
    pub fn own_namespace(self) -> bool {
        self != Network::Host
    }
}

/// The `[container]` and `[limits]` sections; every default is in
/// sandbox-service.sandbox(5) with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Container {
    pub network: Network,
    /// Capabilities added to, or dropped from, the default set (names as
    /// `CAP_NET_ADMIN` or `net_admin`).
    pub caps_add: Vec<String>,
    pub caps_drop: Vec<String>,
    /// The base of the sandbox's 65536 host ids in a user namespace, or
    /// None to run without one.
    pub private_users: Option<u32>,
    /// systemd's MemoryMax=, CPUQuota=, TasksMax= values.
    pub memory: Option<String>,
    pub cpu: Option<String>,
    pub tasks: Option<String>,
    /// Sizes of the sandbox's scratch tmpfs mounts.
    pub tmpfs: TmpfsSizes,
    /// The TCP ports the service may bind and connect to, as Landlock
    /// rules; None leaves that kind of port unrestricted.
    pub bind_ports: Option<Vec<u16>>,
    pub connect_ports: Option<Vec<u16>>,
    /// network=private: the sandbox's address in the pool, allocated at
    /// create under the state lock.
    pub address: Option<std::net::Ipv4Addr>,
    /// network=private: ports of the host forwarded to the sandbox's.
    pub publish: Vec<crate::network::publish::Publish>,
    /// The published TCP ports are systemd sockets: the sandbox starts on
    /// the first connection (systemd-socket-proxyd forwards it).
    pub socket_activate: bool,
    /// With socket_activate: seconds without a connection after which the
    /// sandbox stops again.
    pub idle_stop: Option<u32>,
    /// The service's unix sockets offered on the host (unixsocket.rs).
    pub publish_sockets: Vec<crate::unixsocket::SocketPublish>,
}

/// `bind-ports=`/`connect-ports=`: empty for unrestricted, `none` for no
/// port at all, else port numbers separated by spaces or commas.
pub fn parse_ports(key: &str, v: &str) -> Result<Option<Vec<u16>>> {
    let v = v.trim();
    match v {
        "" => Ok(None),
        "none" => Ok(Some(vec![])),
        _ => {
            let mut out: Vec<u16> = v
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|w| !w.is_empty())
                .map(|w| {
                    w.parse::<u16>()
                        .map_err(|_| anyhow!("{key}={v}: '{w}' is not a port; give numbers 0-65535, or none"))
                })
                .collect::<Result<_>>()?;
            out.sort_unstable();
            out.dedup();
            Ok(Some(out))
        }
    }
}

/// The value `parse_ports` reads back.
pub fn render_ports(p: &Option<Vec<u16>>) -> String {
    match p {
        None => String::new(),
        Some(v) if v.is_empty() => "none".into(),
        Some(v) => v.iter().map(u16::to_string).collect::<Vec<_>>().join(" "),
    }
}

/// `size=` of each tmpfs a sandbox gets fresh at every start: without one,
/// each may take half of the host's memory. A percentage is of the host's
/// RAM, as tmpfs(5) reads it; the pages count against the unit's MemoryMax=.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TmpfsSizes {
    /// /tmp; 10% as systemd gives a nested /tmp.
    pub tmp: String,
    /// /run: pid files, sockets, RuntimeDirectory=.
    pub run: String,
    /// /dev/shm; 64M as Docker gives it.
    pub shm: String,
    /// /home and /root, empty: a service has no business there.
    pub home: String,
}

impl Default for TmpfsSizes {
    fn default() -> Self {
        TmpfsSizes { tmp: "10%".into(), run: "10%".into(), shm: "64M".into(), home: "16M".into() }
    }
}

impl TmpfsSizes {
    /// The mount options of the tmpfs at `dir`; inodes are bounded too,
    /// as each takes memory that size= does not count.
    pub fn options(&self, dir: &str, mode: u32) -> String {
        let (size, inodes) = match dir {
            "/tmp" => (&self.tmp, "400k"),
            "/run" => (&self.run, "400k"),
            "/dev/shm" => (&self.shm, "64k"),
            _ => (&self.home, "64k"),
        };
        format!("mode={mode:o},size={size},nr_inodes={inodes}")
    }

    fn validate(&self) -> Result<()> {
        for (key, v) in
            [("tmp-size", &self.tmp), ("run-size", &self.run), ("shm-size", &self.shm), ("home-size", &self.home)]
        {
            let ok = match v.strip_suffix('%') {
                Some(p) => p.parse::<u32>().is_ok_and(|n| (1..=100).contains(&n)),
                None => {
                    let n = v.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G']);
                    v.len() - n.len() <= 1 && n.parse::<u64>().is_ok_and(|n| n > 0)
                }
            };
            if !ok {
                bail!("{key}={v}: give a size such as 64M or 1G, or a percentage of RAM such as 10%");
            }
        }
        Ok(())
    }
}

impl Container {
    /// The published ports that are systemd sockets: the TCP ones of a
    /// socket-activated sandbox (systemd-socket-proxyd is TCP only).
    pub fn socket_ports(&self) -> Vec<crate::network::publish::Publish> {
        let tcp = |p: &&crate::network::publish::Publish| p.proto == crate::network::publish::Proto::Tcp;
        self.publish.iter().filter(|p| self.socket_activate && tcp(p)).copied().collect()
    }

    pub fn validate(&self) -> Result<()> {
        match (self.network, self.address) {
            (Network::Private, Some(a)) if !crate::network::in_pool(a) => {
                bail!("address={a}: not in the private network's pool {}", crate::network::POOL)
            }
            (Network::Host | Network::None, Some(a)) => bail!("address={a} is only for network=private"),
            _ => {}
        }
        if let (Some(p), false) = (self.publish.first(), self.network == Network::Private) {
            bail!("publish {p} needs network=private (--network private): on the host's network the service has the host's ports already");
        }
        if self.socket_activate && !self.publish.iter().any(|p| p.proto == crate::network::publish::Proto::Tcp) {
            bail!(
                "socket-activate=yes needs a published TCP port (--publish HOSTPORT:PORT): the sockets are those ports"
            );
        }
        match self.idle_stop {
            Some(0) => bail!("idle-stop=0: give the seconds without a connection before the sandbox stops, e.g. 300"),
            Some(s) if !self.socket_activate => {
                bail!("idle-stop={s} needs socket-activate=yes (--socket-activate): only a socket starts it again")
            }
            _ => {}
        }
        if let Some(b) = self.private_users {
            crate::runtime::userns::check_base(b)?;
        }
        for c in self.caps_add.iter().chain(&self.caps_drop) {
            crate::runtime::caps::parse(c)?;
        }
        if let Some(m) = &self.memory {
            let n = m.trim_end_matches(['K', 'M', 'G', 'T']);
            if m != "infinity" && (n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit())) {
                bail!("memory={m}: give bytes with an optional K, M, G or T suffix, or infinity");
            }
        }
        if let Some(c) = &self.cpu {
            let n = c.strip_suffix('%').unwrap_or("");
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || n == "0" {
                bail!("cpu={c}: give a percentage of one CPU, e.g. 50% or 200%");
            }
        }
        self.tmpfs.validate()?;
        if let Some(t) = &self.tasks {
            if t != "infinity" && t.parse::<u32>().map_or(true, |n| n == 0) {
                bail!("tasks={t}: give a number of tasks above 0, or infinity");
            }
        }
        Ok(())
    }
}

const KEYS: &[(&str, &[&str])] = &[
    ("sandbox", &["name", "unit", "services", "pulled", "command", "packages", "created"]),
    ("security", &["mode", "label", "context"]),
    (
        "container",
        &[
            "network",
            "private-users",
            "capabilities-add",
            "capabilities-drop",
            "tmp-size",
            "run-size",
            "shm-size",
            "home-size",
            "bind-ports",
            "connect-ports",
            "address",
            "publish",
            "socket-activate",
            "idle-stop",
            "publish-socket",
        ],
    ),
    ("limits", &["memory", "cpu", "tasks"]),
];

impl SandboxConfig {
    pub fn render(&self) -> String {
        let (services, command) = match &self.payload {
            Payload::Services(s) => (s.join(" "), String::new()),
            Payload::Command(c) => (String::new(), shell_words::join(c)),
        };
        let (label, context) = match &self.security {
            Security::Static { context: Some(c), .. } => {
                (self.label.map(|l| l.to_string()).unwrap_or_default(), c.clone())
            }
            _ => (self.label.map(|l| l.to_string()).unwrap_or_default(), String::new()),
        };
        format!(
            "# Sandbox {name}, made by sandbox-service; keys: sandbox-service.sandbox(5).\n\
             [sandbox]\nname={name}\nunit={unit}\nservices={services}\npulled={pulled}\ncommand={command}\npackages={packages}\ncreated={created}\n\n\
             [security]\nmode={mode}\nlabel={label}\ncontext={context}\n\n\
             [container]\nnetwork={network}\nprivate-users={users}\ncapabilities-add={add}\ncapabilities-drop={drop}\n\
             tmp-size={tmp}\nrun-size={run}\nshm-size={shm}\nhome-size={home}\n\
             bind-ports={bind}\nconnect-ports={connect}\naddress={address}\npublish={publish}\n\
             socket-activate={activate}\nidle-stop={idle}\npublish-socket={sockets}\n\n\
             [limits]\nmemory={memory}\ncpu={cpu}\ntasks={tasks}\n",
            network = match self.container.network {
                Network::Host => "host",
                Network::None => "none",
                Network::Private => "private",
            },
            users = self.container.private_users.map_or("no".to_string(), |b| b.to_string()),
            add = self.container.caps_add.join(" "),
            drop = self.container.caps_drop.join(" "),
            tmp = self.container.tmpfs.tmp,
            run = self.container.tmpfs.run,
            shm = self.container.tmpfs.shm,
            home = self.container.tmpfs.home,
            bind = render_ports(&self.container.bind_ports),
            address = self.container.address.map(|a| a.to_string()).unwrap_or_default(),
            publish = self.container.publish.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(" "),
            connect = render_ports(&self.container.connect_ports),
            activate = if self.container.socket_activate { "yes" } else { "no" },
            idle = self.container.idle_stop.map(|s| s.to_string()).unwrap_or_default(),
            sockets = self.container.publish_sockets.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(" "),
            memory = self.container.memory.as_deref().unwrap_or(""),
            cpu = self.container.cpu.as_deref().unwrap_or(""),
            tasks = self.container.tasks.as_deref().unwrap_or(""),
            name = self.name,
            unit = self.unit,
            pulled = self.pulled.join(" "),
            packages = self.packages.join(" "),
            created = self.created,
            mode = self.security.mode(),
        )
    }

    pub fn parse(text: &str) -> Result<Self> {
        let opt = ParseOption { enabled_quote: false, enabled_escape: false, ..Default::default() };
        let ini = Ini::load_from_str_opt(text, opt).map_err(|e| anyhow!("{e}"))?;
        for (sec, props) in &ini {
            let Some(sec) = sec else {
                if let Some((k, _)) = props.iter().next() {
                    bail!("key '{k}' outside of any section");
                }
                continue;
            };
            let Some((_, keys)) = KEYS.iter().find(|(s, _)| *s == sec) else {
                bail!("unknown section [{sec}]");
            };
            for (k, _) in props.iter() {
                if !keys.contains(&k) {
                    bail!("unknown key '{k}' in [{sec}]");
                }
                if props.get_all(k).count() > 1 {
                    bail!("key '{k}' given twice in [{sec}]");
                }
            }
        }
        let get = |sec: &str, key: &str| ini.get_from(Some(sec), key).unwrap_or("").trim().to_string();
        let name = get("sandbox", "name");
        crate::names::check_sandbox_name(&name)?;
        let services: Vec<String> = get("sandbox", "services").split_whitespace().map(str::to_string).collect();
        let command = get("sandbox", "command");
        let payload = match (services.is_empty(), command.is_empty()) {
            (false, true) => Payload::Services(services),
            (true, false) => Payload::Command(shell_words::split(&command).map_err(|e| anyhow!("bad command: {e}"))?),
            (false, false) => bail!("both services= and command= are set: a sandbox runs one or the other"),
            (true, true) => bail!("neither services= nor command= is set"),
        };
        let label_s = get("security", "label");
        let label = if label_s.is_empty() { None } else { Some(label_s.parse::<McsLabel>()?) };
        let context = get("security", "context");
        let security = match (get("security", "mode").as_str(), label) {
            ("dynamic", Some(_)) => Security::Dynamic,
            ("static", Some(l)) => Security::Static { label: l, context: (!context.is_empty()).then_some(context) },
            ("inherit", None) => Security::Inherit,
            ("inherit", Some(_)) => bail!("mode=inherit takes no label="),
            (m @ ("dynamic" | "static"), None) => bail!("mode={m} needs a label="),
            (m, _) => bail!("bad mode '{m}': use dynamic, static or inherit"),
        };
        let pulled: Vec<String> = get("sandbox", "pulled").split_whitespace().map(str::to_string).collect();
        if let Some(p) = pulled.iter().find(|p| !matches!(&payload, Payload::Services(s) if s.contains(p))) {
            bail!("pulled={p} is not among services=");
        }
        let unit = get("sandbox", "unit");
        if !unit.ends_with(".service") {
            bail!("unit= must name a .service unit");
        }
        let opt = |sec: &str, key: &str| Some(get(sec, key)).filter(|v| !v.is_empty());
        let words = |sec: &str, key: &str| get(sec, key).split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let container = Container {
            network: match get("container", "network").as_str() {
                "" | "host" => Network::Host,
                "none" => Network::None,
                "private" => Network::Private,
                n => bail!("network={n}: use host, none or private"),
            },
            private_users: match get("container", "private-users").as_str() {
                "" | "no" => None,
                n => Some(n.parse().map_err(|_| anyhow!("private-users={n}: use no, or the base of an id range"))?),
            },
            caps_add: words("container", "capabilities-add"),
            caps_drop: words("container", "capabilities-drop"),
            memory: opt("limits", "memory"),
            cpu: opt("limits", "cpu"),
            tasks: opt("limits", "tasks"),
            tmpfs: {
                let d = TmpfsSizes::default();
                let or = |key: &str, default: String| opt("container", key).unwrap_or(default);
                TmpfsSizes {
                    tmp: or("tmp-size", d.tmp),
                    run: or("run-size", d.run),
                    shm: or("shm-size", d.shm),
                    home: or("home-size", d.home),
                }
            },
            bind_ports: parse_ports("bind-ports", &get("container", "bind-ports"))?,
            connect_ports: parse_ports("connect-ports", &get("container", "connect-ports"))?,
            address: match get("container", "address").as_str() {
                "" => None,
                a => Some(a.parse().map_err(|_| anyhow!("address={a}: give an IPv4 address such as 10.89.0.2"))?),
            },
            publish: crate::network::publish::parse_list(&get("container", "publish"))?,
            socket_activate: match get("container", "socket-activate").as_str() {
                "" | "no" => false,
                "yes" => true,
                v => bail!("socket-activate={v}: use yes or no"),
            },
            idle_stop: match get("container", "idle-stop").as_str() {
                "" => None,
                v => Some(v.parse().map_err(|_| anyhow!("idle-stop={v}: give whole seconds, e.g. 300"))?),
            },
            publish_sockets: crate::unixsocket::parse_list(&get("container", "publish-socket"))?,
        };
        container.validate()?;
        if container.network == Network::Private && container.address.is_none() {
            bail!("network=private needs address=: make the sandbox with create --network private");
        }
        Ok(SandboxConfig {
            container,
            pulled,
            name,
            unit,
            payload,
            packages: get("sandbox", "packages").split_whitespace().map(str::to_string).collect(),
            security,
            label,
            created: get("sandbox", "created").parse().unwrap_or(0),
        })
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse_file(path, &text)
    }

    /// `parse`, its error naming the file and the fix.
    fn parse_file(path: &Path, text: &str) -> Result<Self> {
        Self::parse(text).map_err(|e| {
            let name = path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            anyhow!(
                "{} is damaged: {e:#}; mend it as sandbox-service.sandbox(5) says, or remove the sandbox with \
                 sandbox-service delete --force {name}",
                path.display()
            )
        })
    }

    /// The single service this sandbox runs (what it pulls in aside), for
    /// `SVC-sandboxes.target`, its unit's name and the settings it inherits.
    pub fn single_service(&self) -> Option<&str> {
        match &self.payload {
            Payload::Services(s) if s.len() == 1 + self.pulled.len() => Some(s[0].as_str()),
            _ => None,
        }
    }
}

/// The config of the sandbox called `name`, or a clear error if none is.
pub fn load_named(layout: &Layout, name: &str) -> Result<SandboxConfig> {
    crate::names::check_sandbox_name(name)?;
    let path = layout.config_file(name);
    if !path.exists() {
        bail!("no sandbox named '{name}': see sandbox-service list");
    }
    SandboxConfig::load(&path)
}

/// Where `load_all` keeps what each `.sandbox` text parsed to (memo.rs):
/// beside the state, which only root may read.
fn parse_memo(layout: &Layout) -> crate::memo::Memo<SandboxConfig> {
    crate::memo::Memo::open(&layout.state_base().join(".configs.memo"))
}

/// `SandboxConfig::load` through the memo: the file is read every time,
/// and parsed only if its text is new.
fn load_memoized(memo: &mut crate::memo::Memo<SandboxConfig>, path: &Path) -> Result<SandboxConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    memo.get(text, |t| SandboxConfig::parse_file(path, t))
}

/// `load_all`, but a damaged config is passed over and its error kept
/// (for `list`, which shows the others).
pub fn load_all_lenient(layout: &Layout) -> Result<(Vec<SandboxConfig>, Vec<anyhow::Error>)> {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut memo = parse_memo(layout);
    for p in config_files(layout)? {
        match load_memoized(&mut memo, &p) {
            Ok(c) => good.push(c),
            Err(e) => bad.push(e),
        }
    }
    memo.save();
    good.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((good, bad))
}

fn config_files(layout: &Layout) -> Result<Vec<std::path::PathBuf>> {
    let dir = layout.config_dir();
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut out = Vec::new();
    for ent in rd {
        let p = ent?.path();
        if p.extension().is_some_and(|e| e == "sandbox") {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Every sandbox's config under the tree, sorted by name. A config that
/// does not parse is an error: nothing should act on a half-understood set.
pub fn load_all(layout: &Layout) -> Result<Vec<SandboxConfig>> {
    let mut out = Vec::new();
    let mut memo = parse_memo(layout);
    for p in config_files(layout)? {
        out.push(load_memoized(&mut memo, &p)?);
    }
    memo.save();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SandboxConfig {
        SandboxConfig {
            name: "web1".into(),
            unit: "apache2@web1.service".into(),
            payload: Payload::Services(vec!["apache2.service".into()]),
            pulled: vec![],
            packages: vec!["apache2".into(), "apache2-bin".into()],
            security: Security::Dynamic,
            label: Some(McsLabel::new(3, 400).unwrap()),
            created: 1_700_000_000,
            container: Container::default(),
        }
    }

    #[test]
    fn roundtrip() {
        let c = sample();
        assert_eq!(SandboxConfig::parse(&c.render()).unwrap(), c);
        let mut g = sample();
        g.payload = Payload::Command(vec!["/bin/sh".into(), "-c".into(), "echo 'a b' # ; x".into()]);
        g.security = Security::Static { label: McsLabel::new(1, 2).unwrap(), context: Some("u:r:t:s0:c1,c2".into()) };
        g.label = Some(McsLabel::new(1, 2).unwrap());
        assert_eq!(SandboxConfig::parse(&g.render()).unwrap(), g);
        let mut i = sample();
        i.security = Security::Inherit;
        i.label = None;
        assert_eq!(SandboxConfig::parse(&i.render()).unwrap(), i);
        let mut c = sample();
        c.container = Container {
            network: Network::Private,
            address: Some("10.89.3.4".parse().unwrap()),
            caps_add: vec!["CAP_NET_ADMIN".into()],
            caps_drop: vec!["net_raw".into(), "mknod".into()],
            private_users: Some(0x9_0000),
            memory: Some("512M".into()),
            cpu: Some("50%".into()),
            tasks: Some("64".into()),
            tmpfs: TmpfsSizes { tmp: "1G".into(), run: "5%".into(), shm: "8m".into(), home: "1M".into() },
            bind_ports: Some(vec![80, 443]),
            connect_ports: Some(vec![]),
            publish: crate::network::publish::parse_list("8081:80 127.0.0.1:5353:53/udp").unwrap(),
            socket_activate: true,
            idle_stop: Some(300),
            publish_sockets: crate::unixsocket::parse_list("/run/php/s1.sock:/run/php/php8.2-fpm.sock").unwrap(),
        };
        assert_eq!(SandboxConfig::parse(&c.render()).unwrap(), c);
        assert!(c.render().contains("bind-ports=80 443\nconnect-ports=none\naddress=10.89.3.4\n"));
        assert!(c.render().contains("network=private\n"));
        assert!(c.render().contains("socket-activate=yes\nidle-stop=300\n"));
    }

    #[test]
    fn container_keys_are_checked() {
        let good = sample().render();
        for (from, to, what) in [
            ("network=host", "network=bridge", "use host, none or private"),
            ("network=host", "network=private", "needs address="),
            ("address=", "address=10.89.0.9", "only for network=private"),
            ("capabilities-add=", "capabilities-add=CAP_FLY", "CAP_FLY"),
            ("memory=", "memory=lots", "memory=lots"),
            ("cpu=", "cpu=50", "percentage"),
            ("tasks=", "tasks=0", "tasks=0"),
            ("tmp-size=10%", "tmp-size=0%", "tmp-size=0%"),
            ("shm-size=64M", "shm-size=lots", "shm-size=lots"),
            ("run-size=10%", "run-size=5MM", "run-size=5MM"),
            ("bind-ports=", "bind-ports=80 http", "'http' is not a port"),
            ("connect-ports=", "connect-ports=70000", "'70000' is not a port"),
            ("socket-activate=no", "socket-activate=yes", "needs a published TCP port"),
            ("socket-activate=no", "socket-activate=maybe", "use yes or no"),
            ("idle-stop=", "idle-stop=5", "needs socket-activate=yes"),
            ("idle-stop=", "idle-stop=5s", "whole seconds"),
            ("publish-socket=", "publish-socket=/run/a.sock:/var/a.sock", "must be under /run"),
        ] {
            let e = SandboxConfig::parse(&good.replace(from, to)).unwrap_err();
            assert!(format!("{e:#}").contains(what), "{from}: {e:#}");
        }
        assert_eq!(parse_ports("k", "443, 80 80").unwrap(), Some(vec![80, 443]));
        assert_eq!(parse_ports("k", " ").unwrap(), None);
        // Files made before these sections existed still read.
        let old = good.split("\n[container]").next().unwrap();
        assert_eq!(SandboxConfig::parse(old).unwrap().container, Container::default());
    }

    #[test]
    fn strict_parsing() {
        let good = sample().render();
        let e = SandboxConfig::parse(&good.replace("[security]", "[security]\nfoo=1")).unwrap_err();
        assert!(e.to_string().contains("unknown key 'foo'"), "{e}");
        assert!(SandboxConfig::parse(&good.replace("[security]", "[weird]")).is_err());
        assert!(SandboxConfig::parse(&good.replace("mode=dynamic", "mode=odd")).is_err());
        assert!(SandboxConfig::parse(&good.replace("label=s0:c3,c400", "label=")).is_err());
        assert!(SandboxConfig::parse(&good.replace("label=s0:c3,c400", "label=s0:c3,c3")).is_err());
        assert!(SandboxConfig::parse(&good.replace("name=web1", "name=../x")).is_err());
        assert!(SandboxConfig::parse(&good.replace("command=", "command=/bin/true")).is_err());
        assert!(SandboxConfig::parse(&good.replace("name=web1", "name=web1\nname=web2")).is_err());
    }

    /// The memo changes nothing load_all says: an edit that keeps the
    /// size and the time (within one timestamp tick) is read, a damaged
    /// file is still an error after a good parse of it was kept.
    #[test]
    fn load_all_through_its_memo_reads_every_edit() {
        let root = tempfile::tempdir().unwrap();
        let layout = Layout::new(Some(root.path()));
        std::fs::create_dir_all(layout.config_dir()).unwrap();
        std::fs::create_dir_all(layout.state_base()).unwrap();
        let path = layout.config_file("web1");
        std::fs::write(&path, sample().render()).unwrap();
        assert_eq!(load_all(&layout).unwrap(), vec![sample()]);
        assert!(layout.state_base().join(".configs.memo").exists());
        let times = std::fs::metadata(&path).unwrap().modified().unwrap();
        let edited = sample().render().replace("label=s0:c3,c400", "label=s0:c3,c401");
        std::fs::write(&path, &edited).unwrap();
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(times).unwrap();
        assert_eq!(load_all(&layout).unwrap()[0].label, Some(McsLabel::new(3, 401).unwrap()));
        std::fs::write(&path, edited.replace("mode=dynamic", "mode=odd")).unwrap();
        assert!(load_all(&layout).is_err());
        let (good, bad) = load_all_lenient(&layout).unwrap();
        assert!(good.is_empty() && bad.len() == 1);
    }
}
