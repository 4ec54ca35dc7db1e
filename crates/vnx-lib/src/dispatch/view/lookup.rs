//! One dispatch's receipts, from its record (`dispatch::fold`): its start (and the host, tmux
//! session and worktree it records), its completion and the phantom guard's correction.

use crate::ids::DispatchId;
use crate::place_name::PlaceName;
use std::path::Path;

use crate::dispatch::fold::{Cite, CiteReader, DispatchRecord, Records};
use crate::dispatch::liveness;
use crate::ledger::LedgerError;
use crate::receipts::{self, DispatchCompleted, DispatchCorrected};
use crate::tmux::Tmux;

/// A completion as the ledger holds it: the line as written (for `--json`) and its receipt.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// The ledger line, byte for byte.
    pub line: Vec<u8>,
    /// The line read as a `dispatch_completed`.
    pub receipt: Box<DispatchCompleted>,
}

/// The phantom guard's correction as the ledger holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Correction {
    /// The ledger line, byte for byte.
    pub line: Vec<u8>,
    /// The line read as a `dispatch_corrected`, when it has that shape.
    pub receipt: Option<Box<DispatchCorrected>>,
}

impl Completion {
    /// Types a completion line of dispatch `id`. A line that does not have the receipt's
    /// shape (another tool wrote it) keeps its line and reads as status `unknown`.
    pub fn of(id: &DispatchId, line: Vec<u8>) -> Completion {
        let receipt = receipts::read_line::<DispatchCompleted>(&line)
            .map(|r| r.receipt)
            .unwrap_or_else(|| {
                DispatchCompleted::new(id.clone(), Default::default(), Default::default())
            });
        Completion {
            line,
            receipt: Box::new(receipt),
        }
    }
}

impl Correction {
    /// Types a correction line.
    pub fn of(line: Vec<u8>) -> Correction {
        Correction {
            receipt: receipts::read_line(&line).map(|r| Box::new(r.receipt)),
            line,
        }
    }
}

/// What `read` reads of `ledger`, read under its append lock (shared), so a group commit
/// that wrote a completion and its correction is never seen half-written.
pub(super) fn under_append_lock<T>(ledger: &Path, read: impl FnOnce() -> T) -> T {
    let lock = std::fs::File::open(crate::ledger::lock_path(ledger)).ok();
    if let Some(lock) = &lock {
        let _ = lock.lock_shared();
    }
    read()
}

/// Dispatch `id`'s record, folded from the lines that mention it (under the append lock).
pub(super) fn record(
    ledger: &Path,
    id: &DispatchId,
) -> Result<Option<DispatchRecord>, LedgerError> {
    let mut records = under_append_lock(ledger, || Records::read_only(ledger, &[id.as_str()]))?;
    Ok(records.by_id.remove(id))
}

/// The line `cite` names, when there is one.
fn line_at(ledger: &Path, cite: Option<Cite>) -> Result<Option<Vec<u8>>, LedgerError> {
    cite.map(|cite| CiteReader::open(ledger)?.read(cite))
        .transpose()
}

/// The phantom guard's correction of a dispatch's completion, if the ledger has one.
pub fn correction(ledger: &Path, id: &DispatchId) -> Result<Option<Correction>, LedgerError> {
    let cite = record(ledger, id)?.and_then(|r| r.correction);
    Ok(line_at(ledger, cite)?.map(Correction::of))
}

/// The phantom guard's correction of the completion that ends the first `lines` lines of
/// the ledger (at byte `offset`), if it has one: the guard writes it in the same group commit,
/// after the completion, so only the lines from there on are read (under the append lock,
/// shared, so that group commit is whole).
pub(super) fn correction_after(
    ledger: &Path,
    id: &DispatchId,
    lines: u64,
    offset: u64,
) -> Result<Option<Correction>, LedgerError> {
    let later = under_append_lock(ledger, || {
        Records::read_only_from(ledger, &[id.as_str()], lines, offset)
    })?;
    let cite = later.get(id).and_then(|r| r.correction);
    Ok(line_at(ledger, cite)?.map(Correction::of))
}

/// Whether the ledger records the dispatch's start.
pub fn started(ledger: &Path, id: &DispatchId) -> Result<bool, LedgerError> {
    Ok(record(ledger, id)?.is_some_and(|r| r.started()))
}

/// Whether a `remote_lost` gave the dispatch up (its host out of reach for too long).
pub fn remote_lost(ledger: &Path, id: &DispatchId) -> Result<bool, LedgerError> {
    Ok(record(ledger, id)?.is_some_and(|r| r.remote_lost.is_some()))
}

/// When a `remote_lost` gave the dispatch up, if one did (and it was not found running since).
pub fn remote_lost_at(
    ledger: &Path,
    id: &DispatchId,
) -> Result<Option<jiff::Timestamp>, LedgerError> {
    let cite = record(ledger, id)?.and_then(|r| r.remote_lost);
    Ok(line_at(ledger, cite)?.and_then(|line| {
        let v = serde_json::from_slice::<serde_json::Value>(&line).ok()?;
        v.get("timestamp")?.as_str()?.parse().ok()
    }))
}

/// The place a started dispatch runs in, when not here.
pub fn remote_of(ledger: &Path, id: &DispatchId) -> Option<PlaceName> {
    record(ledger, id)
        .ok()
        .flatten()?
        .start?
        .place
        .place()
        .cloned()
}

/// What keeps a started dispatch alive besides its session: its lock, or a process in its
/// worktree (see `liveness`).
pub(super) fn alive_without_session(id: &DispatchId, worktree: Option<&str>) -> bool {
    let Some(wt) = worktree.map(Path::new) else {
        return false;
    };
    liveness::dispatch_dir_of(wt, id)
        .is_some_and(|dir| liveness::alive(&dir, Some(wt), None).is_some())
}

/// The completion receipt of a dispatch, if the ledger has one.
pub fn completion(ledger: &Path, id: &DispatchId) -> Result<Option<Vec<u8>>, LedgerError> {
    line_at(ledger, record(ledger, id)?.and_then(|r| r.completion))
}

/// Whether the dispatch has ended as far as this ledger knows: its completion is recorded, or
/// its place was given up on (`remote_lost`). A read that fails says no.
pub fn has_ended(ledger: &Path, id: &DispatchId) -> bool {
    record(ledger, id)
        .ok()
        .flatten()
        .is_some_and(|r| r.completion.is_some() || r.remote_lost.is_some())
}

/// The tmux socket and session a dispatch's start records (the fallback socket and
/// `vnx-<id>` when it records none).
pub fn session_of(ledger: &Path, id: &DispatchId, fallback: &Tmux) -> (Tmux, String) {
    let start = record(ledger, id).ok().flatten().and_then(|r| r.start);
    session_in(start.as_ref(), id, fallback)
}

/// The tmux socket and session `start` records (the fallback socket and `vnx-<id>` when it
/// records none).
pub(super) fn session_in(
    start: Option<&crate::dispatch::fold::Start>,
    id: &DispatchId,
    fallback: &Tmux,
) -> (Tmux, String) {
    match start.and_then(|s| s.tmux.clone()) {
        Some((socket, session)) => (Tmux::new(socket), session),
        None => (Tmux::new(fallback.socket()), format!("vnx-{id}")),
    }
}
