//! Shell completion: the scripts clap_complete writes, and sandbox names
//! completed from the configs that exist.
mod harness;
use harness::*;

#[test]
fn names_complete_from_the_configs_and_the_scripts_parse() {
    let s = Systemd::boot();
    for n in ["web1", "web2", "other"] {
        s.ok(&["create", n, "--", "/bin/true"]);
    }
    // fish's protocol: the words so far, candidates one a line.
    let out = s.sh_ok(&format!("COMPLETE=fish {BIN} -- sandbox-service status w"));
    assert_eq!(out, "web1\nweb2\n");
    let out = s.sh_ok(&format!("COMPLETE=fish {BIN} -- sandbox-service execute ''"));
    assert!(out.contains("other\n") && out.contains("web1\n"), "{out}");
    let out = s.sh_ok(&format!("COMPLETE=fish {BIN} -- sandbox-service res"));
    assert!(out.starts_with("restart\t"), "{out}");
    // The scripts make install puts in place are valid for their shells.
    s.sh_ok(&format!(
        "COMPLETE=bash {BIN} > /tmp/c.bash && bash -n /tmp/c.bash && grep -q sandbox-service /tmp/c.bash"
    ));
    let fish = s.sh_ok(&format!("COMPLETE=fish {BIN}"));
    assert!(fish.starts_with("complete --keep-order --exclusive --command sandbox-service"), "{fish}");
    // Parsed by the shells themselves (-n: syntax only, nothing run).
    s.sh_ok(&format!("COMPLETE=zsh {BIN} > /tmp/_sandbox-service && zsh -n /tmp/_sandbox-service"));
    s.sh_ok(&format!("COMPLETE=fish {BIN} > /tmp/c.fish && fish --no-execute /tmp/c.fish"));
    // And fish, loading it, completes names through our binary.
    let got = s.sh_ok(&format!(
        "PATH={}:$PATH fish -c 'source /tmp/c.fish; complete --do-complete \"sandbox-service status web\"'",
        std::path::Path::new(BIN).parent().unwrap().display()
    ));
    assert!(got.contains("web1") && got.contains("web2") && !got.contains("other"), "{got}");
}
