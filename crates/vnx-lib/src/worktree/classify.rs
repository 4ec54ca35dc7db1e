//! What a worker left in its worktree: diff statistics, its dirt as git's status sees it,
//! what the remote holds of its branch, and from those its teardown class.

use std::path::Path;

use crate::ids::CommitId;
use crate::process::{self, ProcessError};

use super::{
    Classification, DiffStat, DiffStats, RemoteState, Repo, TeardownClass, Worktree, WorktreeError,
    git,
};
use super::{REMOTE_TIMEOUT, diff_stat, pool};

impl Worktree {
    /// Lines and files the commits on HEAD change against the base.
    fn committed_stat(&self, repo: &git2::Repository) -> Option<DiffStat> {
        let base = repo
            .revparse_single(self.base_commit.as_str())
            .ok()?
            .peel_to_tree()
            .ok()?;
        let head = repo.head().ok()?.peel_to_tree().ok()?;
        let committed = repo
            .diff_tree_to_tree(Some(&base), Some(&head), None)
            .ok()?;
        diff_stat(&committed)
    }

    /// Diff statistics of the worktree against its base (read before it is released).
    pub fn diff_stats(&self) -> Option<DiffStats> {
        let repo = git2::Repository::open(&self.path).ok()?;
        let committed = self.committed_stat(&repo)?;
        let head = repo.head().ok()?.peel_to_tree().ok()?;
        let mut opts = git2::DiffOptions::new();
        opts.include_untracked(true)
            .recurse_untracked_dirs(true)
            .show_untracked_content(true);
        let uncommitted = repo
            .diff_tree_to_workdir_with_index(Some(&head), Some(&mut opts))
            .ok()?;
        Some(DiffStats {
            committed,
            uncommitted: diff_stat(&uncommitted)?,
        })
    }

    /// Classifies the worktree, checking in this order: dirty, clean, pushed, committed.
    pub fn classify(&self, remote: &str) -> Result<Classification, WorktreeError> {
        let (dirty, head) = self.dirt()?;
        if let Some(reason) = dirty {
            return Ok(Classification {
                class: TeardownClass::Dirty,
                reason,
                head_commit: head,
                commits: 0,
                remote: RemoteState::NotChecked,
            });
        }
        let Some(head) = head else {
            return Ok(no_commit());
        };
        Ok(self.classify_at(&self.open()?, remote, head))
    }

    /// The diff statistics and the class of a worktree [`Worktree::dirt`] just found not
    /// dirty, at `head`, from one opening of its repository and without reading its working
    /// tree again: its commits against its base (nothing uncommitted), and clean, pushed or
    /// committed.
    pub fn undirty(
        &self,
        remote: &str,
        head: Option<CommitId>,
    ) -> (Option<DiffStats>, Result<Classification, WorktreeError>) {
        let Some(head) = head else {
            return (None, Ok(no_commit()));
        };
        let repo = match self.open() {
            Ok(repo) => repo,
            Err(e) => return (None, Err(e)),
        };
        let stats = self.committed_stat(&repo).map(|committed| DiffStats {
            committed,
            uncommitted: DiffStat::default(),
        });
        (stats, Ok(self.classify_at(&repo, remote, head)))
    }

    /// The class of the worktree whose repository is `repo`, not dirty, at `head`.
    fn classify_at(&self, repo: &git2::Repository, remote: &str, head: CommitId) -> Classification {
        let commits = count_commits(repo, head.as_str(), self.base_commit.as_str());
        if head == self.base_commit {
            return Classification {
                class: TeardownClass::Clean,
                reason: "no new commits and nothing uncommitted".into(),
                head_commit: Some(head),
                commits: 0,
                remote: RemoteState::NotChecked,
            };
        }
        let remote_state = self.remote_state(repo, remote, head.as_str());
        let (class, reason) = match &remote_state {
            RemoteState::InSync => (
                TeardownClass::Pushed,
                format!("{commits} commit(s), on {remote} exactly"),
            ),
            other => (
                TeardownClass::Committed,
                format!(
                    "{commits} commit(s) not on a remote ({})",
                    match other {
                        RemoteState::NoRemote => format!("no remote {remote}"),
                        RemoteState::Absent => format!("{remote} has no {}", self.branch),
                        RemoteState::Differs(at) => format!("{remote} has it at {at}"),
                        RemoteState::Unreachable(why) => format!("{remote} unreachable: {why}"),
                        _ => String::new(),
                    }
                ),
            ),
        };
        Classification {
            class,
            reason,
            head_commit: Some(head),
            commits,
            remote: remote_state,
        }
    }

    /// Opens the worktree's repository, after checking that its `.git` still names this
    /// repository's registration for it: every read and every git vnx runs there starts here.
    pub(super) fn open(&self) -> Result<git2::Repository, WorktreeError> {
        Self::open_at(&self.path)
    }

