//! Accepting an ended dispatch's work as done by hand (`vnx accept`, the dashboard's `d`),
//! when its worker ended without `vnx report`: what it left uncommitted committed by vnx
//! first, then a signed `dispatch_accepted` naming who accepted which commit.

use super::{ActionError, Desk};
use crate::dispatch::accept::{self, Accepting};
use crate::ids::DispatchId;
use crate::receipts::DispatchAccepted;

/// Accepts dispatch `id`'s work as done, with `note` recorded.
pub fn accept(
    desk: &Desk<'_>,
    id: &DispatchId,
    note: Option<&str>,
) -> Result<DispatchAccepted, ActionError> {
    let mut states = desk.states()?;
    let state = Desk::named(&states, std::slice::from_ref(id))?[0];
    // Work a worker left uncommitted in a place is committed there by the place's vnx and
    // brought here first; what is accepted is then read here, as for any dispatch.
    if let Some(place) = state.place.place().cloned()
        && state.teardown_class == Some(crate::receipts::TeardownClass::Dirty)
        && state.landed.is_none()
        && !state.state.is_live()
    {
        super::remote::accept_in_place(desk, &place, id)?;
        states = desk.states()?;
    }
    let state = Desk::named(&states, std::slice::from_ref(id))?[0];
    let config = desk.ctx.project.load_config()?;
    let accepting = Accepting {
        ledger: desk.ctx.ledger,
        root: &desk.ctx.project.root,
        config: &config,
        attestor: desk.ctx.attestor,
        trusted: desk.trusted,
        by: desk.by,
    };
    Ok(accept::accept(&accepting, state, note)?)
}

/// The lines that say what was accepted: the commit vnx made of what the worker left, if it
/// made one, then the acceptance. `by` is a person's name: a front end escapes the lines.
pub fn lines(receipt: &DispatchAccepted) -> Vec<String> {
    let id = &receipt.dispatch_id;
    let committed = receipt.vnx_commit.as_ref().map(|c| {
        format!(
            "committed what its worker left uncommitted: {} ({} file{})",
            c.commit,
            c.files_total,
            if c.files_total == 1 { "" } else { "s" }
        )
    });
    committed
        .into_iter()
        .chain([format!(
            "accepted as done at {} by {} (it had ended {}); `vnx merge {id}` merges it",
            receipt.head_commit, receipt.by, receipt.previous_status
        )])
        .collect()
}
