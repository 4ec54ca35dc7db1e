//! A running worker's token usage, read from its own session file as the file grows (a
//! budget that holds while the worker runs, ADR 0094): each [`LiveUsage::poll`] finds the
//! dispatch's session as the end-of-run read does (`Wanted::find`: only its own session, by
//! the id vnx gave it where its CLI lets vnx choose), reads what was appended since the last
//! poll from the offset it had reached (at most [`MAX_POLL`] bytes), and feeds it to its
//! CLI's counter; the count so far is the counter's `so_far`. A CLI whose store says it
//! has no live usage (`SessionStore::live_usage`) is never read here.
//!
//! The file is the worker's to write, as at the end: bounded reads, never followed as a link
//! (`files::open_hostile`), and a line claiming what no dispatch can have used is skipped
//! (the rest counted, [`LiveUsage::skipped`]). Until the session's id is known (vnx chose it,
//! or the CLI's stream named it: [`LiveUsage::name`]), the first file found is kept, never
//! swapped for a newer one: the CLI writes its file before the worker can run anything, so a
//! file the worker writes beside it is never read. Once the id is known only that session's
//! file is.
//!
//! The file is followed by its identity (its device and inode), not its name: one that gets
//! shorter than what was read, is replaced by another, or is deleted was tampered with (no
//! CLI does it; [`LiveUsage::tampering`] says what was seen). What was counted before stands
//! and what the file holds from then on is counted on top of it, so the count never goes
//! down; a deleted file is still read through the handle kept open (a CLI that holds its file
//! open goes on writing there), and the file a CLI writes again by its name is followed too.

use std::os::unix::fs::MetadataExt;

use super::Wanted;
use super::usage::Counter;
use crate::provider::cli::usage::{capped, sum};
use crate::receipts::{SessionTampering, Usage};

/// The most bytes of a session file read by one poll.
pub(super) const MAX_POLL: u64 = 1 << 20;

/// Follows one dispatch's session file for its usage.
pub struct LiveUsage {
    wanted: Wanted,
    /// The session read, its file (none for rows) and how many of its bytes were counted.
    current: Option<super::Following>,
    counter: Counter,
    /// What the files (or rows) left behind counted, and the lines they skipped.
    banked: Option<Usage>,
    banked_skipped: u64,
    /// The cost its store read at the last poll, where it records one as it grows.
    cost: Option<f64>,
    /// What was seen done to the file, each once, in the order seen.
    tampering: Vec<SessionTampering>,
}

impl std::fmt::Debug for LiveUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveUsage")
            .field("current", &self.current.as_ref().map(|(p, _, n)| (p, n)))
            .field("tampering", &self.tampering)
            .finish_non_exhaustive()
    }
}

impl LiveUsage {
    /// A reader of `wanted`'s session, when its CLI records usage live.
    pub fn new(wanted: Wanted) -> Option<LiveUsage> {
        if !wanted.cli.store().live_usage() {
            return None;
        }
        let counter = Counter::new(&wanted.cli, wanted.since);
        Some(LiveUsage {
            wanted,
            current: None,
            counter,
            banked: None,
            banked_skipped: 0,
            cost: None,
            tampering: Vec::new(),
        })
    }

    /// The session's id, as the CLI's stream named it: from now on only its file is read.
    /// An id its CLI could not have made is ignored, as is a second one.
    pub fn name(&mut self, id: &str) {
        let provider = self.wanted.cli.name().to_owned();
        if self.wanted.session_id.is_none() && super::valid_id(&provider, id) {
            self.wanted.session_id = Some(id.to_owned());
        }
    }

    /// The cost in US dollars the session records so far, for a CLI whose store records one
    /// as it grows (`SessionStore::live_cost`, ADR 0098); `None` otherwise or before any.
    pub fn cost(&self) -> Option<f64> {
        self.cost
    }

    /// How many lines claimed a usage no dispatch can have used, and were skipped.
    pub fn skipped(&self) -> u64 {
        self.banked_skipped.saturating_add(self.counter.skipped())
    }

