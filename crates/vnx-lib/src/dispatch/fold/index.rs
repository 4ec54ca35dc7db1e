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
//! its record is, with the record's BLAKE3 digest. A read that needs a few dispatches decodes the
//! head and only their records.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::{Arc, Mutex};

use borsh::{BorshDeserialize, BorshSerialize};

use super::anchor::AnchorParts;
use super::stamp::Stamp;
use super::{DispatchRecord, Records};
use crate::ids::DispatchId;
use crate::ledger::attest::Attestor;

/// Where the index lives in a project's data directory (`.vnx-data/`).
pub const FILE: &str = "index/dispatches.v21";

/// The index of the project whose data directory is `data_dir`.
pub fn path_in(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join(FILE)
}

/// The index file's first bytes: its format, version 21 (20 had no dependencies, `--after`,
/// in a dispatch's state; 19 kept a dispatch's place as text,
/// not as [`crate::place_name::Where`]; 18 had no `paused` state, ADR
/// 0119; 17 had no `limited` state, ADR 0117; 16 did not mark the dispatches the
/// conflict radar counts in play; 15 took a dispatch's last start, not
/// its first; version 13 had no base commit, budget
/// or background wait in a dispatch's state and no escalation of a pull request's reactions,
/// 12 had no plan step, version
/// 11 counted no denial recorded
/// after its dispatch had ended; 10 kept the anchoring as
/// one digest and no history digest, so any change to it meant verifying in full; 9 had its
/// head first and was written whole at every change, 8 had no denials, 7 had no pull-request receipts, 6
/// digested 16 MiB segments and had no rolling re-check, 5 had no dismissal, 4 no
/// acceptance, 3 was one block, not a head and a record per dispatch, 2 had no question, 1
/// no titles).
///
/// The file is the magic, the head's tag, length and place ([`FIXED`] bytes in all), then
/// records and heads as they were appended: a change appends the records it touched and a
/// new head, then points the fixed part at that head ([`Opened::rewrite`]); what no head
/// names any more is dropped when the file is written whole again.
const MAGIC: &[u8; 8] = b"VNXRIX21";
/// The magic, the head's tag (32 bytes), length and place (8 bytes each).
const FIXED: u64 = 56;
/// How many times what its head names the file may grow to before a change writes it whole
/// again (appending costs the touched records and a head; writing it whole, every record).
const MOST_GROWTH: u64 = 3;
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

pub use super::digest::{digest_prefix, digest_tail, roll};
/// What the MAC key is derived for.
const PURPOSE: &str = "vnx read index v5";

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

/// What the index holds of its verified prefix besides the records (the head's first part).
#[derive(Clone, Debug, Default, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct Sealed {
    /// The anchoring and keys the prefix was verified and its signatures judged against.
    pub anchor: AnchorParts,
    /// The state of the history digest (what a checkpoint signs) through the prefix's last
    /// line, for checking a checkpoint anchored after it.
    pub history: Option<Vec<u8>>,
    /// BLAKE3 of each [`SEGMENT`] of the prefix's bytes, in order.
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
}

impl Sealed {
    /// Whether the ledger showing stamp `now` is, byte for byte, the one this prefix was
    /// read from through its last byte, `offset`: its stamp then holds.
    pub fn unchanged(&self, offset: u64, now: Option<&Stamp>) -> bool {
        (self.stamp.as_ref().zip(now)).is_some_and(|(s, n)| s.holds(n) && s.size == offset)
    }
}

/// What the index holds, whole.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// What it holds of the prefix.
    pub prefix: Sealed,
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
#[derive(Clone, Debug, Default, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct Head {
    /// As in [`Stored`].
    pub prefix: Sealed,
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
    /// Whether the conflict radar counts it in play ([`DispatchState::in_play`]): a read
    /// that shows what overlaps with some dispatches needs every one that is.
    ///
    /// [`DispatchState::in_play`]: crate::dispatch::state::DispatchState::in_play
    pub in_play: bool,
    /// Where its record starts, after the head.
    pub at: u64,
    /// Its record's length.
    pub len: u32,
    /// BLAKE3 of its record.
    pub digest: [u8; 32],
}

