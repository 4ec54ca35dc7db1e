//! A merge interrupted between its `merge` receipt and its outcome (the process was killed,
//! the machine stopped), found and finished by the next `vnx merge` of the dispatch under the
//! queue's lock: a base whose history holds the merge commit whose `VNX-Receipt` trailer
//! names that receipt gets the missing `merge_completed` (and a checkpoint); a base that does
//! not gets `merge_failed` for it, and the dispatch is merged anew (ADR 0050).

use std::path::Path;

use crate::evidence::Evidence;
use crate::ids::{CommitId, DispatchId};
use crate::ledger::json::{self, Value};
use crate::ledger::{Appended, attest, tail};
use crate::receipts::{
    self, GateEvidence, Kind, MergeCompleted, MergeDequeued, MergeFailed, MergePlanned, MergeStatus,
};
use crate::worktree::Repo;

use super::{Context, MergeError};

/// How many commits of the base's first-parent history are searched for the merge commit
/// before giving up (the base moved on by at most this many merges since).
const SEARCH: usize = 100_000;

/// A `merge` receipt of the dispatch that no outcome names.
#[derive(Clone, Debug)]
pub struct Interrupted {
    /// The receipt, as the ledger holds it.
    pub planned: MergePlanned,
    /// Its line number.
    pub seq: u64,
    /// Its VNX entry hash (what the merge commit's trailer names).
    pub entry_hash: String,
}

/// What finishing an interrupted merge found and recorded.
#[derive(Clone, Debug, serde::Serialize)]
pub enum Finished {
    /// The base holds the merge commit: `merge_completed` was appended for it.
    Landed {
        /// The merge commit the base holds.
        merge_commit: CommitId,
        /// The `merge_completed` appended now.
        completed: Appended,
    },
    /// The base never moved to it: `merge_failed` was appended, and the merge can be made
    /// anew.
    NotLanded {
        /// The `merge_failed` appended now.
        failed: Appended,
    },
}

/// The dispatch's last attested `merge` receipt, when no `merge_completed`, `merge_failed` or
/// `merge_dequeued` after it names it.
pub fn interrupted(
    ledger: &Path,
    id: &DispatchId,
    trusted: &[[u8; 32]],
) -> Result<Option<Interrupted>, MergeError> {
    Ok(scan(ledger, Some(id), trusted)?.pop())
}

/// Every dispatch's interrupted merge (see [`interrupted`]), in ledger order.
pub fn all_interrupted(
    ledger: &Path,
    trusted: &[[u8; 32]],
) -> Result<Vec<Interrupted>, MergeError> {
    scan(ledger, None, trusted)
}

fn scan(
    ledger: &Path,
    only: Option<&DispatchId>,
    trusted: &[[u8; 32]],
) -> Result<Vec<Interrupted>, MergeError> {
    let (lines, _) = tail::last_lines(ledger, usize::MAX, |l| {
        memchr::memmem::find(l, b"merge").is_some()
            && only.is_none_or(|id| memchr::memmem::find(l, id.as_str().as_bytes()).is_some())
    })?;
    let mut open: std::collections::BTreeMap<String, Interrupted> = Default::default();
    let mut scratch = crate::ledger::line::Scratch::default();
    for raw in &lines {
        let Some(fields) = json::object_of_line(raw) else {
            continue;
        };
        let Some(id) = fields.get("dispatch_id").and_then(Value::as_str) else {
            continue;
        };
        if only.is_some_and(|o| o.as_str() != id) {
            continue;
        }
        match fields.get("event_type").and_then(Value::as_str) {
            Some(MergePlanned::EVENT) => {
                if !attest::check(&fields, trusted).is_valid() {
                    continue;
                }
                let Some(read) = receipts::read::<MergePlanned>(&fields) else {
                    continue;
                };
                let Ok(entry) = crate::ledger::line::analyze(raw, &mut scratch).entry else {
                    continue;
                };
                open.insert(
                    id.to_owned(),
                    Interrupted {
                        planned: read.receipt,
                        seq: read.seq.unwrap_or_default(),
                        entry_hash: hex::encode(entry.entry_hash),
                    },
                );
            }
            Some(MergeCompleted::EVENT | MergeFailed::EVENT | MergeDequeued::EVENT) => {
                let named = fields.get("merge_receipt").and_then(Value::as_str);
                if open
                    .get(id)
                    .is_some_and(|o| named == Some(o.entry_hash.as_str()))
                {
                    open.remove(id);
                }
            }
            _ => {}
        }
    }
    let mut found: Vec<Interrupted> = open.into_values().collect();
    found.sort_by_key(|i| i.seq);
    Ok(found)
}

