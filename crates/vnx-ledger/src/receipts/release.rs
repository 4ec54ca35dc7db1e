//! `worktree_released`: what `vnx worktree-release` found a preserved dispatch to be (its
//! release class), why releasing it was safe (or not: the proof and its rule), and what it
//! did.

use serde::{Deserialize, Serialize};

use crate::ids::{CommitId, DispatchId};

use super::Extra;

/// What releasing did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReleaseAction {
    /// Whether vnx's own lock on the worktree was removed.
    pub worktree_unlocked: bool,
    /// Whether the worktree was removed.
    pub worktree_removed: bool,
    /// Whether the branch was deleted.
    pub branch_deleted: bool,
    /// Whether the dispatch directory was removed (left out when not).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dispatch_dir_removed: bool,
    /// How the branch was deleted (or why not), when it was tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_delete: Option<String>,
}

/// `worktree_released`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorktreeReleased {
    /// The dispatch whose preserved work was examined.
    pub dispatch_id: DispatchId,
    /// Its branch, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Its worktree, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<String>,
    /// Its dispatch directory, when that was removed too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch_dir: Option<String>,
    /// What it was found to be.
    pub class: ReleaseClass,
    /// Why, in words.
    pub reason: String,
    /// Why the release was safe; `None` when it was not released.
    pub evidence: Option<ReleaseEvidence>,
    /// What releasing did.
    pub action: ReleaseAction,
    /// What went wrong while releasing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether the work was discarded on request (`vnx clean`), not released as safe.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub discarded: bool,
    /// The class teardown recorded, when the ledger has the completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown_class: Option<super::TeardownClass>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A preserved dispatch's state now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseClass {
    /// Its tmux session is alive: never touched.
    Running,
    /// The worktree has uncommitted or untracked files, or is off its branch: kept.
    Dirty,
    /// Something other than its content keeps it (a foreign lock, checked out elsewhere, a
    /// worktree git does not know): kept.
    Blocked,
    /// The branch's content is in the base: released.
    Landed,
    /// The remote holds exactly the branch's tip: released (the remote keeps the work).
    Pushed,
    /// Work that is neither in the base nor on the remote: kept.
    Unlanded,
    /// A dispatch directory whose launcher died before the dispatch started (no
    /// `dispatch_started`, no worker log, nothing alive), with no worktree or branch left:
    /// released.
    Unstarted,
}

impl ReleaseClass {
    /// The class as `worktree-release` and `clean` print it.
    pub fn name(self) -> &'static str {
        match self {
            ReleaseClass::Running => "running",
            ReleaseClass::Dirty => "dirty",
            ReleaseClass::Blocked => "blocked",
            ReleaseClass::Landed => "landed",
            ReleaseClass::Pushed => "pushed",
            ReleaseClass::Unlanded => "unlanded",
            ReleaseClass::Unstarted => "unstarted",
        }
    }
}

/// Which proof made a branch safe to release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseRule {
    /// The tip is the base or one of its ancestors.
    Ancestor,
    /// Merging the branch into the base changes nothing: the base's tree already holds every
    /// change the branch made since their merge base (a squash or rebase merge, a
    /// cherry-pick).
    Contained,
    /// The remote branch is exactly the tip.
    Remote,
    /// The branch's pull request was merged on the forge with the tip as its head, as an
    /// attested `pr_merged` records (a squash merge on the forge is in no local history).
    PrMerged,
}

/// Why a release is safe, as recorded in the receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReleaseEvidence {
    /// Which proof holds.
    pub rule: ReleaseRule,
    /// The branch tip proven.
    pub tip: CommitId,
    /// The base it is proven against.
    pub base_ref: String,
    /// The base's commit at the time.
    pub base_commit: CommitId,
    /// The merge base of tip and base (`contained` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_base: Option<String>,
    /// The remote and the commit its branch is at (`remote` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// Where the remote branch is (`remote` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_commit: Option<String>,
    /// The pull request whose merge proves it (`pr_merged` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<u64>,
    /// The commit the forge's merge made on the base (`pr_merged` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_commit: Option<CommitId>,
}
