//! The one append path: take the shared lock, read the tail, repair a torn tail, chain, write
//! every new line with one `write`, `fdatasync`, unlock. An append that returned `Ok` is
//! durable; any write or sync error is returned, never retried.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::json::{self, Object, Value};
use super::line::{self, EPOCH_MARKER, GENESIS, Hash, Scratch};
use super::receipt::{REPAIR_EVENT, Receipt};
use super::scan::{self, LineKind};
use super::{LedgerError, append_lock, ledger_dir};

/// The longest line the ledger accepts.
pub const MAX_LINE: usize = 1 << 20;

/// A handle on a ledger file. Cheap; every operation opens, locks and closes the file.
pub struct Ledger {
    path: PathBuf,
    clock: Box<dyn Fn() -> String + Send + Sync>,
}

/// One line the ledger wrote.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Appended {
    /// Its line number in the ledger.
    pub seq: u64,
    /// Its `event_type`.
    pub event_type: String,
    /// SHA-256 of the line's bytes (what the next line's `prev_line_sha256` holds).
    pub line_sha256: String,
    /// VNX entry hash (what the next line's `prev_hash` holds).
    pub entry_hash: String,
    /// Byte offset of the line in the file.
    pub offset: u64,
}

/// A torn tail the writer moved aside before appending.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Repair {
    /// Where the fragment began in the ledger.
    pub byte_start: u64,
    /// Where it ended (the file's length then).
    pub byte_end: u64,
    /// SHA-256 of the fragment's bytes.
    pub sha256: String,
    /// The file the fragment was moved to, beside the ledger.
    pub quarantine: PathBuf,
}

/// What one append call wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AppendOutcome {
    /// Every line written, in order: a `ledger_repair` record and a `chain_epoch_start`
    /// marker first when they were needed, then the caller's receipts.
    pub lines: Vec<Appended>,
    /// The torn tail moved aside first, if there was one.
    pub repair: Option<Repair>,
    /// Whether a `chain_epoch_start` marker was written to adopt an unchained ledger.
    pub sealed: bool,
}

/// Where the chain stands at the end of the file.
struct Head {
    /// SHA-256 of the last physical line (genesis when empty).
    line_hash: Hash,
    /// Entry hash of the last entry.
    entry_hash: Hash,
    next_seq: u64,
    /// Whether a new line can chain onto the last entry without a marker.
    chained: bool,
    /// The last non-blank line is unreadable: (line number, why).
    unreadable: Option<(u64, line::LineError)>,
}

/// The current time in the form the ledger stamps (RFC 3339, UTC, microseconds).
pub fn now_utc() -> String {
    crate::ids::Timestamp::now().into_string()
}

impl Ledger {
    /// The ledger at `path` (nothing is opened until it is used).
    pub fn new(path: impl Into<PathBuf>) -> Ledger {
        Ledger {
            path: path.into(),
            clock: Box::new(now_utc),
        }
    }

    /// Uses `clock` for the timestamps the ledger stamps (tests pin it).
    pub fn with_clock(mut self, clock: impl Fn() -> String + Send + Sync + 'static) -> Ledger {
        self.clock = Box::new(clock);
        self
    }

    /// Where the ledger is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one receipt.
    pub fn append(&self, receipt: &Receipt) -> Result<AppendOutcome, LedgerError> {
        self.append_all(std::slice::from_ref(receipt))
    }

    /// Appends receipts as one group commit: one lock, one write, one `fdatasync`.
    pub fn append_all(&self, receipts: &[Receipt]) -> Result<AppendOutcome, LedgerError> {
        self.write_locked(receipts, false)
    }

    /// Appends a `chain_epoch_start` marker unless the ledger already ends in a chained
    /// entry. Adopts legacy ledgers and ledgers whose last line is unreadable.
    pub fn seal(&self) -> Result<AppendOutcome, LedgerError> {
        self.write_locked(&[], true)
    }