    /// Why the worktree counts as dirty (uncommitted or untracked files, a detached HEAD, or
    /// another branch checked out), if it does, and its HEAD commit.
    pub fn dirt(&self) -> Result<(Option<String>, Option<CommitId>), WorktreeError> {
        Self::dirt_at(&self.path, &self.branch)
    }

    /// Opens the worktree's repository, after checking that its `.git` still names this
    /// repository's registration for it: every read and every git vnx runs there starts here.
    pub(super) fn open_at(path: &Path) -> Result<git2::Repository, WorktreeError> {
        if let Some(why) = Self::foreign_git_at(path) {
            return Err(WorktreeError::ForeignGit {
                path: path.to_owned(),
                why,
            });
        }
        Self::open_unchecked(path)
    }

    /// Opens the checkout at `path` whose `.git` the caller checked ([`Self::open_at`]).
    fn open_unchecked(path: &Path) -> Result<git2::Repository, WorktreeError> {
        git2::Repository::open(path).map_err(|e| WorktreeError::Git {
            path: path.to_owned(),
            source: ProcessError::libgit2(format!("open {}", path.display()), e.message()),
        })
    }

    /// Why this checkout's `.git` no longer names its registration in the repository around
    /// it (`.vnx-data/worktrees/` of a main checkout), if it does not.
    fn foreign_git_at(path: &Path) -> Option<&'static str> {
        let root = path.ancestors().nth(3)?;
        // A main checkout's `.git` directory is its common directory (only a linked
        // worktree's admin directory names another); anything else is asked of libgit2.
        let dot_git = root.join(".git");
        let common = if dot_git.symlink_metadata().is_ok_and(|m| m.is_dir())
            && dot_git.join("commondir").symlink_metadata().is_err()
        {
            std::fs::canonicalize(&dot_git).ok()?
        } else {
            git2::Repository::open(root)
                .ok()
                .and_then(|r| std::fs::canonicalize(r.commondir()).ok())?
        };
        pool::foreign_git(&common, path)
    }

    /// Why the checkout at `path`, which should have `branch` checked out, counts as dirty (uncommitted or untracked files, a detached HEAD, or
    /// another branch checked out), if it does, and its HEAD commit.
    pub fn dirt_at(
        path: &Path,
        branch: &str,
    ) -> Result<(Option<String>, Option<CommitId>), WorktreeError> {
        let err = |source| WorktreeError::Git {
            path: path.to_owned(),
            source,
        };
        // No git runs in a checkout whose `.git` a worker pointed elsewhere: it is kept.
        if let Some(why) = Self::foreign_git_at(path) {
            return Ok((Some(format!("{why}: not read, kept as it is")), None));
        }
        // Plain reads go through libgit2; `git status` (below) stays a subprocess so that
        // every ignore rule and attribute is git's own. (Its `.git` was checked just above.)
        let repo = Self::open_unchecked(path)?;
        let head = repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .map(|c| CommitId::from(c.id()));
        if repo.head_detached().unwrap_or(false) {
            return Ok((
                Some("HEAD is detached from the dispatch branch".into()),
                head,
            ));
        }
        let on = repo
            .find_reference("HEAD")
            .ok()
            .and_then(|r| r.symbolic_target().ok().flatten().map(str::to_owned))
            .unwrap_or_default();
        let expected = format!("refs/heads/{}", branch);
        if on != expected {
            let reason = format!(
                "on unexpected branch {}",
                on.trim_start_matches("refs/heads/")
            );
            return Ok((Some(reason), head));
        }
        // A merge (or another operation) under way is unfinished work, even when the status
        // is clean: a resolution that kept the branch's files leaves only `MERGE_HEAD`.
        match repo.state() {
            git2::RepositoryState::Clean => {}
            git2::RepositoryState::Merge => {
                return Ok((Some("a merge is under way (MERGE_HEAD)".into()), head));
            }
            other => {
                let reason = format!("an operation is under way ({other:?})");
                return Ok((Some(reason), head));
            }
        }
        // An entry marked assume-unchanged or skip-worktree (or left unmerged) hides a
        // changed file from `git status`: such a worktree is kept, never removed as clean.
        // The marks are read from the index here; an index libgit2 cannot read is asked of
        // `git ls-files -v`.
        let hidden = match hidden_entries(&repo) {
            Some(n) => n,
            None => {
                let flags = process::run_ok(&pool::strict_git(path).args(["ls-files", "-v"]))
                    .map_err(err)?;
                flags.lines().filter(|l| !l.starts_with("H ")).count()
            }
        };
        if hidden > 0 {
            let reason = format!("{hidden} index entry(ies) hidden from git status");
            return Ok((Some(reason), head));
        }
        // Git's own comparison rules decide the rest, whatever the shared config (a worker
        // can write it) says about stat data. Nothing is written: the index git would refresh
        // is about to be released or kept as it is.
        let status = process::run_ok(&pool::strict_git(path).args([
            "--no-optional-locks",
            "status",
            "--porcelain=v1",
            "--untracked-files=normal",
        ]));
        let status = status.map_err(err)?;
        if !status.is_empty() {
            let changed = status.lines().count();
            let reason = format!("{changed} uncommitted or untracked path(s)");
            return Ok((Some(reason), head));
        }
        Ok((None, head))
    }

    fn remote_state(&self, repo: &git2::Repository, remote: &str, head: &str) -> RemoteState {
        if repo.find_remote(remote).is_err() {
            return RemoteState::NoRemote;
        }
        let asked = process::run_ok(
            &git(&self.path)
                .args([
                    "ls-remote",
                    "--heads",
                    remote,
                    &format!("refs/heads/{}", self.branch),
                ])
                .timeout(REMOTE_TIMEOUT),
        );
        match asked {
            Err(e) => RemoteState::Unreachable(e.to_string()),
            Ok(out) => match out.split_whitespace().next() {
                None => RemoteState::Absent,
                Some(sha) if sha == head => RemoteState::InSync,
                Some(sha) => RemoteState::Differs(sha.to_owned()),
            },
        }
    }
}

