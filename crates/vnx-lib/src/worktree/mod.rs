//! Per-dispatch git worktrees: created on their own `dispatch/<id>` branch under one lock in
//! the git common directory (parallel `git worktree add` races otherwise), classified after the
//! worker ends — dirty, clean, pushed or committed — and released without ever losing work.
//!
//! The repository, the worktree, their errors and teardown are here; making a dispatch's
//! worktree (and reopening it for a follow-up) is in `create`, classifying what a worker
//! left in `classify`.

use crate::ids::{CommitId, DispatchId};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::process::{self, Cmd, ProcessError};
use crate::project::DATA_DIR;

pub mod changes;
mod classify;
pub mod commit;
mod create;
pub mod links;
pub mod objects;
pub mod pool;
pub mod reflink;
mod trash;
pub use commit::{CommitNote, VnxCommit};
pub use pool::{NotPooled, Pool};

pub use crate::receipts::{DiffStat, DiffStats, TeardownClass};

/// The lock every worktree admin step takes, in the git common directory.
pub const LOCK_FILE: &str = "vnx-worktree.lock";
/// How long asking a remote for a branch may take before the answer counts as unknown.
pub const REMOTE_TIMEOUT: Duration = Duration::from_secs(10);

/// What already holds dispatch id `id` here: its dispatch directory, worktree or branch.
pub fn id_in_use(root: &Path, repo: &Repo, id: &DispatchId) -> Option<PathBuf> {
    let dir = root.join(DATA_DIR).join("dispatches").join(id);
    let worktree = repo.worktrees_dir().join(format!("dispatch-{id}"));
    for path in [dir, worktree] {
        if path.symlink_metadata().is_ok() {
            return Some(path);
        }
    }
    let branch = format!("dispatch/{id}");
    repo.has_branch(&branch)
        .then(|| PathBuf::from(format!("refs/heads/{branch}")))
}

/// A repository that dispatches run against.
#[derive(Clone)]
pub struct Repo {
    /// The main checkout's root.
    pub root: PathBuf,
    /// The git common directory (shared by all worktrees).
    pub common_dir: PathBuf,
    /// libgit2's handle on the main checkout: opened on first use and kept (each open reads
    /// the repository's configuration files again), shared by this value's clones.
    handle: Arc<Mutex<Option<git2::Repository>>>,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("root", &self.root)
            .field("common_dir", &self.common_dir)
            .finish_non_exhaustive()
    }
}

/// A dispatch's worktree.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Worktree {
    /// The dispatch it belongs to.
    pub id: DispatchId,
    /// Its directory, `.vnx-data/worktrees/dispatch-<id>`.
    pub path: PathBuf,
    /// Its branch, `dispatch/<id>`.
    pub branch: String,
    /// The commit the branch started from.
    pub base_commit: CommitId,
}

