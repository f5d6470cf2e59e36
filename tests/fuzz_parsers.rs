//! Fuzzing of the parsers that read what an admin (or a broken disk) may
//! have mangled: the `.sandbox` file, unit files and their command lines.
//! Seeds are the files in tests/corpus/ (real configs and Debian units, and
//! hand-written edge cases); proptest mutates them (truncation, a byte
//! changed, lines dropped or doubled, random text) and every result must
//! come back as Ok or an error, never a panic, and quickly.
use proptest::prelude::*;
use sandbox_service::config::SandboxConfig;
use sandbox_service::shim::service::{parse_cmd, parse_timespan, Service};
use sandbox_service::unitfile::{Specifiers, UnitFile};
use std::time::{Duration, Instant};

fn corpus(dir: &str) -> Vec<String> {
    let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(dir);
    let mut v: Vec<String> = std::fs::read_dir(&d)
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    v.sort();
    assert!(v.len() >= 2, "the corpus in {} is missing", d.display());
    v
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    SetByte(usize, u8),
    DropLine(usize),
    DoubleLine(usize),
    Insert(usize, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        any::<usize>().prop_map(Mutation::DropLine),
        any::<usize>().prop_map(Mutation::DoubleLine),
        (any::<usize>(), "[\\[\\]=%$\\\\\"' \\n\\ta-z0-9@:;~!+-]{0,24}").prop_map(|(i, s)| Mutation::Insert(i, s)),
    ]
}

fn mutate(seed: &str, ms: &[Mutation]) -> String {
    let mut b = seed.as_bytes().to_vec();
    for m in ms {
        match m {
            Mutation::Truncate(i) => b.truncate(i % (b.len() + 1)),
            Mutation::SetByte(i, v) if !b.is_empty() => {
                let n = b.len();
                b[i % n] = *v;
            }
            Mutation::SetByte(..) => {}
            Mutation::DropLine(i) | Mutation::DoubleLine(i) => {
                let text = String::from_utf8_lossy(&b).into_owned();
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let k = i % lines.len();
                    if matches!(m, Mutation::DropLine(_)) {
                        lines.remove(k);
                    } else {
                        lines.insert(k, lines[k]);
                    }
                }
                b = lines.join("\n").into_bytes();
            }
            Mutation::Insert(i, s) => {
                let at = i % (b.len() + 1);
                b.splice(at..at, s.bytes());
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn quick<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    assert!(t.elapsed() < Duration::from_secs(2), "{what} took {:?}", t.elapsed());
    r
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sandbox_files_mangled_parse_or_fail_cleanly(seed in 0usize..64, ms in prop::collection::vec(mutation(), 1..4)) {
        let seeds = corpus("sandbox");
        let text = mutate(&seeds[seed % seeds.len()], &ms);
        if let Ok(c) = quick("SandboxConfig::parse", || SandboxConfig::parse(&text)) {
            // What parses writes back to what parses to the same.
            prop_assert_eq!(SandboxConfig::parse(&c.render()).unwrap(), c);
        }
    }

    #[test]
    fn unit_files_mangled_parse_or_fail_cleanly(seed in 0usize..64, ms in prop::collection::vec(mutation(), 1..4)) {
        let seeds = corpus("units");
        let text = mutate(&seeds[seed % seeds.len()], &ms);
        let spec = Specifiers { unit: "edge@web1.service".into(), instance: "web1".into(), hostname: "web1".into() };
        if let Ok(u) = quick("UnitFile::parse", || UnitFile::parse(&text)) {
            for key in ["ExecStart", "ExecStartPre", "ExecReload", "ExecStop"] {
                for line in u.get_all("Service", key) {
                    let _ = quick("parse_cmd", || parse_cmd(line));
                }
            }
            for key in ["TimeoutStopSec", "TimeoutStartSec", "RestartSec"] {
                if let Some(v) = u.get("Service", key) {
                    let _ = quick("parse_timespan", || parse_timespan(v));
                }
            }
        }
        let _ = quick("Service::from_unit", || Service::from_unit("edge@web1.service", &text, &spec));
    }

    #[test]
    fn random_text_is_never_a_panic(text in "\\PC{0,400}") {
        let _ = SandboxConfig::parse(&text);
        let _ = UnitFile::parse(&text);
        let _ = parse_cmd(&text);
        let _ = parse_timespan(&text);
    }
}

/// The seeds themselves are what the parsers accept.
#[test]
fn the_corpus_parses() {
    for s in corpus("sandbox") {
        SandboxConfig::parse(&s).unwrap();
    }
    let spec = Specifiers { unit: "edge@web1.service".into(), instance: "web1".into(), hostname: "web1".into() };
    for u in corpus("units") {
        UnitFile::parse(&u).unwrap();
        Service::from_unit("edge@web1.service", &u, &spec).unwrap();
    }
}
