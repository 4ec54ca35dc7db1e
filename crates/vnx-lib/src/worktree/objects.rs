//! Merges formed as git objects, away from every checkout: the tree `git merge-tree
//! --write-tree` computes for two commits (or the paths that conflict), and the merge commit
//! `git commit-tree` makes of it. The merge queue lands them; a dispatch of `--after` starts
//! from one that holds its dependencies' work.

use std::path::Path;

use crate::ids::CommitId;
use crate::process::{self, Cmd, ProcessError};
use crate::worktree::Repo;

fn git(repo: &Repo) -> Cmd {
    Cmd::git().arg("-C").arg(&repo.root)
}

/// What merging two commits gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Formed {
    /// A clean merge: its tree.
    Clean(String),
    /// The paths that conflict.
    Conflict(Vec<String>),
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