/// Errors creating, classifying or releasing worktrees; each names what it concerns.
#[derive(Debug, thiserror::Error)]
pub enum WorktreeError {
    /// The path is not inside a git repository.
    #[error("{path} is not inside a git repository")]
    NotInRepo {
        /// The directory asked about.
        path: PathBuf,
    },
    /// The base ref names no commit.
    #[error("base ref {base:?} does not name a commit")]
    BadBase {
        /// The ref given.
        base: String,
        /// What git said.
        #[source]
        source: ProcessError,
    },
    /// The dispatch branch exists already (worktrees never reuse one).
    #[error("branch {branch} already exists")]
    BranchExists {
        /// The branch, `dispatch/<id>`.
        branch: String,
    },
    /// The worktree path exists already.
    #[error("worktree path {path} already exists")]
    PathExists {
        /// The path.
        path: PathBuf,
    },
    /// The repository's worktree lock could not be taken.
    #[error("could not take the worktree lock {path}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A directory for worktrees could not be made.
    #[error("could not create {path}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The worktree has another branch (or none) checked out: vnx commits only on the
    /// dispatch branch.
    #[error("worktree {path} is not on its branch {branch}")]
    NotOnBranch {
        /// The worktree.
        path: PathBuf,
        /// The branch it should be on.
        branch: String,
    },
    /// The worktree's `.git` (which its worker can write) no longer names this repository's
    /// registration for it: vnx runs no git there.
    #[error("worktree {path}: {why}; vnx runs no git in it")]
    ForeignGit {
        /// The worktree.
        path: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A merge is under way in the worktree that vnx will not conclude: conflicts are left,
    /// or it merges a commit vnx did not merge in.
    #[error("worktree {path}: {why}")]
    MergeUnfinished {
        /// The worktree.
        path: PathBuf,
        /// What is unfinished.
        why: String,
    },
    /// A git command for the worktree failed.
    #[error("git failed for worktree {path}")]
    Git {
        /// The worktree.
        path: PathBuf,
        /// What running git said.
        #[source]
        source: ProcessError,
    },
}

impl WorktreeError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            WorktreeError::NotInRepo { .. } => "run vnx inside the repository to govern".into(),
            WorktreeError::BadBase { .. } => {
                "pass --base-ref with a branch, tag or commit that exists".into()
            }
            WorktreeError::BranchExists { branch } => format!(
                "a dispatch with this id ran before; use a new id, or inspect `git log {branch}`"
            ),
            WorktreeError::PathExists { .. } => "use a new dispatch id".into(),
            WorktreeError::MergeUnfinished { path, .. } => format!(
                "finish the merge in {}: resolve every conflict and remove its markers \
                 (`git -C {} diff --name-only --diff-filter=U` lists the paths git holds \
                 unmerged), or `git merge --abort` there to give it up",
                path.display(),
                path.display()
            ),
            WorktreeError::ForeignGit { .. } => {
                "the worktree is kept as it is: look at its .git before you trust anything in it"
                    .into()
            }
            _ => return None,
        })
    }
}

fn git(dir: &Path) -> Cmd {
    Cmd::git().arg("-C").arg(dir)
}

impl Repo {
    /// Finds the repository containing `dir`.
    pub fn discover(dir: &Path) -> Result<Repo, WorktreeError> {
        let not_repo = || WorktreeError::NotInRepo {
            path: dir.to_owned(),
        };
        let repo = git2::Repository::discover(dir).map_err(|_| not_repo())?;
        let root = crate::main_checkout::main_root(dir).ok_or_else(not_repo)?;
        let common_dir = std::fs::canonicalize(repo.commondir()).map_err(|_| not_repo())?;
        Ok(Repo::from_parts(root, common_dir))
    }

    /// The repository of a project already located, without running git.
    pub fn for_project(project: &crate::project::Project) -> Result<Repo, WorktreeError> {
        let not_repo = || WorktreeError::NotInRepo {
            path: project.root.clone(),
        };
        let repo = git2::Repository::open(&project.root).map_err(|_| not_repo())?;
        let common_dir = std::fs::canonicalize(repo.commondir()).map_err(|_| not_repo())?;
        Ok(Repo {
            root: project.root.clone(),
            common_dir,
            handle: Arc::new(Mutex::new(Some(repo))),
        })
    }

    /// A repository already located (e.g. recorded in a dispatch spec), without asking git.
    pub fn from_parts(root: PathBuf, common_dir: PathBuf) -> Repo {
        Repo {
            root,
            common_dir,
            handle: Arc::default(),
        }
    }

    /// The same repository with a libgit2 handle of its own: for a read on another thread
    /// that must not wait for this value's (nor hold it up).
    pub fn apart(&self) -> Repo {
        Repo::from_parts(self.root.clone(), self.common_dir.clone())
    }

    /// Runs `f` on libgit2's handle on the main checkout, opened by the first call. What it
    /// reads is current: libgit2 reads references from disk on each lookup, notices a changed
    /// configuration file or pack, and refreshes the index before a status. `f` must not
    /// call back into this method (the handle is held while it runs).
    pub(crate) fn with_git<T>(
        &self,
        f: impl FnOnce(&git2::Repository) -> T,
    ) -> Result<T, git2::Error> {
        let mut held = self.handle.lock().unwrap_or_else(PoisonError::into_inner);
        let repo = match &mut *held {
            Some(repo) => repo,
            empty => empty.insert(git2::Repository::open(&self.root)?),
        };
        Ok(f(repo))
    }

