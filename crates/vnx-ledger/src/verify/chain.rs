//! The chain state machine fed one line at a time: both hash links, `seq`, epochs, the
//! unchained prefix and anchored checkpoints, each failure reported as a violation; and the
//! report it makes at the end.

use std::collections::{BTreeMap, VecDeque};

use sha2::{Digest, Sha256};

use crate::line::{Entry, GENESIS, Hash, LineError, LineFacts, Link};
use crate::scan::{LineKind, ScanTotals, ScannedLine};

use super::{
    ChainStatus, Checker, CheckpointResult, Head, Prev, VerifyOptions, VerifyReport, Violation,
    ViolationKind,
};

/// Whether `link` (absent counts as agreeing, for lines without the byte link) is `target`.
pub(super) fn links(link: Link, target: Hash) -> bool {
    link == Link::Hash(target) || link == Link::Absent
}

const RECENT: usize = 64;

fn hex(h: &Hash) -> String {
    hex::encode(h)
}

fn link_text(l: Link) -> String {
    match l {
        Link::Absent => "(absent)".into(),
        Link::Hash(h) => hex(&h),
        Link::Malformed => "(not 64 lowercase hex digits)".into(),
    }
}

impl<'a> Checker<'a> {
    pub(super) fn new(options: &'a VerifyOptions) -> Self {
        let mut checkpoints_at: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        let mut invalid = Vec::new();
        for (i, c) in options.checkpoints.iter().enumerate() {
            let trusted =
                options.trusted_keys.is_empty() || options.trusted_keys.contains(&c.public_key);
            if !c.signature_ok {
                invalid.push((
                    c.lines,
                    ViolationKind::CheckpointInvalid,
                    format!("checkpoint {} has an invalid signature", c.id),
                ));
            } else if !trusted {
                invalid.push((
                    c.lines,
                    ViolationKind::CheckpointUntrusted,
                    format!(
                        "checkpoint {} is signed by key {}, which this repository does not \
                         trust (not the local key, not in .vnx/checkpoint-keys)",
                        c.id,
                        hex::encode(c.public_key)
                    ),
                ));
            } else {
                checkpoints_at.entry(c.lines).or_default().push(i);
            }
        }
        let mut checker = Checker {
            options,
            violations: Vec::new(),
            violations_total: 0,
            last_reported: None,
            prev: None,
            prev_entry: None,
            chained: false,
            unchained_prefix: 0,
            epochs: 0,
            canonical: 0,
            parsed: 0,
            recent: VecDeque::with_capacity(RECENT),
            last_gap: None,
            max_seq: None,
            explained_through: 0,
            pending_insert: None,
            checkpoints_at,
            checkpoint_ok: vec![None; options.checkpoints.len()],
            head_entry: None,
            history: (options.history || !options.checkpoints.is_empty()).then(Sha256::new),
            window: VecDeque::with_capacity(3),
        };
        for (line, kind, detail) in invalid {
            checker.report(line, kind, detail);
        }
        if let Some((line, detail)) = &options.rolled_back {
            checker.report(*line, ViolationKind::CheckpointRolledBack, detail.clone());
        }
        checker
    }

    pub(super) fn report(&mut self, line: u64, kind: ViolationKind, detail: String) {
        self.report_full(line, kind, detail, None, None);
    }

    fn report_full(
        &mut self,
        line: u64,
        kind: ViolationKind,
        detail: String,
        expected: Option<String>,
        actual: Option<String>,
    ) {
        // Two views of one fault (e.g. both links into an altered line) are reported once,
        // also past the listing limit.
        if self.last_reported == Some((line, kind)) {
            return;
        }
        self.last_reported = Some((line, kind));
        self.violations_total += 1;
        if self.violations.len() < self.options.max_violations {
            self.violations.push(Violation {
                expected,
                actual,
                ..Violation::new(line, kind, detail)
            });
        }
    }