/// Which dispatches a read needs.
#[derive(Clone, Copy, Debug)]
pub enum Want<'a> {
    /// Every one.
    All,
    /// These (unknown ones are not there).
    Ids(&'a [DispatchId]),
    /// These, and every one the conflict radar counts in play (what overlaps with them).
    IdsInPlay(&'a [DispatchId]),
    /// The open ones (unfinished or waiting for a person), those the conflict radar counts
    /// in play (what overlaps with them) and the `n` started last.
    Recent(usize),
}

impl Head {
    /// The records of no dispatch, with the head's count of lines and dispatches.
    pub fn no_records(&self) -> Records {
        Records {
            listed: self.listed,
            first_signed: self.first_signed,
            lines: self.lines,
            offset: self.offset,
            ..Records::default()
        }
    }

    /// The entries `want` names, in id order.
    pub fn select(&self, want: Want<'_>) -> Vec<&Entry> {
        match want {
            Want::All => self.entries.iter().collect(),
            Want::Ids(ids) => ids.iter().filter_map(|id| self.entry(id)).collect(),
            Want::IdsInPlay(ids) => {
                let named = ids.iter().filter_map(|id| self.entry(id));
                let mut out: Vec<&Entry> = self.entries.iter().filter(|e| e.in_play).collect();
                out.extend(named.filter(|e| !e.in_play));
                out.sort_by(|a, b| a.id.cmp(&b.id));
                out.dedup_by(|a, b| a.id == b.id);
                out
            }
            Want::Recent(n) => {
                let newest = self.listed.saturating_sub(n) as u64;
                self.entries
                    .iter()
                    .filter(|e| e.open || e.in_play || e.order.is_some_and(|o| o >= newest))
                    .collect()
            }
        }
    }

    /// The entry of dispatch `id`.
    pub fn entry(&self, id: &DispatchId) -> Option<&Entry> {
        let at = self.entries.binary_search_by(|e| e.id.cmp(id)).ok()?;
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
                    .take_while(|e| e.id.as_str().starts_with(prefix.as_str()))
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
    if opened.head.prefix.unchanged(opened.head.offset, Some(&now)) {
        return Some(opened);
    }
    super::partial::caught_up(ledger, opened)
}

/// Records folded from lines appended after an index's prefix, with their proofs' facts.
type Fresh = BTreeMap<DispatchId, (DispatchRecord, Option<ProofFacts>)>;

/// An index opened for reading its records one by one.
#[derive(Debug)]
pub struct Opened {
    /// Its head (shared with the process's cache of the last head read, see [`open`]).
    pub head: Arc<Head>,
    file: std::fs::File,
    /// The tag, length and place of the head, as read (an append checks them unchanged).
    fixed: [u8; 48],
    /// Records folded since from lines appended after its prefix, which replace its own.
    fresh: Fresh,
    /// Their entries, in front of the head's (see [`Opened::entries`]), and the dispatches
    /// listed with them; the head itself is left as read.
    overlay: Option<(BTreeMap<DispatchId, Entry>, usize)>,
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
            .read_exact_at(&mut buf, FIXED.checked_add(e.at)?)
            .ok()?;
        decode_record(e, &buf)
    }

    /// Every dispatch's entry as of the last line read: the head's, those of records folded
    /// since in front (in no particular order).
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        let overlay = self.overlay.as_ref().map(|(o, _)| o);
        let head = self
            .head
            .entries
            .iter()
            .map(move |e| overlay.and_then(|o| o.get(&e.id)).unwrap_or(e));
        let added = overlay
            .into_iter()
            .flat_map(|o| o.values())
            .filter(|e| self.head.entry(&e.id).is_none());
        head.chain(added)
    }

    /// How many dispatches are listed (queued or started).
    pub fn listed(&self) -> usize {
        self.overlay.as_ref().map_or(self.head.listed, |(_, n)| *n)
    }

    /// The recorded ids that start with `start` (or with `D-` and it), in id order.
    pub fn ids_starting(&self, start: &str) -> Vec<DispatchId> {
        let mut out = self.head.ids_starting(start);
        if let Some((overlay, _)) = &self.overlay {
            let with_d = format!("D-{start}");
            out.extend(
                overlay
                    .keys()
                    .filter(|id| id.as_str().starts_with(start) || id.as_str().starts_with(&with_d))
                    .cloned(),
            );
            out.sort();
            out.dedup();
        }
        out
    }

    /// This index with `fresh` records and their `entries` in front of its own, `listed`
    /// dispatches in all.
    pub(super) fn with_overlay(
        self,
        fresh: Fresh,
        entries: BTreeMap<DispatchId, Entry>,
        listed: usize,
    ) -> Opened {
        Opened {
            fresh,
            overlay: Some((entries, listed)),
            ..self
        }
    }

    /// Its head, taken out (an empty one left in its place), without a copy when no one
    /// else holds it: the process's cache of the last head read lets go of it (the file's
    /// head is about to change). Its records are still read through [`Opened::record`].
    pub(super) fn take_head(&mut self) -> Head {
        let head = std::mem::take(&mut self.head);
        if let Ok(mut last) = LAST_HEAD.lock()
            && last.as_ref().is_some_and(|(_, h)| Arc::ptr_eq(h, &head))
        {
            *last = None;
        }
        Arc::try_unwrap(head).unwrap_or_else(|shared| Head::clone(&shared))
    }

    /// This index with `head` for its head and `fresh` records in front of its own.
    pub(super) fn with_fresh(self, head: Head, fresh: Fresh) -> Opened {
        Opened {
            head: Arc::new(head),
            fresh,
            ..self
        }
    }
}

