//! Running the gates dispatches' roles require (`vnx gate-check`, the dashboard's `g`): each
//! dispatch's gates, with its report and receipts ([`check`]), then the ledger anchored in a
//! checkpoint once ([`anchor`]), so a merge can tell the evidence was not cut away since.

use std::path::PathBuf;

use super::{ActionError, Desk};
use crate::gate::{self, Event, Report};
use crate::ids::DispatchId;
use crate::ledger::checkpoint::CheckpointOutcome;

/// How the ledger is anchored after the gates ran.
#[derive(Clone, Debug)]
pub struct Anchoring {
    /// Threads hashing the ledger may use.
    pub threads: usize,
    /// Where the checkpoint's witness is kept, when anywhere.
    pub witness_dir: Option<PathBuf>,
}

/// Refuses, before any gate runs, dispatches one of which the ledger never saw (a typo must
/// not leave the others checked and it not).
pub fn all_known(desk: &Desk<'_>, ids: &[DispatchId]) -> Result<(), ActionError> {
    let ledger = desk.ctx.ledger;
    for id in ids {
        if !ledger.exists() || !crate::dispatch::view::started(ledger, id)? {
            return Err(ActionError::Unknown { id: id.clone() });
        }
    }
    Ok(())
}

/// Runs the gates dispatch `id`'s role requires, telling `on_event` as each starts and ends,
/// and records them; its report.
pub fn check(
    desk: &Desk<'_>,
    id: &DispatchId,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Report, ActionError> {
    Ok(gate::check(&gates_at(desk, on_event), id)?)
}

/// What running gates needs, from the desk: its context, keys and program finder.
pub(super) fn gates_at<'a>(
    desk: &'a Desk<'_>,
    on_event: &'a (dyn Fn(Event<'_>) + Sync),
) -> gate::Context<'a> {
    let ctx = desk.ctx;
    gate::Context {
        attestor: ctx.attestor,
        trusted_keys: desk.trusted,
        root: &ctx.project.root,
        ledger: ctx.ledger,
        vnx: ctx.vnx,
        find_program: ctx.find_program,
        on_event,
    }
}

/// Anchors the evidence just recorded in a checkpoint (made with the desk's key), so a merge
/// can tell it was not cut away since; why not, when it could not.
pub fn anchor(desk: &Desk<'_>, anchoring: &Anchoring) -> Result<CheckpointOutcome, String> {
    crate::merge::anchor(
        desk.ctx.ledger,
        desk.ctx.key_path,
        anchoring.threads,
        anchoring.witness_dir.as_deref(),
    )
    .map_err(|e| e.to_string())
}
