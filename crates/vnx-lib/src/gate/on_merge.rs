//! Command gates run on a merge result: the merge queue's check that what the base would become
//! (the dispatch's head merged into the base's current head) still passes, before the base
//! moves to it. Each gate runs as `gate-check` runs it — its request, a fresh detached checkout
//! of the merge commit, its result — and its receipts carry `on_merge` (the dispatch's head and
//! the base's head the merge was formed on), with the merge commit as their `head_commit`.
//! Review and screenshots gates are not run here: ADR 0031 says why the queue reuses their
//! verdict on the head (ADR 0125: a screenshots gate's images are of the worker's own work).
//! A sandboxed dispatch's gates run in its sandbox (ADR 0032), as `gate-check` runs them.

use crate::ids::{CommitId, DispatchId};
use std::path::Path;

use super::{Context, Event, GateError, GateOutcome, exec, new_run_id};
use crate::config::{Config, GateKind};
use crate::ledger::attest::Attestor;
use crate::receipts::OnMerge;

/// What running gates on a merge result needs.
pub struct MergeGates<'a> {
    /// The main checkout's root.
    pub root: &'a Path,
    /// The ledger the receipts go to.
    pub ledger: &'a Path,
    /// Signs the gate receipts.
    pub attestor: &'a Attestor,
    /// The keys whose attestations count.
    pub trusted_keys: &'a [[u8; 32]],
    /// Told when each gate starts and ends.
    pub on_event: &'a (dyn Fn(Event<'_>) + Sync),
}

/// The gates among `required` that are command gates: those the queue runs on a merge result.
pub fn command_gates(config: &Config, required: &[String]) -> Vec<String> {
    required
        .iter()
        .filter(|name| {
            config
                .gates
                .get(name.as_str())
                .is_some_and(|def| matches!(def.kind, GateKind::Command { .. }))
        })
        .cloned()
        .collect()
}

/// Runs the command gates among `gates` for dispatch `id` on `merge_commit`, one after the
/// other, and records each (`gate_request`, `gate_result`, both with `on_merge`). Names that
/// are not command gates are skipped. A gate that could not run is a result, not an error.
pub fn run(
    g: &MergeGates<'_>,
    config: &Config,
    id: &DispatchId,
    branch: &str,
    merge_commit: &CommitId,
    on: &OnMerge,
    gates: &[String],
) -> Result<Vec<GateOutcome>, GateError> {
    let repo = crate::worktree::Repo::discover(g.root)?;
    // The merge result holds what the dispatch's worker wrote: a sandboxed dispatch's gates
    // run in its sandbox here too, as its attested start records it.
    let ev = crate::evidence::Evidence::read(g.ledger, id, g.trusted_keys)?;
    let Some(started) = &ev.started else {
        return Err(GateError::UnknownDispatch {
            id: id.to_string(),
            ledger: g.ledger.to_owned(),
        });
    };
    let run = format!("{}-merge", new_run_id());
    let run_dir = super::make_run_dir(g.root, id, &run)?;
    // Only command gates run here, so no reviewer is ever looked up or started.
    let no_program = |_: &str| None;
    let ctx = Context {
        root: g.root,
        ledger: g.ledger,
        vnx: Path::new("vnx"),
        find_program: &no_program,
        on_event: g.on_event,
        attestor: g.attestor,
        trusted_keys: g.trusted_keys,
    };
    let shared = exec::Shared {
        ctx: &ctx,
        config,
        repo: &repo,
        id,
        run: &run,
        run_dir: &run_dir,
        head: merge_commit,
        base: &on.base_tip,
        branch,
        instruction_sha256: None,
        on_merge: Some(on),
        sandbox: started.receipt.sandbox.as_ref(),
        port: None,
    };
    let mut outcomes = Vec::new();
    for name in command_gates(config, gates) {
        let def = &config.gates[&name];
        outcomes.push(exec::run_gate(&shared, &name, def)?);
    }
    Ok(outcomes)
}
