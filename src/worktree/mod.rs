//! Per-dispatch git worktrees: created on their own `dispatch/<id>` branch under one lock in
//! the git common directory (parallel `git worktree add` races otherwise), classified after the
//! worker ends — dirty, clean, pushed or committed — and released without ever losing work.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ledger::receipt::is_dispatch_id;
use crate::process::{self, Cmd, ProcessError};
use crate::project::DATA_DIR;

pub mod commit;
pub mod pool;
mod trash;
pub use commit::{CommitNote, VnxCommit};
pub use pool::{NotPooled, Pool};

pub use crate::receipts::{DiffStat, DiffStats, TeardownClass};

/// The lock every worktree admin step takes, in the git common directory.
pub const LOCK_FILE: &str = "vnx-worktree.lock";
/// How long asking a remote for a branch may take before the answer counts as unknown.
pub const REMOTE_TIMEOUT: Duration = Duration::from_secs(10);

/// What already holds dispatch id `id` here: its dispatch directory, worktree or branch.
pub fn id_in_use(root: &Path, repo: &Repo, id: &str) -> Option<PathBuf> {
    let dir = root.join(DATA_DIR).join("dispatches").join(id);
    let worktree = repo.worktrees_dir().join(format!("dispatch-{id}"));
    for path in [dir, worktree] {
        if path.symlink_metadata().is_ok() {
            return Some(path);
        }
    }
    let branch = format!("dispatch/{id}");
    git2::Repository::open(&repo.root)
        .is_ok_and(|r| r.find_branch(&branch, git2::BranchType::Local).is_ok())
        .then(|| PathBuf::from(format!("refs/heads/{branch}")))
}

/// A repository that dispatches run against.
#[derive(Clone, Debug)]
pub struct Repo {
    /// The main checkout's root.
    pub root: PathBuf,
    /// The git common directory (shared by all worktrees).
    pub common_dir: PathBuf,
}

