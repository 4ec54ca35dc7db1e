//! The gates `vnx merge` runs itself before it checks a dispatch's conditions: the role's
//! required gates that have no current pass for the head it merges, run and recorded exactly
//! as `vnx gate-check` runs them. The gates still decide: a gate that fails holds the merge,
//! and one whose latest result for the head is a failure is not run again.

use super::MergeError;
use crate::evidence::Evidence;
use crate::gate::{self, Report};
use crate::ids::DispatchId;

/// The required gates dispatch `id` has no current pass for (see
/// [`super::conditions::gates_without_a_pass`]); empty when there is nothing `merge` should
/// run, including for a dispatch that is unknown, not done or whose role names no gates.
pub fn gates_to_run(ctx: &gate::Context<'_>, id: &DispatchId) -> Result<Vec<String>, MergeError> {
    let config_path = crate::project::Project::at(ctx.root).config_path();
    if config_path.symlink_metadata().is_err() {
        return Ok(Vec::new());
    }
    let config = crate::config::load(&config_path)?;
    let ev = Evidence::read(ctx.ledger, id, ctx.trusted_keys)?;
    Ok(super::conditions::gates_without_a_pass(&config, &ev, id))
}

/// Runs `gates` of dispatch `id` (what [`gates_to_run`] named) and records their evidence and
/// a `gate_report`, as `vnx gate-check` does.
pub fn run_gates(
    ctx: &gate::Context<'_>,
    id: &DispatchId,
    gates: &[String],
) -> Result<Report, MergeError> {
    gate::check_selected(ctx, id, Some(gates)).map_err(|e| MergeError::Gate {
        id: id.to_string(),
        source: Box::new(e),
    })
}
