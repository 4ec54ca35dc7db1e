//! `audit-chain verify`: checks both hash links, `seq`, epochs and anchored checkpoints over a
//! whole ledger in one streaming pass, and names every violation by line and kind.
//!
//! Chain rules are VNX's (`verify_chain`, ADR-029): an optional unchained prefix, then chained
//! epochs each opened by a `chain_epoch_start` marker whose `prev_hash` is genesis. vnx adds
//! two checks on lines that carry them: `prev_line_sha256` must be the SHA-256 of the previous
//! line's exact bytes, and `seq` must continue the previous line's `seq`.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::LedgerError;
use super::checkpoint::Checkpoint;
use super::line::{Entry, GENESIS, Hash, LineError, LineFacts, Link};
use super::scan::{self, Fragment, LineKind, ScanTotals, ScannedLine};

/// The verdict on a ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChainStatus {
    /// No chained line at all (an empty or legacy ledger).
    Unchained,
    /// One chain from genesis on line 1.
    Verified,
    /// An unchained prefix and/or epoch markers, every epoch intact.
    VerifiedSegmented,
    /// At least one violation.
    Broken,
}

impl ChainStatus {
    /// The status as reports print it (`verified-segmented`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ChainStatus::Unchained => "unchained",
            ChainStatus::Verified => "verified",
            ChainStatus::VerifiedSegmented => "verified-segmented",
            ChainStatus::Broken => "broken",
        }
    }

    /// Whether this is one of the passing states.
    pub fn is_ok(self) -> bool {
        self != ChainStatus::Broken
    }
}

/// What is wrong at a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// The line's bytes changed after its successor was chained to it.
    AlteredLine,
    /// Lines are missing before this one (its `seq` jumps).
    MissingLines,
    /// Lines sit between this one and the line it was chained to.
    InsertedLines,
    /// A line is out of order (its `seq` belongs earlier).
    Reordered,
    /// A line's link does not match and nothing more specific explains it.
    LinkMismatch,
    /// `seq` repeats or goes back without a more specific explanation.
    SeqMismatch,
    /// The line is not JSON (VNX cannot read it either).
    InvalidJson,
    /// The line is JSON but not an object.
    NotAnObject,
    /// The first chained line does not start from genesis.
    BadGenesis,
    /// An epoch marker whose `prev_hash` is not genesis.
    BadEpochMarker,
    /// A line without `prev_hash` inside a chained epoch.
    UnchainedInEpoch,
    /// A chained line right after an unchained prefix, with no epoch marker between.
    UnsealedChain,
    /// The line an anchored checkpoint names has other bytes now.
    CheckpointMismatch,
    /// The ledger is shorter than an anchored checkpoint.
    CheckpointTruncated,
    /// A checkpoint whose signature does not verify.
    CheckpointInvalid,
    /// A correctly signed checkpoint by a key this repository does not trust.
    CheckpointUntrusted,
    /// The checkpoint ref no longer holds a checkpoint this machine witnessed.
    CheckpointRolledBack,
    /// A merge commit's `VNX-Receipt` trailer names a receipt no longer on the ledger.
    MergeTrailerOrphaned,
    /// A mirrored host line does not hash to the hash recorded for it.
    RemoteHashMismatch,
    /// A mirrored host line does not link to the host line mirrored before it.
    RemoteLinkMismatch,
    /// A host line was mirrored twice with different bytes: the host rewrote it.
    RemoteRewritten,
    /// Host lines are missing between two mirrored ones.
    RemoteMissingLines,
    /// A mirrored host line's own `seq` is not the position recorded for it.
    RemoteSeqMismatch,
    /// A receipt re-attested from a host names a line that was never mirrored.
    RemoteUnmirrored,
    /// A host's fetched checkpoint disagrees with the mirrored line it names.
    RemoteCheckpointMismatch,
}

/// One violation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The 1-based line the violation is about.
    pub line: u64,
    /// What is wrong.
    pub kind: ViolationKind,
    /// What is wrong, in words, naming the lines involved.
    pub detail: String,
    /// The value a link should have had, when the violation is a link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// The value it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// The second line a violation is about (the other line of a swapped pair).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_line: Option<u64>,
}