fn decode_record(e: &Entry, bytes: &[u8]) -> Option<(DispatchRecord, Option<ProofFacts>)> {
    if *blake3::hash(bytes).as_bytes() != e.digest {
        return None;
    }
    let (record, proof): (DispatchRecord, Option<ProofFacts>) =
        BorshDeserialize::try_from_slice(bytes).ok()?;
    (record.id == e.id).then_some((record, proof))
}

/// The index's head, when `path` holds an index `attestor`'s key authenticated. Read as
/// hostile input: never through a link or from a FIFO, bounded.
///
/// A command reads the index several times (resolving an id, catching up with remote
/// hosts, the read itself), and at fifty thousand dispatches a head is megabytes to read,
/// authenticate and decode. So the last head this process authenticated is kept, named by
/// the file it came from (device and inode), its tag, length and place, and the key that
/// checked it: a file showing the same tag for the same key holds that very head (no one
/// without the key makes a tag), so it is not read again.
pub fn open(path: &Path, attestor: &Attestor) -> Option<Opened> {
    let file = crate::files::open_hostile(path).ok()?;
    // Once more when the head does not authenticate: a change may have been pointing the
    // fixed part at its new head as it was read.
    let (head, fixed) = read_head(&file, attestor).or_else(|| read_head(&file, attestor))?;
    Some(Opened {
        head,
        file,
        fixed,
        fresh: BTreeMap::new(),
        overlay: None,
    })
}

