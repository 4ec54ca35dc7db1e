//! What a dispatch's worktree held when its worker ended, as the dispatch receipts record
//! it: the teardown class, the diff statistics, and the commit vnx made of a done worker's
//! uncommitted changes.

use serde::{Deserialize, Serialize};

/// The most file names a [`VnxCommit`] lists.
pub const MAX_LISTED: usize = 200;

/// The commit vnx made for a worker: everything it left uncommitted except vnx's own files,
/// with `VNX-Dispatch`, `VNX-Provider`, `VNX-Model`, `VNX-Session` and `VNX-Summary` trailers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VnxCommit {
    /// The commit's id.
    pub commit: String,
    /// How many paths it changed.
    pub files_total: u64,
    /// The first [`MAX_LISTED`] of them.
    pub files: Vec<String>,
}

/// The four teardown classes, from the most work to keep to the least.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TeardownClass {
    /// Uncommitted changes, untracked files, or not on its branch: kept and locked.
    Dirty,
    /// Nothing new: worktree and branch removed.
    Clean,
    /// New commits that the remote branch holds exactly: worktree and local branch removed.
    Pushed,
    /// New commits not (known to be) on a remote: worktree removed, branch kept.
    Committed,
}

impl TeardownClass {
    /// The class as receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            TeardownClass::Dirty => "dirty",
            TeardownClass::Clean => "clean",
            TeardownClass::Pushed => "pushed",
            TeardownClass::Committed => "committed",
        }
    }
}

impl std::fmt::Display for TeardownClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// Lines and files a diff touches.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct DiffStat {
    /// Files touched.
    pub files_changed: u64,
    /// Lines added.
    pub insertions: u64,
    /// Lines removed.
    pub deletions: u64,
}

/// What a worker changed: committed (base to HEAD) and not (HEAD to the working tree,
/// untracked files included, ignored ones not).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct DiffStats {
    /// From the base to HEAD.
    pub committed: DiffStat,
    /// From HEAD to the working tree, untracked files included.
    pub uncommitted: DiffStat,
}

/// How the main checkout changed while the worker ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckoutChange {
    /// HEAD of the main checkout before the worker ran.
    pub head_before: Option<String>,
    /// HEAD of the main checkout after.
    pub head_after: Option<String>,
    /// Paths with changes in the main checkout before.
    pub changed_before: Vec<String>,
    /// Paths with changes in the main checkout after.
    pub changed_after: Vec<String>,
}

/// What teardown did to the worktree and branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TeardownAction {
    /// Whether the worktree was removed.
    pub worktree_removed: bool,
    /// Whether the dispatch branch was deleted.
    pub branch_deleted: bool,
    /// Whether the kept worktree was locked against `git worktree prune`.
    pub locked: bool,
    /// Whether the worktree went back to the pool (scrubbed and proven clean) rather than
    /// being deleted; absent: it did not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pooled: bool,
}
