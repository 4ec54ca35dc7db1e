//! The read index (ADR 0045): the dispatches' records and the signature verdicts folded
//! from a verified prefix of the ledger, kept in `.vnx-data/` for the next read. It is never
//! the source of truth: it is written only after a full verification found the prefix
//! clean, authenticated with a secret derived from the signing key (a worker without the key
//! cannot forge one), and used only while the prefix's bytes still digest to what it records
//! (or the ledger's stamp shows it unchanged since) and the anchoring it was verified
//! against is unchanged. Anything else discards it.
//!
//! The file is a head and one record per dispatch. The head (authenticated whole) holds the
//! chain's end, the prefix's digests and stamp, and one entry per dispatch in id order: what
//! a list selects by (start order, whether it is unfinished or waits for a person) and where
//! its record is, with the record's SHA-256. A read that needs a few dispatches decodes the
//! head and only their records.

use std::os::unix::fs::FileExt;
use std::path::Path;

use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

use super::stamp::Stamp;
use super::{DispatchRecord, Records};
use crate::ids::DispatchId;
use crate::ledger::attest::Attestor;

/// Where the index lives in a project's data directory (`.vnx-data/`).
pub const FILE: &str = "index/dispatches.v9";

/// The index of the project whose data directory is `data_dir`.
pub fn path_in(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join(FILE)
}

/// The index file's first bytes: its format, version 8 (version 7 had no pull-request
/// receipts, 6 digested 16 MiB segments and had no rolling re-check, 5 had no dismissal, 4
/// no acceptance, 3 was one block, not a head and a record per dispatch, 2 had no question,
/// 1 no titles).
const MAGIC: &[u8; 8] = b"VNXRIX09";
/// The largest head read.
const MAX_HEAD: u64 = 256 << 20;
/// The largest index read whole (a larger file is not one vnx wrote for a ledger it can
/// read).
const MAX_BYTES: u64 = 1 << 30;
/// The prefix is digested in segments of this size, in parallel; a read after an append
/// digests again only the segment the prefix ends in (ADR 0045).
pub const SEGMENT: u64 = 1 << 20;
/// How many of the prefix's segments an index written after a read that took the prefix on
/// trust digests again, in turn (ADR 0045: an edit in place hidden by an append is caught
/// within `prefix / ROLL` such writes).
pub const ROLL: u64 = 16;
/// What the MAC key is derived for.
const PURPOSE: &str = "vnx read index v4";

/// The last line of the verified prefix, as the next line must chain to it.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ChainEnd {
    /// Its `seq`.
    pub seq: Option<u64>,
    /// Its VNX entry hash (what the next `prev_hash` must be).
    pub entry_hash: Option<[u8; 32]>,
    /// SHA-256 of its bytes (what the next `prev_line_sha256` must be).
    pub line_hash: Option<[u8; 32]>,
}

/// What the index holds, whole.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// The anchoring and keys the prefix was verified and its signatures judged against.
    pub fingerprint: [u8; 32],
    /// SHA-256 of each [`SEGMENT`] of the prefix's bytes, in order.
    pub segments: Vec<[u8; 32]>,
    /// The verdict on the prefix (`verified` or `verified-segmented`).
    pub segmented: bool,
    /// Its last line.
    pub end: ChainEnd,
    /// The ledger's stamp, taken before a read found it clean through its last byte, which
    /// is then the prefix's last byte (`None`: the prefix must be digested to be trusted).
    /// It is believed alone only when trustworthy ([`Stamp::holds`]); its identity (device
    /// and inode) lets a read after an append take the prefix on trust.
    pub stamp: Option<Stamp>,
    /// The next segment an index written after a read that took the prefix on trust digests
    /// again (see [`ROLL`]).
    pub cursor: u64,
    /// The records folded from it (their `lines` and `offset` are the prefix's extent).
    pub records: Records,
    /// What each line that proves a state says of itself, by line.
    pub proofs: Vec<ProofFacts>,
}