    fn write_locked(&self, receipts: &[Receipt], seal: bool) -> Result<AppendOutcome, LedgerError> {
        let path = &self.path;
        let dir = ledger_dir(path);
        if !dir.is_dir() {
            return Err(LedgerError::MissingDir {
                path: dir.to_owned(),
            });
        }
        let lock = append_lock(path)?;

        // One look at the path, under the lock: is it there, and is it a plain file?
        let existed = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(LedgerError::Symlink { path: path.clone() });
            }
            Ok(m) if m.is_dir() => {
                return Err(LedgerError::IsDirectory { path: path.clone() });
            }
            Ok(m) if !m.is_file() => {
                return Err(LedgerError::NotRegular { path: path.clone() });
            }
            Ok(_) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(source) => return Err(LedgerError::read(path)(source)),
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| open_error(path, source))?;
        // A ledger this call created is removed again if nothing gets written to it.
        let mut created = CreatedGuard {
            path: (!existed).then(|| path.clone()),
        };
        if !existed {
            sync_dir(dir).map_err(|source| LedgerError::Sync {
                path: dir.to_owned(),
                source,
            })?;
        }
        let meta = file.metadata().map_err(LedgerError::read(path))?;
        let mode = meta.permissions().mode();
        if mode & 0o222 == 0 {
            return Err(LedgerError::ReadOnly {
                path: path.clone(),
                mode: mode & 0o7777,
            });
        }

        let size = meta.len();
        // Everything is read, validated and serialized before the file is changed.
        let torn = find_torn(&mut file, size).map_err(LedgerError::read(path))?;
        let end = torn.as_ref().map_or(size, |t| t.start);
        let head = read_head(&mut file, end).map_err(LedgerError::read(path))?;
        if let Some((line, reason)) = head.unreadable.clone()
            && !seal
        {
            return Err(LedgerError::TailUnreadable {
                path: path.clone(),
                line,
                reason,
            });
        }
        let mut outcome = AppendOutcome::default();
        let mut todo: Vec<Receipt> = Vec::new();
        // An unchained (legacy) tail needs a marker first, so that everything after it,
        // a repair record included, chains from genesis as VNX requires.
        let needs_marker = end > 0 && (!head.chained || head.unreadable.is_some());
        if needs_marker && (seal || !receipts.is_empty()) {
            let epoch = max_epoch(&mut file, end).map_err(LedgerError::read(path))? + 1;
            let mut marker = Object::default();
            marker.insert("type", Value::string(EPOCH_MARKER));
            marker.insert("event_type", Value::string(EPOCH_MARKER));
            marker.insert("epoch", Value::int(epoch));
            marker.insert("epoch_ts", Value::string((self.clock)()));
            todo.push(Receipt::internal(marker));
            outcome.sealed = true;
        }
        let mut reuse_quarantine = false;
        if let Some(t) = &torn {
            let (quarantine, already) = quarantine_path(path, t.start, &t.bytes);
            reuse_quarantine = already;
            let repair = Repair {
                byte_start: t.start,
                byte_end: size,
                sha256: hex::encode(Sha256::digest(&t.bytes)),
                quarantine,
            };
            todo.push(Receipt::internal(repair_record(&repair)));
            outcome.repair = Some(repair);
        } else if let Some(orphan) =
            orphaned_quarantine(path, size).map_err(LedgerError::read(path))?
        {
            // A writer died after moving a fragment aside but before recording it.
            todo.push(Receipt::internal(repair_record(&orphan)));
            outcome.repair = Some(orphan);
        }
        // Lines vnx adds itself (marker, repair record) come first.
        let internal = todo.len();
        todo.extend(receipts.iter().cloned());
        if todo.is_empty() {
            created.disarm();
            return Ok(outcome);
        }
        let Serialized {
            bytes: buf,
            lines,
            ends: line_ends,
        } = self.serialize(&todo, &head, end)?;
        outcome.lines = lines;

        let mut at = end;
        if let Some(repair) = &outcome.repair {
            // The repair (with its marker) is committed on its own, so a failure after it
            // cannot drop the record that names the quarantine file.
            if let Some(t) = &torn
                && !reuse_quarantine
            {
                self.quarantine(&mut file, t, &repair.quarantine)?;
            } else if let Some(t) = &torn {
                cut(&mut file, path, t.start)?;
            }
            let repair_lines = &buf[..line_ends[internal - 1]];
            if let Err(e) = commit(&mut file, path, repair_lines, at) {
                if let Some(t) = &torn {
                    restore(&mut file, t, &repair.quarantine, !reuse_quarantine);
                }
                return Err(e);
            }
            at += repair_lines.len() as u64;
        }
        let rest = &buf[(at - end) as usize..];
        if !rest.is_empty() {
            commit(&mut file, path, rest, at)?;
        }
        created.disarm();
        drop(file);
        drop(lock);
        Ok(outcome)
    }

    /// Stamps and serializes receipts chained onto `head`, as they will sit from byte `base`:
    /// the bytes, what each line is, and where each line ends in the buffer.
    fn serialize(
        &self,
        todo: &[Receipt],
        head: &Head,
        base: u64,
    ) -> Result<Serialized, LedgerError> {
        let mut buf = Vec::new();
        let mut lines = Vec::with_capacity(todo.len());
        let mut ends = Vec::with_capacity(todo.len());
        let mut prev_line = head.line_hash;
        let mut prev_entry = head.entry_hash;
        let mut scratch = Scratch::default();
        for (seq, (index, receipt)) in (head.next_seq..).zip(todo.iter().enumerate()) {
            let is_marker = receipt.event_type() == EPOCH_MARKER;
            let prev_hash = if is_marker { GENESIS } else { prev_entry };
            let object = receipt.stamped(
                seq,
                &hex::encode(prev_hash),
                &hex::encode(prev_line),
                &*self.clock,
            );
            let start = buf.len();
            json::write_object(&object, None, &mut buf);
            let len = buf.len() - start;
            if len > MAX_LINE {
                return Err(LedgerError::LineTooLong {
                    index,
                    len,
                    max: MAX_LINE,
                });
            }
            let facts = line::analyze(&buf[start..], &mut scratch);
            let Some(entry) = facts.entry.as_ref().ok().filter(|e| e.canonical) else {
                return Err(LedgerError::NotCanonical { index });
            };
            lines.push(Appended {
                seq,
                event_type: receipt.event_type().to_owned(),
                line_sha256: hex::encode(facts.line_hash),
                entry_hash: hex::encode(entry.entry_hash),
                offset: base + start as u64,
            });
            buf.push(b'\n');
            ends.push(buf.len());
            prev_line = facts.line_hash;
            prev_entry = entry.entry_hash;
        }
        Ok(Serialized {
            bytes: buf,
            lines,
            ends,
        })
    }

    /// Copies a torn fragment to its quarantine file (durably) and cuts it off the ledger.
    fn quarantine(&self, file: &mut File, torn: &Torn, to: &Path) -> Result<(), LedgerError> {
        // Written under a temporary name and renamed into place (durably), so a quarantine
        // file exists either complete or not at all, even if this writer is killed halfway.
        vnx_core::files::write_atomic(to, &torn.bytes, 0o444, true).map_err(|source| {
            LedgerError::Quarantine {
                path: self.path.clone(),
                quarantine: to.to_owned(),
                source,
            }
        })?;
        cut(file, &self.path, torn.start)
    }
}

