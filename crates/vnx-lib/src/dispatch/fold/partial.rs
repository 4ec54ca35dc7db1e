//! Reads that decode only the records they need from the read index (ADR 0045). With the
//! ledger unchanged since the index was written (its stamp holds), the head and the wanted
//! records. With lines appended since, the prefix taken on trust when the ledger is the
//! same file grown (its end digested again, the new lines checked to extend the chain), else
//! digested again; the new lines folded into the records they touch (read from the index),
//! and the index written again around those records; the others are never decoded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::anchor::AnchorParts;
use super::index::{self, ChainEnd, Head, Opened, ProofFacts, Sealed, Stored, Want};
use super::stamp::Stamp;
use super::verified::{
    Partial, REWRITE_AFTER, ReadOptions, Verified, clean_report, extends, proofs,
};
use super::{LineAt, Records};
use crate::ids::DispatchId;
use crate::ledger::LedgerError;
use crate::ledger::attest::Attestor;
use crate::ledger::line::Scratch;
use crate::ledger::verify::History;

/// The most bytes appended since the index that a partial read folds (beyond, the ledger
/// is read whole).
const MOST_NEW: u64 = 64 << 20;

/// The records `want` names (and those the lines appended since the index touch), with
/// the ledger proven clean through its last line, given `anchor`, the anchoring and keys
/// now (see [`AnchorParts::now`]); `None` when the index cannot serve the read (the caller
/// reads the ledger whole).
pub(super) fn read(
    ledger: &Path,
    o: &ReadOptions<'_>,
    attestor: &Attestor,
    now: &Option<Stamp>,
    want: Want<'_>,
    anchor: &AnchorParts,
) -> Result<Option<Verified>, LedgerError> {
    let Some(mut opened) = o.index.and_then(|p| index::open(p, attestor)) else {
        return Ok(None);
    };
    let h = &opened.head;
    if h.prefix.segments.is_empty() {
        return Ok(None);
    }
    // An index (verified against its anchor, its segments digested) is used as it is when
    // verified against the same anchoring: no checkpoint then lies beyond its prefix (one
    // is written only over a prefix that verified against that very anchoring, a checkpoint
    // beyond a ledger's end is a violation, and its prefix only grows). Otherwise
    // `anchor::moves` may still move it.
    let moved = h.prefix.anchor != *anchor;
    if moved {
        if !super::anchor::moves(ledger, o, &h.prefix.anchor, anchor, Prefix::of(h))? {
            return Ok(None);
        }
        // Taken, not copied: tens of thousands of entries.
        let mut head = opened.take_head();
        head.prefix.anchor = anchor.clone();
        opened = opened.with_fresh(head, BTreeMap::new());
    }
    let h = &opened.head;
    if h.prefix.unchanged(h.offset, now.as_ref()) {
        // Read before the index is written (a write of the whole file moves the records).
        let got = wanted(&opened, &opened.head, want, h.no_records(), BTreeMap::new());
        if moved
            && o.write
            && let Some(path) = o.index
        {
            let mut head = opened.take_head();
            // Best effort: the next read moves it again without it.
            let _ = opened.rewrite(path, attestor, &mut head, &BTreeMap::new());
            return Ok(got.map(|(records, proofs)| verified(&head, records, proofs, 0)));
        }
        return Ok(got.map(|(records, proofs)| verified(&opened.head, records, proofs, 0)));
    }
    grown(ledger, o, attestor, &mut opened, want, moved)
}

/// `records` with those `want` names added from the index (the ones there already kept),
/// and their proofs' facts added to `proofs`; `None` when a record does not read back.
fn wanted(
    opened: &Opened,
    head: &Head,
    want: Want<'_>,
    mut records: Records,
    mut proofs: BTreeMap<u64, ProofFacts>,
) -> Option<(Records, BTreeMap<u64, ProofFacts>)> {
    for e in head.select(want) {
        if records.by_id.contains_key(&e.id) {
            continue;
        }
        let (record, proof) = opened.record(e)?;
        if let Some(p) = proof {
            proofs.entry(p.line).or_insert(p);
        }
        records.by_id.insert(record.id.clone(), record);
    }
    Some((records, proofs))
}

