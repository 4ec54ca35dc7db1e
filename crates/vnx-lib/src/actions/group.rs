//! Deciding a best-of group (`vnx group decide`, and `vnx best-of` once its candidates
//! started): its launched candidates waited for, each one's gates run, the winner recorded in
//! a `group_decision`, and the ledger anchored so a merge can tell the evidence is whole.

use super::gate::{Anchoring, anchor, gates_at};
use super::{ActionError, Desk};
use crate::gate::Event;
use crate::ids::{DispatchId, GroupId};
use crate::ledger::checkpoint::CheckpointOutcome;
use crate::receipts::{CandidateEntry, GroupCandidate, GroupDecision};

/// What deciding a group tells as it goes.
pub enum Note<'a> {
    /// Waiting for these launched candidates to end.
    Waiting(&'a [DispatchId]),
    /// A candidate's role's gates are about to run.
    Gates(&'a GroupCandidate),
    /// A gate started or ended.
    Gate(Event<'a>),
}

/// A group decided.
pub struct Decided {
    /// The decision recorded.
    pub decision: GroupDecision,
    /// The checkpoint that anchors it, or why the ledger could not be anchored (a warning:
    /// the decision stands, but a merge needs a checkpoint).
    pub anchored: Result<CheckpointOutcome, String>,
}

/// Waits for `group`'s launched candidates to end, runs each one's gates, records the
/// decision and anchors the ledger.
pub fn decide(
    desk: &Desk<'_>,
    group: &GroupId,
    anchoring: &Anchoring,
    on_note: &(dyn Fn(Note<'_>) + Sync),
) -> Result<Decided, ActionError> {
    let ledger = desk.ctx.ledger;
    let launched: Vec<DispatchId> = crate::group::read(ledger, group, desk.trusted)?
        .candidates()
        .into_iter()
        .filter(|c| c.entry == CandidateEntry::Launched)
        .map(|c| c.dispatch_id)
        .collect();
    if !launched.is_empty() {
        on_note(Note::Waiting(&launched));
        crate::dispatch::view::wait(ledger, &launched, desk.ctx.tmux, false)?;
    }
    let on_event = |event: Event<'_>| on_note(Note::Gate(event));
    let on_gates = |c: &GroupCandidate| on_note(Note::Gates(c));
    let decision = crate::group::decide(&gates_at(desk, &on_event), group, &on_gates)?;
    Ok(Decided {
        decision,
        anchored: anchor(desk, anchoring),
    })
}
