//! Reads that decode only the records they need from the read index (ADR 0045). With the
//! ledger unchanged since the index was written (its stamp holds), the head and the wanted
//! records. With lines appended since, the prefix digested again, the new lines checked to
//! extend the chain and folded into the records they touch (read from the index), and the
//! index written again around those records; the others are never decoded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::index::{self, Head, Opened, ProofFacts, Stored, Want};
use super::stamp::Stamp;
use super::verified::{
    Anchoring, Partial, REWRITE_AFTER, ReadOptions, Verified, clean_report, extends, proofs,
};
use super::{LineAt, Records};
use crate::ids::DispatchId;
use crate::ledger::LedgerError;
use crate::ledger::attest::Attestor;
use crate::ledger::line::Scratch;

/// The most bytes appended since the index that a partial read folds (beyond, the ledger
/// is read whole).
const MOST_NEW: u64 = 64 << 20;

/// The records `want` names (and those the lines appended since the index touch), with
/// the ledger proven clean through its last line; `None` when the index cannot serve the
/// read (the caller reads the ledger whole).
pub(super) fn read(
    ledger: &Path,
    o: &ReadOptions<'_>,
    attestor: &Attestor,
    now: &Option<Stamp>,
    want: Want<'_>,
    fits: Anchoring,
) -> Result<Option<Verified>, LedgerError> {
    let Some(opened) = o.index.and_then(|p| index::open(p, attestor)) else {
        return Ok(None);
    };
    let h = &opened.head;
    if !fits.fits(&h.fingerprint, h.lines, &h.segments) {
        return Ok(None);
    }
    let unchanged =
        matches!((&h.stamp, now), (Some(s), Some(n)) if s.holds(n) && s.size == h.offset);
    if unchanged {
        let records = records_of(h);
        return Ok(
            wanted(&opened, &opened.head, want, records, BTreeMap::new())
                .map(|(records, proofs)| verified(&opened.head, records, proofs)),
        );
    }
    grown(ledger, o, attestor, &opened, want)
}

/// The records of no dispatch, with the head's count of lines and dispatches.
fn records_of(h: &Head) -> Records {
    Records {
        listed: h.listed,
        first_signed: h.first_signed,
        lines: h.lines,
        offset: h.offset,
        ..Records::default()
    }
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
        let (record, proof) = opened.record(opened.head.entry(&e.id)?)?;
        if let Some(p) = proof {
            proofs.entry(p.line).or_insert(p);
        }
        records.by_id.insert(record.id.clone(), record);
    }
    Some((records, proofs))
}

fn verified(head: &Head, records: Records, proofs: BTreeMap<u64, ProofFacts>) -> Verified {
    let st = Stored {
        fingerprint: head.fingerprint,
        segments: head.segments.clone(),
        segmented: head.segmented,
        end: head.end.clone(),
        stamp: head.stamp,
        records,
        proofs: proofs.into_values().collect(),
    };
    Verified {
        report: Some(clean_report(&st)),
        stored: st,
        from_index: true,
        partial: Some(Partial {
            listed: head.listed,
            grouped: head.grouped,
        }),
    }
}

/// The read when lines were appended since the index (or its stamp does not hold): the
/// prefix digested, the new lines checked and folded into the records they touch.
fn grown(
    ledger: &Path,
    o: &ReadOptions<'_>,
    attestor: &Attestor,
    opened: &Opened,
    want: Want<'_>,
) -> Result<Option<Verified>, LedgerError> {
    let read_err = |source| LedgerError::Read {
        path: ledger.to_owned(),
        source,
    };
    let h = &opened.head;
    let file = crate::ledger::open_for_reading(ledger)?;
    let stamp = Stamp::take(&file).map_err(read_err)?;
    if stamp.size < h.offset
        || stamp.size - h.offset > MOST_NEW
        || index::digest_prefix(&file, h.offset, o.threads).map_err(read_err)? != h.segments
    {
        return Ok(None);
    }
    let mut end = h.end.clone();
    let mut scratch = Scratch::default();
    let mut first_signed = h.first_signed;
    let mut new: Vec<(u64, u64, Vec<u8>)> = Vec::new();
    let (lines, offset, stopped) = super::lines::each_checked(
        ledger,
        h.lines,
        h.offset,
        None,
        &mut first_signed,
        |line| extends(&mut end, line, &mut scratch),
        |l| new.push((l.number, l.offset, l.bytes.to_vec())),
    )?;
    if stopped {
        return Ok(None);
    }
    // The records the new lines touch, as the index has them, then the lines folded in.
    let touched: BTreeSet<DispatchId> = new
        .iter()
        .flat_map(|(_, _, bytes)| Records::touched_by(bytes))
        .collect();
    let mut records = records_of(h);
    let mut known = BTreeMap::new();
    for id in &touched {
        if let Some(e) = h.entry(id) {
            let Some((record, proof)) = opened.record(e) else {
                return Ok(None);
            };
            if let Some(p) = proof {
                known.insert(p.line, p);
            }
            records.by_id.insert(record.id.clone(), record);
        }
    }
    for (number, at, bytes) in &new {
        records.apply(LineAt {
            number: *number,
            offset: *at,
            bytes,
        });
    }
    records.lines = lines;
    records.offset = offset;
    records.first_signed = first_signed;
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
    let head = Head {
        fingerprint: h.fingerprint,
        segments: if offset == h.offset {
            h.segments.clone()
        } else {
            index::digest_grown(&file, &h.segments, h.offset, offset, o.threads)
                .map_err(read_err)?
        },
        segmented: h.segmented,
        end,
        stamp: (stamp.size == offset && stamp.trustworthy()).then_some(stamp),
        listed: records.listed,
        first_signed: records.first_signed,
        lines,
        offset,
        grouped: h.grouped || records.any_grouped(),
        entries: merge(&h.entries, entries),
    };
    // Written again when the next read can trust the stamp, or would otherwise fold many
    // lines again; a read soon after a change leaves it (the next ones fold the few new
    // lines again until the stamp can be trusted).
    let changed = offset != h.offset || head.stamp != h.stamp;
    if changed
        && o.write
        && (head.stamp.is_some() || offset - h.offset > REWRITE_AFTER)
        && let Some(path) = o.index
    {
        // Best effort: the next read folds these lines again without it.
        let _ = opened.rewrite(path, attestor, head.clone(), &fresh);
    }
    // What is read below comes from the records just folded, or through the old head from
    // the old file (the new head's places are the new file's).
    let Some((records, proofs)) = wanted(opened, &head, want, records, proofs_now) else {
        return Ok(None);
    };
    Ok(Some(verified(&head, records, proofs)))
}

/// `old` entries with `new` ones replacing or joining them, in id order.
fn merge(old: &[index::Entry], mut new: BTreeMap<DispatchId, index::Entry>) -> Vec<index::Entry> {
    let mut out: Vec<index::Entry> = Vec::with_capacity(old.len() + new.len());
    for e in old {
        out.push(new.remove(&e.id).unwrap_or_else(|| e.clone()));
    }
    out.extend(new.into_values());
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}