    /// Whether the local branch `branch` exists.
    pub fn has_branch(&self, branch: &str) -> bool {
        self.with_git(|r| r.find_branch(branch, git2::BranchType::Local).is_ok())
            .unwrap_or(false)
    }

    /// Where dispatch worktrees live: `.vnx-data/worktrees/`.
    pub fn worktrees_dir(&self) -> PathBuf {
        self.root.join(DATA_DIR).join("worktrees")
    }

    /// Why no git may run in the checkout at `path` (its `.git` names another repository or
    /// registration, or its admin directory holds a link), if none may.
    pub fn foreign_git(&self, path: &Path) -> Option<&'static str> {
        pool::foreign_git(&self.common_dir, path)
    }

    /// Removes a checkout no git may run in, without reading it: its files go (links
    /// removed, never followed), then git forgets registrations whose checkout is gone.
    pub fn remove_unread(&self, path: &Path) -> Result<(), WorktreeError> {
        std::fs::remove_dir_all(path).map_err(|source| WorktreeError::Io {
            path: path.to_owned(),
            source,
        })?;
        process::run_ok(&git(&self.root).args(["worktree", "prune"]))
            .map(drop)
            .map_err(self.git_err(path))
    }

    fn git_err(&self, path: &Path) -> impl FnOnce(ProcessError) -> WorktreeError + use<> {
        let path = path.to_owned();
        move |source| WorktreeError::Git { path, source }
    }

    /// Takes the exclusive worktree lock (held until the returned file is dropped); every
    /// `git worktree` and dispatch-branch admin step runs under it.
    pub fn lock(&self) -> Result<File, WorktreeError> {
        let path = self.common_dir.join(LOCK_FILE);
        let lock_err = |source| WorktreeError::Lock {
            path: path.clone(),
            source,
        };
        let file = crate::files::lock_file(&path, true).map_err(lock_err)?;
        Ok(file.expect("a waited-for lock is held"))
    }
}

/// The main checkout's state, for refusing a base a worker would not see and for noticing
/// that the main checkout changed while a worker ran.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckoutState {
    /// The commit HEAD points at.
    pub head: Option<String>,
    /// Whether HEAD is detached.
    pub detached: bool,
    /// Tracked paths with uncommitted changes (untracked files are not counted).
    pub changed: Vec<String>,
}

impl Repo {
    /// Reads the main checkout's HEAD and its tracked changes through libgit2.
    pub fn checkout_state(&self) -> Result<CheckoutState, WorktreeError> {
        let fail = |e: git2::Error| WorktreeError::Git {
            path: self.root.clone(),
            source: ProcessError::libgit2(
                format!("status of {}", self.root.display()),
                e.message(),
            ),
        };
        self.with_git(|repo| {
            let head = repo
                .head()
                .ok()
                .and_then(|h| h.peel_to_commit().ok())
                .map(|c| c.id().to_string());
            let mut options = git2::StatusOptions::new();
            options.include_untracked(false).include_ignored(false);
            let statuses = repo.statuses(Some(&mut options))?;
            let mut changed: Vec<String> = statuses
                .iter()
                .filter(|e| e.status() != git2::Status::CURRENT)
                .filter_map(|e| e.path().ok().map(str::to_owned))
                .collect();
            changed.sort();
            Ok(CheckoutState {
                head,
                detached: repo.head_detached().unwrap_or(false),
                changed,
            })
        })
        .and_then(|state| state)
        .map_err(fail)
    }
}

/// What the remote said about the dispatch branch.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum RemoteState {
    /// No commits to push, so no remote was asked.
    NotChecked,
    /// The repository has no such remote.
    NoRemote,
    /// The remote has no branch of that name.
    Absent,
    /// The remote branch is exactly HEAD.
    InSync,
    /// The remote branch points elsewhere.
    Differs(String),
    /// The remote could not be asked; never read as pushed.
    Unreachable(String),
}

/// A worktree's state after its worker ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Classification {
    /// Which of the four classes it is.
    pub class: TeardownClass,
    /// Why, in words.
    pub reason: String,
    /// HEAD of the worktree (when it has one).
    pub head_commit: Option<CommitId>,
    /// Commits on HEAD that are not on the base.
    pub commits: u64,
    /// What the remote said about the branch.
    pub remote: RemoteState,
}