impl Repo {
    /// The class of a dispatch whose worktree is gone already (released by an earlier
    /// teardown that died before the end was recorded), read from its branch in this
    /// repository: ahead of its base, committed (the branch keeps the work); at its base,
    /// clean. `None` when the branch is gone too: what became of the work cannot be told.
    pub fn classify_released(&self, wt: &Worktree) -> Option<Classification> {
        let repo = git2::Repository::open(&self.root).ok()?;
        let head = repo
            .find_branch(&wt.branch, git2::BranchType::Local)
            .ok()?
            .get()
            .peel_to_commit()
            .ok()?
            .id();
        let head = CommitId::from(head);
        if head == wt.base_commit {
            return Some(Classification {
                class: TeardownClass::Clean,
                reason: "no new commits; the worktree was already released".into(),
                head_commit: Some(head),
                commits: 0,
                remote: RemoteState::NotChecked,
            });
        }
        let commits = count_commits(&repo, head.as_str(), wt.base_commit.as_str());
        Some(Classification {
            class: TeardownClass::Committed,
            reason: format!(
                "{commits} commit(s) on {}; the worktree was already released",
                wt.branch
            ),
            head_commit: Some(head),
            commits,
            remote: RemoteState::NotChecked,
        })
    }
}

impl Repo {
    /// Diff statistics of a released dispatch's branch against its base, read in this
    /// repository (nothing uncommitted: there is no worktree).
    pub fn released_diff_stats(&self, wt: &Worktree) -> Option<DiffStats> {
        let repo = git2::Repository::open(&self.root).ok()?;
        let base = repo
            .revparse_single(wt.base_commit.as_str())
            .ok()?
            .peel_to_tree()
            .ok()?;
        let head = repo
            .find_branch(&wt.branch, git2::BranchType::Local)
            .ok()?
            .get()
            .peel_to_tree()
            .ok()?;
        let committed = repo
            .diff_tree_to_tree(Some(&base), Some(&head), None)
            .ok()?;
        Some(DiffStats {
            committed: diff_stat(&committed)?,
            uncommitted: DiffStat::default(),
        })
    }
}

/// How many of the index's entries `git status` does not look at: marked assume-unchanged
/// or skip-worktree, or unmerged (what `git ls-files -v` tags other than `H`). `None` when
/// libgit2 cannot read the index.
fn hidden_entries(repo: &git2::Repository) -> Option<usize> {
    /// An entry's stage bits (non-zero: unmerged), as the index format defines them.
    const STAGE: u16 = 0x3000;
    let assumed = git2::IndexEntryFlag::VALID.bits();
    let skipped = git2::IndexEntryExtendedFlag::SKIP_WORKTREE.bits();
    let index = repo.index().ok()?;
    Some(
        index
            .iter()
            .filter(|e| e.flags & (assumed | STAGE) != 0 || e.flags_extended & skipped != 0)
            .count(),
    )
}

/// The class of a worktree whose branch has no commit.
fn no_commit() -> Classification {
    Classification {
        class: TeardownClass::Dirty,
        reason: "the branch has no commit".into(),
        head_commit: None,
        commits: 0,
        remote: RemoteState::NotChecked,
    }
}

/// Commits reachable from `head` but not from `base`.
fn count_commits(repo: &git2::Repository, head: &str, base: &str) -> u64 {
    let ids = (git2::Oid::from_str(head), git2::Oid::from_str(base));
    let (Ok(head), Ok(base)) = ids else {
        return 0;
    };
    let Ok(mut walk) = repo.revwalk() else {
        return 0;
    };
    if walk.push(head).is_err() || walk.hide(base).is_err() {
        return 0;
    }
    walk.count() as u64
}
