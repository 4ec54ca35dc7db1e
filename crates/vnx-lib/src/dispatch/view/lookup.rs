//! One dispatch's receipts looked up on the ledger, newest first: its start (and the host,
//! tmux session and worktree it records), its completion and the phantom guard's correction.

use std::path::Path;

use crate::ledger::LedgerError;
use crate::ledger::json;
use crate::ledger::tail;
use crate::receipts::{self, DispatchCompleted, DispatchCorrected, DispatchStarted};
use crate::tmux::Tmux;

use super::{parse, text};
use crate::dispatch::liveness;

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
    pub fn of(id: &str, line: Vec<u8>) -> Completion {
        let receipt = receipts::read_line::<DispatchCompleted>(&line)
            .map(|r| r.receipt)
            .unwrap_or_else(|| DispatchCompleted {
                dispatch_id: id.to_owned(),
                ..Default::default()
            });
        Completion {
            line,
            receipt: Box::new(receipt),
        }
    }
}

/// Whether `line` is a receipt of kind `event` about dispatch `id`.
pub(super) fn is_event_of(line: &[u8], id: &str, event: &str) -> bool {
    // A cheap test first: most lines are about other dispatches.
    memchr::memmem::find(line, id.as_bytes()).is_some()
        && parse(line).is_some_and(|o| {
            text(&o, "event_type").as_deref() == Some(event)
                && text(&o, "dispatch_id").as_deref() == Some(id)
        })
}

/// Whether `line` is dispatch `id`'s `dispatch_completed`.
pub(super) fn is_completion_of(line: &[u8], id: &str) -> bool {
    is_event_of(line, id, "dispatch_completed")
}

/// The phantom guard's correction of a dispatch's completion, if the ledger has one. Read
/// under the append lock (shared), so a group commit that wrote a completion and its
/// correction is never seen half-written.
pub fn correction(ledger: &Path, id: &str) -> Result<Option<Correction>, LedgerError> {
    let lock = std::fs::File::open(crate::ledger::lock_path(ledger)).ok();
    if let Some(lock) = &lock {
        let _ = lock.lock_shared();
    }
    let (found, _) = tail::last_lines(ledger, 1, |l| is_event_of(l, id, "dispatch_corrected"))?;
    Ok(found.into_iter().next().map(|line| Correction {
        receipt: receipts::read_line(&line).map(|r| Box::new(r.receipt)),
        line,
    }))
}

/// Whether the ledger records the dispatch's start.
pub fn started(ledger: &Path, id: &str) -> Result<bool, LedgerError> {
    Ok(start(ledger, id)?.is_some())
}
/// The dispatch's `dispatch_started` receipt, if the ledger has one.
fn start(ledger: &Path, id: &str) -> Result<Option<json::Object<'static>>, LedgerError> {
    let (found, _) = tail::last_lines(ledger, 1, |l| is_event_of(l, id, "dispatch_started"))?;
    Ok(found.into_iter().next().and_then(|l| parse(&l)))
}

/// Whether a `remote_lost` gave the dispatch up (its host out of reach for too long).
pub fn remote_lost(ledger: &Path, id: &str) -> Result<bool, LedgerError> {
    let (found, _) = tail::last_lines(ledger, 1, |l| is_event_of(l, id, "remote_lost"))?;
    Ok(!found.is_empty())
}

/// The host a started dispatch runs on, when it runs on one.
pub fn remote_of(ledger: &Path, id: &str) -> Option<String> {
    let start = start(ledger, id).ok().flatten()?;
    receipts::read::<DispatchStarted>(&start)?
        .receipt
        .remote
        .map(|r| r.host)
}

/// The worktree a started dispatch runs in, as its `dispatch_started` records it.
pub(super) fn worktree_of(ledger: &Path, id: &str) -> Option<String> {
    let start = start(ledger, id).ok().flatten()?;
    match receipts::read::<DispatchStarted>(&start) {
        Some(r) => Some(r.receipt.worktree),
        None => text(&start, "worktree"),
    }
}

/// What keeps a started dispatch alive besides its session: its lock, or a process in its
/// worktree (see `liveness`).
pub(super) fn alive_without_session(id: &str, worktree: Option<&str>) -> bool {
    let Some(wt) = worktree.map(Path::new) else {
        return false;
    };
    liveness::dispatch_dir_of(wt, id)
        .is_some_and(|dir| liveness::alive(&dir, Some(wt), None).is_some())
}

/// The completion receipt of a dispatch, if the ledger has one.
pub fn completion(ledger: &Path, id: &str) -> Result<Option<Vec<u8>>, LedgerError> {
    let (found, _) = tail::last_lines(ledger, 1, |l| is_completion_of(l, id))?;
    Ok(found.into_iter().next())
}

/// The tmux socket and session a dispatch's start records (the fallback socket and
/// `vnx-<id>` when it records none).
pub fn session_of(ledger: &Path, id: &str, fallback: &Tmux) -> (Tmux, String) {
    let recorded = start(ledger, id)
        .ok()
        .flatten()
        .and_then(|s| receipts::read::<DispatchStarted>(&s))
        .and_then(|r| {
            let (socket, session) = r.receipt.tmux.split_once(':')?;
            Some((socket.to_owned(), session.to_owned()))
        });
    match recorded {
        Some((socket, session)) => (Tmux::new(socket), session),
        None => (Tmux::new(fallback.socket()), format!("vnx-{id}")),
    }
}
