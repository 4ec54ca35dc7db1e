//! Forming a merge as git objects, away from every checkout: the tree `git merge-tree
//! --write-tree` computes for the base's head and the dispatch's head (or the paths that
//! conflict), the merge commit `git commit-tree` makes of it, and moving the base to that
//! commit only when it is still where the merge was formed — a fast-forward of the main
//! checkout when the base is checked out there, a compare-and-swap of the ref otherwise.

use std::path::Path;

use crate::ids::CommitId;
use crate::process::{self, Cmd, ProcessError};
use crate::worktree::Repo;

/// What merging two commits gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Formed {
    /// A clean merge: its tree.
    Clean(String),
    /// The paths that conflict.
    Conflict(Vec<String>),
}

fn git(repo: &Repo) -> Cmd {
    Cmd::git().arg("-C").arg(&repo.root)
}

/// Merges `head` into `tip` as a tree, touching no checkout. With `scratch`, the objects the
/// merge forms go to that directory, and the repository's are read as its alternates.
pub fn merge_tree(
    repo: &Repo,
    tip: &str,
    head: &str,
    scratch: Option<&Path>,
) -> Result<Formed, String> {
    let mut cmd = git(repo);
    if let Some(dir) = scratch {
        cmd = cmd.env("GIT_OBJECT_DIRECTORY", dir).env(
            "GIT_ALTERNATE_OBJECT_DIRECTORIES",
            repo.common_dir.join("objects"),
        );
    }
    let out = process::run(&cmd.args([
        "merge-tree",
        "--write-tree",
        "--name-only",
        "--no-messages",
        tip,
        head,
    ]))
    .map_err(|e| format!("could not ask git whether the merge conflicts: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let tree = lines.next().unwrap_or_default().trim().to_owned();
    match out.status.code() {
        Some(0) if crate::evidence::is_commit_id(&tree) => Ok(Formed::Clean(tree)),
        Some(1) => Ok(Formed::Conflict(
            lines
                .take_while(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
        )),
        _ => Err(format!(
            "git merge-tree failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
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

/// Makes the merge commit of `tree` with parents `tip` then `head`, and `paragraphs` as its
/// message (as `git merge -m … -m …` would write them), under the user's identity.
pub fn commit_tree(
    repo: &Repo,
    tree: &str,
    tip: &str,
    head: &str,
    paragraphs: &[String],
) -> Result<CommitId, ProcessError> {
    let mut cmd = git(repo).args(["commit-tree", tree, "-p", tip, "-p", head]);
    for p in paragraphs {
        cmd = cmd.arg("-m").arg(p);
    }
    let out = process::run_ok(&cmd)?;
    CommitId::parse(out.trim()).map_err(|e| ProcessError::Failed {
        command: "git commit-tree".into(),
        status: "unexpected output".into(),
        stderr: e.to_string(),
    })
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
