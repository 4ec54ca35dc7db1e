//! `dispatch_accepted`: a person's `vnx accept` of an ended dispatch's committed work as done,
//! when its worker ended without a `vnx report`. It names the completion it accepts and the
//! branch's commit vnx read at that moment; a merge takes that commit and no other. When the
//! worker left its work uncommitted in its kept worktree, vnx commits it first and the receipt
//! names that commit.

use serde::{Deserialize, Serialize};

use crate::ids::{CommitId, DispatchId};

use super::merge::CompletionRef;
use super::worktree::VnxCommit;
use super::{DispatchStatus, Extra};

/// `dispatch_accepted`: a person accepted an ended dispatch's work as done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchAccepted {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// The commit accepted: the tip of the dispatch's branch when it was accepted, read by
    /// vnx from the repository (a merge holds if the branch is elsewhere).
    pub head_commit: CommitId,
    /// The dispatch's branch, `dispatch/<id>` (a follow-up's: its chain's first).
    pub branch: String,
    /// How the dispatch had ended (`needs_input`, `failed`, …): what the acceptance overrides.
    pub previous_status: DispatchStatus,
    /// The completion receipt accepted.
    pub completion: CompletionRef,
    /// Who accepted: the user `vnx` ran as.
    pub by: String,
    /// What the person said about it (`--note`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The commit vnx made of the work the worker left uncommitted in its kept worktree,
    /// when it did: `head_commit` is then that commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnx_commit: Option<VnxCommit>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}