    pub(super) fn line(&mut self, l: ScannedLine) {
        let n = l.number;
        let line_hash = *l.line_hash();
        if let Some(h) = &mut self.history {
            h.update(line_hash);
        }
        self.check_checkpoints(n, &line_hash);
        let mut seq = None;
        let before = self.snapshot();
        match l.kind {
            LineKind::Blank(_) => self.window.clear(),
            LineKind::Line(facts) => seq = self.part(n, facts, before),
            LineKind::Split(_, parts) => {
                self.window.clear();
                for facts in parts {
                    seq = self.part(n, facts, before);
                }
                self.window.clear();
            }
        }
        self.prev = Some(Prev {
            line: n,
            line_hash,
            seq,
        });
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((n, line_hash));
    }

    /// Checks one entry (a line, or a part of a line split at bare CRs); returns its `seq`.
    fn part(
        &mut self,
        n: u64,
        facts: LineFacts,
        before: (usize, u64, Option<(u64, ViolationKind)>),
    ) -> Option<u64> {
        match facts.entry {
            Err(e) => {
                let kind = match e {
                    LineError::NotObject(_) => ViolationKind::NotAnObject,
                    _ => ViolationKind::InvalidJson,
                };
                self.report(n, kind, e.to_string());
                self.prev_entry = Some(None);
                self.head_entry = None;
                self.window.clear();
                None
            }
            Ok(entry) => {
                if entry.canonical {
                    self.canonical += 1;
                } else {
                    self.parsed += 1;
                }
                let first = !self.chained;
                self.entry(n, &entry);
                self.remember(n, first, &entry, facts.line_hash, before);
                self.prev_entry = Some(Some(entry.entry_hash));
                self.head_entry = Some(entry.entry_hash);
                entry.seq.filter(|_| entry.prev_line.is_present())
            }
        }
    }

    fn check_checkpoints(&mut self, n: u64, line_hash: &Hash) {
        let Some(ids) = self.checkpoints_at.get(&n).cloned() else {
            return;
        };
        let history: Option<Hash> = self.history.as_ref().map(|h| h.clone().finalize().into());
        for i in ids {
            let cp = &self.options.checkpoints[i];
            let (what, expected, actual) = if cp.head != *line_hash {
                ("line {n} hashes", cp.head, *line_hash)
            } else if history.is_some_and(|h| h != cp.history) {
                ("lines 1..{n} hash", cp.history, history.unwrap_or_default())
            } else {
                self.checkpoint_ok[i] = Some(true);
                continue;
            };
            self.checkpoint_ok[i] = Some(false);
            let detail = format!(
                "checkpoint {} does not match: {} differently now, so the ledger was rewritten \
                 up to line {n}",
                cp.id,
                what.replace("{n}", &n.to_string())
            );
            self.report_full(
                n,
                ViolationKind::CheckpointMismatch,
                detail,
                Some(hex(&expected)),
                Some(hex(&actual)),
            );
        }
    }