/// What a line that proves a state says of itself: its kind, `seq`, hash and, when it must
/// be signed, whether a trusted key signed it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ProofFacts {
    /// Its line.
    pub line: u64,
    /// Its `event_type`.
    pub event_type: String,
    /// Its `seq`.
    pub seq: Option<u64>,
    /// SHA-256 of its bytes.
    pub line_sha256: [u8; 32],
    /// Whether a trusted key signed it, when it is of a kind vnx signs, written once vnx
    /// signed its receipts.
    pub attested: Option<bool>,
}

/// The index's head: everything but the records.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct Head {
    /// As in [`Stored`].
    pub fingerprint: [u8; 32],
    /// As in [`Stored`].
    pub segments: Vec<[u8; 32]>,
    /// As in [`Stored`].
    pub segmented: bool,
    /// As in [`Stored`].
    pub end: ChainEnd,
    /// As in [`Stored`].
    pub stamp: Option<Stamp>,
    /// As in [`Stored`].
    pub cursor: u64,
    /// [`Records::listed`].
    pub listed: usize,
    /// [`Records::first_signed`].
    pub first_signed: Option<u64>,
    /// [`Records::lines`].
    pub lines: u64,
    /// [`Records::offset`].
    pub offset: u64,
    /// Whether any dispatch started as a candidate of a best-of group.
    pub grouped: bool,
    /// One per dispatch, in id order.
    pub entries: Vec<Entry>,
}

/// A dispatch in the head: what lists select by, and where its record is.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Entry {
    /// Its id.
    pub id: DispatchId,
    /// Its place in start order, once listed.
    pub order: Option<u64>,
    /// Whether the ledger leaves it unfinished (queued, running, blocked or stalled: tmux
    /// decides whether it lives) or waiting for a person.
    pub open: bool,
    /// Whether its start records a remote host.
    pub hosted: bool,
    /// Where its record starts, after the head.
    pub at: u64,
    /// Its record's length.
    pub len: u32,
    /// SHA-256 of its record.
    pub sha256: [u8; 32],
}

/// Which dispatches a read needs.
#[derive(Clone, Copy, Debug)]
pub enum Want<'a> {
    /// Every one.
    All,
    /// These (unknown ones are not there).
    Ids(&'a [DispatchId]),
    /// The open ones (unfinished or waiting for a person) and the `n` started last.
    Recent(usize),
}

impl Head {
    /// The entries `want` names, in id order.
    pub fn select(&self, want: Want<'_>) -> Vec<&Entry> {
        match want {
            Want::All => self.entries.iter().collect(),
            Want::Ids(ids) => ids.iter().filter_map(|id| self.entry(id)).collect(),
            Want::Recent(n) => {
                let newest = self.listed.saturating_sub(n) as u64;
                self.entries
                    .iter()
                    .filter(|e| e.open || e.order.is_some_and(|o| o >= newest))
                    .collect()
            }
        }
    }

    /// The entry of dispatch `id`.
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        let at = self
            .entries
            .binary_search_by(|e| e.id.as_str().cmp(id))
            .ok()?;
        Some(&self.entries[at])
    }

    /// The recorded ids that start with `start` (or with `D-` and it), in id order.
    pub fn ids_starting(&self, start: &str) -> Vec<DispatchId> {
        let mut out = Vec::new();
        for prefix in [start.to_owned(), format!("D-{start}")] {
            let from = self
                .entries
                .partition_point(|e| e.id.as_str() < prefix.as_str());
            out.extend(
                self.entries[from..]
                    .iter()
                    .take_while(|e| e.id.starts_with(prefix.as_str()))
                    .map(|e| e.id.clone()),
            );
        }
        out.sort();
        out.dedup();
        out
    }
}

