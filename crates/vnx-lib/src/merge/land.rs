//! Landing one dispatch whose conditions hold, on the base's current head: the `merge`
//! receipt, the merge commit made as an object (`form`), the role's command gates run on that
//! commit when its tree is not the head's (ADR 0031), and only when they pass the base moved
//! to it, `merge_completed` and a checkpoint. A gate that fails on the merge result takes the
//! dispatch out (`merge_dequeued`) and leaves the base where it was.

use crate::ids::{CommitId, DispatchId};
use serde::Serialize;

use super::conditions::{GateEvidence, Plan};
use super::form::{self, Formed};
use super::{Context, Event, MergeError, Merged, anchor};
use crate::config::Config;
use crate::evidence::Evidence;
use crate::gate::on_merge::{self, MergeGates};
use crate::gate::{GateOutcome, Status};
use crate::ledger::Appended;
use crate::receipts::{
    DequeueReason, MergeCompleted, MergeDequeued, MergeFailed, MergePlanned, MergeStatus, OnMerge,
};
use crate::worktree::Repo;

/// How the queue forms merges, as the `merge` receipt's `strategy` records it.
pub const STRATEGY: &str = "merge queue: git merge-tree --write-tree, git commit-tree, \
                            command gates on the merge commit, fast-forward of the base";

/// A dispatch the queue took out, and the receipt that says why.
#[derive(Debug, Serialize)]
pub struct Dequeued {
    /// `conflict` or `gates_failed`.
    pub reason: DequeueReason,
    /// Why, in words.
    pub detail: String,
    /// The base's head it was tried on (where the base still is).
    pub base_tip: CommitId,
    /// The paths that conflict.
    pub conflicts: Vec<String>,
    /// The merge commit the gates failed on (never reached by the base).
    pub merge_commit: Option<CommitId>,
    /// The command gates that ran on the merge commit.
    pub gates: Vec<GateEvidence>,
    /// The `merge_dequeued` receipt.
    pub receipt: Appended,
}

/// What landing one dispatch did.
pub(super) enum Landing {
    Merged(Box<Merged>),
    Dequeued(Box<Dequeued>),
}

/// Appends `merge_dequeued` for `plan`'s dispatch and describes it.
pub(super) fn dequeue(
    ctx: &Context<'_>,
    plan: &Plan,
    reason: DequeueReason,
    detail: String,
    conflicts: Vec<String>,
    merge: Option<(&Appended, &CommitId)>,
    gates: Vec<GateEvidence>,
) -> Result<Dequeued, MergeError> {
    let id = plan.dispatch_id.clone();
    let (Some(base_tip), Some(head_commit)) = (plan.base_tip.clone(), plan.head_commit.clone())
    else {
        return Err(unplanned(&id));
    };
    let receipt = ctx.append(&MergeDequeued {
        dispatch_id: id.clone(),
        status: MergeStatus::Dequeued,
        reason,
        failure_reason: detail.clone(),
        base_ref: plan.base_ref.clone().unwrap_or_default(),
        base_tip: base_tip.clone(),
        head_commit,
        conflicts: conflicts.clone(),
        merge_receipt: merge.map(|(r, _)| r.entry_hash.clone()),
        merge_receipt_seq: merge.map(|(r, _)| r.seq),
        merge_commit: merge.map(|(_, c)| c.clone()),
        gates: gates.clone(),
        extra: Default::default(),
    })?;
    (ctx.on_event)(Event::Dequeued {
        id: id.as_str(),
        reason,
        detail: &detail,
    });
    Ok(Dequeued {
        reason,
        detail,
        base_tip,
        conflicts,
        merge_commit: merge.map(|(_, c)| c.clone()),
        gates,
        receipt,
    })
}

/// Takes out a dispatch whose conditions refused it because its head conflicts with the
/// base's current head; `None` when that is not why (a refusal, which writes nothing).
pub(super) fn dequeue_conflict(
    ctx: &Context<'_>,
    repo: &Repo,
    plan: &Plan,
) -> Result<Option<Dequeued>, MergeError> {
    let Some(failed) = plan.first_failed() else {
        return Ok(None);
    };
    let (Some(tip), Some(head)) = (&plan.base_tip, &plan.head_commit) else {
        return Ok(None);
    };
    if failed.name != "base_compatible" {
        return Ok(None);
    }
    match form::merge_tree(repo, tip.as_str(), head.as_str(), None) {
        Ok(Formed::Conflict(paths)) => {
            let detail = format!(
                "{} conflicts with {} at {tip} in {}",
                head,
                plan.base_ref.as_deref().unwrap_or("the base"),
                paths.join(", ")
            );
            dequeue(
                ctx,
                plan,
                DequeueReason::Conflict,
                detail,
                paths,
                None,
                Vec::new(),
            )
            .map(Some)
        }
        _ => Ok(None),
    }
}

