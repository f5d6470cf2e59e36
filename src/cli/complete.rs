//! Shell completion (bash, zsh, fish, elvish): clap_complete's
//! environment-activated completer (`COMPLETE=bash sandbox-service` prints
//! the script to source), with sandbox names read from the configs.

use crate::layout::Layout;
use clap_complete::engine::CompletionCandidate;

/// The names of the sandboxes configured on this system, for a NAME.
pub fn names() -> Vec<CompletionCandidate> {
    let dir = Layout::new(None).config_dir();
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten().filter_map(|e| e.file_name().to_str()?.strip_suffix(".sandbox").map(str::to_string)).collect()
        })
        .unwrap_or_default();
    out.sort();
    out.into_iter().map(CompletionCandidate::new).collect()
}

/// Answers a completion request and exits, when the shell asked for one.
pub fn complete_if_asked() {
    use clap::CommandFactory;
    clap_complete::CompleteEnv::with_factory(super::Cli::command)
        // The installed scripts call whatever sandbox-service is on PATH.
        .bin("sandbox-service")
        .completer("sandbox-service")
        .complete();
}
