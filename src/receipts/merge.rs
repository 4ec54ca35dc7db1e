//! The merge receipts: `merge` (the plan, written before git merges), `merge_failed` and
//! `merge_completed`.

use serde::{Deserialize, Serialize};

use super::{Extra, Kind};
use crate::merge::conditions::GateEvidence;

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
}

/// The checkpoint a merge rests on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckpointRef {
    /// The checkpoint commit.
    pub id: String,
    /// The ledger lines it covers.
    pub lines: u64,
}

/// The completion receipt a merge rests on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CompletionRef {
    /// The completion's line number (`null` on lines other tools wrote).
    pub seq: Option<u64>,
    /// SHA-256 of the completion's line.
    pub line_sha256: String,
}

/// `merge`: what is about to be merged, and the evidence it rests on. Its entry hash is
/// the `VNX-Receipt` trailer of the merge commit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MergePlanned {
    /// The dispatch merged.
    pub dispatch_id: String,
    /// Always planned.
    pub status: MergeStatus,
    /// Its role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The branch merged, `dispatch/<id>`.
    pub branch: String,
    /// The commit merged: the completion's head, where the branch must still be.
    pub head_commit: String,
    /// The branch merged into.
    pub base_ref: String,
    /// The commit the dispatch started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    /// Where the base branch is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_tip: Option<String>,
    /// Whether the base moved since the dispatch started.
    pub base_moved: bool,
    /// The tree the merge will produce (`git merge-tree`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_tree: Option<String>,
    /// How it is merged (`git merge --no-ff`).
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
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Kind for MergePlanned {
    const EVENT: &'static str = "merge";
}

/// `merge_failed`: git refused the planned merge (nothing was merged).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MergeFailed {
    /// The dispatch whose merge failed.
    pub dispatch_id: String,
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

impl Kind for MergeFailed {
    const EVENT: &'static str = "merge_failed";
}

/// `merge_completed`: the merge commit and whether its tree is the one planned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MergeCompleted {
    /// The dispatch merged.
    pub dispatch_id: String,
    /// Always merged.
    pub status: MergeStatus,
    /// Entry hash of the `merge` receipt (the commit's `VNX-Receipt` trailer).
    pub merge_receipt: String,
    /// The `merge` receipt's line number.
    pub merge_receipt_seq: u64,
    /// The merge commit.
    pub merge_commit: String,
    /// Its tree.
    pub tree: String,
    /// Whether that tree is the one the plan computed.
    pub tree_as_planned: bool,
    /// The branch merged.
    pub branch: String,
    /// The commit merged.
    pub head_commit: String,
    /// The branch merged into.
    pub base_ref: String,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Kind for MergeCompleted {
    const EVENT: &'static str = "merge_completed";
}
