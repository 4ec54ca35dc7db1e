//! Completions kept until the ledger takes them: the supervisor writes its signed completion
//! receipts durably to `.vnx-data/pending/<id>.ndjson` before appending them, retries the
//! append for a while (a full disk, a ledger directory that is briefly unusable), and removes
//! the file once they are on the ledger. Whatever it could not append, any later vnx command
//! appends ([`flush`]): a completion is never lost because the ledger could not be written
//! when the worker ended.
//!
//! A full disk cannot stop the completion from being kept: the launch sets its space aside
//! ([`reserve`]: `pending/<id>.reserve`, allocated before the worker starts) and [`keep`]
//! writes the completion into those blocks, which needs no new space, before renaming it.
//!
//! The pending directory is as writable by a worker as the rest of `.vnx-data/`, so only
//! receipts attested by a trusted key, about the dispatch the file is named after, and whose
//! completion is not on the ledger yet, are ever appended from it.

use crate::ids::DispatchId;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::ledger::attest;
use crate::ledger::json::{self, Mode, Value};
use crate::ledger::{Ledger, LedgerError, Receipt};

/// The pending completions' directory, under the data directory.
pub const DIR: &str = "pending";
/// A pending file larger than this is not read.
const MAX_FILE: u64 = 4 << 20;
/// The space a launch sets aside for its completion: the largest completion receipt (half
/// the ledger's 1 MiB line limit), the phantom guard's correction and their signatures.
pub const RESERVE: u64 = 1 << 20;

fn path_for(data_dir: &Path, id: &DispatchId) -> PathBuf {
    data_dir.join(DIR).join(format!("{id}.ndjson"))
}

pub(crate) fn reserve_path(data_dir: &Path, id: &DispatchId) -> PathBuf {
    data_dir.join(DIR).join(format!("{id}.reserve"))
}

/// Sets [`RESERVE`] bytes of disk aside for dispatch `id`'s completion, allocated now (a
/// launch on a disk that cannot hold them fails here, before anything runs).
pub fn reserve(data_dir: &Path, id: &DispatchId) -> io::Result<()> {
    let dir = data_dir.join(DIR);
    crate::files::private_dir(&dir)?;
    let path = reserve_path(data_dir, id);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)?;
    // Real blocks, not a hole: writing into them later needs no free space. A filesystem
    // without fallocate gets them written out as zeros.
    let allocated =
        match rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, RESERVE) {
            Err(rustix::io::Errno::OPNOTSUPP) => {
                use std::io::Write;
                let zeros = vec![0u8; 64 * 1024];
                (0..RESERVE / zeros.len() as u64).try_for_each(|_| (&file).write_all(&zeros))
            }
            other => other.map_err(io::Error::from),
        };
    // No fsync: the blocks are the filesystem's as soon as fallocate returns, and a machine
    // that crashes now loses the dispatch that would have used them anyway.
    allocated.inspect_err(|_| {
        let _ = fs::remove_file(&path);
    })
}

/// Gives back the space [`reserve`] set aside for `id` (a launch that failed, a dispatch
/// completed by other means).
pub fn unreserve(data_dir: &Path, id: &DispatchId) {
    let _ = fs::remove_file(reserve_path(data_dir, id));
}

/// The reservations no dispatch will use any more: those of a dispatch whose end is on the
/// ledger, or that never started (its launcher was killed before `dispatch_started`), and
/// whose lock nobody holds (a launch under way holds it from before its reservation until
/// its supervisor takes it over). A lost dispatch's stays: its recovery writes into it.
pub fn abandoned_reserves(data_dir: &Path, ledger: &Path) -> Vec<DispatchId> {
    named(data_dir, ".reserve")
        .into_iter()
        .filter(|id| {
            let dispatch_dir = data_dir.join("dispatches").join(id.as_str());
            if crate::dispatch::liveness::locked(&dispatch_dir) {
                return false;
            }
            if !ledger.exists() {
                return true;
            }
            // Both read through the read model: a lost dispatch's reservation, kept, costs
            // no scan of the ledger.
            match crate::dispatch::view::started(ledger, id) {
                Ok(false) => true,
                Ok(true) => {
                    crate::dispatch::view::completion(ledger, id).is_ok_and(|c| c.is_some())
                }
                Err(_) => false,
            }
        })
        .collect()
}

/// Removes the [`abandoned_reserves`]; returns the dispatches whose reservation went.
pub fn sweep_reserves(data_dir: &Path, ledger: &Path) -> Vec<DispatchId> {
    abandoned_reserves(data_dir, ledger)
        .into_iter()
        .filter(|id| fs::remove_file(reserve_path(data_dir, id)).is_ok())
        .collect()
}