/// A dispatch's worktree.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Worktree {
    /// The dispatch it belongs to.
    pub id: String,
    /// Its directory, `.vnx-data/worktrees/dispatch-<id>`.
    pub path: PathBuf,
    /// Its branch, `dispatch/<id>`.
    pub branch: String,
    /// The commit the branch started from.
    pub base_commit: String,
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
    /// A dispatch id that cannot name a branch and a directory.
    #[error("dispatch id {id:?} does not match ^[A-Za-z0-9][A-Za-z0-9_-]{{0,63}}$")]
    BadId {
        /// The id given.
        id: String,
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
            WorktreeError::BadId { .. } => {
                "use letters, digits, `_` and `-` (e.g. D-1a2b3c4d5e6f); no `/`, `.` or spaces"
                    .into()
            }
            WorktreeError::BadBase { .. } => {
                "pass --base-ref with a branch, tag or commit that exists".into()
            }
            WorktreeError::BranchExists { branch } => format!(
                "a dispatch with this id ran before; use a new id, or inspect `git log {branch}`"
            ),
            WorktreeError::PathExists { .. } => "use a new dispatch id".into(),
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
        Ok(Repo { root, common_dir })
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
        })
    }

    /// A repository already located (e.g. recorded in a dispatch spec), without asking git.
    pub fn from_parts(root: PathBuf, common_dir: PathBuf) -> Repo {
        Repo { root, common_dir }
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

    /// Resolves a ref to a full commit id.
    pub fn resolve(&self, reference: &str) -> Result<String, WorktreeError> {
        let bad = |message: String| WorktreeError::BadBase {
            base: reference.to_owned(),
            source: ProcessError::Failed {
                command: format!("resolve {reference}"),
                status: "libgit2".into(),
                stderr: message,
            },
        };
        let repo = git2::Repository::open(&self.root).map_err(|e| bad(e.message().to_owned()))?;
        let object = repo
            .revparse_single(reference)
            .map_err(|e| bad(e.message().to_owned()))?;
        let commit = object
            .peel_to_commit()
            .map_err(|e| bad(e.message().to_owned()))?;
        Ok(commit.id().to_string())
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
        let at_base = git2::Repository::open(&self.root).is_ok_and(|r| {
            r.find_branch(branch, git2::BranchType::Local)
                .ok()
                .and_then(|b| b.get().target())
                .is_some_and(|t| t.to_string() == base_commit)
        });
        if at_base {
            let _ = process::run(&git(&self.root).args(["branch", "-D", branch]));
        }
    }

    /// Creates `.vnx-data/worktrees/dispatch-<id>` on a new branch `dispatch/<id>` at `base`.
    pub fn create(&self, id: &str, base: &str) -> Result<Worktree, WorktreeError> {
        Ok(self.create_from(id, base, None)?.0)
    }

    /// Checks that dispatch `id` can have its worktree and branch (neither exists), under
    /// the worktree lock the caller holds. Returns the path, the branch and the base commit.
    fn vacancy(&self, id: &str, base: &str) -> Result<(PathBuf, String, String), WorktreeError> {
        if !is_dispatch_id(id) {
            return Err(WorktreeError::BadId { id: id.to_owned() });
        }
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
        let exists = git2::Repository::open(&self.root)
            .is_ok_and(|r| r.find_branch(&branch, git2::BranchType::Local).is_ok());
        if exists {
            return Err(WorktreeError::BranchExists { branch });
        }
        Ok((path, branch, base_commit))
    }

    /// Like [`Repo::create`], taking an idle worktree from `pool` when it has one (moved into
    /// place and switched to the new branch by a checkout of only the files that differ),
    /// a fresh checkout otherwise. Returns the worktree and the pool entry it came from.
    pub fn create_from(
        &self,
        id: &str,
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
            self.undo_failed_add(&path, &branch, &base_commit);
            return Err(self.git_err(&path)(e));
        }
        let wt = Worktree {
            id: id.to_owned(),
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
        id: &str,
        branch: &str,
        path: &Path,
        base_commit: &str,
        head: &str,
        pool: Option<&Pool>,
    ) -> Result<(Worktree, bool, Option<String>), WorktreeError> {
        let _lock = self.lock()?;
        let wt = Worktree {
            id: id.to_owned(),
            path: path.to_owned(),
            branch: branch.to_owned(),
            base_commit: base_commit.to_owned(),
        };
        if path.exists() {
            // Not locked is fine: only a dirty teardown locks.
            let _ = process::run(&git(&self.root).args(["worktree", "unlock"]).arg(path));
            return Ok((wt, false, None));
        }
        let _ = process::run(&git(&self.root).args(["worktree", "prune"]));
        let exists = git2::Repository::open(&self.root)
            .is_ok_and(|r| r.find_branch(branch, git2::BranchType::Local).is_ok());
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

/// The main checkout's state, for refusing a base a worker would not see and for noticing
/// that the main checkout changed while a worker ran.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
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
            source: ProcessError::Failed {
                command: format!("status of {}", self.root.display()),
                status: "libgit2".into(),
                stderr: e.message().to_owned(),
            },
        };
        let repo = git2::Repository::open(&self.root).map_err(fail)?;
        let head = repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .map(|c| c.id().to_string());
        let mut options = git2::StatusOptions::new();
        options.include_untracked(false).include_ignored(false);
        let statuses = repo.statuses(Some(&mut options)).map_err(fail)?;
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
    pub head_commit: Option<String>,
    /// Commits on HEAD that are not on the base.
    pub commits: u64,
    /// What the remote said about the branch.
    pub remote: RemoteState,
}

/// Lines and files `diff` touches.
fn diff_stat(diff: &git2::Diff<'_>) -> Option<DiffStat> {
    let stats = diff.stats().ok()?;
    Some(DiffStat {
        files_changed: stats.files_changed() as u64,
        insertions: stats.insertions() as u64,
        deletions: stats.deletions() as u64,
    })
}

impl Worktree {
    /// Diff statistics of a worktree [`Worktree::dirt`] just found not dirty: its commits
    /// against its base, and nothing uncommitted (the working tree is not read again).
    pub fn diff_stats_undirty(&self) -> Option<DiffStats> {
        let repo = git2::Repository::open(&self.path).ok()?;
        Some(DiffStats {
            committed: self.committed_stat(&repo)?,
            uncommitted: DiffStat::default(),
        })
    }

    /// Lines and files the commits on HEAD change against the base.
    fn committed_stat(&self, repo: &git2::Repository) -> Option<DiffStat> {
        let base = repo
            .revparse_single(&self.base_commit)
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
        self.classify_undirty(remote, head)
    }

