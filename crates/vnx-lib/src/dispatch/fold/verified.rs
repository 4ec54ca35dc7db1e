//! The dispatches' records and the ledger's verification as a read needs them (ADR 0045):
//! from the read index while it holds (the ledger's stamp unchanged since a clean read, or
//! else the prefix it covers re-digested and the lines after it folded and checked to extend
//! the chain), else from a full verification and fold, which then writes the index again. A
//! ledger that does not verify is always read in full, so it reads `unverified` exactly as
//! without an index.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::anchor::AnchorParts;
use super::index::{self, ChainEnd, ProofFacts, Stored, Want};
use super::stamp::Stamp;
use super::{CiteReader, Records};
use crate::ledger::attest::{self, Attestor};
use crate::ledger::line::{Link, Scratch, analyze};
use crate::ledger::verify::History;
use crate::ledger::{ChainStatus, LedgerError, VerifyOptions, VerifyReport};

/// Lines after the index's prefix, in bytes, beyond which a read writes the index again.
pub(super) const REWRITE_AFTER: u64 = 4 << 20;

/// What a read is judged against, and where the index is.
#[derive(Clone, Copy, Debug)]
pub struct ReadOptions<'a> {
    /// The read index (`None`: read in full, keep none).
    pub index: Option<&'a Path>,
    /// The key that authenticates the index (`None`: no index).
    pub attestor: Option<&'a Attestor>,
    /// The keys whose signatures count.
    pub trusted: &'a [[u8; 32]],
    /// This machine's signing key and witness directory, as `audit-chain verify` uses them.
    pub key: Option<&'a Path>,
    /// The witness directory.
    pub witness_dir: Option<&'a Path>,
    /// Hashing threads.
    pub threads: usize,
    /// Most violations a full verification lists.
    pub max_violations: usize,
    /// Whether the read may write the index (the MCP server, which changes nothing in the
    /// project, only reads it).
    pub write: bool,
}

/// The records, the verification and what each proving line says of itself.
#[derive(Debug)]
pub struct Verified {
    /// The records, with the prefix they cover (`fingerprint` and `segments` hold only when
    /// the read used or wrote an index).
    pub stored: Stored,
    /// The verification (`None` when the ledger could not be verified).
    pub report: Option<VerifyReport>,
    /// Whether the index was used.
    pub from_index: bool,
    /// Bytes of the ledger this read digested with SHA-256 to prove it (a full
    /// verification: every byte; a read after an append that took the prefix on trust: the
    /// segment the prefix ends in, the new lines and what [`index::roll`] digests again).
    pub digested: u64,
    /// When the records are only those a read wanted: how many dispatches are listed in
    /// all, and whether any is a best-of candidate.
    pub partial: Option<Partial>,
}

/// What a read that decoded only some records knows of the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partial {
    /// Dispatches listed (queued or started) in all.
    pub listed: usize,
    /// Whether any dispatch started as a candidate of a best-of group.
    pub grouped: bool,
}

impl Verified {
    /// The records.
    pub fn records(&self) -> &Records {
        &self.stored.records
    }

    /// The proving lines' facts, by line.
    pub fn proofs(&self) -> BTreeMap<u64, &ProofFacts> {
        self.stored.proofs.iter().map(|p| (p.line, p)).collect()
    }

    /// How many dispatches the ledger lists, read or not.
    pub fn listed(&self) -> usize {
        self.partial
            .map_or(self.stored.records.listed, |p| p.listed)
    }

    /// Whether any dispatch started as a candidate of a best-of group.
    pub fn any_grouped(&self) -> bool {
        self.partial
            .map_or_else(|| self.stored.records.any_grouped(), |p| p.grouped)
    }
}

