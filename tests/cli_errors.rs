//! Bad input: one clear line naming the thing and the fix, exit status 1,
//! and nothing made. Runs in the throwaway systemd (real dpkg database).
mod harness;
use harness::*;

fn fails(s: &Systemd, args: &[&str], expect: &[&str]) {
    fails_with(s, 1, args, expect)
}

/// Usage errors (clap's) exit 2, the convention for bad command lines.
fn fails_with(s: &Systemd, code: i32, args: &[&str], expect: &[&str]) {
    let out = s.tool(args);
    assert_eq!(out.status.code(), Some(code), "{args:?} should fail: {}{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{args:?}: one line, got: {err}");
    assert!(err.starts_with("sandbox-service: error: "), "{err}");
    for e in expect {
        assert!(err.contains(e), "{args:?}: expected '{e}' in: {err}");
    }
}

#[test]
fn bad_inputs_give_one_clear_line_and_make_nothing() {
    let s = Systemd::boot();
    fails(&s, &["create", "-u", "no-such-svc", "x1"], &["unit no-such-svc.service not found", "install its package"]);
    fails(
        &s,
        &["create", "-u", "apache2", "-P", "no-such-pkg", "x1"],
        &["package 'no-such-pkg' is not installed", "dpkg -l"],
    );
    fails(&s, &["create", "-u", "apache2", "bad/name"], &["bad sandbox name 'bad/name'"]);
    fails_with(&s, 2, &["create", "-u", "apache2", "-bad"], &["unexpected argument '-b'", "--help"]);
    fails_with(&s, 2, &["create", "-u", "apache2", "--", "-bad"], &["the following required arguments"]);
    fails(&s, &["create", "-u", "apache2", "_bad"], &["bad sandbox name '_bad'"]);
    fails(&s, &["create", "-u", "apache2", "-s", "static,label=s0:c5", "x1"], &["bad label 's0:c5'", "s0:cX,cY"]);
    fails(&s, &["create", "-u", "apache2", "-s", "sometimes", "x1"], &["bad security option", "dynamic, inherit"]);
    fails(&s, &["create", "-u", "cron.timer", "x1"], &["only .service units"]);
    fails(&s, &["create", "x1"], &["nothing to run"]);
    fails(&s, &["create", "x1", "--", "true"], &["must be an absolute path"]);
    fails(&s, &["create", "-u", "apache2", "x1", "--", "/bin/true"], &["not both"]);
    fails(
        &s,
        &["create", "-u", "apache2", "--network", "private", "--socket-activate", "x1"],
        &["socket-activate=yes needs a published TCP port", "--publish"],
    );
    fails(
        &s,
        &["create", "-u", "apache2", "--network", "private", "--publish", "8081:80", "--idle-stop", "5", "x1"],
        &["idle-stop=5 needs socket-activate=yes", "--socket-activate"],
    );
    fails(
        &s,
        &["create", "-u", "apache2", "--network", "private", "--publish", "[::1:80:80", "x1"],
        &["publish [::1:80:80", "[::1]:8081:80"],
    );
    fails(&s, &["status", "nope"], &["no sandbox named 'nope'", "sandbox-service list"]);
    fails(&s, &["delete", "nope"], &["no sandbox named 'nope'"]);
    fails(&s, &["clone", "nope", "x2"], &["no sandbox named 'nope'"]);
    assert_eq!(s.ok(&["list", "--json"]).trim(), "[]", "a failed create made something");

    s.ok(&["create", "-u", "apache2", "-s", "static,label=s0:c7,c3", "w1"]);
    let st = s.ok(&["status", "w1", "--json"]);
    assert!(st.contains("\"label\": \"s0:c3,c7\""), "{st}");
    fails(&s, &["create", "-u", "apache2", "w1"], &["sandbox 'w1' already exists", "delete w1"]);
    fails(
        &s,
        &["create", "-u", "nginx", "-s", "static,label=s0:c3,c7", "w2"],
        &["label s0:c3,c7 is already used by sandbox 'w1'"],
    );
    fails(&s, &["clone", "w1", "w1"], &["sandbox 'w1' already exists"]);
    // A name whose unit exists already: apache2.service would be shadowed.
    fails(&s, &["create", "-u", "a", "-u", "b", "apache2"], &["unit a.service not found"]);
    s.sh_ok("printf '[Service]\\nExecStart=/bin/true\\n' > /etc/systemd/system/taken.service");
    fails(&s, &["create", "taken", "--", "/bin/true"], &["a unit named taken.service already exists"]);
    let list: serde_json::Value = serde_json::from_str(&s.ok(&["list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(!s.exists("/var/lib/sandbox-service/w2") && !s.exists("/etc/systemd/system/nginx@w2.service"));

    // A config damaged by hand is reported with its file and the man page.
    s.sh_ok("sed -i 's/^mode=static/mode=static\\nfoo=1/' /etc/sandbox-service/w1.sandbox");
    fails(
        &s,
        &["status", "w1"],
        &["unknown key 'foo'", "/etc/sandbox-service/w1.sandbox", "sandbox-service.sandbox(5)"],
    );
}

#[test]
fn help_on_every_command() {
    // Every command the top-level help lists, not a list kept here.
    let top = stdout(&std::process::Command::new(BIN).arg("--help").output().unwrap());
    let cmds: Vec<&str> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(cmds.len() >= 14, "commands found in --help: {cmds:?}\n{top}");
    for cmd in cmds {
        let out = std::process::Command::new(BIN).args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success(), "{cmd} --help");
        let text = stdout(&out);
        assert!(text.contains(&format!("Usage: sandbox-service {cmd}")) && text.lines().count() > 3, "{cmd}: {text}");
    }
}

/// A `.sandbox` file or a manifest truncated by hand: every command says
/// which file is damaged and how to mend it, on one line, without a panic;
/// list still shows the others; delete --force removes what is left.
#[test]
fn damaged_state_is_named_with_its_mend_and_never_panics() {
    let s = Systemd::boot();
    s.ok(&["create", "ok1", "--", "/bin/sleep", "1000"]);
    s.ok(&["create", "bad1", "--", "/bin/sleep", "1000"]);
    s.ok(&["create", "bad2", "--", "/bin/sleep", "1000"]);
    s.sh_ok("f=/etc/sandbox-service/bad1.sandbox; head -c 150 $f > /tmp/t && cat /tmp/t > $f");
    s.sh_ok("f=/var/lib/sandbox-service/bad2/manifest.json; head -c 90 $f > /tmp/t && cat /tmp/t > $f");
    let config = ["/etc/sandbox-service/bad1.sandbox is damaged", "sandbox-service.sandbox(5)", "delete --force bad1"];
    for args in [
        &["status", "bad1"][..],
        &["start", "bad1"],
        &["update", "bad1"],
        &["clone", "bad1", "c1"],
        &["run", "bad1"],
        &["execute", "bad1", "--", "true"],
        &["logrotate", "bad1"],
        &["delete", "bad1"],
    ] {
        fails(&s, args, &config);
    }
    let manifest = ["/var/lib/sandbox-service/bad2/manifest.json is damaged", "delete --force bad2"];
    for args in [&["status", "bad2"][..], &["update", "-p", "/var/x", "bad2"]] {
        fails(&s, args, &manifest);
    }
    // run warns first (into the unit's journal) that bad1's label went unchecked.
    let out = s.tool(&["run", "bad2"]);
    assert_eq!(out.status.code(), Some(1));
    let last = stderr(&out).lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("sandbox-service: error: ") && manifest.iter().all(|m| last.contains(m)), "{last}");
    // What allocates a label needs every config: it names the damaged one.
    fails(&s, &["clone", "bad2", "c1"], &config);
    // A start through systemd fails the unit with the same words.
    assert!(!s.run(&["systemctl", "start", "bad2.service"]).status.success());
    assert!(s.journal("bad2.service").contains("manifest.json is damaged"));
    // list: the others, and the damaged one named; status 1.
    let out = s.tool(&["list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("ok1") && stdout(&out).contains("bad2"), "{}", stdout(&out));
    assert!(stderr(&out).contains("bad1.sandbox is damaged"), "{}", stderr(&out));
    // delete --force mends it: config, state and unit gone, the name free.
    let out = s.tool(&["delete", "--force", "bad1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for p in ["/etc/sandbox-service/bad1.sandbox", "/var/lib/sandbox-service/bad1", "/etc/systemd/system/bad1.service"]
    {
        assert!(!s.exists(p), "{p} left");
    }
    fails(&s, &["clone", "bad2", "c1"], &manifest);
    s.ok(&["delete", "bad2"]);
    s.ok(&["create", "bad1", "--", "/bin/true"]);
    assert!(s.tool(&["list"]).status.success());
}
