//! Closing ended dispatches' questions without answering them (`vnx dismiss`, the
//! dashboard's `i`), each with a signed `dispatch_dismissed` naming who dismissed it.

use super::{ActionError, Desk};
use crate::dispatch::dismiss::{self, Selection};
use crate::ids::DispatchId;
use crate::receipts::DispatchDismissed;

/// Which questions to dismiss: those named, and those a selection takes.
#[derive(Clone, Debug, Default)]
pub struct Which {
    /// The dispatches named, in order.
    pub ids: Vec<DispatchId>,
    /// Every waiting question a selection takes, after those named.
    pub selection: Option<Selection>,
}

/// One dispatch's dismissal: its receipt, or why it was refused (one refusal stops none of
/// the others: each is its own decision).
pub type Dismissed = (DispatchId, Result<DispatchDismissed, ActionError>);

/// Dismisses the questions `which` takes, with `note` recorded with each; none when no
/// question waits. A dispatch named that is not on the ledger refuses them all before any
/// is dismissed.
pub fn dismiss(
    desk: &Desk<'_>,
    which: &Which,
    note: Option<&str>,
) -> Result<Vec<Dismissed>, ActionError> {
    let states = desk.states()?;
    let mut chosen = Desk::named(&states, &which.ids)?;
    if let Some(selection) = which.selection {
        for s in dismiss::select(&states, selection) {
            if !chosen.iter().any(|c| c.id == s.id) {
                chosen.push(s);
            }
        }
    }
    Ok(chosen
        .into_iter()
        .map(|state| {
            let done = dismiss::dismiss(
                desk.ctx.ledger,
                desk.ctx.attestor,
                desk.trusted,
                state,
                desk.by,
                note,
            );
            (state.id.clone(), done.map_err(ActionError::from))
        })
        .collect())
}

/// The line that says a question was dismissed. `by` is a person's name: a front end escapes
/// it.
pub fn line(receipt: &DispatchDismissed) -> String {
    format!("question dismissed by {}; it waits for no one", receipt.by)
}
