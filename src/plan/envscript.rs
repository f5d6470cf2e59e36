//! Environment scripts a service's start sources (apache2's `envvars`,
//! `/etc/default/*`), evaluated by the shell as that start would, with the
//! unit's `Environment=` given: only the shell can say what an `if` in
//! them picks (envvars derives an instance's `SUFFIX` from
//! `APACHE_CONFDIR`, so `apache2@www` logs in `/var/log/apache2-www`).
//! The script runs as nobody with no_new_privs, no groups, an empty
//! environment, no input and a time limit: it may read, it may write
//! nothing of root's. Where that cannot be done (an offline `--root`
//! tree, no setpriv, a script nobody may read), the caller falls back to
//! reading the assignments.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(2);
/// What the shell itself sets: not the script's.
const SHELL_OWN: &[&str] = &["PATH", "PWD", "OLDPWD", "SHLVL", "_"];

/// The variables the script at `path` sets or changes, given `given`;
/// None if it could not be evaluated.
pub fn evaluate(path: &Path, given: &[(String, String)]) -> Option<Vec<(String, String)>> {
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].into_iter().find(|p| Path::new(p).is_file())?;
    let mut child = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs", "--"])
        .args(["/bin/sh", "-c", "set -a; . \"$1\" >/dev/null 2>&1 || exit 97; exec env -0", "sh"])
        .arg(path)
        .env_clear()
        .env("PATH", crate::runtime::PATH)
        .envs(given.iter().map(|(k, v)| (k, v)))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut out = child.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        // Bounded: a script that prints without end is cut off.
        let _ = (&mut out).take(1 << 20).read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    // The output ends as `env` exits (the script's own output goes to
    // /dev/null): waited for as it happens, not polled at an interval.
    let deadline = Instant::now() + LIMIT;
    let buf = rx.recv_timeout(LIMIT).ok();
    let status = loop {
        match (buf.is_some(), child.try_wait()) {
            (true, Ok(Some(st))) => break Some(st),
            (true, Ok(None)) if Instant::now() < deadline => std::thread::sleep(Duration::from_micros(100)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let buf = buf?;
    if !status?.success() {
        return None;
    }
    let mut vars = Vec::new();
    for item in buf.split(|b| *b == 0).filter(|i| !i.is_empty()) {
        let s = String::from_utf8_lossy(item);
        let Some((k, v)) = s.split_once('=') else { continue };
        if SHELL_OWN.contains(&k) || given.iter().any(|(gk, gv)| gk == k && gv == v) {
            continue;
        }
        vars.push((k.to_string(), v.to_string()));
    }
    Some(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_decides_what_an_if_picks() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("envvars");
        std::fs::write(
            &f,
            "if [ \"${APACHE_CONFDIR##/etc/apache2-}\" != \"${APACHE_CONFDIR}\" ] ; then\n\
             \tSUFFIX=\"-${APACHE_CONFDIR##/etc/apache2-}\"\nelse\n\tSUFFIX=\nfi\n\
             export APACHE_LOG_DIR=/var/log/apache2$SUFFIX\n",
        )
        .unwrap();
        // nobody must reach it: a temporary directory is 0700.
        std::fs::set_permissions(t.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        if !nix::unistd::Uid::effective().is_root() {
            return; // setpriv needs root; the tests run as root.
        }
        let given = vec![("APACHE_CONFDIR".to_string(), "/etc/apache2-www".to_string())];
        let v = evaluate(&f, &given).expect("evaluated");
        assert!(v.contains(&("APACHE_LOG_DIR".into(), "/var/log/apache2-www".into())), "{v:?}");
        assert!(!v.iter().any(|(k, _)| k == "APACHE_CONFDIR" || k == "PWD"), "{v:?}");
        let v = evaluate(&f, &[]).unwrap();
        assert!(v.contains(&("APACHE_LOG_DIR".into(), "/var/log/apache2".into())), "{v:?}");
        // A script that fails or never ends gives nothing.
        std::fs::write(&f, "exit 3\n").unwrap();
        assert!(evaluate(&f, &[]).is_none());
        std::fs::write(&f, "while :; do :; done\n").unwrap();
        assert!(evaluate(&f, &[]).is_none());
        // A process the script leaves behind holds no pipe of ours.
        std::fs::write(&f, "sleep 5 & LEFT=1\n").unwrap();
        assert!(evaluate(&f, &[]).unwrap().contains(&("LEFT".into(), "1".into())));
    }
}
