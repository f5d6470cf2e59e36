//! The 3-way decision for one file of an upgrade: the base (what the
//! sandbox got), ours (the sandbox's file now) and theirs (the package's
//! new version), as dpkg decides for a conffile, with a merge by lines
//! where both changed.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The sandbox has the new version already.
    Same,
    /// Unchanged in the sandbox: the new version replaces it.
    TakeNew,
    /// Changed only in the sandbox (the package did not change it).
    KeepOurs,
    /// Changed in both, merged without a conflict.
    Merged(Vec<u8>),
    /// Changed in both and not mergeable (a conflicting line, binary
    /// content, or no base to merge from): the sandbox's stays, the new
    /// version goes beside it.
    Conflict(&'static str),
}

fn text(b: &[u8]) -> Option<&str> {
    if b.contains(&0) {
        return None;
    }
    std::str::from_utf8(b).ok()
}

pub fn three_way(base: Option<&[u8]>, ours: &[u8], theirs: &[u8]) -> Outcome {
    if ours == theirs {
        return Outcome::Same;
    }
    let Some(base) = base else {
        return Outcome::Conflict("changed in the sandbox, and what it was at create is not kept");
    };
    if base == ours {
        return Outcome::TakeNew;
    }
    if base == theirs {
        return Outcome::KeepOurs;
    }
    let (Some(b), Some(o), Some(t)) = (text(base), text(ours), text(theirs)) else {
        return Outcome::Conflict("changed in both, and not text");
    };
    match diffy::merge(b, o, t) {
        Ok(m) => Outcome::Merged(m.into_bytes()),
        Err(_) => Outcome::Conflict("changed in both, on the same lines"),
    }
}

/// A unified diff from `old` to `new` (both labelled with `path`), or a
/// line saying how big each is where either is not text.
pub fn unified(path: &str, old: &[u8], new: &[u8]) -> String {
    match (text(old), text(new)) {
        (Some(o), Some(n)) => {
            let p = diffy::create_patch(o, n);
            let body = p.to_string();
            // diffy labels the files "original" and "modified".
            let body = body.strip_prefix("--- original\n+++ modified\n").map(str::to_string).unwrap_or(body);
            format!("--- a{path}\n+++ b{path}\n{body}")
        }
        _ => format!("binary {path}: {} bytes -> {} bytes\n", old.len(), new.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "a\nb\nc\nd\ne\n";

    #[test]
    fn each_case_as_dpkg_decides_it() {
        let b = BASE.as_bytes();
        assert_eq!(three_way(Some(b), b"x\n", b"x\n"), Outcome::Same);
        assert_eq!(three_way(Some(b), b, b"a\nB\nc\nd\ne\n"), Outcome::TakeNew);
        assert_eq!(three_way(Some(b), b"a\nb\nc\nd\nE\n", b), Outcome::KeepOurs);
        // Both changed, on different lines: one file with both changes.
        assert_eq!(
            three_way(Some(b), b"A\nb\nc\nd\ne\n", b"a\nb\nc\nd\nE\n"),
            Outcome::Merged(b"A\nb\nc\nd\nE\n".to_vec())
        );
        assert!(matches!(three_way(Some(b), b"a\nX\nc\nd\ne\n", b"a\nY\nc\nd\ne\n"), Outcome::Conflict(_)));
        assert!(matches!(three_way(None, b"ours\n", b"theirs\n"), Outcome::Conflict(_)));
        assert!(matches!(three_way(Some(b"\0a"), b"\0b", b"\0c"), Outcome::Conflict("changed in both, and not text")));
    }

    #[test]
    fn a_unified_diff_names_the_file() {
        let d = unified("/etc/app.conf", b"a\nb\n", b"a\nc\n");
        assert!(d.starts_with("--- a/etc/app.conf\n+++ b/etc/app.conf\n@@ -1,2 +1,2 @@\n"), "{d}");
        assert!(d.contains("-b\n+c\n"), "{d}");
        assert_eq!(unified("/x", b"\0", b"\0\0"), "binary /x: 1 bytes -> 2 bytes\n");
    }
}
