//! `audit-chain verify`: checks both hash links, `seq`, epochs and anchored checkpoints over a
//! whole ledger in one streaming pass, and names every violation by line and kind.
//!
//! Chain rules are VNX's (`verify_chain`, ADR-029): an optional unchained prefix, then chained
//! epochs each opened by a `chain_epoch_start` marker whose `prev_hash` is genesis. vnx adds
//! two checks on lines that carry them: `prev_line_sha256` must be the SHA-256 of the previous
//! line's exact bytes, and `seq` must continue the previous line's `seq`.
//!
//! The report and the checker's state are here; the chain state machine's rules are in
//! `chain`, and telling moved lines from lost or inserted ones (a swapped pair, a `seq`
//! gap closed later) in `reorder`.

mod chain;
mod history;
mod reorder;

pub use history::History;

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use serde::Serialize;
use sha2::Sha256;

use crate::LedgerError;
use crate::anchored::Checkpoint;
use crate::line::{Hash, Link};
use crate::scan::{self, Fragment, KeptLine};

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
    /// A start names a dependency's head (`--after`) no earlier done completion or
    /// acceptance of that dependency records.
    DependencyUnproven,
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

impl Violation {
    /// A violation at `line` with no link values and no second line.
    pub fn new(line: u64, kind: ViolationKind, detail: String) -> Violation {
        Violation {
            line,
            kind,
            detail,
            expected: None,
            actual: None,
            other_line: None,
        }
    }

    /// The violation as reports print it: `line N: kind: detail`, the kind named as the JSON
    /// report names it (`altered_line`, …).
    pub fn describe(&self) -> String {
        let kind = serde_json::to_value(self.kind).unwrap_or_default();
        let kind = kind.as_str().unwrap_or_default();
        format!("line {}: {kind}: {}", self.line, self.detail)
    }
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
    /// The running state of that digest at the last line, when computed (a reader resumes
    /// it over lines appended later).
    #[serde(skip)]
    pub history: Option<History>,
    /// The violations found, up to the reporting limit.
    pub violations: Vec<Violation>,
    /// All violations found, including any beyond the reporting limit.
    pub violations_total: u64,
}

impl VerifyReport {
    /// Adds a violation found besides the chain's, which breaks the ledger.
    pub(crate) fn add(&mut self, violation: Violation) {
        self.violations_total += 1;
        self.violations.push(violation);
        self.status = ChainStatus::Broken;
    }
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
    verify_keeping(path, options, &[]).map(|(report, _)| report)
}

/// Verifies the ledger at `path` as [`verify`] does, and in the same pass keeps the complete
/// lines that hold any of `needles` (in order), for checks that look at a few lines only.
pub fn verify_keeping(
    path: &Path,
    options: &VerifyOptions,
    needles: &[&[u8]],
) -> Result<(VerifyReport, Vec<KeptLine>), LedgerError> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(LedgerError::Symlink {
            path: path.to_owned(),
        });
    }
    let file = match crate::open_for_reading(path) {
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
    let (totals, kept) = scan::scan_file(file, options.threads, needles, |line| {
        checker.line(line);
    })
    .map_err(LedgerError::read(path))?;
    Ok((checker.finish(totals), kept))
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

#[cfg(test)]
mod tests {
    use super::{Violation, ViolationKind};

    #[test]
    fn a_violation_names_its_kind_as_the_json_report_does() {
        let v = Violation::new(7, ViolationKind::CheckpointRolledBack, "why".into());
        assert_eq!(v.describe(), "line 7: checkpoint_rolled_back: why");
    }
}
