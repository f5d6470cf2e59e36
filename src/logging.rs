//! Where the tool's own messages go: to the journal, with structured
//! fields such as SANDBOX=NAME, when systemd runs it with its output on
//! the journal; to stderr otherwise.

use std::os::unix::fs::MetadataExt;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// True when stderr is the journal stream systemd gave us (its
/// JOURNAL_STREAM names the very file, as systemd.exec(5) says to check).
fn stderr_is_journal() -> bool {
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else { return false };
    let Some((dev, ino)) = v.to_str().and_then(|s| s.split_once(':')) else { return false };
    let Ok(md) = std::fs::metadata("/proc/self/fd/2") else { return false };
    dev.parse() == Ok(md.dev()) && ino.parse() == Ok(md.ino())
}

pub fn init(verbose: bool, quiet: bool) {
    let level = if verbose {
        Level::DEBUG
    } else if quiet {
        Level::ERROR
    } else {
        Level::WARN
    };
    // -v is about this tool: the D-Bus library's own debugging stays quiet.
    let filter = Targets::new().with_target("sandbox_service", level).with_default(if quiet {
        Level::ERROR
    } else {
        Level::WARN
    });
    if stderr_is_journal() {
        if let Ok(journald) = tracing_journald::layer() {
            tracing_subscriber::registry()
                .with(
                    journald
                        .with_syslog_identifier("sandbox-service".into())
                        .with_field_prefix(None)
                        .with_filter(filter),
                )
                .init();
            return;
        }
    }
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                .without_time()
                .with_filter(filter),
        )
        .init();
}
