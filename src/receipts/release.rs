//! `worktree_released`: what `vnx worktree-release` found a preserved dispatch to be, why
//! releasing it was safe (or not), and what it did.

use serde::{Deserialize, Serialize};

use super::{Extra, Kind};
use crate::release::{Class, Evidence};

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
    pub dispatch_id: String,
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
    pub class: Class,
    /// Why, in words.
    pub reason: String,
    /// Why the release was safe; `None` when it was not released.
    pub evidence: Option<Evidence>,
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
    pub teardown_class: Option<crate::worktree::TeardownClass>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Kind for WorktreeReleased {
    const EVENT: &'static str = crate::release::EVENT;
}