/// The last line of the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Head {
    /// Its 1-based line number.
    pub line: u64,
    /// SHA-256 of the line's bytes: commits to the whole history on a vnx ledger.
    pub line_sha256: String,
    /// VNX entry hash of the last entry (what the next line's `prev_hash` must be).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_hash: Option<String>,
}

/// How the ledger stands against one anchored checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckpointResult {
    /// The checkpoint commit.
    pub id: String,
    /// The ledger lines it covers.
    pub lines: u64,
    /// Whether the ledger still holds exactly those lines.
    pub ok: bool,
    /// Signed by a key the repository does not trust (the ledger may still extend it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub untrusted: bool,
}

/// Everything verify found.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    /// The verdict on the whole ledger.
    pub status: ChainStatus,
    /// Complete lines read.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Lines before the first chained line that carry no `prev_hash`.
    pub unchained_prefix: u64,
    /// `chain_epoch_start` markers seen.
    pub epochs: u64,
    /// Lines already in canonical form (the fast path) and lines that needed a full parse.
    pub canonical_lines: u64,
    /// Lines that needed a full parse (not in canonical form).
    pub parsed_lines: u64,
    /// The last complete line, when there is one.
    pub head: Option<Head>,
    /// An interrupted append's fragment at the end (not tampering; the next append
    /// quarantines it).
    pub torn_tail: Option<Fragment>,
    /// Each anchored checkpoint and whether the ledger still extends it.
    pub checkpoints: Vec<CheckpointResult>,
    /// SHA-256 over the SHA-256 of every complete line in order, when computed: what a
    /// checkpoint signs, so it covers every line whatever its links.
    pub history_sha256: Option<String>,
    /// The violations found, up to the reporting limit.
    pub violations: Vec<Violation>,
    /// All violations found, including any beyond the reporting limit.
    pub violations_total: u64,
}

/// How to verify.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// Worker threads hashing in parallel.
    pub threads: usize,
    /// Violations kept in the report (all are counted).
    pub max_violations: usize,
    /// Anchored checkpoints the ledger must extend.
    pub checkpoints: Vec<Checkpoint>,
    /// Public keys whose checkpoints count; empty means any correctly signed checkpoint.
    pub trusted_keys: Vec<[u8; 32]>,
    /// A witnessed checkpoint the checkpoint ref no longer holds: (its line, what happened).
    pub rolled_back: Option<(u64, String)>,
    /// Compute the history digest (SHA-256 over every line's SHA-256) even without
    /// checkpoints; `checkpoint` needs it for the head it signs.
    pub history: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            threads: 1,
            max_violations: 1000,
            checkpoints: Vec::new(),
            trusted_keys: Vec::new(),
            rolled_back: None,
            history: false,
        }
    }
}

