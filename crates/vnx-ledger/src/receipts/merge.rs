//! The merge receipts: `merge` (the plan, written before git merges), `merge_failed`,
//! `merge_completed`, and `merge_dequeued` (the merge queue took a dispatch out); with the
//! gate evidence a merge rests on.

use serde::{Deserialize, Serialize};

use crate::ids::{CommitId, DispatchId};

use super::Extra;

/// A merge receipt's `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MergeStatus {
    /// `merge`: the plan, written before git merges.
    Planned,
    /// `merge_failed`: git refused; nothing was merged.
    Failed,
    /// `merge_completed`: the merge commit exists.
    Merged,
    /// `merge_dequeued`: the merge queue took the dispatch out; the base did not move.
    Dequeued,
}

/// The checkpoint a merge rests on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckpointRef {
    /// The checkpoint commit.
    pub id: String,
    /// The ledger lines it covers.
    pub lines: u64,
}

/// The completion receipt (or acceptance) a merge rests on: its line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CompletionRef {
    /// The completion's line number (`null` on lines other tools wrote).
    pub seq: Option<u64>,
    /// SHA-256 of the completion's line.
    pub line_sha256: String,
}

/// A required gate's evidence, as the merge receipt records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateEvidence {
    /// The gate's name.
    pub gate: String,
    /// `pass`, or why not: `missing`, `stale` or its result's status.
    pub status: String,
    /// The contract of its newest result.
    pub contract_hash: Option<String>,
    /// The gate-check run of that result.
    pub run: Option<String>,
    /// That result's line on the ledger.
    pub result_seq: Option<u64>,
    /// SHA-256 of that line.
    pub result_line_sha256: Option<String>,
}

/// `merge`: what is about to be merged, and the evidence it rests on. Its entry hash is
/// the `VNX-Receipt` trailer of the merge commit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MergePlanned {
    /// The dispatch merged.
    pub dispatch_id: DispatchId,
    /// Always planned.
    pub status: MergeStatus,
    /// Its role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The branch merged, `dispatch/<id>`.
    pub branch: String,
    /// The commit merged: the completion's head, where the branch must still be.
    pub head_commit: CommitId,
    /// The branch merged into.
    pub base_ref: String,
    /// The commit the dispatch started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<CommitId>,
    /// Where the base branch is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_tip: Option<CommitId>,
    /// Whether the base moved since the dispatch started.
    pub base_moved: bool,
    /// The tree the merge will produce (`git merge-tree`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_tree: Option<String>,
    /// How it is merged (the merge queue's strategy; `git merge --no-ff` before it).
    pub strategy: String,
    /// The required gates' evidence.
    pub gates: Vec<GateEvidence>,
    /// The conditions that held, in order.
    pub conditions: Vec<String>,
    /// The checkpoint the ledger was anchored by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointRef>,
    /// The completion receipt the merge rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion: Option<CompletionRef>,
    /// The `dispatch_accepted` the merge rests on, when a person accepted the work with
    /// `vnx accept` (its `head_commit` is the commit merged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acceptance: Option<CompletionRef>,
    /// Who merged: the user vnx ran as, a paired device (`vnx serve`), or the agent that
    /// asked through `vnx mcp --act`; absent before this was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `merge_failed`: git refused the planned merge (nothing was merged).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MergeFailed {
    /// The dispatch whose merge failed.
    pub dispatch_id: DispatchId,
    /// Always failed.
    pub status: MergeStatus,
    /// Entry hash of the `merge` receipt.
    pub merge_receipt: String,
    /// The `merge` receipt's line number.
    pub merge_receipt_seq: u64,
    /// What git said.
    pub failure_reason: String,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `merge_completed`: the merge commit and whether its tree is the one planned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MergeCompleted {
    /// The dispatch merged.
    pub dispatch_id: DispatchId,
    /// Always merged.
    pub status: MergeStatus,
    /// Entry hash of the `merge` receipt (the commit's `VNX-Receipt` trailer).
    pub merge_receipt: String,
    /// The `merge` receipt's line number.
    pub merge_receipt_seq: u64,
    /// The merge commit.
    pub merge_commit: CommitId,
    /// Its tree.
    pub tree: String,
    /// Whether that tree is the one the plan computed.
    pub tree_as_planned: bool,
    /// The branch merged.
    pub branch: String,
    /// The commit merged.
    pub head_commit: CommitId,
    /// The branch merged into.
    pub base_ref: String,
    /// The command gates that ran on the merge commit itself before the base moved to it
    /// (empty when its tree is the head's, which the gates already passed on).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merge_result_gates: Vec<GateEvidence>,
    /// Set when the merge was interrupted after the base moved and a later `vnx merge` of the
    /// dispatch recorded its completion: what that run found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<String>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Why the merge queue took a dispatch out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DequeueReason {
    /// Its head does not merge cleanly into the base's current head.
    Conflict,
    /// A command gate did not pass on the merge result.
    GatesFailed,
}

/// `merge_dequeued`: the merge queue took a dispatch out without moving the base: its head
/// conflicts with the base's current head, or a gate failed on the merge result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MergeDequeued {
    /// The dispatch taken out.
    pub dispatch_id: DispatchId,
    /// Always dequeued.
    pub status: MergeStatus,
    /// Why.
    pub reason: DequeueReason,
    /// Why, in words.
    pub failure_reason: String,
    /// The branch it was to merge into.
    pub base_ref: String,
    /// The base's head it was tried on (where the base still is).
    pub base_tip: CommitId,
    /// The commit it was to merge: the completion's head.
    pub head_commit: CommitId,
    /// The paths that conflict (`conflict`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<String>,
    /// Entry hash of the `merge` receipt written before the merge commit was made
    /// (`gates_failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_receipt: Option<String>,
    /// That receipt's line number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_receipt_seq: Option<u64>,
    /// The merge commit the gates ran on, which the base never reached (`gates_failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_commit: Option<CommitId>,
    /// Every command gate that ran on the merge commit, with its result's line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<GateEvidence>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}
