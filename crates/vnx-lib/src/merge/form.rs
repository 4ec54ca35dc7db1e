//! Forming a merge as git objects, away from every checkout: the tree `git merge-tree
//! --write-tree` computes for the base's head and the dispatch's head (or the paths that
//! conflict), the merge commit `git commit-tree` makes of it (both in `worktree::objects`,
//! which a dispatch of `--after` also forms its base with), and moving the base to that
//! commit only when it is still where the merge was formed — a fast-forward of the main
//! checkout when the base is checked out there, a compare-and-swap of the ref otherwise.

use crate::process::{self, Cmd, ProcessError};
use crate::worktree::Repo;

pub use crate::worktree::objects::{Formed, commit_tree, merge_tree};

fn git(repo: &Repo) -> Cmd {
    Cmd::git().arg("-C").arg(&repo.root)
}

/// The tree of `commit`.
pub fn tree_of(repo: &Repo, commit: &str) -> Result<String, super::MergeError> {
    process::run_ok(&git(repo).args(["rev-parse", &format!("{commit}^{{tree}}")])).map_err(
        |source| super::MergeError::Git {
            path: repo.root.clone(),
            source,
        },
    )
}

/// Moves `base_ref` from `from` to `to` (a descendant of `from`). When the main checkout has
/// `base_ref` checked out, git fast-forwards it (`git merge --ff-only`), which refuses to
/// overwrite local changes or untracked files in the way; otherwise the ref is updated only
/// if it is still at `from`.
pub fn advance(repo: &Repo, base_ref: &str, from: &str, to: &str) -> Result<(), ProcessError> {
    let checked_out = repo.branch_ref("HEAD").as_deref() == Some(base_ref);
    let at_from = process::run_ok(&git(repo).args(["rev-parse", base_ref]))? == from;
    if checked_out && at_from {
        return process::run_ok(&git(repo).args(["merge", "--ff-only", "--no-edit", "-q", to]))
            .map(drop);
    }
    // Not checked out, or moved since the merge was formed: git's compare-and-swap refuses
    // the latter and says where the base is.
    process::run_ok(&git(repo).args(["update-ref", base_ref, to, from])).map(drop)
}