    fn entry(&mut self, n: u64, e: &Entry) {
        if !e.is_marker && e.prev_hash.is_present() && self.swap_behind(Some((n, e))) {
            // This line links past the swapped pair correctly; its links are explained.
            self.explained_through = n;
        }
        // `seq` must continue the previous line's, or equal the line number after a line
        // without one.
        let mut seq_gap = false;
        let mut seq_back = None;
        // Only vnx lines (those with `prev_line_sha256`) give `seq` its meaning.
        if let Some(seq) = e.seq.filter(|_| e.prev_line.is_present()) {
            let expected = match (&self.prev, self.max_seq) {
                (Some(Prev { seq: Some(_), .. }), Some(max)) => max.saturating_add(1),
                _ => n,
            };
            self.max_seq = Some(self.max_seq.map_or(seq, |m| m.max(seq)));
            if seq > expected {
                seq_gap = true;
                let count = seq - expected;
                self.report_full(
                    n,
                    ViolationKind::MissingLines,
                    format!(
                        "{count} line(s) missing before line {n}: seq jumps to {seq} (lines with \
                         seq {expected}..{} were removed)",
                        seq - 1
                    ),
                    Some(expected.to_string()),
                    Some(seq.to_string()),
                );
                self.last_gap = Some((n, expected, seq - 1));
            } else if seq < expected {
                seq_back = Some((seq, expected));
            }
        }

        // The VNX link: `prev_hash` is the previous entry's entry hash.
        let mut vnx_checked = false;
        let mut vnx_fail = false;
        if e.is_marker {
            self.epochs += 1;
            self.chained = true;
            if e.prev_hash != Link::Hash(GENESIS) {
                self.report_full(
                    n,
                    ViolationKind::BadEpochMarker,
                    "a chain_epoch_start marker must anchor to genesis".into(),
                    Some(hex(&GENESIS)),
                    Some(link_text(e.prev_hash)),
                );
            }
        } else if e.prev_hash.is_present() {
            if !self.chained {
                self.chained = true;
                if self.unchained_prefix > 0 {
                    self.report(
                        n,
                        ViolationKind::UnsealedChain,
                        format!(
                            "chained line after {} unchained line(s) without a \
                             chain_epoch_start marker",
                            self.unchained_prefix
                        ),
                    );
                } else if e.prev_hash != Link::Hash(GENESIS) {
                    self.report_full(
                        n,
                        ViolationKind::BadGenesis,
                        "the first chained line must link to genesis".into(),
                        Some(hex(&GENESIS)),
                        Some(link_text(e.prev_hash)),
                    );
                }
            } else if let Some(Some(h)) = self.prev_entry {
                vnx_checked = true;
                vnx_fail = e.prev_hash != Link::Hash(h);
            }
        } else if self.chained {
            self.report(
                n,
                ViolationKind::UnchainedInEpoch,
                "line without prev_hash inside a chained epoch".into(),
            );
        } else {
            self.unchained_prefix += 1;
        }

        // vnx's link: `prev_line_sha256` is the SHA-256 of the previous line's bytes.
        let mut byte_fail = false;
        let mut chained_to = None;
        let expected_line = self.prev.as_ref().map_or(GENESIS, |p| p.line_hash);
        if e.prev_line.is_present() && e.prev_line != Link::Hash(expected_line) {
            byte_fail = true;
            if let Link::Hash(h) = e.prev_line {
                chained_to = self
                    .recent
                    .iter()
                    .rev()
                    .skip(1)
                    .find(|(_, rh)| *rh == h)
                    .map(|(ln, _)| *ln);
            }
        }

        // A pending "lines were inserted before line p" holds only if the chain runs through
        // line p, i.e. this line links to it.
        if let Some((p, j)) = self.pending_insert.take() {
            if p == n - 1 && !byte_fail {
                self.report_inserted(j + 1, p - 1, p);
            } else {
                self.report(
                    p,
                    ViolationKind::InsertedLines,
                    format!("line {p} is not part of the chain: it was inserted"),
                );
            }
        }

        if let Some((seq, _)) = seq_back
            && let Some(gap_line) = self.missing_seq(seq)
        {
            self.reordered(n, seq, gap_line);
            // The lines right after a move link across it; that is explained.
            self.explained_through = n + 1;
            return;
        }
        if n <= self.explained_through {
            return;
        }

        let prev_line = n.saturating_sub(1);
        if byte_fail {
            if let Some(j) = chained_to {
                self.pending_insert = Some((n, j));
            } else if let Some((seq, expected)) = seq_back {
                self.report_full(
                    n,
                    ViolationKind::InsertedLines,
                    format!("line {n} repeats seq {seq}: it was inserted (or copied from earlier)"),
                    Some(expected.to_string()),
                    Some(seq.to_string()),
                );
            } else if seq_gap {
                // Explained by the missing lines already reported.
            } else {
                let detail = if vnx_fail || !vnx_checked {
                    format!(
                        "line {prev_line} was altered: line {n} no longer links to it (or \
                         line {n}'s link fields were edited)"
                    )
                } else {
                    format!(
                        "line {prev_line} was altered outside the VNX entry hash (its \
                         prev_hash), or line {n}'s prev_line_sha256 was edited"
                    )
                };
                self.report_full(
                    prev_line,
                    ViolationKind::AlteredLine,
                    detail,
                    Some(link_text(e.prev_line)),
                    Some(hex(&expected_line)),
                );
            }
        } else if let Some((seq, expected)) = seq_back {
            self.report_full(
                n,
                ViolationKind::SeqMismatch,
                format!("seq {seq} repeats or goes back although line {n} links correctly"),
                Some(expected.to_string()),
                Some(seq.to_string()),
            );
        } else if vnx_fail {
            let expected = self.prev_entry.flatten().map(|h| hex(&h));
            let (line, detail) = if e.prev_line.is_present() {
                let detail = format!(
                    "line {n}'s prev_hash was altered: line {prev_line} is byte-identical to \
                     what it was chained to"
                );
                (n, detail)
            } else {
                // Only VNX's link: its entry hash covers line n-1 except its own prev_hash, so
                // a break only here means line n-1 was edited (or this link was).
                let detail = format!(
                    "line {prev_line} was altered: line {n} no longer links to it (or line \
                     {n}'s prev_hash was edited)"
                );
                (prev_line, detail)
            };
            let actual = Some(link_text(e.prev_hash));
            self.report_full(line, ViolationKind::AlteredLine, detail, expected, actual);
        }
    }