/// The head of the index open as `file`, authenticated (or as this process last
/// authenticated it, see [`open`]), and the fixed part that points at it.
fn read_head(file: &std::fs::File, attestor: &Attestor) -> Option<(Arc<Head>, [u8; 48])> {
    let mut magic = [0u8; 8];
    let mut fixed = [0u8; 48];
    file.read_exact_at(&mut magic, 0).ok()?;
    file.read_exact_at(&mut fixed, 8).ok()?;
    if &magic != MAGIC {
        return None;
    }
    let (tag, place) = fixed.split_at(32);
    let head_len = u64::from_le_bytes(place[..8].try_into().ok()?);
    let head_at = u64::from_le_bytes(place[8..].try_into().ok()?);
    if head_len > MAX_HEAD || head_at < FIXED {
        return None;
    }
    let meta = file.metadata().ok()?;
    let name = HeadName {
        dev: meta.dev(),
        ino: meta.ino(),
        fixed,
        key: *blake3::hash(&attestor.derive_secret(PURPOSE)).as_bytes(),
    };
    let cached = LAST_HEAD.lock().ok().and_then(|last| {
        last.as_ref()
            .filter(|(n, _)| *n == name)
            .map(|(_, h)| h.clone())
    });
    if let Some(head) = cached {
        return Some((head, fixed));
    }
    let mut bytes = vec![0u8; head_len as usize];
    file.read_exact_at(&mut bytes, head_at).ok()?;
    if !mac_ok(attestor, place, &bytes, tag) {
        return None;
    }
    let head = Arc::new(Head::try_from_slice(&bytes).ok()?);
    if let Ok(mut last) = LAST_HEAD.lock() {
        *last = Some((name, head.clone()));
    }
    Some((head, fixed))
}

/// What names a head [`open`] authenticated: its file, length and tag, and the key.
#[derive(Debug, PartialEq, Eq)]
struct HeadName {
    dev: u64,
    ino: u64,
    fixed: [u8; 48],
    key: [u8; 32],
}

/// The last head this process authenticated (see [`open`]).
static LAST_HEAD: Mutex<Option<(HeadName, Arc<Head>)>> = Mutex::new(None);

/// The whole index of the ledger read with `attestor`'s key, if `path` holds a valid one;
/// a file that is not exactly what this key authenticated is no index at all.
pub fn load(path: &Path, attestor: &Attestor) -> Option<Stored> {
    let opened = open(path, attestor)?;
    let size = opened.file.metadata().ok()?.len();
    if size > MAX_BYTES {
        return None;
    }
    let mut rest = vec![0u8; size.checked_sub(FIXED)? as usize];
    opened.file.read_exact_at(&mut rest, FIXED).ok()?;
    let head = Arc::unwrap_or_clone(opened.head);
    let mut records = head.no_records();
    let mut proofs = BTreeMap::new();
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
        prefix: head.prefix,
        records,
        proofs: proofs.into_values().collect(),
    })
}

/// Writes the index (privately and atomically: a reader sees the old one or the new one).
pub fn store(path: &Path, attestor: &Attestor, stored: &Stored) -> std::io::Result<()> {
    let proofs: BTreeMap<u64, &ProofFacts> = stored.proofs.iter().map(|p| (p.line, p)).collect();
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
        prefix: stored.prefix.clone(),
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
    proofs: &BTreeMap<u64, &ProofFacts>,
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
        hosted: record.start.as_ref().is_some_and(|s| !s.place.is_here()),
        in_play: record.listed.as_ref().is_some_and(|l| l.state.in_play()),
        at: 0,
        len: u32::try_from(bytes.len()).map_err(std::io::Error::other)?,
        digest: *blake3::hash(&bytes).as_bytes(),
    };
    Ok((entry, bytes))
}

/// Writes an index of `head` and the records it places in `blobs`.
fn write(path: &Path, attestor: &Attestor, head: &Head, blobs: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    write_with(path, attestor, head, blobs.len() as u64, |f| {
        f.write_all(blobs)
    })
}

/// The fixed part that points at `head` (encoded) placed at `at`.
fn fixed_for(attestor: &Attestor, head: &[u8], at: u64) -> [u8; 48] {
    let mut fixed = [0u8; 48];
    fixed[32..40].copy_from_slice(&(head.len() as u64).to_le_bytes());
    fixed[40..].copy_from_slice(&at.to_le_bytes());
    let tag = *keyed(attestor, &fixed[32..], head).as_bytes();
    fixed[..32].copy_from_slice(&tag);
    fixed
}