    /// What was seen done to the session file while it was followed, each once.
    pub fn tampering(&self) -> &[SessionTampering] {
        &self.tampering
    }

    /// Reads what the session appended since the last poll; the usage counted so far.
    pub fn poll(&mut self) -> Option<Usage> {
        let cli = self.wanted.cli.clone();
        let store = cli.store();
        let named = self.wanted.session_id.is_some();
        let found = (named || self.current.is_none())
            .then(|| self.wanted.find())
            .flatten();
        let now_reading = self.current.as_ref().map(|(p, _, _)| p.as_path());
        if found.is_some() && found.as_deref() != now_reading {
            let opened = found.and_then(|p| super::open_following(store, p));
            if opened.is_some() {
                // Another session of its own (the CLI started afresh): counted from its start,
                // on top of what the one before counted.
                self.bank();
                self.current = opened;
            }
        }
        self.follow_identity();
        let current = self.current.as_mut()?;
        let (mut buf, shrank) = super::read_on(store, current, MAX_POLL);
        if shrank {
            // Cut short: what it holds now is read from its start, on top of what was counted.
            self.seen(SessionTampering::Shrank);
            self.bank();
            let current = self.current.as_mut()?;
            current.2 = 0;
            buf = super::read_on(store, current, MAX_POLL).0;
        }
        // Its cost is read again only when the session grew (a step's cost is recorded as
        // the step finishes, with its lines): an idle worker's session is not read twice a
        // second.
        if store.live_cost() && (!buf.is_empty() || self.cost.is_none()) {
            let path = &self.current.as_ref()?.0;
            let cost = store.cost(path, self.wanted.since);
            self.cost = match (self.cost, cost) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        self.counter.feed(&buf);
        self.so_far()
    }

    /// Reads the rest of the session, as the end of a run does (each poll reads a bounded
    /// amount): at most what a whole session file is read to (`MAX_SESSION_BYTES`); the
    /// usage counted.
    pub fn drain(&mut self) -> Option<Usage> {
        let mut last = self.poll();
        for _ in 0..super::MAX_SESSION_BYTES / MAX_POLL {
            let before = self.current.as_ref().map(|(_, _, n)| *n);
            last = self.poll();
            if self.current.as_ref().map(|(_, _, n)| *n) == before {
                break;
            }
        }
        last
    }

    /// What was counted: the files left behind and the one read now.
    fn so_far(&self) -> Option<Usage> {
        sum(self.banked.iter().cloned().chain(self.counter.so_far())).map(capped)
    }

    /// Keeps what the file read now counted, and starts a fresh count.
    fn bank(&mut self) {
        self.banked = self.so_far();
        self.banked_skipped = self.skipped();
        self.counter = Counter::new(&self.wanted.cli, self.wanted.since);
    }

    /// Records `what` was done to the file (once).
    fn seen(&mut self, what: SessionTampering) {
        if !self.tampering.contains(&what) {
            self.tampering.push(what);
        }
    }

    /// Checks that the file read is still the one at its name: a file deleted is read on
    /// through the handle kept; one replaced is read to its end (what its CLI wrote there
    /// before) and then left for the one now at its name.
    fn follow_identity(&mut self) {
        let Some((path, Some(file), _)) = &self.current else {
            return;
        };
        let open = file.metadata().ok().map(|m| (m.dev(), m.ino()));
        let path = path.clone();
        let at_name = match std::fs::symlink_metadata(&path) {
            Ok(m) => (m.dev(), m.ino()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.seen(SessionTampering::Deleted);
                return;
            }
            Err(_) => return,
        };
        if open == Some(at_name) {
            return;
        }
        self.seen(SessionTampering::Replaced);
        let cli = self.wanted.cli.clone();
        let store = cli.store();
        if let Some(current) = self.current.as_mut() {
            let (rest, _) = super::read_on(store, current, MAX_POLL);
            self.counter.feed(&rest);
        }
        if let Some(opened) = super::open_following(store, path) {
            self.bank();
            self.current = Some(opened);
        }
    }
}