/// The index at `path` (authenticated with `attestor`'s key) when the ledger at `ledger`
/// is, by its stamp, the one it was written from through its last byte, or that ledger with
/// lines appended that extend its chain (taken on trust as a read after an append takes
/// them, ADR 0045; folded into the records they touch, which the returned index then holds
/// in memory): what it says of the dispatches is then what folding the ledger would say.
pub fn current(path: &Path, attestor: &Attestor, ledger: &Path) -> Option<Opened> {
    let opened = open(path, attestor)?;
    let file = crate::ledger::open_for_reading(ledger).ok()?;
    let now = super::stamp::Stamp::take(&file).ok()?;
    if opened
        .head
        .stamp
        .is_some_and(|s| s.holds(&now) && s.size == opened.head.offset)
    {
        return Some(opened);
    }
    super::partial::caught_up(ledger, opened)
}

/// An index opened for reading its records one by one.
#[derive(Debug)]
pub struct Opened {
    /// Its head.
    pub head: Head,
    file: std::fs::File,
    records_at: u64,
    /// Records folded since from lines appended after its prefix, which replace its own.
    fresh: std::collections::BTreeMap<DispatchId, (DispatchRecord, Option<ProofFacts>)>,
}

impl Opened {
    /// Entry `e`'s record and its proof's facts; `None` when the file does not hold what
    /// the head says.
    pub fn record(&self, e: &Entry) -> Option<(DispatchRecord, Option<ProofFacts>)> {
        if let Some(r) = self.fresh.get(&e.id) {
            return Some(r.clone());
        }
        let mut buf = vec![0u8; e.len as usize];
        self.file
            .read_exact_at(&mut buf, self.records_at.checked_add(e.at)?)
            .ok()?;
        decode_record(e, &buf)
    }

    /// This index with `head` for its head and `fresh` records in front of its own.
    pub(super) fn with_fresh(
        self,
        head: Head,
        fresh: std::collections::BTreeMap<DispatchId, (DispatchRecord, Option<ProofFacts>)>,
    ) -> Opened {
        Opened {
            head,
            fresh,
            ..self
        }
    }
}

fn decode_record(e: &Entry, bytes: &[u8]) -> Option<(DispatchRecord, Option<ProofFacts>)> {
    if <[u8; 32]>::from(Sha256::digest(bytes)) != e.sha256 {
        return None;
    }
    let (record, proof): (DispatchRecord, Option<ProofFacts>) =
        BorshDeserialize::try_from_slice(bytes).ok()?;
    (record.id == e.id).then_some((record, proof))
}

/// The index's head, when `path` holds an index `attestor`'s key authenticated. Read as
/// hostile input: never through a link or from a FIFO, bounded.
pub fn open(path: &Path, attestor: &Attestor) -> Option<Opened> {
    let file = crate::files::open_hostile(path).ok()?;
    let mut fixed = [0u8; 48];
    file.read_exact_at(&mut fixed, 0).ok()?;
    let (magic, rest) = fixed.split_at(8);
    let (tag, len) = rest.split_at(32);
    if magic != MAGIC {
        return None;
    }
    let head_len = u64::from_le_bytes(len.try_into().ok()?);
    if head_len > MAX_HEAD {
        return None;
    }
    let mut head = vec![0u8; head_len as usize];
    file.read_exact_at(&mut head, 48).ok()?;
    if !mac_ok(attestor, len, &head, tag) {
        return None;
    }
    Some(Opened {
        head: Head::try_from_slice(&head).ok()?,
        file,
        records_at: 48 + head_len,
        fresh: std::collections::BTreeMap::new(),
    })
}

/// The whole index of the ledger read with `attestor`'s key, if `path` holds a valid one;
/// a file that is not exactly what this key authenticated is no index at all.
pub fn load(path: &Path, attestor: &Attestor) -> Option<Stored> {
    let opened = open(path, attestor)?;
    let size = opened.file.metadata().ok()?.len();
    if size > MAX_BYTES {
        return None;
    }
    let mut rest = vec![0u8; size.checked_sub(opened.records_at)? as usize];
    opened
        .file
        .read_exact_at(&mut rest, opened.records_at)
        .ok()?;
    let head = opened.head;
    let mut records = Records {
        listed: head.listed,
        first_signed: head.first_signed,
        lines: head.lines,
        offset: head.offset,
        ..Records::default()
    };
    let mut proofs = std::collections::BTreeMap::new();
    for e in &head.entries {
        let at = usize::try_from(e.at).ok()?;
        let bytes = rest.get(at..at.checked_add(e.len as usize)?)?;
        let (record, proof) = decode_record(e, bytes)?;
        if let Some(p) = proof {
            proofs.insert(p.line, p);
        }
        records.by_id.insert(record.id.clone(), record);
    }
    Some(Stored {
        fingerprint: head.fingerprint,
        segments: head.segments,
        segmented: head.segmented,
        end: head.end,
        stamp: head.stamp,
        cursor: head.cursor,
        records,
        proofs: proofs.into_values().collect(),
    })
}