/// Lands `plan`'s dispatch (every condition holds) on the base's head the plan read.
pub(super) fn land(
    ctx: &Context<'_>,
    config: &Config,
    repo: &Repo,
    plan: &Plan,
) -> Result<Landing, MergeError> {
    let id = &plan.dispatch_id;
    let (Some(head), Some(tip)) = (plan.head_commit.clone(), plan.base_tip.clone()) else {
        return Err(unplanned(id));
    };
    let branch = plan.branch.clone().unwrap_or_default();
    let base_ref = plan.base_ref.clone().unwrap_or_default();
    let tree = plan.merge_tree.clone().unwrap_or_default();
    let conditions = plan.conditions.iter().map(|c| c.name.to_owned()).collect();
    let merge_receipt = ctx.append(&MergePlanned {
        dispatch_id: id.clone(),
        status: MergeStatus::Planned,
        role: plan.role.clone(),
        branch: branch.clone(),
        head_commit: head.clone(),
        base_ref: base_ref.clone(),
        base_commit: plan.base_commit.clone(),
        base_tip: plan.base_tip.clone(),
        base_moved: plan.base_moved,
        merge_tree: plan.merge_tree.clone(),
        strategy: STRATEGY.to_owned(),
        gates: plan.gates.clone(),
        conditions,
        checkpoint: plan.checkpoint.clone(),
        completion: plan.completion.clone(),
        acceptance: plan.acceptance.clone(),
        by: ctx.by.map(str::to_owned),
        extra: Default::default(),
    })?;
    crate::steps::reached(crate::steps::merge::RECEIPT_APPENDED);
    let short_base = base_ref.trim_start_matches("refs/heads/");
    let message = [
        format!("Merge {branch} into {short_base}"),
        format!(
            "VNX-Dispatch: {id}\nVNX-Receipt: {}",
            merge_receipt.entry_hash
        ),
    ];
    let made = form::commit_tree(repo, &tree, tip.as_str(), head.as_str(), &message);
    let commit = match made {
        Ok(c) => c,
        Err(source) => return Err(failed(ctx, id, &merge_receipt, source)?),
    };
    crate::steps::reached(crate::steps::merge::COMMIT_FORMED);
    (ctx.on_event)(Event::Formed {
        id: id.as_str(),
        merge_commit: commit.as_str(),
        base_tip: tip.as_str(),
    });

    // What the base would become is checked before it becomes it (ADR 0031).
    let head_tree = form::tree_of(repo, head.as_str())?;
    let mut merge_result_gates = Vec::new();
    if head_tree != tree {
        let required = crate::gate::required_gates(config, plan.role.as_deref(), &plan.asked_gates)
            .map_err(|detail| MergeError::Refused {
                id: id.to_string(),
                condition: "gates_passed",
                detail,
            })?;
        let on = OnMerge {
            dispatch_head: head.clone(),
            base_ref: base_ref.clone(),
            base_tip: tip.clone(),
        };
        let on_gate = |e: crate::gate::Event<'_>| (ctx.on_event)(Event::Gate(e));
        let gates = MergeGates {
            root: ctx.reading.root,
            ledger: ctx.reading.ledger,
            attestor: ctx.attestor,
            trusted_keys: ctx.reading.trusted_keys,
            on_event: &on_gate,
        };
        let outcomes = on_merge::run(&gates, config, id, &branch, &commit, &on, &required)
            .map_err(|source| MergeError::Gate {
                id: id.to_string(),
                source: Box::new(source),
            })?;
        merge_result_gates = evidence_of(ctx, id, commit.as_str(), &outcomes)?;
        let failing: Vec<&GateOutcome> = outcomes
            .iter()
            .filter(|o| o.status != Status::Pass)
            .collect();
        if !failing.is_empty() {
            let detail = failing
                .iter()
                .map(|o| {
                    format!(
                        "gate `{}` {} on the merge result {commit}: {}",
                        o.gate,
                        o.status.name(),
                        o.reason.as_deref().unwrap_or("(no reason)")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            let out = dequeue(
                ctx,
                plan,
                DequeueReason::GatesFailed,
                detail,
                Vec::new(),
                Some((&merge_receipt, &commit)),
                merge_result_gates,
            )?;
            return Ok(Landing::Dequeued(Box::new(out)));
        }
    }
    if let Err(source) = form::advance(repo, &base_ref, tip.as_str(), commit.as_str()) {
        return Err(failed(ctx, id, &merge_receipt, source)?);
    }
    crate::steps::reached(crate::steps::merge::BASE_MOVED);
    let tree_now = form::tree_of(repo, commit.as_str())?;
    let completed_receipt = ctx.append(&MergeCompleted {
        dispatch_id: id.clone(),
        status: MergeStatus::Merged,
        merge_receipt: merge_receipt.entry_hash.clone(),
        merge_receipt_seq: merge_receipt.seq,
        merge_commit: commit.clone(),
        tree: tree_now.clone(),
        tree_as_planned: tree_now == tree,
        branch,
        head_commit: head,
        base_ref,
        merge_result_gates: merge_result_gates.clone(),
        resumed: None,
        extra: Default::default(),
    })?;
    crate::steps::reached(crate::steps::merge::COMPLETED_APPENDED);
    let r = &ctx.reading;
    let key = r.key.expect("checked before merging");
    let checkpoint = anchor(r.ledger, key, r.threads, r.witness_dir).map_err(|source| {
        MergeError::CheckpointAfterMerge {
            id: id.to_string(),
            commit: commit.to_string(),
            source,
        }
    })?;
    let attestation = super::attestation::write(ctx, id, &commit);
    promote_memory(ctx, config, plan.role.as_deref(), id);
    (ctx.on_event)(Event::Landed {
        id: id.as_str(),
        merge_commit: commit.as_str(),
    });
    Ok(Landing::Merged(Box::new(Merged {
        merge_receipt,
        tree_as_planned: tree_now == tree,
        merge_commit: commit,
        merge_result_gates,
        completed_receipt,
        checkpoint,
        attestation,
    })))
}

/// A role whose `promote_memory:` is set has what its merged dispatch's worker wrote to its
/// CLI's memory (its chain's, in its folder) promoted by the merge, a rule in place of a
/// person (ADR 0126): a signed `memory_promoted` whose `by` names the rule. Best effort: the
/// merge has happened; nothing to promote is no error, and a failure leaves it to a person.
fn promote_memory(ctx: &Context<'_>, config: &Config, role: Option<&str>, id: &DispatchId) {
    let Some(role) = role.filter(|r| config.roles.get(*r).is_some_and(|c| c.promote_memory)) else {
        return;
    };
    let r = &ctx.reading;
    let index =
        crate::dispatch::fold::index::path_in(&crate::project::Project::at(r.root).data_dir());
    let options = r.index_only(&index, ctx.attestor);
    let Ok(lines) = crate::dispatch::fold::lines_about(r.ledger, &options, id) else {
        return;
    };
    let ev = crate::evidence::Evidence::of_lines(&lines, id, r.trusted_keys);
    let Some(provider) = ev.started.map(|s| s.receipt.provider) else {
        return;
    };
    let by = format!("rule roles.{role}.promote_memory");
    let change = crate::memory::Change {
        ledger: r.ledger,
        attestor: ctx.attestor,
        trusted: r.trusted_keys,
        provider: &provider,
        by: &by,
        note: Some("promoted by its merge"),
    };
    let dispatch_dir = crate::dispatch::dir_of(r.root, id);
    let dir = crate::provider::cli::memory_folder(&provider, &dispatch_dir, r.root);
    let _ = crate::memory::promote(&change, id, &dir, &[]);
}

/// The error for a plan that lacks the head or the base tip a landing needs (its conditions
/// would have refused it).
fn unplanned(id: &DispatchId) -> MergeError {
    MergeError::Refused {
        id: id.to_string(),
        condition: "base_compatible",
        detail: "the plan records no head commit or no base tip".into(),
    }
}

/// Records `merge_failed` after the `merge` receipt, and the error to return.
fn failed(
    ctx: &Context<'_>,
    id: &DispatchId,
    merge_receipt: &Appended,
    source: crate::process::ProcessError,
) -> Result<MergeError, MergeError> {
    ctx.append(&MergeFailed {
        dispatch_id: id.clone(),
        status: MergeStatus::Failed,
        merge_receipt: merge_receipt.entry_hash.clone(),
        merge_receipt_seq: merge_receipt.seq,
        failure_reason: source.to_string(),
        extra: Default::default(),
    })?;
    Ok(MergeError::GitMerge {
        id: id.to_string(),
        source,
    })
}

/// Each outcome's evidence as the ledger holds it (its attested `gate_result` line).
fn evidence_of(
    ctx: &Context<'_>,
    id: &DispatchId,
    commit: &str,
    outcomes: &[GateOutcome],
) -> Result<Vec<GateEvidence>, MergeError> {
    let ev = Evidence::read(ctx.reading.ledger, id, ctx.reading.trusted_keys)?;
    Ok(outcomes
        .iter()
        .map(|o| {
            let line = ev
                .latest_result(&o.gate, commit)
                .filter(|r| r.receipt.contract_hash == o.contract_hash);
            GateEvidence {
                gate: o.gate.clone(),
                status: o.status.name().to_owned(),
                contract_hash: Some(o.contract_hash.clone()),
                run: line.map(|r| r.receipt.run.clone()),
                result_seq: line.and_then(|r| r.seq()),
                result_line_sha256: line.map(|r| r.line.line_sha256.clone()),
            }
        })
        .collect())
}