/// The records and verification of the ledger at `ledger`. `want` names the dispatches the caller needs: when the ledger is unchanged since the
/// index was written, only their records are decoded (`partial`); otherwise every record is
/// there.
pub fn read_verified(
    ledger: &Path,
    o: &ReadOptions<'_>,
    want: Want<'_>,
) -> Result<Verified, LedgerError> {
    let anchoring = AnchorParts::now(ledger, o);
    if let (Some(attestor), Some(parts)) = (o.attestor, &anchoring) {
        let now = current_stamp(ledger)?;
        if !matches!(want, Want::All)
            && let Some(v) = super::partial::read(ledger, o, attestor, &now, want, parts)?
        {
            return Ok(v);
        }
        let candidate = o.index.and_then(|p| index::load(p, attestor));
        if let Some(mut st) = candidate.filter(|st| !st.prefix.segments.is_empty()) {
            let moved = st.prefix.anchor != *parts;
            let at = super::partial::Prefix::of_stored(&st);
            if !moved || super::anchor::moves(ledger, o, &st.prefix.anchor, parts, at)? {
                st.prefix.anchor = parts.clone();
                if st.prefix.unchanged(st.records.offset, now.as_ref()) {
                    if moved
                        && o.write
                        && let Some(path) = o.index
                    {
                        // Best effort: the next read moves it again without it.
                        let _ = index::store(path, attestor, &st);
                    }
                    return Ok(Verified {
                        report: Some(clean_report(&st)),
                        stored: st,
                        from_index: true,
                        digested: 0,
                        partial: None,
                    });
                }
                if let Some(v) = from_index(ledger, o, st, moved)? {
                    return Ok(v);
                }
            }
        }
    }
    full(ledger, o, anchoring)
}

/// The records `want` names (with those the lines appended since the index touch) when the
/// read index can serve them without reading the ledger whole: the ledger proven clean
/// through its last line as [`read_verified`] proves it; `None` otherwise (no key, no index,
/// another anchoring, a ledger that does not extend it), and for [`Want::All`].
pub fn read_indexed(
    ledger: &Path,
    o: &ReadOptions<'_>,
    want: Want<'_>,
) -> Result<Option<Verified>, LedgerError> {
    if matches!(want, Want::All) {
        return Ok(None);
    }
    let (Some(attestor), Some(parts)) = (o.attestor, AnchorParts::now(ledger, o)) else {
        return Ok(None);
    };
    let now = current_stamp(ledger)?;
    super::partial::read(ledger, o, attestor, &now, want, &parts)
}

/// The ledger's lines about dispatch `id` (every receipt whose `dispatch_id` it is, in
/// ledger order): read at their offsets where the read index cites them and serves the
/// ledger as it is now, else found by one scan that keeps the lines holding the id's bytes
/// (lines about other dispatches among them: a reader passes them over). Nothing here
/// checks a signature: the reader of each line does.
pub fn lines_about(
    ledger: &Path,
    o: &ReadOptions<'_>,
    id: &crate::ids::DispatchId,
) -> Result<Vec<Vec<u8>>, LedgerError> {
    if let Some(read) = read_indexed(ledger, o, Want::Ids(std::slice::from_ref(id)))?
        && let Some(record) = read.records().get(id)
    {
        let reader = super::CiteReader::open(ledger)?;
        return record.receipts.iter().map(|c| reader.read(*c)).collect();
    }
    let lines = crate::ledger::tail::numbered_lines_containing(ledger, id.as_str().as_bytes())?;
    Ok(lines.into_iter().map(|(_, line)| line).collect())
}

