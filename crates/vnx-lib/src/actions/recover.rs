//! Recovering lost dispatches (`vnx recover`, and `vnx resume` for one whose worker had
//! reported): each end recorded from its worker's sealed report, as its supervisor would
//! have, whatever became of the ones before it.

use super::{ActionError, Desk};
use crate::dispatch::state::DispatchState;
use crate::dispatch::supervise::recover::{self, Recovered, Recovery};
use crate::worktree::Repo;

/// Records the end of each of `chosen` from its worker's sealed report; a refusal (not lost,
/// no sealed report) or a failure is that dispatch's outcome, in `chosen`'s order, and the
/// next is tried.
pub fn recover(
    desk: &Desk<'_>,
    chosen: &[&DispatchState],
) -> Result<Vec<Result<Recovered, ActionError>>, ActionError> {
    let project = desk.ctx.project;
    let (repo, config) = (Repo::for_project(project)?, project.load_config()?);
    let recovery = Recovery {
        repo: &repo,
        ledger: desk.ctx.ledger,
        trusted: desk.trusted,
        attestor: desk.ctx.attestor,
        config: &config,
    };
    Ok(chosen
        .iter()
        .map(|s| recover::recover(&recovery, s).map_err(ActionError::from))
        .collect())
}

/// Records the end of lost dispatch `state` from its worker's sealed report (`vnx resume`,
/// for one whose worker had reported).
pub fn one(desk: &Desk<'_>, state: &DispatchState) -> Result<Recovered, ActionError> {
    recover(desk, &[state])?.remove(0)
}
