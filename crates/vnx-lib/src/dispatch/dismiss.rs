//! `vnx dismiss ID`: a person closes an ended dispatch's question they will not answer,
//! recorded by a signed `dispatch_dismissed`. The dispatch then waits for no one (it leaves
//! the waiting count of `status`, the dashboard and `wait`); its work stays as it was, to
//! follow up on, accept, merge or release later. What is dismissed is read from the ledger
//! (the attested completion), never from a file the worker can write. Several are dismissed
//! by id, or by a selection of the questions that wait ([`Selection`]): a dismissal is only
//! ever of a question, so a failed or timed-out dispatch, which waits for no one, is no
//! selection's (`vnx tidy` counts those as given up).

use std::path::Path;

use crate::dispatch::state::{DispatchState, State};
use crate::evidence::Evidence;
use crate::ids::DispatchId;
use crate::ledger::LedgerError;
use crate::ledger::attest::Attestor;
use crate::receipts::{DispatchDismissed, DispatchStatus};

/// Why a dispatch's question could not be dismissed.
#[derive(Debug, thiserror::Error)]
pub enum DismissError {
    /// It does not wait for an answer: it ended otherwise, or is still under way.
    #[error("dispatch {id} is {status}: it asks nothing to dismiss")]
    NotAsking {
        /// The dispatch.
        id: DispatchId,
        /// What it is (`running`, `done`, `failed`, …).
        status: String,
    },
    /// Its question is settled already: dismissed, continued by a follow-up, or landed.
    #[error("dispatch {id}'s question is settled already: {how}")]
    Settled {
        /// The dispatch.
        id: DispatchId,
        /// How (`dismissed by ana`, `continued by D-…`, `merged`).
        how: String,
    },
    /// The ledger holds no attested completion for it, or receipts vnx did not write.
    #[error("the ledger holds no evidence vnx wrote for dispatch {id}'s end: {why}")]
    NoEvidence {
        /// The dispatch.
        id: DispatchId,
        /// What is missing or suspect.
        why: String,
    },
    /// The ledger could not be read or appended to.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl DismissError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            DismissError::NotAsking { id, .. } => format!("`vnx show {id}` shows its state"),
            DismissError::Settled { id, .. } => format!("`vnx show {id}` shows what followed"),
            DismissError::NoEvidence { id, .. } => {
                format!("`vnx audit-chain verify` and `vnx show {id}` show what the ledger holds")
            }
            DismissError::Ledger(_) => return None,
        })
    }
}

/// Which waiting questions `vnx dismiss` takes without naming them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every ended dispatch whose question waits (`--all-asking`).
    Asking,
    /// Those of them whose worker's last message asks nothing: it answered (or said what it
    /// did) and stopped without reporting (`--all-answered`; lists label them `said`).
    Answered,
}

/// The dispatches of `states` whose question waits and that `selection` takes, in order.
pub fn select(states: &[DispatchState], selection: Selection) -> Vec<&DispatchState> {
    states
        .iter()
        .filter(|s| s.state == State::Ended(DispatchStatus::NeedsInput) && s.waiting())
        .filter(|s| match selection {
            Selection::Asking => true,
            // A plan waits for a decision (`vnx approve`, `vnx deny`), whatever it says.
            Selection::Answered => !s.planning && s.question_label() == "said",
        })
        .collect()
}

/// Dismisses the question of `state`, an ended dispatch that needs input, and records
/// `dispatch_dismissed` signed by `attestor`.
pub fn dismiss(
    ledger: &Path,
    attestor: &Attestor,
    trusted: &[[u8; 32]],
    state: &DispatchState,
    by: &str,
    note: Option<&str>,
) -> Result<DispatchDismissed, DismissError> {
    let id = state.id.clone();
    if state.state != State::Ended(DispatchStatus::NeedsInput) {
        return Err(DismissError::NotAsking {
            id,
            status: state.state.name().to_owned(),
        });
    }
    let settled = match (&state.dismissed, &state.continued_by, state.landed) {
        (Some(d), ..) => Some(format!("dismissed by {}", d.by)),
        (_, Some(f), _) => Some(format!("continued by {f}")),
        (.., Some(_)) => Some("its work landed".to_owned()),
        _ => None,
    };
    if let Some(how) = settled {
        return Err(DismissError::Settled { id, how });
    }
    let ev = Evidence::read(ledger, &id, trusted)?;
    let unattested = ev.unattested_lines();
    if !unattested.is_empty() {
        return Err(DismissError::NoEvidence {
            id,
            why: format!("receipts vnx did not write: {}", unattested.join("; ")),
        });
    }
    let Some(completed) = &ev.completed else {
        return Err(DismissError::NoEvidence {
            id,
            why: "no attested dispatch_completed".into(),
        });
    };
    let receipt = DispatchDismissed {
        dispatch_id: id,
        completion: completed.reference(),
        question: completed
            .receipt
            .cli_events
            .as_ref()
            .and_then(|e| e.last_message.clone()),
        by: by.to_owned(),
        note: note.map(str::to_owned),
        extra: Default::default(),
    };
    attestor.record(ledger, &receipt)?;
    Ok(receipt)
}
