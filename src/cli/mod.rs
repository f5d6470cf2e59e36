//! The command line: one file per command, named for it.

mod clone;
pub mod complete;
mod connect;
mod create;
mod delete;
mod describe;
mod diff;
mod execute;
mod export;
mod list;
mod logrotate;
mod reload;
mod run;
mod runtime_dir;
mod security;
mod start_stop;
mod status;
mod unix_socket;
mod update;
mod upgrade;
mod wait_listen;

use crate::layout::Layout;
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "sandbox-service", version, about = "Run a systemd service in its own secure container")]
pub struct Cli {
    /// Operate on the installed tree under DIR (its package database, unit
    /// files, configs and state), like systemctl --root and rpm --root.
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Say more about what is done.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    Create(Box<create::Args>),
    List(list::Args),
    Status(status::Args),
    Delete(delete::Args),
    Clone(clone::Args),
    Run(run::Args),
    /// Start a sandbox through systemd and wait until it is up.
    Start(start_stop::Args),
    /// Stop a sandbox through systemd and wait until it is down.
    Stop(start_stop::Args),
    Restart(start_stop::RestartArgs),
    Update(update::Args),
    Upgrade(upgrade::Args),
    Diff(diff::Args),
    Security(security::Args),
    Export(export::Args),
    Reload(reload::Args),
    Execute(execute::Args),
    Connect(connect::Args),
    Logrotate(logrotate::Args),
    #[command(hide = true)]
    ReloadNow(reload::NowArgs),
    #[command(hide = true)]
    WaitListen(wait_listen::Args),
    #[command(hide = true)]
    RuntimeDir(runtime_dir::Args),
    #[command(hide = true)]
    UnixSocket(unix_socket::Args),
}

/// What `--explain` prints: the plan's paths and reasons, then the
/// container's mount rules, with masks read from the tree's /etc.
fn explain(layout: &Layout, plan: &crate::plan::Plan) -> String {
    plan.explain() + &crate::runtime::rootfs::explain(&layout.host("/etc"), &plan.private)
}

impl Command {
    /// Commands that only print a report: a reader that stops early (`| head`,
    /// `| grep -q`) ends them by SIGPIPE, as it ends ls or cat, not with a panic
    /// on the next write. Commands that change state keep SIGPIPE ignored, so a
    /// closed pipe can never cut a create or a delete short of its rollback.
    pub fn only_reports(&self) -> bool {
        match self {
            Command::List(_) | Command::Status(_) | Command::Diff(_) | Command::Security(_) => true,
            Command::Create(a) => a.explain,
            Command::Export(a) => a.explain && a.oci_bundle.is_none() && a.oci_image.is_none() && a.kube.is_none(),
            _ => false,
        }
    }
}

impl Cli {
    /// The command line, as clap parses it.
    pub fn from_args() -> Result<Cli, clap::Error> {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        match Self::unit_start(&args) {
            Some(cli) => Ok(cli),
            None => Self::try_parse_from(args),
        }
    }

    /// `run NAME`, the line every sandbox's unit starts (ExecStart=), at
    /// every start and restart: read here without clap, which builds every
    /// subcommand's arguments first (a third of the binary's start-up).
    /// Any other shape, `run --help` and options included, is clap's.
    fn unit_start(args: &[std::ffi::OsString]) -> Option<Cli> {
        let [_, cmd, name] = args else { return None };
        let name = name.to_str()?;
        if cmd != "run" || name.is_empty() || name.starts_with('-') {
            return None;
        }
        Some(Cli { root: None, verbose: false, quiet: false, command: Command::Run(run::Args { name: name.into() }) })
    }
}

/// Runs the command; Ok holds the exit status (non-zero only from `run`,
/// which exits with its service's status).
pub fn run(cli: Cli) -> Result<i32> {
    if let Some(r) = &cli.root {
        if !r.is_dir() {
            anyhow::bail!("--root {}: not a directory", r.display());
        }
    }
    let layout = Layout::new(cli.root.as_deref());
    use crate::systemd::Job;
    match cli.command {
        Command::Create(a) => create::run(&layout, *a, cli.quiet),
        Command::List(a) => list::run(&layout, a),
        Command::Status(a) => status::run(&layout, a),
        Command::Delete(a) => delete::run(&layout, a, cli.quiet),
        Command::Clone(a) => clone::run(&layout, a, cli.quiet),
        Command::Run(a) => return run::run(&layout, a),
        Command::Start(a) => start_stop::run(&layout, a, Job::Start, cli.quiet),
        Command::Stop(a) => start_stop::run(&layout, a, Job::Stop, cli.quiet),
        Command::Restart(a) => start_stop::restart(&layout, a, cli.quiet),
        Command::Update(a) => update::run(&layout, a, cli.quiet),
        Command::Upgrade(a) => upgrade::run(&layout, a, cli.quiet),
        Command::Diff(a) => diff::run(&layout, a),
        Command::Security(a) => security::run(&layout, a),
        Command::Export(a) => export::run(&layout, a),
        Command::Reload(a) => reload::run(&layout, a, cli.quiet),
        Command::Execute(a) => return execute::run(&layout, a),
        Command::Connect(a) => return connect::run(&layout, a),
        Command::Logrotate(a) => logrotate::run(&layout, a, cli.quiet),
        Command::ReloadNow(a) => reload::now(a),
        Command::WaitListen(a) => wait_listen::run(a),
        Command::RuntimeDir(a) => runtime_dir::run(&layout, a),
        Command::UnixSocket(a) => unix_socket::run(&layout, a),
    }?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<std::ffi::OsString> {
        std::iter::once("sandbox-service").chain(a.iter().copied()).map(Into::into).collect()
    }

    /// Where the unit's line is read without clap, clap reads the same;
    /// every other shape is left to clap.
    #[test]
    fn the_units_line_reads_as_clap_reads_it() {
        for name in ["web1", "a_b-9", "help", "run"] {
            let fast = Cli::unit_start(&argv(&["run", name])).expect("the unit's own line");
            let slow = Cli::try_parse_from(argv(&["run", name])).unwrap();
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"));
        }
        for other in [
            &["run"][..],
            &["run", "--help"],
            &["run", "-v"],
            &["-v", "run", "x"],
            &["run", "x", "y"],
            &["run", ""],
            &["status", "x"],
            &["run", "--root", "/r"],
        ] {
            assert!(Cli::unit_start(&argv(other)).is_none(), "{other:?}");
        }
    }
}