/// Writes the index (privately and atomically: a reader sees the old one or the new one).
pub fn store(path: &Path, attestor: &Attestor, stored: &Stored) -> std::io::Result<()> {
    let proofs: std::collections::BTreeMap<u64, &ProofFacts> =
        stored.proofs.iter().map(|p| (p.line, p)).collect();
    let r = &stored.records;
    let mut blobs = Vec::new();
    let mut entries = Vec::with_capacity(r.by_id.len());
    for record in r.by_id.values() {
        let (mut entry, bytes) = encode(record, &proofs)?;
        entry.at = blobs.len() as u64;
        blobs.extend_from_slice(&bytes);
        entries.push(entry);
    }
    let head = Head {
        fingerprint: stored.fingerprint,
        segments: stored.segments.clone(),
        segmented: stored.segmented,
        end: stored.end.clone(),
        stamp: stored.stamp,
        cursor: stored.cursor,
        listed: r.listed,
        first_signed: r.first_signed,
        lines: r.lines,
        offset: r.offset,
        grouped: r.any_grouped(),
        entries,
    };
    write(path, attestor, &head, &blobs)
}

/// A record as the index keeps it, with the facts of the line that proves its state (among
/// `proofs`), and its entry (placed at 0).
pub fn encode(
    record: &DispatchRecord,
    proofs: &std::collections::BTreeMap<u64, &ProofFacts>,
) -> std::io::Result<(Entry, Vec<u8>)> {
    let proof = record
        .listed
        .as_ref()
        .and_then(|l| proofs.get(&l.proof.line).copied())
        .cloned();
    let mut bytes = Vec::new();
    record.serialize(&mut bytes)?;
    proof.serialize(&mut bytes)?;
    let entry = Entry {
        id: record.id.clone(),
        order: record.listed.as_ref().map(|l| l.order as u64),
        open: record.listed.as_ref().is_some_and(|l| l.state.open()),
        hosted: record.start.as_ref().is_some_and(|s| s.host.is_some()),
        at: 0,
        len: u32::try_from(bytes.len()).map_err(std::io::Error::other)?,
        sha256: Sha256::digest(&bytes).into(),
    };
    Ok((entry, bytes))
}

/// Writes an index of `head` and the records it places in `blobs`.
fn write(path: &Path, attestor: &Attestor, head: &Head, blobs: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    write_with(path, attestor, head, |f| f.write_all(blobs))
}

/// Writes an index of `head`, its records written after it by `records`.
fn write_with(
    path: &Path,
    attestor: &Attestor,
    head: &Head,
    records: impl FnOnce(&mut std::io::BufWriter<&mut std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::io::Write;
    let head = borsh::to_vec(head)?;
    let len = (head.len() as u64).to_le_bytes();
    if let Some(dir) = path.parent() {
        crate::files::private_dir(dir)?;
    }
    crate::files::write_atomic_with(path, 0o600, false, |f| {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, f);
        out.write_all(MAGIC)?;
        out.write_all(&mac(attestor, &len, &head))?;
        out.write_all(&len)?;
        out.write_all(&head)?;
        records(&mut out)?;
        out.flush()?;
        crate::steps::reached(crate::steps::index::TEMPORARY_WRITTEN);
        Ok(())
    })?;
    // What a reader killed while writing left beside the index is never finished: swept.
    crate::files::sweep_temporaries(path);
    // The indexes of older formats are never read again (at fifty thousand dispatches one
    // is tens of MB); removing one removes a link, never what it points at.
    if let Some(dir) = path.parent() {
        for old in OLDER {
            let _ = std::fs::remove_file(dir.join(old));
        }
    }
    Ok(())
}