/// The mark a supervisor leaves when its done worker's changes could not be committed for
/// want of space: `pending/<id>.uncommitted`, the dispatch's reservation renamed (so making it
/// needs no space, and the space stays set aside for the completion). The work stays in the
/// worktree; the next command resumes the end ([`uncommitted`]) once space returns.
fn uncommitted_path(data_dir: &Path, id: &DispatchId) -> PathBuf {
    data_dir.join(DIR).join(format!("{id}.uncommitted"))
}

/// Marks dispatch `id` as ended with its done work not yet committed for want of space.
pub fn mark_uncommitted(data_dir: &Path, id: &DispatchId) -> io::Result<()> {
    let mark = uncommitted_path(data_dir, id);
    match fs::rename(reserve_path(data_dir, id), &mark) {
        Ok(()) => Ok(()),
        Err(_) => OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&mark)
            .map(drop),
    }
}

/// Takes back the mark [`mark_uncommitted`] left, as the reservation it was (an empty mark
/// is just removed); whoever resumes the end marks again if it still cannot commit.
pub fn unmark_uncommitted(data_dir: &Path, id: &DispatchId) {
    let mark = uncommitted_path(data_dir, id);
    let reserve = reserve_path(data_dir, id);
    let is_reservation = fs::symlink_metadata(&mark).is_ok_and(|m| m.is_file() && m.len() > 0);
    if !(is_reservation
        && reserve.symlink_metadata().is_err()
        && fs::rename(&mark, &reserve).is_ok())
    {
        let _ = fs::remove_file(&mark);
    }
}

/// The dispatches marked by [`mark_uncommitted`]. The mark is as writable by a worker as
/// anything in `.vnx-data/`: it only says where to look; what is recorded rests on the
/// signed start and the sealed report alone (see `recover`).
pub fn uncommitted(data_dir: &Path) -> Vec<DispatchId> {
    named(data_dir, ".uncommitted")
}

/// Writes `data` into `id`'s reserved blocks and renames them to `path`: no new space is
/// needed. Fails (leaving the caller to write the file anew) when there is no reservation,
/// it is not a plain file of ours, or it is too small.
fn write_into_reserve(
    data_dir: &Path,
    id: &DispatchId,
    data: &[u8],
    path: &Path,
) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;
    let reserved = reserve_path(data_dir, id);
    // The directory is writable by an unsandboxed worker: never through a link, never
    // waiting on a FIFO.
    let mut file = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&reserved)?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() < data.len() as u64 {
        return Err(io::Error::other(
            "the reservation is not a large enough file",
        ));
    }
    file.write_all(data)?;
    file.set_len(data.len() as u64)?;
    fs::rename(&reserved, path)?;
    // What was renamed must be what was written (nobody swapped the name meanwhile).
    let renamed = fs::symlink_metadata(path)?;
    if (renamed.dev(), renamed.ino()) != (meta.dev(), meta.ino()) {
        return Err(io::Error::other(
            "the reservation was replaced while it was written",
        ));
    }
    Ok(())
}

/// Makes a kept completion survive a machine crash too: the file, then its directory.
fn sync(path: &Path) -> io::Result<()> {
    crate::files::open_hostile(path)?.sync_all()?;
    File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()
}

fn ndjson(receipts: &[Receipt]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in receipts {
        json::write_object(r.object(), None, &mut out);
        out.push(b'\n');
    }
    out
}

/// A completion written down and locked: appended (and the file removed) by
/// [`Pending::append`], else left for [`flush`].
#[derive(Debug)]
pub struct Pending {
    path: PathBuf,
    receipts: Vec<Receipt>,
    _lock: File,
}

/// Writes `receipts` (already attested) for dispatch `id` — into its reservation when it has
/// one, else a new file, renamed into place — and holds the file's lock, so no flusher
/// appends them meanwhile. The copy outlives the supervisor at once; it is made durable
/// against a machine crash (fsync of the file and the directory) only once an append fails:
/// until then the ledger's own `fdatasync` is what makes the completion durable, and a
/// completion the ledger took needs no second durable copy.
pub fn keep(data_dir: &Path, id: &DispatchId, receipts: Vec<Receipt>) -> io::Result<Pending> {
    let dir = data_dir.join(DIR);
    crate::files::private_dir(&dir)?;
    let path = path_for(data_dir, id);
    let data = ndjson(&receipts);
    if write_into_reserve(data_dir, id, &data, &path).is_err() {
        crate::files::write_atomic_private(&path, &data, false)?;
        // Written anew: a reservation that could not be used is not needed any more.
        unreserve(data_dir, id);
    }
    let lock = crate::files::open_hostile(&path)?;
    lock.lock()?;
    Ok(Pending {
        path,
        receipts,
        _lock: lock,
    })
}

