//! The token usage a session file records, counted as the headless lane counts the CLI's
//! own totals: the file is cut into lines here, and each line is read by the counter its
//! CLI's module gives (`SessionStore::usage`, which says what the CLI's file records and
//! how it is summed, as seen on the real CLIs).
//!
//! Only what was recorded since the dispatch started counts (a follow-up resumes its
//! session, whose file holds the earlier dispatch's turns too): each line's `timestamp` is
//! compared with the start by the CLI's counter.
//!
//! Informational, like the headless lane's usage: a worker can write the file. So the read is
//! bounded in memory whatever the file holds: it is streamed, a line longer than
//! [`MAX_USAGE_LINE`] is skipped unread, and each CLI's counter parses only the few members
//! usage needs and remembers a bounded number of message ids (`provider::cli::usage`). A
//! line whose claim no dispatch can have used is skipped, the rest counted; how many were is
//! said ([`SessionRead::skipped`]).

use std::path::Path;
use std::time::SystemTime;

use super::Cli;
use crate::provider::cli::usage::SessionUsage;
use crate::provider::lines::{LineSplitter, Piece};
use crate::receipts::Usage;

/// The longest session-file line read for its usage, in bytes; a longer one is skipped
/// without being kept or parsed. A CLI may write a message's usage on the line of each
/// content block, and a block can carry a whole file a tool wrote: generous, but far below
/// what a supervisor may hold.
pub const MAX_USAGE_LINE: usize = 8 << 20;

/// The usage the session file at `path` records since `since`; `None` when it records none
/// (or cannot be read).
pub fn usage(cli: Cli, path: &Path, since: SystemTime) -> Option<Usage> {
    read_usage(cli, path, since).usage
}

/// What a session file's usage read found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionRead {
    /// The usage it records; `None` when it records none (or cannot be read).
    pub usage: Option<Usage>,
    /// The lines skipped for claiming a usage no dispatch can have used.
    pub skipped: u64,
}

/// The usage the session file at `path` records since `since`, and how many of its lines
/// were skipped for an implausible claim.
pub fn read_usage(cli: Cli, path: &Path, since: SystemTime) -> SessionRead {
    let mut counter = Counter::new(&cli, since);
    if super::stream(Some(cli.store()), path, |chunk| counter.feed(chunk)).is_err() {
        return SessionRead::default();
    }
    counter.finish()
}

/// Counts usage from a session file fed in chunks cut anywhere.
pub(super) struct Counter {
    since: Option<jiff::Timestamp>,
    lines: LineSplitter,
    counted: Box<dyn SessionUsage>,
}

impl Counter {
    pub(super) fn new(cli: &Cli, since: SystemTime) -> Counter {
        Counter {
            since: jiff::Timestamp::try_from(since).ok(),
            lines: LineSplitter::with_max(MAX_USAGE_LINE),
            counted: cli.store().usage(),
        }
    }

    pub(super) fn feed(&mut self, chunk: &[u8]) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(chunk, |piece| {
            if let Piece::Line(line) = piece {
                self.counted.line(line, self.since);
            }
        });
        self.lines = lines;
    }

    /// The usage counted from the complete lines fed so far, where its CLI's counter can
    /// tell it before the end.
    pub(super) fn so_far(&self) -> Option<Usage> {
        self.counted.so_far()
    }

    /// The lines skipped so far for an implausible claim.
    pub(super) fn skipped(&self) -> u64 {
        self.counted.skipped()
    }

    pub(super) fn finish(mut self) -> SessionRead {
        let mut lines = std::mem::take(&mut self.lines);
        if let Some(Piece::Line(line)) = lines.finish() {
            self.counted.line(line, self.since);
        }
        let skipped = self.counted.skipped();
        SessionRead {
            usage: self.counted.total(),
            skipped,
        }
    }
}
