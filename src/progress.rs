//! A one-line progress report for long copies, on a terminal only: a
//! script or the journal gets no carriage returns.

use crate::clone::Stats;
use std::io::Write;
use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_millis(100);

pub struct Progress {
    on: bool,
    started: Instant,
    last: Instant,
    shown: bool,
    what: String,
}

impl Progress {
    /// `what` names the copy, e.g. "cloning web1".
    pub fn new(what: &str) -> Self {
        let now = Instant::now();
        Progress {
            on: nix::unistd::isatty(std::io::stderr()).unwrap_or(false),
            started: now,
            last: now,
            shown: false,
            what: what.to_string(),
        }
    }

    /// Reports `stats` at most every 100 ms, and not for a copy that ends
    /// before the first report would be due.
    pub fn tick(&mut self, stats: &Stats) {
        if !self.on || self.last.elapsed() < EVERY || self.started.elapsed() < EVERY {
            return;
        }
        self.last = Instant::now();
        self.shown = true;
        let mut e = std::io::stderr().lock();
        let _ = write!(
            e,
            "\r{}: {} files, {} directories, {:.1} MiB",
            self.what,
            stats.files,
            stats.dirs,
            stats.bytes as f64 / 1_048_576.0
        );
        let _ = e.flush();
    }
}

impl Drop for Progress {
    /// Clears the line, so what follows starts clean.
    fn drop(&mut self) {
        if self.shown {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}