/// Removes a ledger file created by a call that then wrote nothing (a refused receipt must
/// leave nothing behind), unless disarmed.
struct CreatedGuard {
    path: Option<PathBuf>,
}

impl CreatedGuard {
    fn disarm(&mut self) {
        self.path = None;
    }
}

impl Drop for CreatedGuard {
    fn drop(&mut self) {
        if let Some(path) = &self.path
            && std::fs::metadata(path).is_ok_and(|m| m.len() == 0)
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// New lines ready to write: their bytes, what each is, and where each ends in `bytes`.
struct Serialized {
    bytes: Vec<u8>,
    lines: Vec<Appended>,
    ends: Vec<usize>,
}

/// A final fragment without a newline.
struct Torn {
    start: u64,
    bytes: Vec<u8>,
}

/// The fragment after the last newline of a file of `size` bytes, if any.
fn find_torn(file: &mut File, size: u64) -> io::Result<Option<Torn>> {
    if size == 0 || last_byte(file, size)? == b'\n' {
        return Ok(None);
    }
    let (start, bytes) = line_ending_at(file, size)?;
    Ok(Some(Torn { start, bytes }))
}

/// A quarantine file for a fragment cut at byte `size` — the current end of the ledger —
/// whose repair record was never written: the newest `<ledger>.torn-<size>[-N]`, if any.
fn orphaned_quarantine(ledger: &Path, size: u64) -> io::Result<Option<Repair>> {
    let first = quarantine_name(ledger, size, 1);
    if size == 0 || !first.exists() {
        return Ok(None);
    }
    let mut n = 1;
    while quarantine_name(ledger, size, n + 1).exists() {
        n += 1;
    }
    let path = quarantine_name(ledger, size, n);
    let bytes = std::fs::read(&path)?;
    Ok(Some(Repair {
        byte_start: size,
        byte_end: size + bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(&bytes)),
        quarantine: path,
    }))
}

fn quarantine_name(ledger: &Path, start: u64, n: u32) -> PathBuf {
    let name = ledger
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ledger".into());
    let suffix = if n > 1 {
        format!("-{n}")
    } else {
        String::new()
    };
    ledger_dir(ledger).join(format!("{name}.torn-{start}{suffix}"))
}

/// `<ledger>.torn-<offset>`, with a `-N` suffix when an earlier tear at that offset exists.
/// Where to quarantine a fragment cut at `start`: an existing copy with exactly these bytes
/// (left by a writer that died before cutting it off) is reused — `true` — rather than
/// orphaned; otherwise the first free `<ledger>.torn-<start>[-N]`.
fn quarantine_path(ledger: &Path, start: u64, bytes: &[u8]) -> (PathBuf, bool) {
    let mut n = 1;
    loop {
        let candidate = quarantine_name(ledger, start, n);
        match std::fs::read(&candidate) {
            Ok(existing) if existing == bytes => return (candidate, true),
            Ok(_) => n += 1,
            Err(_) if candidate.exists() => n += 1,
            Err(_) => return (candidate, false),
        }
    }
}

/// Cuts the ledger back to `len` bytes, durably.
fn cut(file: &mut File, path: &Path, len: u64) -> Result<(), LedgerError> {
    file.set_len(len)
        .and_then(|()| file.sync_data())
        .map_err(|source| LedgerError::Write {
            path: path.to_owned(),
            offset: len,
            rolled_back: false,
            source,
        })
}

/// Writes `bytes` at the end of the ledger (which is `at` bytes long) with one `write`, then
/// `fdatasync`. A failed write is cut back off; a failed sync is reported, never retried.
fn commit(file: &mut File, path: &Path, bytes: &[u8], at: u64) -> Result<(), LedgerError> {
    if let Err(source) = file.write_all(bytes) {
        let rolled_back = file.set_len(at).and_then(|()| file.sync_data()).is_ok();
        return Err(LedgerError::Write {
            path: path.to_owned(),
            offset: at,
            rolled_back,
            source,
        });
    }
    file.sync_data().map_err(|source| LedgerError::Sync {
        path: path.to_owned(),
        source,
    })
}

/// Puts a quarantined fragment back where it was, after its repair record could not be
/// written, so the ledger ends exactly as it began; best effort, the caller reports the error.
fn restore(file: &mut File, torn: &Torn, quarantine: &Path, made_here: bool) {
    let restored = file
        .set_len(torn.start)
        .and_then(|()| file.write_all(&torn.bytes))
        .and_then(|()| file.sync_data());
    if restored.is_ok() && made_here {
        let _ = std::fs::remove_file(quarantine);
    }
}

fn repair_record(r: &Repair) -> Object<'static> {
    let mut repair = Object::default();
    repair.insert("kind", Value::string("torn_tail"));
    repair.insert("byte_start", Value::int(r.byte_start));
    repair.insert("byte_end", Value::int(r.byte_end));
    repair.insert("length", Value::int(r.byte_end - r.byte_start));
    repair.insert("sha256", Value::string(r.sha256.clone()));
    let file_name = r
        .quarantine
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    repair.insert("quarantine", Value::string(file_name));
    let mut o = Object::default();
    o.insert("event_type", Value::string(REPAIR_EVENT));
    o.insert("repair", Value::Object(repair));
    o
}