/// Lines and files `diff` touches.
pub(super) fn diff_stat(diff: &git2::Diff<'_>) -> Option<DiffStat> {
    let stats = diff.stats().ok()?;
    Some(DiffStat {
        files_changed: stats.files_changed() as u64,
        insertions: stats.insertions() as u64,
        deletions: stats.deletions() as u64,
    })
}

/// What teardown did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TeardownAction {
    /// Whether the worktree was removed.
    pub worktree_removed: bool,
    /// Whether the branch was deleted.
    pub branch_deleted: bool,
    /// Whether the kept worktree was locked against `git worktree prune`.
    pub locked: bool,
    /// The pool entry the removed worktree went back to instead of being deleted (unproven
    /// until [`Pool::prove_entry`] or a tidy-up proves it clean).
    pub pooled: Option<String>,
}

impl Repo {
    /// Acts on a classification: dirty is locked and kept; clean and pushed lose worktree and
    /// local branch; committed loses the worktree and keeps the branch. Git's own safety
    /// checks stay on: nothing is forced.
    pub fn release(
        &self,
        wt: &Worktree,
        c: &Classification,
    ) -> Result<TeardownAction, WorktreeError> {
        let _lock = self.lock()?;
        let err = self.git_err(&wt.path);
        let mut action = TeardownAction {
            worktree_removed: false,
            branch_deleted: false,
            locked: false,
            pooled: None,
        };
        if c.class == TeardownClass::Dirty {
            process::run_ok(
                &git(&self.root)
                    .args(["worktree", "lock", "--reason"])
                    .arg(format!("vnx: dispatch {} is dirty: {}", wt.id, c.reason))
                    .arg(&wt.path),
            )
            .map_err(err)?;
            action.locked = true;
            return Ok(action);
        }
        process::run_ok(&git(&self.root).args(["worktree", "remove"]).arg(&wt.path))
            .map_err(self.git_err(&wt.path))?;
        action.worktree_removed = true;
        if matches!(c.class, TeardownClass::Clean | TeardownClass::Pushed) {
            // Clean: the branch is the base commit. Pushed: the remote holds HEAD exactly.
            process::run_ok(&git(&self.root).args(["branch", "-D", &wt.branch]))
                .map_err(self.git_err(&wt.path))?;
            action.branch_deleted = true;
        }
        Ok(action)
    }
}

/// Throwaway checkouts for gates: a detached worktree of one commit, made and removed under
/// the same lock as dispatch worktrees.
impl Repo {
    /// Checks out `commit` detached at `path` (which must not exist).
    pub fn add_detached(&self, path: &Path, commit: &str) -> Result<(), WorktreeError> {
        let _lock = self.lock()?;
        if path.exists() {
            return Err(WorktreeError::PathExists {
                path: path.to_owned(),
            });
        }
        process::run_ok(
            &git(&self.root)
                .args(["worktree", "add", "--quiet", "--detach"])
                .arg(path)
                .arg(commit),
        )
        .map_err(self.git_err(path))?;
        Ok(())
    }

    /// Removes a checkout made by [`Repo::add_detached`] with whatever it holds: it is vnx's
    /// scratch space (a build, a test run), never work.
    pub fn remove_detached(&self, path: &Path) -> Result<(), WorktreeError> {
        let _lock = self.lock()?;
        process::run_ok(
            &git(&self.root)
                .args(["worktree", "remove", "--force"])
                .arg(path),
        )
        .map_err(self.git_err(path))?;
        Ok(())
    }

    /// The branch (`refs/heads/…`) a ref names, if it names one: a branch by short or full
    /// name, or `HEAD` while a branch is checked out.
    pub fn branch_ref(&self, reference: &str) -> Option<String> {
        self.with_git(|repo| {
            let found = if reference == "HEAD" {
                repo.head().ok()?
            } else {
                repo.resolve_reference_from_short_name(reference).ok()?
            };
            if !found.is_branch() {
                return None;
            }
            found.name().ok().map(str::to_owned)
        })
        .ok()
        .flatten()
    }
}
