//! Pruning old dispatch and gate directories nothing needs any more (`vnx prune`): judged
//! first, so a front end can show what goes and what stays and ask, then judged again and
//! removed (what something came to need meanwhile stays), the gate checkouts killed gate runs
//! left first.

use std::time::{Duration, SystemTime};

use super::{ActionError, Desk};
use crate::ids::DispatchId;
use crate::release::prune::{self, CheckoutRemoved, PrunePlan, Pruned};
use crate::worktree::Repo;

/// What a prune did.
#[derive(Debug)]
pub struct Done {
    /// The dispatches planned whose directories something came to need meanwhile: kept.
    pub needed_again: Vec<DispatchId>,
    /// The leftover gate checkouts, each removed or not.
    pub checkouts: Vec<CheckoutRemoved>,
    /// The dispatches whose directories went, or did not.
    pub pruned: Vec<Pruned>,
}

impl Done {
    /// Whether something could not be removed.
    pub fn failed(&self) -> bool {
        self.pruned.iter().any(|d| d.error.is_some())
            || self.checkouts.iter().any(|r| r.error.is_some())
    }
}

/// What pruning the directories idle for longer than `older_than` at `now` would do.
pub fn plan(
    desk: &Desk<'_>,
    older_than: Duration,
    now: SystemTime,
) -> Result<PrunePlan, ActionError> {
    let ctx = desk.ctx;
    let repo = Repo::for_project(ctx.project)?;
    Ok(prune::plan(&repo, ctx.ledger, ctx.tmux, older_than, now)?)
}

/// Removes what `planned` (made with `older_than` at `now`) said goes and still does, judged
/// again now: while a front end asked, a follow-up may have brought one back.
pub fn prune(
    desk: &Desk<'_>,
    planned: &PrunePlan,
    older_than: Duration,
    now: SystemTime,
) -> Result<Done, ActionError> {
    let ctx = desk.ctx;
    let repo = Repo::for_project(ctx.project)?;
    let again = prune::plan(&repo, ctx.ledger, ctx.tmux, older_than, now)?;
    let (still, needed): (Vec<_>, Vec<_>) = (planned.prune.iter().cloned())
        .partition(|p| again.prune.iter().any(|a| a.dispatch_id == p.dispatch_id));
    // Only checkouts that are still leftovers (removing one takes its run's lock again).
    let checkouts: Vec<_> = (planned.gate_checkouts.iter())
        .filter(|c| again.gate_checkouts.iter().any(|a| a.path == c.path))
        .cloned()
        .collect();
    // The checkouts first: a gate directory removed with one still in it would leave its
    // registration behind.
    let checkouts = prune::remove_gate_checkouts(&repo, &checkouts);
    Ok(Done {
        needed_again: needed.into_iter().map(|p| p.dispatch_id).collect(),
        checkouts,
        pruned: prune::prune(&still),
    })
}

/// What `plan` removes, in words: "the directories of 2 dispatch(es), 1.5 KiB and 1 gate
/// checkout(s) killed gate runs left".
pub fn what(plan: &PrunePlan) -> String {
    let mut parts = Vec::new();
    if !plan.prune.is_empty() {
        let total: u64 = plan.prune.iter().map(|p| p.bytes).sum();
        parts.push(format!(
            "the directories of {} dispatch(es), {}",
            plan.prune.len(),
            human_bytes(total)
        ));
    }
    if !plan.gate_checkouts.is_empty() {
        parts.push(format!(
            "{} gate checkout(s) killed gate runs left",
            plan.gate_checkouts.len()
        ));
    }
    parts.join(" and ")
}

/// `n` bytes as a person reads them: `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / f64::from(1u32 << 30)),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
