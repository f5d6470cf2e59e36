use clap::error::ErrorKind;
use sandbox_service::cli::{self, Cli};

fn main() {
    cli::complete::complete_if_asked();
    let cli = match Cli::from_args() {
        Ok(c) => c,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => e.exit(),
        Err(e) => {
            // clap's usage errors span several lines; keep its first line.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad usage").trim_start_matches("error: ");
            eprintln!("sandbox-service: error: {first}: see sandbox-service --help");
            std::process::exit(2);
        }
    };
    sandbox_service::logging::init(cli.verbose, cli.quiet);
    if cli.command.only_reports() {
        use nix::sys::signal::{signal, SigHandler, Signal};
        // SAFETY: single-threaded here, and SIG_DFL installs no handler code.
        unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }.ok();
    }
    match cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // One line: the error and its causes, outermost first.
            eprintln!("sandbox-service: error: {e:#}");
            std::process::exit(1);
        }
    }
}