/// Writes an index whole: the records (`records_len` bytes, written by `records`), then
/// `head`.
fn write_with(
    path: &Path,
    attestor: &Attestor,
    head: &Head,
    records_len: u64,
    records: impl FnOnce(&mut std::io::BufWriter<&mut std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::io::Write;
    let head = encode_head(head)?;
    let fixed = fixed_for(attestor, &head, FIXED + records_len);
    if let Some(dir) = path.parent() {
        crate::files::private_dir(dir)?;
    }
    crate::files::write_atomic_with(path, 0o600, false, |f| {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, f);
        out.write_all(MAGIC)?;
        out.write_all(&fixed)?;
        records(&mut out)?;
        out.write_all(&head)?;
        out.flush()?;
        crate::steps::reached(crate::steps::index::TEMPORARY_WRITTEN);
        Ok(())
    })?;
    // What a reader killed while writing left beside the index is never finished: swept.
    crate::files::sweep_temporaries(path);
    // The indexes of older formats (the names earlier versions gave it, `dispatches.v1` to
    // `.v20`) are never read again (at fifty thousand dispatches one is tens of MB);
    // removing one removes a link, never what it points at.
    if let Some(dir) = path.parent() {
        for version in 1..21 {
            let _ = std::fs::remove_file(dir.join(format!("dispatches.v{version}")));
        }
    }
    Ok(())
}

impl Opened {
    /// Writes the index again at `path` with `head`, whose entries are in id order: those of
    /// the records in `fresh` placed where they are written (their `at` set here), every
    /// other one this index's own entry, `at` and all (its record is copied from there). Appended to this very file (the
    /// records in `fresh`, then `head`, then the fixed part pointed at it) while it is no
    /// more than `MOST_GROWTH` times what `head` names; else written whole (every `at`
    /// set here), every other record copied from this index as it is, without being read
    /// into memory whole. A change another writer made since this index was opened wins:
    /// this one is then not written (the next read writes it).
    pub fn rewrite(
        &self,
        path: &Path,
        attestor: &Attestor,
        head: &mut Head,
        fresh: &BTreeMap<DispatchId, Vec<u8>>,
    ) -> std::io::Result<()> {
        let live: u64 = head.entries.iter().map(|e| u64::from(e.len)).sum();
        let fresh_len: u64 = fresh.values().map(|b| b.len() as u64).sum();
        // The head is about as long as the one it replaces.
        let head_len = u64::from_le_bytes(self.fixed[32..40].try_into().unwrap_or_default());
        let size = self.file.metadata()?.len();
        if size + fresh_len + head_len <= MOST_GROWTH * (FIXED + live + head_len)
            && self.append(attestor, head, fresh)?.is_some()
        {
            return Ok(());
        }
        self.write_whole(path, attestor, head, fresh)
    }

    /// [`Opened::rewrite`] by appending to this file; `None` when it cannot be reopened for
    /// writing as the same file (then it is written whole).
    fn append(
        &self,
        attestor: &Attestor,
        head: &mut Head,
        fresh: &BTreeMap<DispatchId, Vec<u8>>,
    ) -> std::io::Result<Option<()>> {
        use std::os::fd::AsRawFd;
        // The file this index was read from, whatever its path names now (never a link).
        let Ok(out) = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
        else {
            return Ok(None);
        };
        if !same_file(&out.metadata()?, &self.file.metadata()?) {
            return Ok(None);
        }
        // One writer at a time; a writer that finds the head moved since it read it leaves
        // the other's.
        if out.try_lock().is_err() {
            return Ok(Some(()));
        }
        let mut now = [0u8; 48];
        self.file.read_exact_at(&mut now, 8)?;
        if now != self.fixed {
            return Ok(Some(()));
        }
        let mut at = out.metadata()?.len().max(FIXED);
        for (id, bytes) in fresh {
            let Ok(i) = head.entries.binary_search_by(|e| e.id.cmp(id)) else {
                return Err(std::io::Error::other(format!("{id} has no entry")));
            };
            out.write_all_at(bytes, at)?;
            head.entries[i].at = at - FIXED;
            at += bytes.len() as u64;
        }
        let bytes = encode_head(head)?;
        out.write_all_at(&bytes, at)?;
        out.write_all_at(&fixed_for(attestor, &bytes, at), 8)?;
        Ok(Some(()))
    }