    pub(super) fn finish(mut self, totals: ScanTotals) -> VerifyReport {
        self.swap_behind(None);
        if let Some((p, j)) = self.pending_insert.take() {
            self.report_inserted(j + 1, p - 1, p);
        }
        let mut checkpoints = Vec::new();
        for (i, cp) in self.options.checkpoints.iter().enumerate() {
            let trusted = self.options.trusted_keys.is_empty()
                || self.options.trusted_keys.contains(&cp.public_key);
            let ok = match self.checkpoint_ok[i] {
                _ if !cp.signature_ok || !trusted => false,
                Some(ok) => ok,
                None if cp.lines == 0 => true,
                None => {
                    let detail = format!(
                        "the ledger has {} line(s) but checkpoint {} recorded {}: the tail was \
                         cut",
                        totals.lines, cp.id, cp.lines
                    );
                    let (expected, actual) = (cp.lines.to_string(), totals.lines.to_string());
                    self.report_full(
                        cp.lines,
                        ViolationKind::CheckpointTruncated,
                        detail,
                        Some(expected),
                        Some(actual),
                    );
                    false
                }
            };
            checkpoints.push(CheckpointResult {
                id: cp.id.clone(),
                lines: cp.lines,
                ok,
                untrusted: cp.signature_ok && !trusted,
            });
        }
        let status = if self.violations_total > 0 {
            ChainStatus::Broken
        } else if !self.chained {
            ChainStatus::Unchained
        } else if self.unchained_prefix > 0 || self.epochs > 0 {
            ChainStatus::VerifiedSegmented
        } else {
            ChainStatus::Verified
        };
        self.violations.sort_by_key(|v| v.line);
        VerifyReport {
            status,
            lines: totals.lines,
            bytes: totals.bytes,
            unchained_prefix: self.unchained_prefix,
            epochs: self.epochs,
            canonical_lines: self.canonical,
            parsed_lines: self.parsed,
            head: self.prev.as_ref().map(|p| Head {
                line: p.line,
                line_sha256: hex(&p.line_hash),
                entry_hash: self.head_entry.map(|h| hex(&h)),
            }),
            torn_tail: totals.torn_tail,
            checkpoints,
            history_sha256: self
                .history
                .as_ref()
                .map(|h| hex(&h.clone().finalize().into())),
            history: self.history.map(super::History::of),
            violations: self.violations,
            violations_total: self.violations_total,
        }
    }
}
