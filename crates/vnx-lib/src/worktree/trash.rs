//! Releasing a worktree that holds nothing to keep without making the dispatch wait for its
//! deletion: the checkout and its git admin directory are moved into `.vnx-data/trash/` and
//! deleted once the completion is on the ledger.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Classification, Repo, TeardownAction, TeardownClass, Worktree, WorktreeError, git};
use crate::ids::DispatchId;
use crate::process;
use crate::project::DATA_DIR;

/// What an admin directory moved aside is called in the trash, after its checkout's name.
const ADMIN_SUFFIX: &str = ".git-admin";

impl Repo {
    /// Where worktrees released by a supervisor wait to be deleted: `.vnx-data/trash/`.
    pub fn trash_dir(&self) -> PathBuf {
        self.root.join(DATA_DIR).join("trash")
    }

    /// Acts on a classification as [`Repo::release`] does, except that a worktree that is not
    /// dirty is moved out of the way instead of being deleted now: the checkout and its git
    /// admin directory are renamed into [`Repo::trash_dir`] (which forgets the registration as
    /// `git worktree remove` would), the branch is deleted when the class says so, and
    /// deleting the files is left to [`Repo::empty_trash`], which the supervisor runs once the
    /// completion is on the ledger, so the dispatcher does not wait for it. Nothing is lost by
    /// the delay: the worktree holds no uncommitted or untracked file (its class says so), only
    /// ignored ones, which a plain removal deletes too.
    ///
    /// Git's refusals are kept: a checkout whose registration is not plainly vnx's, or whose
    /// index holds a submodule (which `git worktree remove` will not remove either), goes
    /// through [`Repo::release`] and git's own checks.
    pub fn release_later(
        &self,
        wt: &Worktree,
        c: &Classification,
    ) -> Result<TeardownAction, WorktreeError> {
        if c.class == TeardownClass::Dirty {
            return self.release(wt, c);
        }
        let lock = self.lock()?;
        let Some(admin) = self.plain_admin_dir(&wt.path) else {
            drop(lock);
            return self.release(wt, c);
        };
        let trash = self.trash_dir();
        crate::files::private_dir(&trash).map_err(|source| WorktreeError::Io {
            path: trash.clone(),
            source,
        })?;
        let Some(name) = free_name(&trash, &wt.id) else {
            drop(lock);
            return self.release(wt, c);
        };
        // The checkout first: should vnx stop between the two renames, git finds a
        // registration whose checkout is gone, which `git worktree prune` forgets.
        let aside = trash.join(&name);
        if fs::rename(&wt.path, &aside).is_err() {
            drop(lock);
            return self.release(wt, c);
        }
        let admin_aside = trash.join(format!("{name}{ADMIN_SUFFIX}"));
        if let Err(source) = fs::rename(&admin, &admin_aside) {
            // Put back as it was, so git's own removal can run.
            if fs::rename(&aside, &wt.path).is_ok() {
                drop(lock);
                return self.release(wt, c);
            }
            return Err(WorktreeError::Io {
                path: admin,
                source,
            });
        }
        let mut action = TeardownAction {
            worktree_removed: true,
            branch_deleted: false,
            locked: false,
            pooled: None,
        };
        if matches!(c.class, TeardownClass::Clean | TeardownClass::Pushed) {
            self.delete_branch(&wt.branch)
                .map_err(self.git_err(&wt.path))?;
            action.branch_deleted = true;
        }
        Ok(action)
    }

    /// The admin directory of the checkout at `path`, when it is plainly vnx's to move: it
    /// passes the checks a worker's checkout must pass before any git runs there, and its
    /// index tracks no submodule.
    fn plain_admin_dir(&self, path: &Path) -> Option<PathBuf> {
        if self.foreign_git(path).is_some() {
            return None;
        }
        let admin = super::pool::admin_dir(path).and_then(|a| fs::canonicalize(a).ok())?;
        let index = git2::Index::open(&admin.join("index")).ok()?;
        let gitlink = index.iter().any(|e| e.mode & 0o170000 == 0o160000);
        (!gitlink).then_some(admin)
    }

    /// Deletes local branch `branch` as `git branch -D` does (its reflog and its config
    /// section go too, and a branch checked out anywhere is refused), through libgit2; a
    /// repository libgit2 cannot handle gets git itself.
    pub(super) fn delete_branch(&self, branch: &str) -> Result<(), process::ProcessError> {
        let deleted = self
            .with_git(|r| r.find_branch(branch, git2::BranchType::Local)?.delete())
            .and_then(|deleted| deleted);
        deleted
            .or_else(|_| process::run_ok(&git(&self.root).args(["branch", "-D", branch])).map(drop))
    }

    /// What teardown did once a worktree that is not dirty left its path (moved aside, or to
    /// the pool as `pooled`): its branch deleted when its class says the branch holds nothing
    /// to keep (clean: the base commit; pushed: the remote holds HEAD exactly).
    pub(super) fn after_removal(
        &self,
        wt: &Worktree,
        c: &Classification,
        pooled: Option<String>,
    ) -> Result<TeardownAction, WorktreeError> {
        let mut action = TeardownAction {
            worktree_removed: true,
            branch_deleted: false,
            locked: false,
            pooled,
        };
        if matches!(c.class, TeardownClass::Clean | TeardownClass::Pushed) {
            let _lock = self.lock()?;
            self.delete_branch(&wt.branch)
                .map_err(self.git_err(&wt.path))?;
            action.branch_deleted = true;
        }
        Ok(action)
    }

    /// Deletes what [`Repo::release_later`] moved aside (anyone's: what a crashed supervisor
    /// left goes too, links removed and never followed), then has git forget registrations
    /// whose checkout is gone. The files go without the worktree lock, so other dispatches
    /// are not held up; two supervisors emptying at once each delete what the other has not.
    pub fn empty_trash(&self) {
        let trash = self.trash_dir();
        let Ok(entries) = fs::read_dir(&trash) else {
            return;
        };
        let names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        // A checkout whose admin directory did not come along is still registered with git
        // (an older vnx moved it with `git worktree move`, or vnx stopped between the two
        // renames): only then is there anything for `git worktree prune` to forget. Running
        // it after every dispatch would race with a `git worktree add` under way elsewhere,
        // whose registration is incomplete for a moment.
        let registered = names
            .iter()
            .any(|n| !n.ends_with(ADMIN_SUFFIX) && !names.contains(&format!("{n}{ADMIN_SUFFIX}")));
        for name in &names {
            let _ = fs::remove_dir_all(trash.join(name));
        }
        if registered && let Ok(_lock) = self.lock() {
            let _ = process::run(&git(&self.root).args(["worktree", "prune"]));
        }
    }
}

/// A name in `trash` for a checkout of dispatch `id` that neither it nor its admin
/// directory's name takes yet.
fn free_name(trash: &Path, id: &DispatchId) -> Option<String> {
    (0..100)
        .map(|n| {
            if n == 0 {
                id.as_str().to_owned()
            } else {
                format!("{id}.{n}")
            }
        })
        .find(|name| {
            let taken = |p: PathBuf| p.symlink_metadata().is_ok();
            !taken(trash.join(name)) && !taken(trash.join(format!("{name}{ADMIN_SUFFIX}")))
        })
}