impl Pending {
    /// Appends the receipts, retrying with a doubling pause (from 50 ms, at most 2 s) until
    /// `retry` has passed; on success removes the file. The last error is returned, and the
    /// file stays for [`flush`].
    pub fn append(
        self,
        ledger: &Ledger,
        retry: Duration,
    ) -> Result<crate::ledger::AppendOutcome, LedgerError> {
        let give_up = Instant::now() + retry;
        let mut pause = Duration::from_millis(50);
        let mut synced = false;
        loop {
            match ledger.append_all(&self.receipts) {
                Ok(outcome) => {
                    let _ = fs::remove_file(&self.path);
                    return Ok(outcome);
                }
                Err(e) => {
                    // The ledger refused: the kept copy now carries the completion, so it
                    // must survive a machine crash too (best effort on a full disk).
                    if !synced {
                        synced = sync(&self.path).is_ok();
                    }
                    if Instant::now() + pause > give_up {
                        return Err(e);
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
}

/// What [`flush`] did with one pending file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Flushed {
    /// The dispatch whose completion was pending.
    pub dispatch_id: DispatchId,
    /// `appended`, `already_on_ledger`, `held` (a live supervisor still retries) or
    /// `refused: <why>` (not vnx's, left in place for a person to look at).
    pub outcome: String,
}

/// Appends every pending completion the ledger does not hold yet (see the module docs).
/// A pending file is removed once its receipts are on the ledger.
pub fn flush(
    data_dir: &Path,
    ledger: &Ledger,
    trusted: &[[u8; 32]],
) -> Result<Vec<Flushed>, LedgerError> {
    let names = named(data_dir, ".ndjson");
    // Reservations nobody will use go first: a killed launcher leaves one behind.
    sweep_reserves(data_dir, ledger.path());
    let mut done = Vec::new();
    for id in names {
        let outcome = flush_one(data_dir, ledger, trusted, &id)?;
        done.push(Flushed {
            dispatch_id: id,
            outcome,
        });
    }
    Ok(done)
}

fn flush_one(
    data_dir: &Path,
    ledger: &Ledger,
    trusted: &[[u8; 32]],
    id: &DispatchId,
) -> Result<String, LedgerError> {
    let path = path_for(data_dir, id);
    let Ok(file) = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
    else {
        return Ok("refused: unreadable".into());
    };
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Ok("refused: not a regular file".into());
    }
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok("held".into()),
        Err(TryLockError::Error(_)) => return Ok("refused: cannot lock".into()),
    }
    let mut data = Vec::new();
    if (&file).take(MAX_FILE + 1).read_to_end(&mut data).is_err() || data.len() as u64 > MAX_FILE {
        return Ok("refused: unreadable or too large".into());
    }
    let mut receipts = Vec::new();
    for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let Some(object) = std::str::from_utf8(line)
            .ok()
            .and_then(|t| json::parse(t, Mode::Strict).ok())
            .and_then(|v| match v {
                Value::Object(o) => Some(o.into_owned()),
                _ => None,
            })
        else {
            return Ok("refused: not JSON receipts".into());
        };
        let event = object.get("event_type").and_then(Value::as_str);
        if object.get("dispatch_id").and_then(Value::as_str) != Some(id.as_str())
            || !matches!(event, Some("dispatch_completed" | "dispatch_corrected"))
        {
            return Ok("refused: not this dispatch's completion".into());
        }
        let attestation = attest::check(&object, trusted);
        if !attestation.is_valid() {
            return Ok(format!("refused: a receipt {}", attestation.describe()));
        }
        match Receipt::from_object(object) {
            Ok(r) => receipts.push(r),
            Err(e) => return Ok(format!("refused: {e}")),
        }
    }
    if receipts.is_empty() {
        let _ = fs::remove_file(&path);
        return Ok("refused: empty".into());
    }
    if completion_on_ledger(ledger.path(), id)? {
        let _ = fs::remove_file(&path);
        return Ok("already_on_ledger".into());
    }
    ledger.append_all(&receipts)?;
    let _ = fs::remove_file(&path);
    Ok("appended".into())
}

/// Whether the ledger holds a `dispatch_completed` for `id`.
pub(crate) fn completion_on_ledger(ledger: &Path, id: &DispatchId) -> Result<bool, LedgerError> {
    if !ledger.exists() {
        return Ok(false);
    }
    let needle = format!("\"dispatch_id\":\"{id}\"");
    let (lines, _) = crate::ledger::tail::last_lines(ledger, 1, |l| {
        memchr::memmem::find(l, needle.as_bytes()).is_some()
            && memchr::memmem::find(l, b"\"event_type\":\"dispatch_completed\"").is_some()
    })?;
    Ok(!lines.is_empty())
}

/// The dispatches with a file `<id><suffix>` in the pending directory, in order.
fn named(data_dir: &Path, suffix: &str) -> Vec<DispatchId> {
    let Ok(entries) = fs::read_dir(data_dir.join(DIR)) else {
        return Vec::new();
    };
    let mut ids: Vec<DispatchId> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter_map(|n| {
            n.strip_suffix(suffix)
                .and_then(|id| DispatchId::parse(id).ok())
        })
        .collect();
    ids.sort();
    ids
}