fn verified(
    head: &Head,
    records: Records,
    proofs: BTreeMap<u64, ProofFacts>,
    digested: u64,
) -> Verified {
    let st = Stored {
        prefix: head.prefix.clone(),
        records,
        proofs: proofs.into_values().collect(),
    };
    Verified {
        report: Some(clean_report(&st)),
        stored: st,
        from_index: true,
        digested,
        partial: Some(Partial {
            listed: head.listed,
            grouped: head.grouped,
        }),
    }
}

/// The prefix an index covers, as a read after it needs it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Prefix<'a> {
    /// What the index holds of it.
    pub sealed: &'a Sealed,
    /// Its lines.
    pub lines: u64,
    /// Its bytes.
    pub offset: u64,
    /// [`Records::first_signed`] through it.
    pub first_signed: Option<u64>,
}

impl<'a> Prefix<'a> {
    /// The prefix `h` covers.
    pub(super) fn of(h: &'a Head) -> Prefix<'a> {
        Prefix {
            sealed: &h.prefix,
            lines: h.lines,
            offset: h.offset,
            first_signed: h.first_signed,
        }
    }

    /// The prefix `st` covers.
    pub(super) fn of_stored(st: &'a Stored) -> Prefix<'a> {
        Prefix {
            sealed: &st.prefix,
            lines: st.records.lines,
            offset: st.records.offset,
            first_signed: st.records.first_signed,
        }
    }
}

/// The ledger as a read finds it after an index's prefix: the lines appended, each checked
/// to extend the chain, and how the prefix was proven.
#[derive(Debug)]
pub(super) struct Caught {
    /// The ledger's stamp, taken before any of it was read.
    pub stamp: Stamp,
    /// The ledger, open.
    pub file: std::fs::File,
    /// The segments of everything read (the prefix and the new lines).
    pub segments: Vec<[u8; 32]>,
    /// The chain's end after the new lines.
    pub end: ChainEnd,
    /// The history digest's state after them (`None` when the prefix had none).
    pub history: Option<History>,
    /// Lines folded, in all.
    pub lines: u64,
    /// The offset past the last one.
    pub offset: u64,
    /// [`Records::first_signed`] through them.
    pub first_signed: Option<u64>,
    /// The new lines: number, offset, bytes.
    pub new: Vec<(u64, u64, Vec<u8>)>,
    /// Whether the prefix was taken on trust (the same file, grown; only the segment it
    /// ends in digested again) rather than digested whole.
    pub on_trust: bool,
    /// Bytes of the ledger digested.
    pub digested: u64,
}

impl Caught {
    /// Folds the new lines into `records`, which end where they end.
    pub(super) fn fold_into(&self, records: &mut Records) {
        for (number, at, bytes) in &self.new {
            records.apply(LineAt {
                number: *number,
                offset: *at,
                bytes,
            });
        }
        records.lines = self.lines;
        records.offset = self.offset;
        records.first_signed = self.first_signed;
    }

    /// After a read that took the prefix on trust, the next of its old `segments` (its
    /// first `len` bytes) digested again from `cursor` ([`index::roll`]), `cursor` moved past
    /// them: the bytes digested (none after a prefix digested whole); `None` when one differs.
    pub(super) fn rolled(
        &self,
        ledger: &Path,
        segments: &[[u8; 32]],
        cursor: &mut u64,
        (len, threads): (u64, usize),
    ) -> Result<Option<u64>, LedgerError> {
        if !self.on_trust {
            return Ok(Some(0));
        }
        let rolled = index::roll(&self.file, segments, *cursor, len, threads);
        Ok(rolled
            .map_err(LedgerError::read(ledger))?
            .map(|(next, digested)| {
                *cursor = next;
                digested
            }))
    }
}

/// The ledger at `ledger` after prefix `p`: `None` when it is not that prefix with complete
/// lines appended that extend its chain, when more than `most_new` bytes were appended, or
/// when the prefix would have to be digested whole and `threads` is `None`.
///
/// The prefix is taken on trust when the ledger is the file the index's stamp was taken of
/// (device, inode) and has grown, or shows that stamp unchanged though it was taken too soon
/// after a write to be trusted alone (the index an anchoring moved, written right after a
/// dispatch ended): the segment the prefix ends in is digested again (its last line among
/// it) and the new lines must extend the chain from the recorded end; an edit in place of
/// older lines is left to [`index::roll`] and to `audit-chain verify` (ADR 0045). Otherwise
/// (the same size with another stamp, another file) the prefix is digested whole.
pub(super) fn catch_up(
    ledger: &Path,
    p: Prefix<'_>,
    threads: Option<usize>,
    most_new: u64,
) -> Result<Option<Caught>, LedgerError> {
    let read_err = LedgerError::read(ledger);
    let file = crate::ledger::open_for_reading(ledger)?;
    let stamp = Stamp::take(&file).map_err(read_err)?;
    if stamp.size < p.offset || stamp.size - p.offset > most_new {
        return Ok(None);
    }
    let on_trust = p.sealed.stamp.is_some_and(|s| {
        let same_file = (s.dev, s.ino, s.size) == (stamp.dev, stamp.ino, p.offset);
        // Grown; or not written since a stamp taken too soon after a write to be trusted
        // alone (every field the same: an edit since shows another size or change time).
        same_file && (stamp.size > p.offset || (s.mtime, s.ctime) == (stamp.mtime, stamp.ctime))
    });
    let mut digested = 0;
    if !on_trust {
        let Some(threads) = threads else {
            return Ok(None);
        };
        if index::digest_prefix(&file, p.offset, threads).map_err(read_err)? != p.sealed.segments {
            return Ok(None);
        }
        digested += p.offset;
    }
    let mut end = p.sealed.end.clone();
    let mut history = p.sealed.history.as_deref().and_then(History::from_bytes);
    let mut scratch = Scratch::default();
    let mut first_signed = p.first_signed;
    let mut new: Vec<(u64, u64, Vec<u8>)> = Vec::new();
    let (lines, offset, stopped) = super::lines::each_checked(
        ledger,
        p.lines,
        p.offset,
        None,
        &mut first_signed,
        |line| {
            let linked = extends(&mut end, line, &mut scratch);
            if let (true, Some(h), Some(line_hash)) = (linked, &mut history, &end.line_hash) {
                h.update(line_hash);
            }
            linked
        },
        |l| new.push((l.number, l.offset, l.bytes.to_vec())),
    )?;
    if stopped {
        return Ok(None);
    }
    let Some((segments, tail)) =
        index::digest_tail(&file, &p.sealed.segments, p.offset, offset).map_err(read_err)?
    else {
        return Ok(None);
    };
    Ok(Some(Caught {
        stamp,
        file,
        segments,
        end,
        history,
        lines,
        offset,
        first_signed,
        new,
        on_trust,
        digested: digested + tail,
    }))
}

/// The records the new lines `c` touch, as `opened` has them, with the lines folded in
/// (the head's counts moved to the new end); `None` when a record does not read back.
fn fold_new(opened: &Opened, c: &Caught) -> Option<(Records, BTreeMap<u64, ProofFacts>)> {
    let h = &opened.head;
    let touched: BTreeSet<DispatchId> = c
        .new
        .iter()
        .flat_map(|(_, _, bytes)| Records::touched_by(bytes))
        .collect();
    let mut records = h.no_records();
    let mut known = BTreeMap::new();
    for id in &touched {
        if let Some(e) = h.entry(id) {
            let (record, proof) = opened.record(e)?;
            if let Some(p) = proof {
                known.insert(p.line, p);
            }
            records.by_id.insert(record.id.clone(), record);
        }
    }
    c.fold_into(&mut records);
    Some((records, known))
}

/// Head `h` moved to the end `c` read, with `entries` replacing or joining its own (the
/// others keep their places in its file).
fn head_after(
    h: Head,
    c: &Caught,
    records: &Records,
    entries: BTreeMap<DispatchId, index::Entry>,
) -> Head {
    Head {
        prefix: Sealed {
            history: c.history.as_ref().map(History::to_bytes),
            segments: c.segments.clone(),
            end: c.end.clone(),
            // Kept whenever it covers every byte read: alone it is believed only once
            // trustworthy, and its identity lets the next read after an append trust the
            // prefix.
            stamp: (c.stamp.size == c.offset).then_some(c.stamp),
            ..h.prefix
        },
        listed: records.listed,
        first_signed: records.first_signed,
        lines: c.lines,
        offset: c.offset,
        grouped: h.grouped || records.any_grouped(),
        entries: merge(h.entries, entries),
    }
}

/// `opened` caught up with the lines appended to `ledger` after its prefix, when it can be
/// without digesting the prefix whole (see [`catch_up`]): the records the lines touch and
/// their entries laid over the head ([`Opened::entries`]); for [`index::current`], which
/// writes nothing and judges no signature.
pub(super) fn caught_up(ledger: &Path, opened: Opened) -> Option<Opened> {
    let c = catch_up(ledger, Prefix::of(&opened.head), None, MOST_NEW).ok()??;
    let (records, _) = fold_new(&opened, &c)?;
    let mut entries = BTreeMap::new();
    let mut fresh = BTreeMap::new();
    for record in records.by_id.values() {
        let (entry, _) = index::encode(record, &BTreeMap::new()).ok()?;
        entries.insert(record.id.clone(), entry);
        fresh.insert(record.id.clone(), (record.clone(), None));
    }
    // The head is left as read: merging the new entries into its tens of thousands was most
    // of what a caller asking for a few ids paid.
    Some(opened.with_overlay(fresh, entries, records.listed))
}

/// The read when lines were appended since the index (or its stamp does not hold): the
/// prefix proven ([`catch_up`]), the new lines folded into the records they touch.
fn grown(
    ledger: &Path,
    o: &ReadOptions<'_>,
    attestor: &Attestor,
    opened: &mut Opened,
    want: Want<'_>,
    moved: bool,
) -> Result<Option<Verified>, LedgerError> {
    let read_err = LedgerError::read(ledger);
    let h = &opened.head;
    let Some(c) = catch_up(ledger, Prefix::of(h), Some(o.threads), MOST_NEW)? else {
        return Ok(None);
    };
    let Some((records, known)) = fold_new(opened, &c) else {
        return Ok(None);
    };
    let proofs_now: BTreeMap<u64, ProofFacts> = proofs(ledger, &records, o.trusted, &known)?
        .into_iter()
        .map(|p| (p.line, p))
        .collect();
    // The head as it is now: the touched records' entries replaced or added.
    let by_line: BTreeMap<u64, &ProofFacts> = proofs_now.iter().map(|(l, p)| (*l, p)).collect();
    let mut fresh = BTreeMap::new();
    let mut entries: BTreeMap<DispatchId, index::Entry> = BTreeMap::new();
    for record in records.by_id.values() {
        let (entry, bytes) = index::encode(record, &by_line).map_err(read_err)?;
        fresh.insert(record.id.clone(), bytes);
        entries.insert(record.id.clone(), entry);
    }
    let (old_offset, old_segments) = (h.offset, h.prefix.segments.clone());
    let mut head = head_after(opened.take_head(), &c, &records, entries);
    // Read before the index is written: the records just folded, the others from this file
    // at the places the head kept for them (a write of the whole file moves them).
    let Some((records, proofs)) = wanted(opened, &head, want, records, proofs_now) else {
        return Ok(None);
    };
    let mut digested = c.digested;
    // Written again when the next read can trust the stamp, or would otherwise fold many
    // lines again; a read soon after a change leaves it (the next ones fold the few new
    // lines again until the stamp can be trusted). A write after a read that took the
    // prefix on trust first digests the next of its segments again.
    let trusted = c.stamp.size == c.offset && c.stamp.trustworthy();
    if o.write && (moved || trusted || c.offset - old_offset > REWRITE_AFTER) {
        // The head keeps the index's cursor (`head_after`).
        let cursor = &mut head.prefix.cursor;
        let Some(d) = c.rolled(ledger, &old_segments, cursor, (old_offset, o.threads))? else {
            return Ok(None);
        };
        digested += d;
        if let Some(path) = o.index {
            // Best effort: the next read folds these lines again without it.
            let _ = opened.rewrite(path, attestor, &mut head, &fresh);
        }
    }
    Ok(Some(verified(&head, records, proofs, digested)))
}

/// `entries` (in id order, as `new` is) with `new` ones replacing or joining them, in place.
fn merge(
    mut entries: Vec<index::Entry>,
    new: BTreeMap<DispatchId, index::Entry>,
) -> Vec<index::Entry> {
    for (id, e) in new {
        match entries.binary_search_by(|x| x.id.cmp(&id)) {
            Ok(i) => entries[i] = e,
            Err(i) => entries.insert(i, e),
        }
    }
    entries
}