fn open_error(path: &Path, source: io::Error) -> LedgerError {
    match source.raw_os_error() {
        Some(libc::EISDIR) => LedgerError::IsDirectory {
            path: path.to_owned(),
        },
        _ => LedgerError::Open {
            path: path.to_owned(),
            source,
        },
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn last_byte(file: &mut File, size: u64) -> io::Result<u8> {
    let mut b = [0u8];
    file.read_exact_at(&mut b, size - 1)?;
    Ok(b[0])
}

/// The first block [`find_newline_before`] reads: one page holds the last line of nearly
/// every ledger, and a CLI append pays for each page it touches.
const FIRST_BLOCK: u64 = 4 << 10;
/// The largest block it reads, once lines turned out to be long.
const BLOCK: u64 = 64 << 10;

/// Position of the last `\n` before byte `end`, reading backwards in blocks that double from
/// one page.
pub(super) fn find_newline_before(file: &mut File, end: u64) -> io::Result<Option<u64>> {
    let mut hi = end;
    let mut block = FIRST_BLOCK;
    let mut buf = Vec::new();
    while hi > 0 {
        let lo = hi.saturating_sub(block);
        buf.resize((hi - lo) as usize, 0);
        file.read_exact_at(&mut buf, lo)?;
        if let Some(p) = memchr::memrchr(b'\n', &buf) {
            return Ok(Some(lo + p as u64));
        }
        hi = lo;
        block = (block * 2).min(BLOCK);
    }
    Ok(None)
}

/// The bytes of the line that ends at `nl` (its newline, or the end of the file), and where
/// it starts.
fn line_ending_at(file: &mut File, nl: u64) -> io::Result<(u64, Vec<u8>)> {
    let start = find_newline_before(file, nl)?.map_or(0, |p| p + 1);
    let mut bytes = vec![0u8; (nl - start) as usize];
    file.read_exact_at(&mut bytes, start)?;
    Ok((start, bytes))
}

/// Reads the chain head of a file of `size` bytes that ends in a newline (or is empty).
fn read_head(file: &mut File, size: u64) -> io::Result<Head> {
    let mut head = Head {
        line_hash: GENESIS,
        entry_hash: GENESIS,
        next_seq: 1,
        chained: true,
        unreadable: None,
    };
    if size == 0 {
        return Ok(head);
    }
    let mut scratch = Scratch::default();
    let (mut start, bytes) = line_ending_at(file, size - 1)?;
    head.line_hash = Sha256::digest(&bytes).into();
    let mut last_seq = None;
    let mut bytes = bytes;
    let mut physical_last = true;
    // VNX chains onto the last non-blank line.
    loop {
        if !line::is_blank(&bytes) {
            // The verifier reads a line with bare CRs as several; chain onto the last part.
            let facts = match scan::scan_line(&bytes, &mut scratch) {
                LineKind::Line(f) => Some(f),
                LineKind::Split(_, parts) => parts.into_iter().last(),
                LineKind::Blank(_) => None,
            };
            let Some(facts) = facts else { break };
            match facts.entry {
                Ok(e) => {
                    head.entry_hash = e.entry_hash;
                    head.chained = e.prev_hash.is_present() || e.is_marker;
                    if physical_last && e.prev_line.is_present() {
                        last_seq = e.seq;
                    }
                }
                Err(reason) => {
                    let line = count_lines(file, start)? + 1;
                    head.unreadable = Some((line, reason));
                    head.chained = false;
                }
            }
            break;
        }
        physical_last = false;
        if start == 0 {
            // Only blank lines: nothing to chain onto.
            head.chained = false;
            break;
        }
        let (s, b) = line_ending_at(file, start - 1)?;
        start = s;
        bytes = b;
    }
    head.next_seq = match last_seq.and_then(|s| s.checked_add(1)) {
        Some(next) => next,
        None => count_lines(file, size)? + 1,
    };
    Ok(head)
}

/// Number of newlines in the first `end` bytes.
fn count_lines(file: &mut File, end: u64) -> io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = end;
    let mut n = 0u64;
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        file.read_exact(&mut buf[..want])?;
        n += memchr::memchr_iter(b'\n', &buf[..want]).count() as u64;
        left -= want as u64;
    }
    Ok(n)
}

