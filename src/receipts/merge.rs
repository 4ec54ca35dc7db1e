//! The merge receipts: `merge` (the plan, written before git merges), `merge_failed` and
//! `merge_completed`.

use serde::{Deserialize, Serialize};

use super::{Extra, Kind};
use crate::merge::conditions::GateEvidence;

/// A merge receipt's `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MergeStatus {
    Planned,
    Failed,
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
    pub seq: Option<u64>,
    pub line_sha256: String,
}

/// `merge`: what is about to be merged, and the evidence it rests on. Its entry hash is
/// the `VNX-Receipt` trailer of the merge commit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MergePlanned {
    pub dispatch_id: String,
    pub status: MergeStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub branch: String,
    pub head_commit: String,
    pub base_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_tip: Option<String>,
    pub base_moved: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_tree: Option<String>,
    pub strategy: String,
    pub gates: Vec<GateEvidence>,
    pub conditions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion: Option<CompletionRef>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Kind for MergePlanned {
    const EVENT: &'static str = "merge";
}

/// `merge_failed`: git refused the planned merge (nothing was merged).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MergeFailed {
    pub dispatch_id: String,
    pub status: MergeStatus,
    /// Entry hash of the `merge` receipt.
    pub merge_receipt: String,
    pub merge_receipt_seq: u64,
    pub failure_reason: String,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Kind for MergeFailed {
    const EVENT: &'static str = "merge_failed";
}

/// `merge_completed`: the merge commit and whether its tree is the one planned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MergeCompleted {
    pub dispatch_id: String,
    pub status: MergeStatus,
    pub merge_receipt: String,
    pub merge_receipt_seq: u64,
    pub merge_commit: String,
    pub tree: String,
    pub tree_as_planned: bool,
    pub branch: String,
    pub head_commit: String,
    pub base_ref: String,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Kind for MergeCompleted {
    const EVENT: &'static str = "merge_completed";
}
