//! A running worker's token usage, read from its own session file as the file grows (a
//! budget that holds while the worker runs, ADR 0094): each [`LiveUsage::poll`] finds the
//! dispatch's session as the end-of-run read does (`Wanted::find`: only its own session, by
//! the id vnx gave it where its CLI lets vnx choose), reads what was appended since the last
//! poll from the offset it had reached (at most [`MAX_POLL`] bytes), and feeds it to its
//! CLI's counter; the count so far is the counter's `so_far`. A CLI whose store says it
//! has no live usage (`SessionStore::live_usage`) is never read here.
//!
//! The file is the worker's to write, as at the end: bounded reads, never followed as a link
//! (`files::open_hostile`), and a claim no dispatch can have used reads as none. Until the
//! session's id is known (vnx chose it, or the CLI's stream named it: [`LiveUsage::name`]),
//! the first file found is kept, never swapped for a newer one: the CLI writes its file
//! before the worker can run anything, so a file the worker writes beside it is never read.
//! Once the id is known only that session's file is.

use super::Wanted;
use super::usage::Counter;
use crate::receipts::Usage;

/// The most bytes of a session file read by one poll.
pub(super) const MAX_POLL: u64 = 1 << 20;

/// Follows one dispatch's session file for its usage.
pub struct LiveUsage {
    wanted: Wanted,
    /// The session read, its file (none for rows) and how many of its bytes were counted.
    current: Option<super::Following>,
    counter: Counter,
    /// The cost its store read at the last poll, where it records one as it grows.
    cost: Option<f64>,
}

impl std::fmt::Debug for LiveUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveUsage")
            .field("current", &self.current.as_ref().map(|(p, _, n)| (p, n)))
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
            cost: None,
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

    /// Reads what the session appended since the last poll; the usage counted so far.
    pub fn poll(&mut self) -> Option<Usage> {
        let store = self.wanted.cli.store();
        let named = self.wanted.session_id.is_some();
        let found = (named || self.current.is_none())
            .then(|| self.wanted.find())
            .flatten();
        let now_reading = self.current.as_ref().map(|(p, _, _)| p.as_path());
        if found.is_some() && found.as_deref() != now_reading {
            let opened = found.and_then(|p| super::open_following(store, p));
            if opened.is_some() {
                // Another session of its own (the CLI started afresh): counted from its start.
                self.current = opened;
                self.counter = Counter::new(&self.wanted.cli, self.wanted.since);
            }
        }
        let current = self.current.as_mut()?;
        let buf = super::read_on(store, current, MAX_POLL);
        // Its cost is read again only when the session grew (a step's cost is recorded as
        // the step finishes, with its lines): an idle worker's session is not read twice a
        // second.
        if store.live_cost() && (!buf.is_empty() || self.cost.is_none()) {
            let cost = store.cost(&current.0, self.wanted.since);
            self.cost = match (self.cost, cost) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        self.counter.feed(&buf);
        self.counter.so_far().filter(|u| u.implausible().is_none())
    }
}
