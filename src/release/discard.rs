//! Discarding work on purpose (`vnx clean`): a dispatch the user names is removed whatever its
//! class — worktree (forced: its uncommitted files go with it), branch, and vnx's lock — but
//! never while it runs. Each removal is a `worktree_released` receipt marked `discarded`, so
//! the ledger says the work was thrown away, by whom's request, and what it was.

use crate::ledger::attest::Attestor;
use crate::ledger::{Ledger, now_utc};
use crate::process::{self, Cmd};
use crate::receipts::{self, ReleaseAction, WorktreeReleased};
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
        let mut done = discard_one(repo, item);
        if done.worktree_removed || done.branch_deleted || done.worktree_unlocked {
            let receipt = receipts::write(&WorktreeReleased {
                dispatch_id: item.dispatch_id.clone(),
                branch: item.branch.clone(),
                worktree: item
                    .worktree
                    .as_ref()
                    .map(|p| p.to_string_lossy().into_owned()),
                dispatch_dir: None,
                class: item.class,
                reason: format!("discarded on request; it was: {}", item.reason),
                evidence: None,
                action: ReleaseAction {
                    worktree_unlocked: done.worktree_unlocked,
                    worktree_removed: done.worktree_removed,
                    branch_deleted: done.branch_deleted,
                    dispatch_dir_removed: false,
                    branch_delete: done.branch_delete.map(str::to_owned),
                },
                error: done.error.clone(),
                teardown_class: item.recorded.as_ref().and_then(|r| r.teardown_class),
                discarded: true,
                extra: Default::default(),
            });
            match ledger.append(&attestor.attest(&receipt, &now_utc)) {
                Ok(appended) => done.receipt_seq = appended.lines.last().map(|l| l.seq),
                Err(source) => {
                    item.done = Some(done);
                    return Err(ReleaseError::Unrecorded {
                        id: item.dispatch_id.clone(),
                        source,
                    });
                }
            }
        }
        item.done = Some(done);
    }
    Ok(())
}

fn discard_one(repo: &Repo, item: &Item) -> Done {
    let mut done = Done::default();
    let git = || Cmd::new("git").arg("-C").arg(&repo.root);
    let _lock = match repo.lock() {
        Ok(lock) => lock,
        Err(e) => {
            done.error = Some(e.to_string());
            return done;
        }
    };
    let session = format!("vnx-{}", item.dispatch_id);
    if item.class == Class::Running
        || super::alive(
            repo,
            &item.dispatch_id,
            item.worktree.as_deref(),
            (&session, false),
        )
        .is_some()
    {
        done.skipped = Some("it is running: `vnx cancel` it first".into());
        return done;
    }
    if let Some(path) = &item.worktree {
        if process::run_ok(&git().args(["worktree", "unlock"]).arg(path)).is_ok() {
            done.worktree_unlocked = true;
        }
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
