//! Cancelling a dispatch: a running one is told to stop (a request file in its dispatch
//! directory, then SIGTERM to its supervisor, found through the tmux socket and session its
//! start records), which stops the worker's whole process group, classifies the teardown as
//! usual and records `cancelled`; a supervisor stopped by a signal without that request (a
//! hangup as tmux dies, a reboot's SIGTERM) records nothing, and the dispatch is lost, for
//! `vnx resume` (ADR 0068); a lost one (no
//! session, no supervisor, no worker) is closed with a `dispatch_completed` of its own, so
//! that nothing goes on calling it lost. Its worktree is left as it is, for
//! `vnx worktree-release`. A queued one is taken out of the queue by `queue::cancel`.

use crate::ids::DispatchId;
use std::path::Path;

use crate::dispatch::view::{DispatchState, State};
use crate::ledger::LedgerError;
use crate::ledger::attest::Attestor;
use crate::receipts::{CompletionSignal, DispatchCompleted, DispatchStatus};
use crate::tmux::Tmux;

/// What cancelling one dispatch did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// Its supervisor (this pid) was told to stop; its completion follows.
    Signalled(u32),
    /// It was lost; this closing receipt (its entry hash) now ends it.
    Closed(String),
    /// It had ended already, with this status.
    AlreadyEnded(DispatchStatus),
    /// It is running, but its supervisor could not be reached (why).
    Unreachable(String),
    /// It is queued: nothing of it runs, and [`crate::dispatch::queue::cancel`] takes it out of the
    /// queue (under the queue lock, with a receipt).
    Queued,
    /// Its latest start time passed while it was queued; it never started.
    Expired,
}

/// The file `vnx cancel` writes in a running dispatch's directory before it signals the
/// supervisor: what tells a person's cancel from a signal nobody in vnx sent.
pub const REQUEST: &str = "cancel-requested";

/// Whether a person asked to cancel the dispatch whose directory is `dispatch_dir`.
pub fn requested(dispatch_dir: &Path) -> bool {
    super::has_file(dispatch_dir, REQUEST)
}

/// Cancels one dispatch, as `state` (from [`crate::dispatch::view::list`]) shows it;
/// `data_dir` is the project's `.vnx-data`, which holds its dispatch directory.
pub fn cancel(
    ledger: &Path,
    data_dir: &Path,
    state: &DispatchState,
    fallback: &Tmux,
    attestor: &Attestor,
) -> Result<Cancelled, LedgerError> {
    match state.state {
        State::Ended(status) => Ok(Cancelled::AlreadyEnded(status)),
        State::Queued => Ok(Cancelled::Queued),
        State::Expired => Ok(Cancelled::Expired),
        State::Lost => close_lost(ledger, &state.id, attestor),
        State::Running | State::Blocked | State::Stalled | State::Limited | State::Paused => {
            Ok(match tell_supervisor(data_dir, state, fallback, REQUEST) {
                Ok(pid) => Cancelled::Signalled(pid),
                Err(why) => Cancelled::Unreachable(why),
            })
        }
    }
}

/// Tells a live dispatch's supervisor to stop its worker: the `request` file written in its
/// dispatch directory (which says who asked and why), then SIGTERM to the supervisor, found
/// through the tmux socket and session its start records. Its pid, or why it could not.
pub fn tell_supervisor(
    data_dir: &Path,
    state: &DispatchState,
    fallback: &Tmux,
    request: &str,
) -> Result<u32, String> {
    let (tmux, session) = state.session_on(fallback);
    let Some(pid) = tmux.pane_pid(&session) else {
        return Err(format!(
            "no tmux session {session} on socket {}",
            tmux.socket()
        ));
    };
    let path = data_dir.join("dispatches").join(&state.id).join(request);
    let text = format!("vnx {request}\n");
    if let Err(e) = crate::files::write_atomic_private(&path, text.as_bytes(), false) {
        return Err(format!("could not write {}: {e}", path.display()));
    }
    crate::process::terminate(pid).map_err(|e| format!("could not signal pid {pid}: {e}"))?;
    Ok(pid)
}

/// Writes the completion a lost dispatch never got.
fn close_lost(
    ledger: &Path,
    id: &DispatchId,
    attestor: &Attestor,
) -> Result<Cancelled, LedgerError> {
    let why = "its supervisor was lost before it recorded an end; closed by `vnx cancel` (the \
               worktree and branch are left as they are)";
    let closing = closed_lost(id, why);
    Ok(Cancelled::Closed(append_closing(
        ledger, attestor, &closing,
    )?))
}

/// The completion of lost dispatch `id`, cancelled for `why`.
pub(crate) fn closed_lost(id: &DispatchId, why: &str) -> DispatchCompleted {
    DispatchCompleted {
        failure_reason: Some(why.to_owned()),
        ..DispatchCompleted::new(
            id.clone(),
            DispatchStatus::Cancelled,
            CompletionSignal::ClosedLost,
        )
    }
}

/// Signs and appends a dispatch's closing completion; its line's entry hash.
pub(crate) fn append_closing(
    ledger: &Path,
    attestor: &Attestor,
    closing: &DispatchCompleted,
) -> Result<String, LedgerError> {
    let appended = attestor.record(ledger, closing)?;
    Ok((appended.lines.last())
        .map(|l| l.entry_hash.clone())
        .unwrap_or_default())
}
