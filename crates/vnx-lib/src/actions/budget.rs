//! A dispatch stopped at its budget (ADR 0094) raised and continued: `vnx approve ID
//! --budget +N`, the MCP's and the web page's raise. The dispatch must wait on its budget (a
//! `budget_reached` is its last word, and nothing continued it yet); a signed
//! `budget_raised` records the new limit and who raised it, then a follow-up continues the
//! same session in the same worktree, held to the raised budget with everything its chain
//! used counted. The new limit is the reached one plus N, so running it again after a
//! follow-up that failed to start records the same limit, not a second raise. Its dollars
//! are raised likewise (`--budget +$X`, ADR 0098); a raise must raise the limit the
//! dispatch was stopped at. A dispatch stopped by the project's day budget (ADR 0100) has
//! the day raised likewise (`budget: project_day`), for every dispatch of the day: the day's
//! limit is then the highest it was raised to today.

use crate::actions::follow_up::{self, FollowUp, Told};
use crate::actions::start::Started;
use crate::actions::{ActionError, Desk};
use crate::dispatch::budget::day::PROJECT_DAY;
use crate::dispatch::budget::{Raise, dollars, of_the_day, to_millionth};
use crate::dispatch::state::BudgetNote;
use crate::dispatch::view::DispatchState;
use crate::ids::DispatchId;
use crate::receipts::BudgetRaised;

/// What a raise did: its receipt and the follow-up that goes on.
#[derive(Debug)]
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

/// Raises the budget of dispatch `id`, which waits on it, by `add` (tokens, US dollars or
/// both; the limit it was stopped at among them) and continues it (see the module's
/// documentation); `told` hears what the follow-up's start says.
pub fn raise(
    desk: &Desk<'_>,
    id: &DispatchId,
    add: &Raise,
    told: &dyn Fn(Told),
) -> Result<Raised, ActionError> {
    let states = desk.states()?;
    let state = Desk::named(&states, std::slice::from_ref(id))?[0];
    let Some(note) = waits(state) else {
        return Err(ActionError::NoBudgetReached { id: id.clone() });
    };
    let misses = if note.by_cost {
        (add.usd <= 0.0).then_some("cost")
    } else {
        (add.tokens == 0).then_some("tokens")
    };
    if let Some(limit) = misses {
        return Err(ActionError::RaiseMissesLimit {
            id: id.clone(),
            limit,
        });
    }
    let cost_limit = note
        .cost_micros
        .map(|(_, limit)| limit as f64 / 1_000_000.0);
    let raises_cost = cost_limit.is_some() && add.usd > 0.0;
    let receipt = BudgetRaised {
        dispatch_id: id.clone(),
        added_tokens: if note.limit > 0 { add.tokens } else { 0 },
        tokens_limit: if note.limit > 0 {
            note.limit.saturating_add(add.tokens)
        } else {
            0
        },
        added_usd: raises_cost.then_some(to_millionth(add.usd)),
        cost_limit_usd: cost_limit
            .map(|l| to_millionth(l + if raises_cost { add.usd } else { 0.0 })),
        budget: note.project_day.then(|| PROJECT_DAY.to_owned()),
        by: desk.by.to_owned(),
        extra: Default::default(),
    };
    desk.record(&receipt)?;
    let mut asked = FollowUp::of(id.clone());
    asked.instruction = instruction(&receipt, note);
    let follow_up = follow_up::follow_up(desk, &asked, told)?;
    Ok(Raised { receipt, follow_up })
}

/// What the follow-up's worker is told.
fn instruction(raised: &BudgetRaised, note: &BudgetNote) -> String {
    let used = match note
        .cost_micros
        .and_then(|(used, _)| used)
        .filter(|_| note.by_cost)
    {
        Some(m) => dollars(m as f64 / 1_000_000.0),
        None => format!("{} tokens", note.used),
    };
    let whose = match note.project_day {
        true => "The project's budget for the day",
        false => "Your budget",
    };
    format!(
        "{whose} was used up ({used}) and you were stopped. {} raised it {}. Continue the \
         task from where you stopped.",
        raised.by,
        raised_by(raised)
    )
}

/// "by N tokens, to M in all", "by $X, to $Y in all", or both.
fn raised_by(r: &BudgetRaised) -> String {
    let mut parts = Vec::new();
    if r.added_tokens > 0 {
        parts.push(format!(
            "by {} tokens, to {} in all",
            r.added_tokens, r.tokens_limit
        ));
    }
    if let (Some(add), Some(to)) = (r.added_usd, r.cost_limit_usd) {
        parts.push(format!("by {}, to {} in all", dollars(add), dollars(to)));
    }
    parts.join(" and ")
}

/// The line that says what a raise did: `budget raised by N tokens, to M in all: D-…
/// continues it` (dollars likewise).
pub fn line(raised: &Raised) -> String {
    let line = format!(
        "budget raised {}: {} continues it",
        raised_by(&raised.receipt),
        raised.follow_up.id()
    );
    of_the_day(line, raised.receipt.budget.as_deref() == Some(PROJECT_DAY))
}