/// The merge commit on `base_ref`'s first-parent history whose `VNX-Receipt` trailer names
/// `entry_hash` for dispatch `id`.
pub fn landed_commit(repo: &Repo, interrupted: &Interrupted) -> Option<CommitId> {
    let git = git2::Repository::open(&repo.root).ok()?;
    let mut commit = git
        .find_reference(&interrupted.planned.base_ref)
        .ok()?
        .peel_to_commit()
        .ok()?;
    let receipt = format!("VNX-Receipt: {}", interrupted.entry_hash);
    let dispatch = format!("VNX-Dispatch: {}", interrupted.planned.dispatch_id);
    let stop = interrupted.planned.base_tip.as_ref().map(|c| c.to_string());
    for _ in 0..SEARCH {
        let oid = commit.id().to_string();
        if stop.as_deref() == Some(oid.as_str()) {
            return None;
        }
        if commit.parent_count() == 2 {
            let message = String::from_utf8_lossy(commit.message_bytes());
            let names = |t: &str| message.lines().any(|l| l.trim_end() == t);
            let head = commit.parent_id(1).ok().map(|p| p.to_string());
            if names(&receipt)
                && names(&dispatch)
                && head.as_deref() == Some(interrupted.planned.head_commit.as_str())
            {
                return CommitId::parse(&oid).ok();
            }
        }
        commit = commit.parent(0).ok()?;
    }
    None
}

/// Records the outcome of `interrupted` from what the repository shows.
pub fn finish(
    ctx: &Context<'_>,
    repo: &Repo,
    interrupted: &Interrupted,
) -> Result<Finished, MergeError> {
    let planned = &interrupted.planned;
    let Some(commit) = landed_commit(repo, interrupted) else {
        let failed = ctx.append(&MergeFailed {
            dispatch_id: planned.dispatch_id.clone(),
            status: MergeStatus::Failed,
            merge_receipt: interrupted.entry_hash.clone(),
            merge_receipt_seq: interrupted.seq,
            failure_reason: format!(
                "interrupted before {} moved to a merge commit naming this receipt; a \
                     later `vnx merge` found none and merges anew",
                planned.base_ref
            ),
            extra: Default::default(),
        })?;
        return Ok(Finished::NotLanded { failed });
    };
    let tree = super::form::tree_of(repo, commit.as_str())?;
    let completed = ctx.append(&MergeCompleted {
        dispatch_id: planned.dispatch_id.clone(),
        status: MergeStatus::Merged,
        merge_receipt: interrupted.entry_hash.clone(),
        merge_receipt_seq: interrupted.seq,
        merge_commit: commit.clone(),
        tree_as_planned: planned.merge_tree.as_deref() == Some(tree.as_str()),
        tree,
        branch: planned.branch.clone(),
        head_commit: planned.head_commit.clone(),
        base_ref: planned.base_ref.clone(),
        merge_result_gates: gates_on(ctx, &planned.dispatch_id, &commit)?,
        resumed: Some(format!(
            "interrupted after {} moved to the merge commit; recorded by a later `vnx \
                 merge`, which found the commit naming this merge receipt",
            planned.base_ref
        )),
        extra: Default::default(),
    })?;
    Ok(Finished::Landed {
        merge_commit: commit,
        completed,
    })
}

/// The gate results recorded on the merge commit itself before the base moved to it.
fn gates_on(
    ctx: &Context<'_>,
    id: &DispatchId,
    commit: &CommitId,
) -> Result<Vec<GateEvidence>, MergeError> {
    let ev = Evidence::read(ctx.reading.ledger, id, ctx.reading.trusted_keys)?;
    Ok(ev
        .results
        .iter()
        .filter(|r| r.receipt.head_commit == *commit)
        .map(|r| GateEvidence {
            gate: r.receipt.gate.clone(),
            status: r.receipt.status.name().to_owned(),
            contract_hash: Some(r.receipt.contract_hash.clone()),
            run: Some(r.receipt.run.clone()),
            result_seq: r.seq(),
            result_line_sha256: Some(r.line.line_sha256.clone()),
        })
        .collect())
}
