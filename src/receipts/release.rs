//! `worktree_released`: what `vnx worktree-release` found a preserved dispatch to be, why
//! releasing it was safe (or not), and what it did.

use serde::{Deserialize, Serialize};

use super::{Extra, Kind};
use crate::release::{Class, Evidence};

/// What releasing did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReleaseAction {
    pub worktree_unlocked: bool,
    pub worktree_removed: bool,
    pub branch_deleted: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dispatch_dir_removed: bool,
    /// How the branch was deleted (or why not), when it was tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_delete: Option<String>,
}

/// `worktree_released`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorktreeReleased {
    pub dispatch_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch_dir: Option<String>,
    pub class: Class,
    pub reason: String,
    /// Why the release was safe; `None` when it was not released.
    pub evidence: Option<Evidence>,
    pub action: ReleaseAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The class teardown recorded, when the ledger has the completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown_class: Option<crate::worktree::TeardownClass>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Kind for WorktreeReleased {
    const EVENT: &'static str = crate::release::EVENT;
}
