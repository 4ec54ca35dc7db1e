//! A dispatch's worktree given back to the pool at teardown instead of being deleted: HEAD
//! detached, moved into the pool unproven (until it is scrubbed and proven clean), or put
//! back on its branch when the move fails; a dirty one leaves the pool for good.

use std::fs::{self};
use std::path::Path;

use crate::process;
use crate::worktree::{Repo, Worktree, WorktreeError, git};

use super::{IN_PROGRESS, NotPooled, Pool, admin_dir, new_name};

impl Repo {
    /// Gives a dispatch's worktree back to the pool it came from (entry `name`), or to the
    /// pool as a new entry: HEAD detached at `head` (so the dispatch branch is checked out
    /// nowhere) and moved into the pool, unproven: nobody can take it before [`Pool::tidy`]
    /// (run by [`Pool::fill`], which the supervisor calls once the completion is on the
    /// ledger) has scrubbed it and proven it clean, or removed it. The caller classified it
    /// clean, committed or pushed, so nothing of the worker's work is in it but its branch.
    /// On an error the worktree is where it was, for the caller to release as usual.
    pub fn release_to_pool(
        &self,
        pool: &Pool,
        path: &Path,
        name: &str,
        branch: &str,
        head: Option<&str>,
    ) -> Result<(), NotPooled> {
        let (here, lent) = pool.names();
        let others = here.len() + lent.iter().filter(|n| *n != name).count();
        if others as u32 >= pool.size {
            let _ = fs::remove_file(pool.file(name, "lease"));
            return Err(NotPooled::Full { size: pool.size });
        }
        let unclean = |why: String| NotPooled::Unclean {
            path: path.to_owned(),
            why,
        };
        let admin = admin_dir(path).ok_or_else(|| unclean("no git admin directory".into()))?;
        if let Some(busy) = IN_PROGRESS.iter().find(|f| admin.join(f).exists()) {
            return Err(unclean(format!("an operation is under way ({busy})")));
        }
        let dir = pool.dir();
        crate::files::private_dir(&dir).map_err(pool.io(&dir))?;
        let target = dir.join(name);
        {
            let _lock = self.lock()?;
            let detach = git(path).args(["update-ref", "--no-deref", "HEAD"]);
            let detach = match head {
                Some(h) => detach.arg(h),
                None => detach.arg("HEAD"),
            };
            process::run_ok(&detach).map_err(self.git_err(path))?;
            crate::steps::reached(crate::steps::give_back::HEAD_DETACHED);
            let moved = process::run_ok(
                &git(&self.root)
                    .args(["worktree", "move"])
                    .arg(path)
                    .arg(&target),
            );
            if let Err(e) = moved {
                // Back on its branch, for the caller to release as usual.
                self.reattach(path, branch);
                return Err(self.git_err(path)(e).into());
            }
            crate::steps::reached(crate::steps::give_back::MOVED);
            let _ = fs::remove_file(pool.file(name, "lease"));
        }
        Ok(())
    }
}

impl Repo {
    /// Acts on a classification as [`Repo::release`] does, except that a worktree that is not
    /// dirty goes back to `pool` (as its entry `entry`, or a new one, named in
    /// [`TeardownAction::pooled`](crate::worktree::TeardownAction)) instead of being deleted,
    /// when the pool has room; it is proven clean before anyone takes it
    /// ([`Pool::prove_entry`]). Its branch is kept or deleted by the class as always. A dirty
    /// worktree leaves the pool for good.
    pub fn release_with_pool(
        &self,
        wt: &Worktree,
        c: &crate::worktree::Classification,
        pool: &Pool,
        entry: Option<&str>,
    ) -> Result<crate::worktree::TeardownAction, WorktreeError> {
        use crate::worktree::TeardownClass;
        if c.class == TeardownClass::Dirty {
            if let Some(name) = entry {
                let _ = fs::remove_file(pool.file(name, "lease"));
            }
            return self.release(wt, c);
        }
        let name = entry.map_or_else(new_name, str::to_owned);
        if self
            .release_to_pool(
                pool,
                &wt.path,
                &name,
                &wt.branch,
                c.head_commit.as_ref().map(|i| i.as_str()),
            )
            .is_err()
        {
            return self.release(wt, c);
        }
        self.after_removal(wt, c, Some(name))
    }
}

impl Repo {
    /// Puts a worktree whose give-back to the pool was killed after it detached HEAD
    /// (`give_back:head_detached`) back on its branch, so that it is classified from what it
    /// holds rather than as dirty: HEAD detached exactly at `branch`'s tip, as the give-back
    /// leaves it (the working tree and the branch untouched; the dispatch's lock is held by
    /// the caller). Anything else is left as it is. Whether it was put back.
    pub fn reattach_given_back(&self, path: &Path, branch: &str) -> bool {
        let Ok(wt) = Worktree::open_at(path) else {
            return false;
        };
        if !wt.head_detached().unwrap_or(false) {
            return false;
        }
        let head = wt.head().ok().and_then(|h| h.target());
        let tip = wt
            .find_branch(branch, git2::BranchType::Local)
            .ok()
            .and_then(|b| b.get().target());
        if head.is_none() || head != tip {
            return false;
        }
        self.reattach(path, branch);
        true
    }

    /// Puts a worktree detached for a move that then failed back on its branch.
    fn reattach(&self, path: &Path, branch: &str) {
        let _ = process::run(
            &git(path)
                .args(["symbolic-ref", "HEAD"])
                .arg(format!("refs/heads/{branch}")),
        );
    }
}
