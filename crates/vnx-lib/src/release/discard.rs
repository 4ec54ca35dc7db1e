//! Discarding work on purpose (`vnx clean`): a dispatch the user names is removed whatever its
//! class — worktree (forced: its uncommitted files go with it), branch, and vnx's lock — but
//! never while it runs. Each removal is a `worktree_released` receipt marked `discarded`, so
//! the ledger says the work was thrown away, by whom's request, and what it was.

use crate::ledger::Ledger;
use crate::ledger::attest::Attestor;
use crate::process::{self, Cmd};
use crate::worktree::Repo;

use super::{Class, Done, Item, Options, ReleaseError};

/// Discards each item: no item that runs, each one recorded before the next. Stops at the
/// first receipt that cannot be written.
pub fn discard(
    repo: &Repo,
    items: &mut [Item],
    options: &Options,
    attestor: &Attestor,
) -> Result<(), ReleaseError> {
    let ledger = Ledger::new(&options.ledger);
    for item in items.iter_mut() {
        let done = discard_one(repo, item);
        super::apply::record(&ledger, attestor, item, done, true, None)?;
    }
    Ok(())
}

fn discard_one(repo: &Repo, item: &Item) -> Done {
    let mut done = Done::default();
    let git = || Cmd::git().arg("-C").arg(&repo.root);
    let _lock = match repo.lock() {
        Ok(lock) => lock,
        Err(e) => {
            done.error = Some(e.to_string());
            return done;
        }
    };
    let session = format!("vnx-{}", item.dispatch_id);
    let alive = super::alive(
        repo,
        &item.dispatch_id,
        item.worktree.as_deref(),
        (&session, false),
    );
    if item.class == Class::Running || alive.is_some() {
        done.skipped = Some("it is running: `vnx cancel` it first".into());
        return done;
    }
    if let Some(path) = &item.worktree {
        if process::run_ok(&git().args(["worktree", "unlock"]).arg(path)).is_ok() {
            done.worktree_unlocked = true;
        }
        // A checkout whose `.git` its worker redirected (or whose admin directory holds a
        // link) is removed without running git in it: git would read the worker's choice.
        if let Some(why) = repo.foreign_git(path)
            && path.symlink_metadata().is_ok()
        {
            match repo.remove_unread(path) {
                Ok(()) => done.worktree_removed = true,
                Err(e) => {
                    done.error = Some(format!("{why}: {e}"));
                    return done;
                }
            }
        } else {
            // Twice forced: a locked or dirty worktree goes too — that is the point.
            match process::run_ok(
                &git()
                    .args(["worktree", "remove", "--force", "--force"])
                    .arg(path),
            ) {
                Ok(_) => done.worktree_removed = true,
                Err(e) => {
                    done.error = Some(e.to_string());
                    return done;
                }
            }
        }
    }
    if let Some(branch) = &item.branch {
        match process::run_ok(&git().args(["branch", "-D", branch])) {
            Ok(_) => {
                done.branch_deleted = true;
                done.branch_delete = Some("-D");
            }
            Err(e) => done.error = Some(e.to_string()),
        }
    }
    done
}
