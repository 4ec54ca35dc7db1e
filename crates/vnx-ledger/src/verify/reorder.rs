//! Moved lines told from lost or inserted ones: the last few chained entries kept to
//! recognise two swapped lines, inserted lines named by where the chain resumes, and a
//! `seq` gap closed by a later line reported as one reordering.

use crate::line::{Entry, GENESIS, Hash, Link};

use super::chain::links;
use super::{Checker, Seen, ViolationKind};

impl Checker<'_> {
    pub(super) fn snapshot(&self) -> (usize, u64, Option<(u64, ViolationKind)>) {
        (
            self.violations.len(),
            self.violations_total,
            self.last_reported,
        )
    }

    pub(super) fn remember(
        &mut self,
        n: u64,
        first: bool,
        e: &Entry,
        line_hash: Hash,
        before: (usize, u64, Option<(u64, ViolationKind)>),
    ) {
        if e.is_marker || !e.prev_hash.is_present() {
            self.window.clear();
            return;
        }
        if self.window.len() == 3 {
            self.window.pop_front();
        }
        self.window.push_back(Seen {
            line: n,
            first,
            entry_hash: e.entry_hash,
            line_hash,
            prev_hash: e.prev_hash,
            prev_line: e.prev_line,
            before,
        });
    }

    /// Whether the last two entries seen are a swapped pair: each links where the other
    /// should, and the chain runs on correctly around them, i.e. the links all match once the
    /// pair is put back in order. `next` is the entry after the pair (`None` at the end of
    /// the ledger). On a swap, the pair's link failures are replaced by one `reordered`.
    pub(super) fn swap_behind(&mut self, next: Option<(u64, &Entry)>) -> bool {
        let len = self.window.len();
        if len < 2 {
            return false;
        }
        let (a, b) = (self.window[len - 2], self.window[len - 1]);
        if b.line != a.line + 1 || a.entry_hash == b.entry_hash {
            return false;
        }
        // What the entry before the pair links to.
        let (before_entry, before_line) = if a.first {
            (GENESIS, GENESIS)
        } else if len == 3 && self.window[0].line + 1 == a.line {
            (self.window[0].entry_hash, self.window[0].line_hash)
        } else {
            return false;
        };
        let pair_swapped = a.prev_hash == Link::Hash(b.entry_hash)
            && links(a.prev_line, b.line_hash)
            && b.prev_hash == Link::Hash(before_entry)
            && links(b.prev_line, before_line);
        let runs_on = match next {
            None => true,
            Some((n, e)) => {
                n == b.line + 1
                    && e.prev_hash == Link::Hash(a.entry_hash)
                    && links(e.prev_line, a.line_hash)
            }
        };
        if !pair_swapped || !runs_on {
            return false;
        }
        let (len, total, last) = a.before;
        self.violations.truncate(len);
        self.violations_total = total;
        self.last_reported = last;
        self.pending_insert = None;
        self.last_gap = None;
        self.window.clear();
        self.report(
            a.line,
            ViolationKind::Reordered,
            format!(
                "lines {} and {} are swapped: each links to where the other belongs",
                a.line, b.line
            ),
        );
        if let Some(v) = self.violations.last_mut().filter(|v| v.line == a.line) {
            v.other_line = Some(b.line);
        }
        true
    }

    pub(super) fn report_inserted(&mut self, from: u64, to: u64, n: u64) {
        self.report(
            from,
            ViolationKind::InsertedLines,
            format!(
                "line(s) {from}..{to} were inserted: line {n} is chained to line {}",
                from - 1
            ),
        );
    }

    /// Where a recent `seq` gap skipped `seq`, if one did.
    pub(super) fn missing_seq(&self, seq: u64) -> Option<u64> {
        self.last_gap
            .filter(|&(_, from, to)| (from..=to).contains(&seq))
            .map(|(line, _, _)| line)
    }

    /// Turns "missing at `gap_line`" plus "`seq` back at `n`" into one reordering.
    pub(super) fn reordered(&mut self, n: u64, seq: u64, gap_line: u64) {
        if let Some(v) = self
            .violations
            .iter_mut()
            .rev()
            .find(|v| v.kind == ViolationKind::MissingLines && v.line == gap_line)
        {
            v.kind = ViolationKind::Reordered;
            v.detail = format!(
                "lines are out of order: line {n} carries seq {seq}, which belongs before line \
                 {gap_line}"
            );
            v.expected = None;
            v.actual = None;
        } else {
            self.report(
                n,
                ViolationKind::Reordered,
                format!("line {n} carries seq {seq}, which belongs before line {gap_line}"),
            );
        }
        self.last_gap = None;
    }
}