    /// Classifies a worktree [`Worktree::dirt`] just found not dirty, at `head`, without
    /// reading its working tree again: clean, pushed or committed.
    pub fn classify_undirty(
        &self,
        remote: &str,
        head: Option<String>,
    ) -> Result<Classification, WorktreeError> {
        let Some(head) = head else {
            return Ok(Classification {
                class: TeardownClass::Dirty,
                reason: "the branch has no commit".into(),
                head_commit: None,
                commits: 0,
                remote: RemoteState::NotChecked,
            });
        };
        let repo = self.open()?;
        let commits = count_commits(&repo, &head, &self.base_commit);
        if head == self.base_commit {
            return Ok(Classification {
                class: TeardownClass::Clean,
                reason: "no new commits and nothing uncommitted".into(),
                head_commit: Some(head),
                commits: 0,
                remote: RemoteState::NotChecked,
            });
        }
        let remote_state = self.remote_state(remote, &head);
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
        Ok(Classification {
            class,
            reason,
            head_commit: Some(head),
            commits,
            remote: remote_state,
        })
    }

    /// Opens the worktree's repository, after checking that its `.git` still names this
    /// repository's registration for it: every read and every git vnx runs there starts here.
    fn open(&self) -> Result<git2::Repository, WorktreeError> {
        if let Some(why) = self.foreign_git() {
            return Err(WorktreeError::ForeignGit {
                path: self.path.clone(),
                why,
            });
        }
        git2::Repository::open(&self.path).map_err(|e| WorktreeError::Git {
            path: self.path.clone(),
            source: ProcessError::Failed {
                command: format!("open {}", self.path.display()),
                status: "libgit2".into(),
                stderr: e.message().to_owned(),
            },
        })
    }

    /// Why this checkout's `.git` no longer names its registration in the repository around
    /// it (`.vnx-data/worktrees/` of a main checkout), if it does not.
    fn foreign_git(&self) -> Option<&'static str> {
        let root = self.path.ancestors().nth(3)?;
        let common = git2::Repository::open(root)
            .ok()
            .and_then(|r| std::fs::canonicalize(r.commondir()).ok())?;
        pool::foreign_git(&common, &self.path)
    }

    /// Why the worktree counts as dirty (uncommitted or untracked files, a detached HEAD, or
    /// another branch checked out), if it does, and its HEAD commit.
    pub fn dirt(&self) -> Result<(Option<String>, Option<String>), WorktreeError> {
        let err = |source| WorktreeError::Git {
            path: self.path.clone(),
            source,
        };
        // No git runs in a checkout whose `.git` a worker pointed elsewhere: it is kept.
        if let Some(why) = self.foreign_git() {
            return Ok((Some(format!("{why}: not read, kept as it is")), None));
        }
        // Plain reads go through libgit2; `git status` (below) stays a subprocess so that
        // every ignore rule and attribute is git's own.
        let repo = self.open()?;
        let head = repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .map(|c| c.id().to_string());
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
        let expected = format!("refs/heads/{}", self.branch);
        if on != expected {
            let reason = format!(
                "on unexpected branch {}",
                on.trim_start_matches("refs/heads/")
            );
            return Ok((Some(reason), head));
        }
        // An entry marked assume-unchanged or skip-worktree hides a changed file from
        // `git status`: such a worktree is kept, never removed as clean. Git's own comparison
        // rules decide the rest, whatever the shared config (a worker can write it) says about
        // stat data. The two reads are independent and run side by side.
        let (flags, status) = std::thread::scope(|s| {
            let flags =
                s.spawn(|| process::run_ok(&pool::strict_git(&self.path).args(["ls-files", "-v"])));
            let status = process::run_ok(&pool::strict_git(&self.path).args([
                "status",
                "--porcelain=v1",
                "--untracked-files=normal",
            ]));
            let flags = flags
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            (flags, status)
        });
        let flags = flags.map_err(err)?;
        let hidden = flags.lines().filter(|l| !l.starts_with("H ")).count();
        if hidden > 0 {
            let reason = format!("{hidden} index entry(ies) hidden from git status");
            return Ok((Some(reason), head));
        }
        let status = status.map_err(err)?;
        if !status.is_empty() {
            let changed = status.lines().count();
            let reason = format!("{changed} uncommitted or untracked path(s)");
            return Ok((Some(reason), head));
        }
        Ok((None, head))
    }

    fn remote_state(&self, remote: &str, head: &str) -> RemoteState {
        let known = git2::Repository::open(&self.path).is_ok_and(|r| r.find_remote(remote).is_ok());
        if !known {
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
        let repo = git2::Repository::open(&self.root).ok()?;
        let found = if reference == "HEAD" {
            repo.head().ok()?
        } else {
            repo.resolve_reference_from_short_name(reference).ok()?
        };
        if !found.is_branch() {
            return None;
        }
        found.name().ok().map(str::to_owned)
    }
}
