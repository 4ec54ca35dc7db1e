//! The budgets a dispatch is held to as it is planned (ADR 0094, ADR 0100): its own (the
//! tightest of `--budget`, its role's and its chain's) and the project's day beside it, with
//! what the day's other dispatches used so far.

use crate::config::Config;
use crate::dispatch::{Context, DispatchError, Request};

/// The budget the worker is held to while it runs (ADR 0094); the project's day is held
/// beside it (`Spec::project_day`).
pub(super) fn budget_of(
    ctx: &Context<'_>,
    req: &Request,
    config: &Config,
    model: Option<&str>,
) -> Result<Option<crate::receipts::Budget>, DispatchError> {
    let limits = crate::dispatch::budget::Limits {
        asked: req.budget.as_ref(),
        role: config.roles.get(&req.role).and_then(|r| r.budget.as_ref()),
        continues: req
            .continues
            .as_ref()
            .map(|c| (&c.started.dispatch_id, c.started.budget.as_ref())),
        prices: Some((&config.prices, model)),
    };
    if limits.asked.is_none()
        && limits.role.is_none()
        && limits.continues.is_none_or(|(_, b)| b.is_none())
    {
        return Ok(None);
    }
    Ok(crate::dispatch::budget::resolve(ctx.ledger, &limits)?)
}

/// The project's day budget, raised as people raised it today, with what the day's other
/// dispatches used so far (ADR 0100).
pub(super) fn project_day(
    ctx: &Context<'_>,
    config: &Config,
) -> Result<Option<crate::receipts::Budget>, DispatchError> {
    let Some(day) = config.budget.project_day.as_ref() else {
        return Ok(None);
    };
    let live = crate::dispatch::budget::day::live_dir(&ctx.project.data_dir());
    let now = jiff::Timestamp::now();
    let prices = Some(&config.prices);
    Ok(Some(crate::dispatch::budget::day::of_project_day(
        ctx.ledger, day, now, prices, &live,
    )?))
}