    /// [`Opened::rewrite`] by writing the index whole.
    fn write_whole(
        &self,
        path: &Path,
        attestor: &Attestor,
        head: &mut Head,
        fresh: &BTreeMap<DispatchId, Vec<u8>>,
    ) -> std::io::Result<()> {
        use std::io::{Read, Seek, Write};
        // A change another writer made since this index was opened wins.
        if let Ok(now) = crate::files::open_hostile(path) {
            let mut fixed = [0u8; 48];
            let mine = self.file.metadata();
            if !(mine.is_ok_and(|o| now.metadata().is_ok_and(|m| same_file(&o, &m))))
                || now.read_exact_at(&mut fixed, 8).is_err()
                || fixed != self.fixed
            {
                return Ok(());
            }
        }
        // What goes where: a fresh record, or a run of records kept (consecutive in this
        // file, they are copied as one).
        enum Part<'a> {
            Fresh(&'a [u8]),
            Kept { from: u64, len: u64 },
        }
        let mut parts: Vec<Part<'_>> = Vec::new();
        let mut pos = 0u64;
        for e in &mut head.entries {
            // An entry not written fresh is this index's own: its place is in this file.
            let (old_at, old_len) = (e.at, u64::from(e.len));
            e.at = pos;
            if let Some(bytes) = fresh.get(&e.id) {
                parts.push(Part::Fresh(bytes));
                pos += bytes.len() as u64;
                continue;
            }
            match parts.last_mut() {
                Some(Part::Kept { from, len }) if *from + *len == old_at => *len += old_len,
                _ => parts.push(Part::Kept {
                    from: old_at,
                    len: old_len,
                }),
            }
            pos += old_len;
        }
        write_with(path, attestor, head, pos, |out| {
            for part in parts {
                match part {
                    Part::Fresh(bytes) => out.write_all(bytes)?,
                    Part::Kept { from, len } => {
                        let mut file = &self.file;
                        file.seek(std::io::SeekFrom::Start(FIXED + from))?;
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

/// Whether `a` and `b` are of one file (its device and inode).
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

/// `head` encoded, into one allocation of about its size (growing a vector to megabytes
/// by doubling copied it several times over).
fn encode_head(head: &Head) -> std::io::Result<Vec<u8>> {
    let per_entry = 8 + 1 + 1 + 1 + 8 + 4 + 32 + 4;
    let ids: usize = head.entries.iter().map(|e| e.id.as_str().len()).sum();
    let mut out = Vec::with_capacity(
        4096 + 32 * head.prefix.segments.len() + per_entry * head.entries.len() + ids,
    );
    head.serialize(&mut out)?;
    Ok(out)
}

/// The head's keyed BLAKE3 (keyed with the secret derived from the signing key), over its
/// length and place, then its bytes.
fn keyed(attestor: &Attestor, len: &[u8], head: &[u8]) -> blake3::Hash {
    let mut m = blake3::Hasher::new_keyed(&attestor.derive_secret(PURPOSE));
    m.update(len);
    m.update(head);
    m.finalize()
}

fn mac_ok(attestor: &Attestor, len: &[u8], head: &[u8], tag: &[u8]) -> bool {
    // `blake3::Hash`'s equality is constant-time.
    <[u8; 32]>::try_from(tag).is_ok_and(|tag| keyed(attestor, len, head) == tag)
}
