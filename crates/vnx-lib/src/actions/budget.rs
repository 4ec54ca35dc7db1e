//! A dispatch stopped at its budget (ADR 0094) raised and continued: `vnx approve ID
//! --budget +N`, the MCP's and the web page's raise. The dispatch must wait on its budget (a
//! `budget_reached` is its last word, and nothing continued it yet); a signed
//! `budget_raised` records the new limit and who raised it, then a follow-up continues the
//! same session in the same worktree, held to the raised budget with everything its chain
//! used counted. The new limit is the reached one plus N, so running it again after a
//! follow-up that failed to start records the same limit, not a second raise.

use crate::actions::follow_up::{self, FollowUp, Told};
use crate::actions::start::Started;
use crate::actions::{ActionError, Desk};
use crate::dispatch::state::BudgetNote;
use crate::dispatch::view::DispatchState;
use crate::ids::DispatchId;
use crate::ledger::{Ledger, now_utc};
use crate::receipts::{self, BudgetRaised};

/// What a raise did: its receipt and the follow-up that goes on.
pub struct Raised {
    /// The signed `budget_raised`.
    pub receipt: BudgetRaised,
    /// The follow-up that continues the session.
    pub follow_up: Started,
}

/// The budget a dispatch waits on: reached, and not continued, dismissed or landed since
/// (raised but not continued: its follow-up failed to start, so it may be raised again).
pub fn waits(state: &DispatchState) -> Option<&BudgetNote> {
    state
        .budget
        .as_ref()
        .filter(|b| b.reached && state.waiting())
}

/// Raises the budget of dispatch `id`, which waits on it, by `add_tokens` (above 0) and
/// continues it (see the module's documentation); `told` hears what the follow-up's start
/// says.
pub fn raise(
    desk: &Desk<'_>,
    id: &DispatchId,
    add_tokens: u64,
    told: &dyn Fn(Told),
) -> Result<Raised, ActionError> {
    let states = desk.states()?;
    let state = Desk::named(&states, std::slice::from_ref(id))?[0];
    let Some(note) = waits(state) else {
        return Err(ActionError::NoBudgetReached { id: id.clone() });
    };
    let receipt = BudgetRaised {
        dispatch_id: id.clone(),
        added_tokens: add_tokens,
        tokens_limit: note.limit.saturating_add(add_tokens),
        by: desk.by.to_owned(),
        extra: Default::default(),
    };
    let line = desk
        .ctx
        .attestor
        .attest(&receipts::write(&receipt), &now_utc);
    Ledger::new(desk.ctx.ledger).append(&line)?;
    let mut asked = FollowUp::of(id.clone());
    asked.instruction = instruction(&receipt, note.used);
    let follow_up = follow_up::follow_up(desk, &asked, told)?;
    Ok(Raised { receipt, follow_up })
}

/// What the follow-up's worker is told.
fn instruction(raised: &BudgetRaised, used: u64) -> String {
    format!(
        "Your token budget was used up ({used} tokens) and you were stopped. {} raised it by \
         {} tokens, to {} in all. Continue the task from where you stopped.",
        raised.by, raised.added_tokens, raised.tokens_limit
    )
}

/// The line that says what a raise did: `budget raised to N tokens: D-… continues it`.
pub fn line(raised: &Raised) -> String {
    format!(
        "budget raised by {} to {} tokens: {} continues it",
        raised.receipt.added_tokens,
        raised.receipt.tokens_limit,
        raised.follow_up.id()
    )
}
