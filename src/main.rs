use clap::Parser;
use sandbox_service::cli::{self, Cli};

fn main() {
    let cli = Cli::parse();
    let level = if cli.verbose {
        tracing::Level::DEBUG
    } else if cli.quiet {
        tracing::Level::ERROR
    } else {
        tracing::Level::WARN
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .init();
    if let Err(e) = cli::run(cli) {
        // One line: the error and its causes, outermost first.
        eprintln!("sandbox-service: error: {e:#}");
        std::process::exit(1);
    }
}