/// The ledger's stamp now (`None` when it cannot be opened: the read fails on it later).
fn current_stamp(ledger: &Path) -> Result<Option<Stamp>, LedgerError> {
    match crate::ledger::open_for_reading(ledger) {
        Ok(file) => Ok(Stamp::take(&file).ok()),
        Err(LedgerError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What the index gives, when the prefix is proven ([`super::partial::catch_up`]) and every
/// line after it extends the chain; `None` when it does not hold. The index is written again
/// when the lines after its prefix pass [`REWRITE_AFTER`], or when the ledger's stamp, taken
/// before the read, can now be trusted to show the next read that nothing changed; a write
/// after a read that took the prefix on trust first digests the next of its segments again.
fn from_index(
    ledger: &Path,
    o: &ReadOptions<'_>,
    mut st: Stored,
    moved: bool,
) -> Result<Option<Verified>, LedgerError> {
    let prefix = super::partial::Prefix::of_stored(&st);
    let Some(c) = super::partial::catch_up(ledger, prefix, Some(o.threads), u64::MAX)? else {
        return Ok(None);
    };
    let prefix_lines = st.records.lines;
    let prefix_offset = st.records.offset;
    c.fold_into(&mut st.records);
    st.prefix.end = c.end.clone();
    st.prefix.history = c.history.as_ref().map(History::to_bytes);
    // The proofs that moved into the new lines are judged now.
    if c.lines > prefix_lines {
        let known: BTreeMap<u64, ProofFacts> = std::mem::take(&mut st.proofs)
            .into_iter()
            .map(|p| (p.line, p))
            .collect();
        st.proofs = proofs(ledger, &st.records, o.trusted, &known)?;
    }
    let report = clean_report(&st);
    let old_segments = std::mem::replace(&mut st.prefix.segments, c.segments.clone());
    let old_stamp = st.prefix.stamp;
    st.prefix.stamp = (c.stamp.size == c.offset).then_some(c.stamp);
    let mut digested = c.digested;
    let trusted = c.stamp.size == c.offset && c.stamp.trustworthy();
    let changed = moved || c.offset != prefix_offset || old_stamp != st.prefix.stamp;
    if changed
        && (moved || trusted || c.offset - prefix_offset > REWRITE_AFTER)
        && o.write
        && let (Some(path), Some(attestor)) = (o.index, o.attestor)
    {
        let cursor = &mut st.prefix.cursor;
        let Some(d) = c.rolled(ledger, &old_segments, cursor, (prefix_offset, o.threads))? else {
            return Ok(None);
        };
        digested += d;
        // Best effort: the next read folds these lines again without it.
        let _ = index::store(path, attestor, &st);
    }
    Ok(Some(Verified {
        stored: st,
        report: Some(report),
        from_index: true,
        digested,
        partial: None,
    }))
}

/// Reads and verifies the whole ledger, and writes the index when it verifies.
fn full(
    ledger: &Path,
    o: &ReadOptions<'_>,
    anchoring: Option<AnchorParts>,
) -> Result<Verified, LedgerError> {
    // Taken before anything is read: a write after it shows in the next read's stamp.
    let stamp = current_stamp(ledger)?;
    let records = Records::read(ledger)?;
    let options = VerifyOptions {
        threads: o.threads,
        max_violations: o.max_violations,
        // Its state at the end lets a later read check a checkpoint anchored after it.
        history: true,
        ..VerifyOptions::default()
    };
    let report = crate::audit::verify_anchored(ledger, options, o.key, o.witness_dir)
        .ok()
        .map(|(r, _)| r);
    let proofs = proofs(ledger, &records, o.trusted, &BTreeMap::new())?;
    let mut st = Stored {
        prefix: index::Sealed {
            history: report
                .as_ref()
                .and_then(|r| r.history.as_ref())
                .map(History::to_bytes),
            anchor: anchoring.clone().unwrap_or_default(),
            segmented: report
                .as_ref()
                .is_some_and(|r| r.status == ChainStatus::VerifiedSegmented),
            ..index::Sealed::default()
        },
        records,
        proofs,
    };
    let digested = report.as_ref().map_or(0, |r| r.bytes);
    // Only a prefix that verified, exactly as folded, is kept.
    if let (Some(r), Some(path), Some(attestor), Some(_)) =
        (&report, o.index, o.attestor, &anchoring)
        && matches!(
            r.status,
            ChainStatus::Verified | ChainStatus::VerifiedSegmented
        )
        && o.write
        && r.lines == st.records.lines
        && r.lines > 0
        && let Some(end) = chain_end(ledger, &st.records, r)?
    {
        let file = crate::ledger::open_for_reading(ledger)?;
        if let Ok(segments) = index::digest_prefix(&file, st.records.offset, o.threads) {
            st.prefix.segments = segments;
            st.prefix.end = end;
            // Kept whenever it covers every byte read: alone it is believed only once
            // trustworthy, and its identity lets a read after an append trust the prefix.
            st.prefix.stamp = stamp.filter(|s| s.size == st.records.offset);
            // Best effort: without it the next read verifies in full again.
            let _ = index::store(path, attestor, &st);
        }
    }
    Ok(Verified {
        stored: st,
        report,
        from_index: false,
        digested,
        partial: None,
    })
}

/// The last line of the folded prefix, as the verification saw it.
fn chain_end(
    ledger: &Path,
    records: &Records,
    r: &VerifyReport,
) -> Result<Option<ChainEnd>, LedgerError> {
    let (last, end) = crate::ledger::tail::last_lines(ledger, 1, |_| true)?;
    let (Some(line), Some(head)) = (last.into_iter().next(), &r.head) else {
        return Ok(None);
    };
    let line_hash: [u8; 32] = Sha256::digest(&line).into();
    if end != records.offset
        || head.line != records.lines
        || hex::encode(line_hash) != head.line_sha256
    {
        return Ok(None);
    }
    let Ok(entry) = analyze(&line, &mut Scratch::default()).entry else {
        return Ok(None);
    };
    Ok(Some(ChainEnd {
        seq: entry.seq,
        entry_hash: Some(entry.entry_hash),
        line_hash: Some(line_hash),
    }))
}

/// Whether `line` extends the chain that ends at `end` as a vnx append does (canonical,
/// linked by both hashes, `seq` one more, no epoch marker, nothing mirrored from a host),
/// so that a full verification would find nothing new; moves `end` to it.
pub(super) fn extends(end: &mut ChainEnd, line: &[u8], scratch: &mut Scratch) -> bool {
    // What `mirror` reads: a host's mirrored line, or a receipt re-attested from a host (a
    // canonical line spells both so: its `remote` member is an object). A `remote` that
    // names a git remote (`pr_opened`'s) is neither.
    if [&b"\"remote_receipt\""[..], b"\"remote\":{"]
        .iter()
        .any(|k| memchr::memmem::find(line, k).is_some())
    {
        return false;
    }
    let facts = analyze(line, scratch);
    let Ok(e) = facts.entry else {
        return false;
    };
    let linked = e.canonical
        && !e.is_marker
        && matches!((end.entry_hash, e.prev_hash), (Some(h), Link::Hash(p)) if h == p)
        && matches!((end.line_hash, e.prev_line), (Some(h), Link::Hash(p)) if h == p)
        && matches!((end.seq, e.seq), (Some(s), Some(n)) if s.checked_add(1) == Some(n));
    if linked {
        *end = ChainEnd {
            seq: e.seq,
            entry_hash: Some(e.entry_hash),
            line_hash: Some(facts.line_hash),
        };
    }
    linked
}

/// The report of a ledger the index proved clean through its last line.
pub(super) fn clean_report(st: &Stored) -> VerifyReport {
    VerifyReport {
        status: if st.prefix.segmented {
            ChainStatus::VerifiedSegmented
        } else {
            ChainStatus::Verified
        },
        lines: st.records.lines,
        bytes: st.records.offset,
        unchained_prefix: 0,
        epochs: 0,
        canonical_lines: 0,
        parsed_lines: 0,
        head: st
            .prefix
            .end
            .line_hash
            .map(|h| crate::ledger::verify::Head {
                line: st.records.lines,
                line_sha256: hex::encode(h),
                entry_hash: st.prefix.end.entry_hash.map(hex::encode),
            }),
        torn_tail: None,
        checkpoints: Vec::new(),
        history_sha256: None,
        history: None,
        violations: Vec::new(),
        violations_total: 0,
    }
}

/// What each listed dispatch's proving line says of itself (`known` ones as they are).
pub(super) fn proofs(
    ledger: &Path,
    records: &Records,
    trusted: &[[u8; 32]],
    known: &BTreeMap<u64, ProofFacts>,
) -> Result<Vec<ProofFacts>, LedgerError> {
    let mut cites: Vec<super::Cite> = records
        .by_id
        .values()
        .filter_map(|r| r.listed.as_ref().map(|l| l.proof))
        .collect();
    cites.sort_by_key(|c| c.line);
    cites.dedup();
    if cites.is_empty() {
        return Ok(Vec::new());
    }
    let reader = CiteReader::open(ledger)?;
    let mut out = Vec::with_capacity(cites.len());
    for c in cites {
        if let Some(p) = known.get(&c.line) {
            out.push(p.clone());
            continue;
        }
        let bytes = reader.read(c)?;
        let o = crate::ledger::json::object_of_line(&bytes);
        let event_type = o
            .as_ref()
            .and_then(|o| o.get("event_type"))
            .and_then(crate::ledger::json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let signing = records.first_signed.is_some_and(|f| f <= c.line);
        let attested = (signing && attest::is_attested_kind(&event_type)).then(|| {
            o.as_ref()
                .is_some_and(|o| attest::check(o, trusted).is_valid())
        });
        out.push(ProofFacts {
            line: c.line,
            seq: o
                .as_ref()
                .and_then(|o| o.get("seq"))
                .and_then(crate::ledger::json::Value::as_u64),
            event_type,
            line_sha256: Sha256::digest(&bytes).into(),
            attested,
        });
    }
    Ok(out)
}
