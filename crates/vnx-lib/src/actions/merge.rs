//! Merging dispatches (`vnx merge`, the dashboard's `m`): a best-of candidate refused unless
//! it won (or the refusal is overridden), the required gates that have no current pass run
//! first and the ledger anchored after them (or, where nothing anchors it yet, its first
//! checkpoint made), then each dispatch merged through the queue (or
//! only its conditions checked): several in the conflict radar's order, the ones sharing the
//! fewest files with the others first (`radar::order`), unless the order given is asked for.

use super::gate::{Anchoring, anchor};
use super::{ActionError, Desk};
use crate::gate::{self, Report};
use crate::ids::DispatchId;
use crate::merge::{self, Entry, EntryResult, Plan};

/// What merging is asked to do besides the ids.
pub struct Merging {
    /// Only check each dispatch's conditions: no gate runs, nothing merges.
    pub check_only: bool,
    /// Merge a best-of candidate that is not its group's winner anyway.
    pub override_group: bool,
    /// How the ledger is anchored after gates ran.
    pub anchoring: Anchoring,
    /// Merge several in the order given, not the radar's.
    pub as_given: bool,
}

/// What a merge tells as it goes.
pub enum Told<'a> {
    /// The order several dispatches merge in, and why (said before anything runs).
    Order(&'a crate::radar::Ordered),
    /// A candidate's group objects to it, and the objection was overridden.
    GroupOverridden {
        /// The objection.
        objection: &'a str,
    },
    /// Gates a dispatch requires have no current pass for its head: they run first.
    MissingGates {
        /// The dispatch.
        id: &'a DispatchId,
        /// The gates.
        gates: &'a [String],
    },
    /// A gate started or ended.
    Gate(gate::Event<'a>),
    /// The gates run first reported.
    GatesRan {
        /// The dispatch.
        id: &'a DispatchId,
        /// Their report.
        report: &'a Report,
    },
    /// The ledger could not be anchored after the gates (the merge's `checkpoint_extended`
    /// condition says what that means for it).
    NotAnchored(String),
    /// Nothing anchored the ledger yet (no checkpoint on the ref, none witnessed): its first
    /// checkpoint was made, after the ledger verified, before the conditions were checked
    /// (ADR 0102).
    FirstCheckpoint(&'a crate::ledger::checkpoint::CheckpointOutcome),
    /// What the merge queue is doing.
    Merge(merge::Event<'a>),
    /// The place vnx made for a merged dispatch (its container and volume, its pod and
    /// claim) was removed, or could not be.
    PlaceRemoved(&'a super::remote::PlaceRemoved),
}

/// Merges `ids` (or checks them, `merging.check_only`), telling `told` as it goes; each
/// dispatch's entry, in order. Several ids must all be on the ledger before anything runs.
pub fn merge(
    desk: &Desk<'_>,
    ids: &[DispatchId],
    merging: &Merging,
    told: &(dyn Fn(Told<'_>) + Sync),
) -> Result<Vec<Entry>, ActionError> {
    let ctx = desk.ctx;
    let ordered;
    let ids = if ids.len() > 1 {
        super::gate::all_known(desk, ids)?;
        ordered = merge_order(desk, ids, merging.as_given)?;
        told(Told::Order(&ordered));
        &ordered.ids[..]
    } else {
        ids
    };
    // A best-of-N loser is refused before the queue is entered, whatever else it holds.
    for id in ids {
        let standing = crate::group::merge_standing(ctx.ledger, id, desk.trusted)?;
        let Some((group, objection)) =
            (standing.as_ref()).and_then(|s| Some((s, s.objection(id)?)))
        else {
            continue;
        };
        if !merging.override_group {
            return Err(ActionError::GroupObjects {
                objection,
                group: group.group_id.clone(),
            });
        }
        told(Told::GroupOverridden {
            objection: &objection,
        });
    }
    if !merging.check_only {
        run_missing_gates(desk, ids, merging, told)?;
        anchor_first(desk, merging, told);
    }
    let on_event = |event: merge::Event<'_>| told(Told::Merge(event));
    let merge_ctx = merge::Context {
        reading: merge::Reading {
            witness_dir: merging.anchoring.witness_dir.as_deref(),
            trusted_keys: desk.trusted,
            root: &ctx.project.root,
            ledger: ctx.ledger,
            key: Some(ctx.key_path),
            threads: merging.anchoring.threads,
            scratch_objects: None,
        },
        attestor: ctx.attestor,
        on_event: &on_event,
        by: Some(desk.by),
    };
    let entries = match ids {
        [id] => vec![merge::merge(&merge_ctx, id, !merging.check_only)?],
        ids => merge::run(&merge_ctx, ids, !merging.check_only)?,
    };
    let merged = entries.iter().filter(|e| e.result == EntryResult::Merged);
    for removed in super::remote::remove_places(desk, merged.map(|e| &e.dispatch_id))? {
        told(Told::PlaceRemoved(&removed));
    }
    Ok(entries)
}

/// The order `ids` merge in: the conflict radar's over every dispatch in play, or as given.
fn merge_order(
    desk: &Desk<'_>,
    ids: &[DispatchId],
    as_given: bool,
) -> Result<crate::radar::Ordered, ActionError> {
    if as_given {
        return Ok(crate::radar::Ordered {
            why: ids
                .iter()
                .map(|_| "in the order given".to_owned())
                .collect(),
            ids: ids.to_vec(),
            moved: false,
        });
    }
    let states = crate::dispatch::view::list(desk.ctx.ledger, desk.ctx.tmux)?;
    let radar = crate::radar::scan(
        &desk.ctx.project.root,
        &states,
        &mut crate::radar::Cache::default(),
    );
    let after = (states.iter())
        .filter(|s| !s.after.is_empty())
        .map(|s| (s.id.clone(), s.after.clone()))
        .collect();
    Ok(crate::radar::order_after(&radar, ids, &after))
}

/// Runs, for each id, the required gates that have no current pass for its head, and anchors
/// the ledger after them (the merge needs a checkpoint the ledger extends).
fn run_missing_gates(
    desk: &Desk<'_>,
    ids: &[DispatchId],
    merging: &Merging,
    told: &(dyn Fn(Told<'_>) + Sync),
) -> Result<(), ActionError> {
    let on_event = |event: gate::Event<'_>| told(Told::Gate(event));
    let gates_ctx = super::gate::gates_at(desk, &on_event);
    let mut ran = false;
    for id in ids {
        let gates = merge::missing::gates_to_run(&gates_ctx, id)?;
        if gates.is_empty() {
            continue;
        }
        told(Told::MissingGates { id, gates: &gates });
        let report = merge::missing::run_gates(&gates_ctx, id, &gates)?;
        told(Told::GatesRan {
            id,
            report: &report,
        });
        ran = true;
    }
    if ran && let Err(why) = anchor(desk, &merging.anchoring) {
        told(Told::NotAnchored(why));
    }
    Ok(())
}

/// Makes the ledger's first checkpoint when nothing anchors it yet: no checkpoint on the
/// ref and none this machine witnessed (a new project's first merge, whose gates passed
/// before or which has none). A checkpoint is only made after the whole ledger verifies
/// under the append lock; where a checkpoint was ever witnessed, nothing is made here and
/// the merge's `checkpoint_extended` condition judges (ADR 0102).
fn anchor_first(desk: &Desk<'_>, merging: &Merging, told: &(dyn Fn(Told<'_>) + Sync)) {
    let ledger = desk.ctx.ledger;
    let witness_dir = merging.anchoring.witness_dir.as_deref();
    let anchoring =
        crate::ledger::checkpoint::anchoring(ledger, Some(desk.ctx.key_path), witness_dir);
    let unanchored = matches!(
        anchoring,
        Ok(Some(a)) if a.checkpoints.is_empty() && a.rolled_back.is_none()
    );
    if !unanchored || !ledger.exists() {
        return;
    }
    match anchor(desk, &merging.anchoring) {
        Ok(made) => told(Told::FirstCheckpoint(&made)),
        Err(why) => told(Told::NotAnchored(why)),
    }
}

/// What became of a dispatch, in a word.
pub fn result_name(r: EntryResult) -> &'static str {
    match r {
        EntryResult::Merged => "merged",
        EntryResult::Dequeued => "taken out",
        EntryResult::Refused => "refused",
        EntryResult::Mergeable => "mergeable",
        EntryResult::AlreadyMerged => "already merged",
    }
}

/// What became of a dispatch at its turn (`plan`, its conditions), in a line without its id:
/// merged where, taken out why, or the first condition that failed.
pub fn said(e: &Entry, plan: &Plan) -> String {
    let base = plan.base_ref.as_deref().unwrap_or("-");
    if let Some(m) = &e.merged {
        return format!(
            "merged into {base} as {} (merge receipt line {}); checkpoint {} at line {}",
            m.merge_commit,
            m.merge_receipt.seq,
            m.checkpoint.checkpoint.id,
            m.checkpoint.checkpoint.lines
        );
    }
    if let Some(d) = &e.dequeued {
        return format!(
            "taken out of the merge queue ({}): {} (receipt line {})",
            match d.reason {
                crate::receipts::DequeueReason::Conflict => "conflict",
                crate::receipts::DequeueReason::GatesFailed => "gates failed",
            },
            d.detail,
            d.receipt.seq
        );
    }
    match plan.conditions.iter().find(|c| !c.ok) {
        Some(c) => format!("refused: {}: {}", c.name, c.detail),
        None if e.result == EntryResult::Mergeable => "every condition holds".to_owned(),
        None => result_name(e.result).to_owned(),
    }
}