/// The names earlier versions of vnx gave the index.
const OLDER: [&str; 8] = [
    "dispatches.v1",
    "dispatches.v2",
    "dispatches.v3",
    "dispatches.v4",
    "dispatches.v5",
    "dispatches.v6",
    "dispatches.v7",
    "dispatches.v8",
];

impl Opened {
    /// Writes the index again at `path` with `head` (whose entries are in id order and
    /// whose `at` are ignored): the records in `fresh` as given, every other one copied
    /// from this index as it is, without being read into memory whole.
    pub fn rewrite(
        &self,
        path: &Path,
        attestor: &Attestor,
        mut head: Head,
        fresh: &std::collections::BTreeMap<DispatchId, Vec<u8>>,
    ) -> std::io::Result<()> {
        use std::io::{Read, Seek, Write};
        // What goes where: a fresh record, or a run of records kept (consecutive in id
        // order, they are consecutive in this file too).
        enum Part<'a> {
            Fresh(&'a [u8]),
            Kept { from: u64, len: u64 },
        }
        let mut parts: Vec<Part<'_>> = Vec::new();
        let mut pos = 0u64;
        for e in &mut head.entries {
            e.at = pos;
            if let Some(bytes) = fresh.get(&e.id) {
                parts.push(Part::Fresh(bytes));
                pos += bytes.len() as u64;
                continue;
            }
            let old = self
                .head
                .entry(&e.id)
                .ok_or_else(|| std::io::Error::other(format!("{} has no record", e.id)))?;
            match parts.last_mut() {
                Some(Part::Kept { from, len }) if *from + *len == old.at => {
                    *len += u64::from(old.len)
                }
                _ => parts.push(Part::Kept {
                    from: old.at,
                    len: u64::from(old.len),
                }),
            }
            pos += u64::from(old.len);
        }
        write_with(path, attestor, &head, |out| {
            for part in parts {
                match part {
                    Part::Fresh(bytes) => out.write_all(bytes)?,
                    Part::Kept { from, len } => {
                        let mut file = &self.file;
                        file.seek(std::io::SeekFrom::Start(self.records_at + from))?;
                        let copied = std::io::copy(&mut file.take(len), out)?;
                        if copied != len {
                            return Err(std::io::Error::other("the index was cut short"));
                        }
                    }
                }
            }
            Ok(())
        })
    }
}

fn hmac(attestor: &Attestor, len: &[u8], head: &[u8]) -> hmac::Hmac<Sha256> {
    use hmac::{KeyInit, Mac};
    let mut m = hmac::Hmac::<Sha256>::new_from_slice(&attestor.derive_secret(PURPOSE))
        .expect("HMAC takes any key");
    m.update(len);
    m.update(head);
    m
}

fn mac(attestor: &Attestor, len: &[u8], head: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    hmac(attestor, len, head).finalize().into_bytes().into()
}

fn mac_ok(attestor: &Attestor, len: &[u8], head: &[u8], tag: &[u8]) -> bool {
    use hmac::Mac;
    hmac(attestor, len, head).verify_slice(tag).is_ok()
}
/// SHA-256 of each [`SEGMENT`] of the first `len` bytes of `file`, read in blocks (never
/// mapped whole) by up to `threads` threads.
pub fn digest_prefix(
    file: &std::fs::File,
    len: u64,
    threads: usize,
) -> std::io::Result<Vec<[u8; 32]>> {
    digest_range(file, 0, len, threads)
}

