//! Making a dispatch's worktree: its base resolved, a vacant path and `dispatch/<id>`
//! branch found, `git worktree add` (or a pooled checkout moved in) under the worktree
//! lock, undone if it fails; and reopening one for a follow-up.

use crate::ids::{CommitId, DispatchId};
use std::path::{Path, PathBuf};

use crate::process::{self, ProcessError};

use super::{Pool, Repo, Worktree, WorktreeError, git};

impl Repo {
    /// Resolves a ref to a full commit id.
    pub fn resolve(&self, reference: &str) -> Result<CommitId, WorktreeError> {
        let bad = |message: String| WorktreeError::BadBase {
            base: reference.to_owned(),
            source: ProcessError::libgit2(format!("resolve {reference}"), &message),
        };
        self.with_git(|repo| {
            let commit = repo.revparse_single(reference)?.peel_to_commit()?;
            Ok(CommitId::from(commit.id()))
        })
        .and_then(|id| id)
        .map_err(|e: git2::Error| bad(e.message().to_owned()))
    }

    /// After a failed `git worktree add`: removes the half-made checkout and its registration,
    /// and the new branch if it still points at `base_commit`.
    fn undo_failed_add(&self, path: &Path, branch: &str, base_commit: &str) {
        let _ = process::run(
            &git(&self.root)
                .args(["worktree", "remove", "--force"])
                .arg(path),
        );
        if path.exists() {
            let _ = std::fs::remove_dir_all(path);
        }
        let _ = process::run(&git(&self.root).args(["worktree", "prune"]));
        let at_base = self
            .with_git(|r| {
                r.find_branch(branch, git2::BranchType::Local)
                    .ok()
                    .and_then(|b| b.get().target())
                    .is_some_and(|t| t.to_string() == base_commit)
            })
            .unwrap_or(false);
        if at_base {
            let _ = process::run(&git(&self.root).args(["branch", "-D", branch]));
        }
    }

    /// Creates `.vnx-data/worktrees/dispatch-<id>` on a new branch `dispatch/<id>` at `base`.
    pub fn create(&self, id: &DispatchId, base: &str) -> Result<Worktree, WorktreeError> {
        Ok(self.create_from(id, base, None)?.0)
    }

    /// Checks that dispatch `id` can have its worktree and branch (neither exists), under
    /// the worktree lock the caller holds. Returns the path, the branch and the base commit.
    fn vacancy(
        &self,
        id: &DispatchId,
        base: &str,
    ) -> Result<(PathBuf, String, CommitId), WorktreeError> {
        let base_commit = self.resolve(base)?;
        let branch = format!("dispatch/{id}");
        let path = self.worktrees_dir().join(format!("dispatch-{id}"));
        if path.exists() {
            return Err(WorktreeError::PathExists { path });
        }
        let dir = self.worktrees_dir();
        crate::files::private_dir(&dir).map_err(|source| WorktreeError::Io {
            path: dir.clone(),
            source,
        })?;
        if self.has_branch(&branch) {
            return Err(WorktreeError::BranchExists { branch });
        }
        Ok((path, branch, base_commit))
    }

    /// Like [`Repo::create`], taking an idle worktree from `pool` when it has one (moved into
    /// place and switched to the new branch by a checkout of only the files that differ),
    /// a fresh checkout otherwise. Returns the worktree and the pool entry it came from.
    pub fn create_from(
        &self,
        id: &DispatchId,
        base: &str,
        pool: Option<&Pool>,
    ) -> Result<(Worktree, Option<String>), WorktreeError> {
        if let Some(pool) = pool {
            let (path, branch, base_commit) = {
                let _lock = self.lock()?;
                self.vacancy(id, base)?
            };
            // A pool that fails to give a worktree is no reason to fail the dispatch.
            if let Ok(Some((wt, name))) = pool.take_for_dispatch(id, &path, &branch, &base_commit) {
                return Ok((wt, Some(name)));
            }
        }
        let _lock = self.lock()?;
        let (path, branch, base_commit) = self.vacancy(id, base)?;
        let added = process::run_ok(
            &git(&self.root)
                .args(["worktree", "add", "--quiet", "-b", &branch])
                .arg(&path)
                .arg(&base_commit),
        );
        if let Err(e) = added {
            // git may have made the branch (and part of the checkout) before failing: undo
            // what this call made, and nothing else (both were checked absent above).
            self.undo_failed_add(&path, &branch, base_commit.as_str());
            return Err(self.git_err(&path)(e));
        }
        let wt = Worktree {
            id: id.clone(),
            path,
            branch,
            base_commit,
        };
        Ok((wt, None))
    }
}

impl Repo {
    /// Opens a dispatch worktree again, for a follow-up: one still there is unlocked (vnx
    /// locked it dirty); one teardown removed is added back on its branch (from `pool` when
    /// it has an idle worktree); a branch teardown deleted (it was clean, or pushed) is made
    /// again at `head`. Returns the worktree, whether it was added (and so holds nothing of an
    /// earlier worker's untracked files), and the pool entry it came from.
    pub fn reopen(
        &self,
        id: &DispatchId,
        branch: &str,
        path: &Path,
        base_commit: &CommitId,
        head: &CommitId,
        pool: Option<&Pool>,
    ) -> Result<(Worktree, bool, Option<String>), WorktreeError> {
        let _lock = self.lock()?;
        let wt = Worktree {
            id: id.clone(),
            path: path.to_owned(),
            branch: branch.to_owned(),
            base_commit: base_commit.clone(),
        };
        if path.exists() {
            // Not locked is fine: only a dirty teardown locks.
            let _ = process::run(&git(&self.root).args(["worktree", "unlock"]).arg(path));
            return Ok((wt, false, None));
        }
        let _ = process::run(&git(&self.root).args(["worktree", "prune"]));
        let exists = self.has_branch(branch);
        if let Some(pool) = pool {
            // The pool takes the worktree lock itself; nothing else moves meanwhile that this
            // dispatch's directory (claimed) does not already own.
            drop(_lock);
            let taken = if exists {
                pool.take_for_branch(path, branch)
            } else {
                pool.take_for_dispatch(id, path, branch, head)
                    .map(|t| t.map(|(_, n)| n))
            };
            if let Ok(Some(name)) = taken {
                return Ok((wt, true, Some(name)));
            }
            return self.reopen(id, branch, path, base_commit, head, None);
        }
        let add = git(&self.root).args(["worktree", "add", "--quiet"]);
        let add = if exists {
            add.arg(path).arg(branch)
        } else {
            add.args(["-b", branch]).arg(path).arg(head)
        };
        process::run_ok(&add).map_err(self.git_err(path))?;
        Ok((wt, true, None))
    }
}
