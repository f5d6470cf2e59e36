//! Shell-style environment files (/etc/default/*, envvars, systemd's
//! EnvironmentFile=): the planner reads the paths they name, the shim the
//! environment they give. A leaf both use.

/// `KEY=value` assignments of a shell-style environment file, with `$VAR`
/// and `${VAR}` expanded from earlier assignments and unset variables
/// expanding to nothing, as the shell sourcing the file would.
pub fn env_assignments(text: &str) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line).trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else { continue };
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let v = v.trim();
        let single = v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'');
        let raw =
            if single || (v.len() >= 2 && v.starts_with('"') && v.ends_with('"')) { &v[1..v.len() - 1] } else { v };
        let value = if single { raw.to_string() } else { expand_vars(raw, &vars) };
        vars.retain(|(n, _)| n != k);
        vars.push((k.to_string(), value));
    }
    vars
}

fn expand_vars(s: &str, vars: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, tail) = if let Some(b) = after.strip_prefix('{') {
            match b.find('}') {
                Some(j) => (b[..j].split([':', '-']).next().unwrap_or(""), &b[j + 1..]),
                None => ("", ""),
            }
        } else {
            let n = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            (&after[..n], &after[n..])
        };
        if let Some((_, v)) = vars.iter().find(|(k, _)| k == name) {
            out.push_str(v);
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn envvars_expand_like_the_shell() {
        let text = "# comment\nexport APACHE_RUN_DIR=/var/run/apache2$SUFFIX\nexport APACHE_PID_FILE=$APACHE_RUN_DIR/apache2.pid\n\
            APACHE_LOG_DIR=\"/var/log/apache2${SUFFIX}\"\nLIT='/x/$HOME'\nbad line\n";
        let a: HashMap<_, _> = env_assignments(text).into_iter().collect();
        assert_eq!(a["APACHE_RUN_DIR"], "/var/run/apache2");
        assert_eq!(a["APACHE_PID_FILE"], "/var/run/apache2/apache2.pid");
        assert_eq!(a["APACHE_LOG_DIR"], "/var/log/apache2");
        assert_eq!(a["LIT"], "/x/$HOME");
    }
}