/// SHA-256 of each [`SEGMENT`] of `file` from `from` (a segment's start) to `len`.
fn digest_range(
    file: &std::fs::File,
    from: u64,
    len: u64,
    threads: usize,
) -> std::io::Result<Vec<[u8; 32]>> {
    let n = (len.saturating_sub(from)).div_ceil(SEGMENT) as usize;
    let threads = threads.clamp(1, n.max(1));
    let mut out = vec![[0u8; 32]; n];
    let chunks: Vec<(usize, &mut [[u8; 32]])> = {
        let per = n.div_ceil(threads).max(1);
        out.chunks_mut(per)
            .enumerate()
            .map(|(i, c)| (i * per, c))
            .collect()
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|(first, slots)| {
                scope.spawn(move || -> std::io::Result<()> {
                    let mut buf = vec![0u8; 1 << 20];
                    for (k, slot) in slots.iter_mut().enumerate() {
                        let start = from + (first + k) as u64 * SEGMENT;
                        let end = (start + SEGMENT).min(len);
                        let mut h = Sha256::new();
                        let mut at = start;
                        while at < end {
                            let want = ((end - at) as usize).min(buf.len());
                            file.read_exact_at(&mut buf[..want], at)?;
                            h.update(&buf[..want]);
                            at += want as u64;
                        }
                        *slot = h.finalize().into();
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| std::io::Error::other("a digest thread panicked"))??;
        }
        Ok::<(), std::io::Error>(())
    })?;
    Ok(out)
}

/// Feeds bytes `from..to` of `file` to `h`, in 1 MiB blocks.
fn feed(file: &std::fs::File, h: &mut Sha256, from: u64, to: u64) -> std::io::Result<()> {
    let mut buf = vec![0u8; (to.saturating_sub(from)).min(1 << 20) as usize];
    let mut at = from;
    while at < to {
        let want = ((to - at) as usize).min(buf.len());
        file.read_exact_at(&mut buf[..want], at)?;
        h.update(&buf[..want]);
        at += want as u64;
    }
    Ok(())
}

/// The segments of the first `len` bytes of `file`, whose first `known` bytes digested to
/// `segments`, and how many bytes were digested: the segment byte `known - 1` lies in is
/// digested again and must still give the last of `segments` (the prefix's end, its last
/// line among it, is what it was), then the bytes up to `len`. `None` when it does not.
pub fn digest_tail(
    file: &std::fs::File,
    segments: &[[u8; 32]],
    known: u64,
    len: u64,
) -> std::io::Result<Option<(Vec<[u8; 32]>, u64)>> {
    let Some(last) = known.checked_sub(1).map(|b| (b / SEGMENT) as usize) else {
        return Ok(None);
    };
    if segments.len() != last + 1 || len < known {
        return Ok(None);
    }
    let from = last as u64 * SEGMENT;
    let mut h = Sha256::new();
    feed(file, &mut h, from, known)?;
    if <[u8; 32]>::from(h.clone().finalize()) != segments[last] {
        return Ok(None);
    }
    let end = (from + SEGMENT).min(len);
    feed(file, &mut h, known, end)?;
    let mut out = segments[..last].to_vec();
    out.push(h.finalize().into());
    out.extend(digest_range(file, end, len, 1)?);
    Ok(Some((out, len - from)))
}

/// Digests again [`ROLL`] of the whole segments of the first `len` bytes of `file`, in turn
/// from segment `cursor`, and checks them against `segments`: the next cursor and the bytes
/// digested, or `None` when one differs.
pub fn roll(
    file: &std::fs::File,
    segments: &[[u8; 32]],
    cursor: u64,
    len: u64,
    threads: usize,
) -> std::io::Result<Option<(u64, u64)>> {
    let whole = (len / SEGMENT).min(segments.len() as u64);
    if whole == 0 {
        return Ok(Some((0, 0)));
    }
    let k = ROLL.min(whole);
    let at = cursor % whole;
    let first = (whole - at).min(k);
    let mut runs = vec![(at, first)];
    if k > first {
        runs.push((0, k - first));
    }
    for (start, n) in runs {
        let got = digest_range(file, start * SEGMENT, (start + n) * SEGMENT, threads)?;
        if got[..] != segments[start as usize..(start + n) as usize] {
            return Ok(None);
        }
    }
    Ok(Some(((at + k) % whole, k * SEGMENT)))
}