/// Verifies the ledger at `path`. Read-only.
pub fn verify(path: &Path, options: &VerifyOptions) -> Result<VerifyReport, LedgerError> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(LedgerError::Symlink {
            path: path.to_owned(),
        });
    }
    let file = match super::open_for_reading(path) {
        Err(LedgerError::NotFound { .. }) => {
            // Kept as an open error: `--allow-missing` and its callers read it so.
            return Err(LedgerError::Open {
                path: path.to_owned(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        other => other?,
    };
    let mut checker = Checker::new(options);
    let totals =
        scan::scan_file(file, options.threads, |line| checker.line(line)).map_err(|source| {
            LedgerError::Read {
                path: path.to_owned(),
                source,
            }
        })?;
    Ok(checker.finish(totals))
}

struct Prev {
    line: u64,
    line_hash: Hash,
    seq: Option<u64>,
}

/// The chain state machine; fed lines in order.
struct Checker<'a> {
    options: &'a VerifyOptions,
    violations: Vec<Violation>,
    violations_total: u64,
    /// The last violation counted: (line, kind).
    last_reported: Option<(u64, ViolationKind)>,
    /// The previous physical line.
    prev: Option<Prev>,
    /// Entry hash of the previous entry (VNX link target); `None` after an unparseable line.
    prev_entry: Option<Option<Hash>>,
    chained: bool,
    unchained_prefix: u64,
    epochs: u64,
    canonical: u64,
    parsed: u64,
    /// Recent line hashes, to tell which lines were inserted.
    recent: VecDeque<(u64, Hash)>,
    /// The last `seq` gap: (line, first missing seq, last missing seq).
    last_gap: Option<(u64, u64, u64)>,
    /// The highest `seq` seen.
    max_seq: Option<u64>,
    /// Link failures up to this line are explained by a reported reordering.
    explained_through: u64,
    /// Line p links to an earlier line j: (p, j), decided when the next line is seen.
    pending_insert: Option<(u64, u64)>,
    checkpoints_at: BTreeMap<u64, Vec<usize>>,
    checkpoint_ok: Vec<Option<bool>>,
    head_entry: Option<Hash>,
    /// Running digest over every line's hash (when checkpoints or the caller need it).
    history: Option<Sha256>,
    /// The last few chained entries, to recognise two swapped lines.
    window: VecDeque<Seen>,
}

/// A chained entry as the swap check needs it.
#[derive(Clone, Copy)]
struct Seen {
    line: u64,
    /// Whether this was the first chained line (its predecessor is genesis).
    first: bool,
    entry_hash: Hash,
    line_hash: Hash,
    prev_hash: Link,
    prev_line: Link,
    /// `violations.len()`, `violations_total` and `last_reported` before this line.
    before: (usize, u64, Option<(u64, ViolationKind)>),
}

/// Whether `link` (absent counts as agreeing, for lines without the byte link) is `target`.
fn links(link: Link, target: Hash) -> bool {
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
    fn new(options: &'a VerifyOptions) -> Self {
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

    fn report(&mut self, line: u64, kind: ViolationKind, detail: String) {
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
                line,
                kind,
                detail,
                expected,
                actual,
                other_line: None,
            });
        }
    }

    fn line(&mut self, l: ScannedLine) {
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
            } else if vnx_fail || !vnx_checked {
                self.report_full(
                    prev_line,
                    ViolationKind::AlteredLine,
                    format!(
                        "line {prev_line} was altered: line {n} no longer links to it (or \
                         line {n}'s link fields were edited)"
                    ),
                    Some(link_text(e.prev_line)),
                    Some(hex(&expected_line)),
                );
            } else {
                self.report_full(
                    prev_line,
                    ViolationKind::AlteredLine,
                    format!(
                        "line {prev_line} was altered outside the VNX entry hash (its \
                         prev_hash), or line {n}'s prev_line_sha256 was edited"
                    ),
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
            if e.prev_line.is_present() {
                self.report_full(
                    n,
                    ViolationKind::AlteredLine,
                    format!(
                        "line {n}'s prev_hash was altered: line {prev_line} is byte-identical to \
                         what it was chained to"
                    ),
                    expected,
                    Some(link_text(e.prev_hash)),
                );
            } else {
                // Only VNX's link: its entry hash covers line n-1 except its own prev_hash, so
                // a break only here means line n-1 was edited (or this link was).
                self.report_full(
                    prev_line,
                    ViolationKind::AlteredLine,
                    format!(
                        "line {prev_line} was altered: line {n} no longer links to it (or \
                         line {n}'s prev_hash was edited)"
                    ),
                    expected,
                    Some(link_text(e.prev_hash)),
                );
            }
        }
    }

    fn snapshot(&self) -> (usize, u64, Option<(u64, ViolationKind)>) {
        (
            self.violations.len(),
            self.violations_total,
            self.last_reported,
        )
    }

    fn remember(
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
    fn swap_behind(&mut self, next: Option<(u64, &Entry)>) -> bool {
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

    fn report_inserted(&mut self, from: u64, to: u64, n: u64) {
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
    fn missing_seq(&self, seq: u64) -> Option<u64> {
        self.last_gap
            .filter(|&(_, from, to)| (from..=to).contains(&seq))
            .map(|(line, _, _)| line)
    }

    /// Turns "missing at `gap_line`" plus "`seq` back at `n`" into one reordering.
    fn reordered(&mut self, n: u64, seq: u64, gap_line: u64) {
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

    fn finish(mut self, totals: ScanTotals) -> VerifyReport {
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
            history_sha256: self.history.map(|h| hex(&h.finalize().into())),
            violations: self.violations,
            violations_total: self.violations_total,
        }
    }
}