/// The highest `epoch` of any marker in the first `end` bytes (0 when none).
fn max_epoch(file: &mut File, end: u64) -> io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = io::BufReader::with_capacity(1 << 20, file.take(end));
    let mut line = Vec::new();
    let mut max = 0;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(max);
        }
        if memchr::memmem::find(&line, EPOCH_MARKER.as_bytes()).is_none() {
            continue;
        }
        if let Some(o) = json::object_of_line(&line)
            && o.get("type").and_then(Value::as_str) == Some(EPOCH_MARKER)
            && let Some(e) = o.get("epoch").and_then(Value::as_u64)
        {
            max = max.max(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The backward search with growing blocks finds the newline a plain scan finds,
        /// for lines within the first page and lines longer than the largest block.
        #[test]
        fn the_last_newline_before_an_offset_is_the_one_a_scan_finds(
            len in 0usize..200_000,
            newlines in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
            end in any::<prop::sample::Index>(),
        ) {
            let mut bytes = vec![b'x'; len];
            if len > 0 {
                for at in &newlines {
                    bytes[at.index(len)] = b'\n';
                }
            }
            let end = end.index(len + 1);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("ledger.ndjson");
            std::fs::write(&path, &bytes).unwrap();
            let mut file = std::fs::File::open(&path).unwrap();
            let found = super::find_newline_before(&mut file, end as u64).unwrap();
            let expected = bytes[..end].iter().rposition(|&b| b == b'\n').map(|p| p as u64);
            prop_assert_eq!(found, expected);
        }
    }
}
