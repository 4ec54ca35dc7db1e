//! Releasing what the plan proved safe, one dispatch at a time under the worktree lock: the
//! branch's tip, the worktree's cleanliness and the landing proof are checked again under the
//! lock; vnx's own lock is lifted only from a worktree that is no longer dirty; git's safety
//! checks stay on (no `--force`; `branch -D` only after vnx's proof). Each release is
//! recorded as a `worktree_released` receipt.

use crate::ledger::attest::Attestor;
use crate::ledger::{Ledger, Receipt, now_utc};
use crate::process::{self, Cmd};
use crate::receipts::{self, ReleaseAction, WorktreeReleased};
use crate::worktree::{Repo, Worktree};

use super::inventory::vnx_lock_reason;
use super::journal::Journal;
use super::{Class, Done, Item, Options, Plan, ReleaseError, Rule, proof};

/// Releases every item the plan marked, recording each as a receipt signed by `attestor`.
/// Stops at the first receipt that cannot be written, so nothing is released unrecorded after
/// it.
pub fn apply(
    repo: &Repo,
    plan: &mut Plan,
    options: &Options,
    attestor: &Attestor,
) -> Result<(), ReleaseError> {
    plan.applied = true;
    // Releases an earlier run did without recording them are recorded first.
    let trusted = crate::ledger::attest::trusted_keys(&options.ledger, attestor)?;
    super::journal::settle(repo, &options.ledger, attestor, &trusted)?;
    let ledger = Ledger::new(&options.ledger);
    for item in plan.items.iter_mut().filter(|i| i.actions.any()) {
        // What this release will do is kept, signed, before it does it.
        let planned = Done {
            worktree_unlocked: item.actions.unlock_worktree,
            worktree_removed: item.actions.remove_worktree,
            branch_deleted: item.actions.delete_branch,
            dispatch_dir_removed: item.actions.remove_dispatch_dir,
            ..Done::default()
        };
        let journal = Journal::keep(
            repo,
            attestor,
            &item.dispatch_id,
            &receipt(item, &planned, false),
        )?;
        let done = release_one(repo, item, options)?;
        if done.worktree_removed || done.branch_deleted {
            crate::steps::reached(crate::steps::release::RELEASED);
        }
        record(&ledger, attestor, item, done, false, Some(&journal))?;
        journal.remove();
    }
    Ok(())
}

/// Keeps what was done on the item and, when anything was, appends its `worktree_released`
/// receipt (`discarded` when thrown away on request).
pub(super) fn record(
    ledger: &Ledger,
    attestor: &Attestor,
    item: &mut Item,
    mut done: Done,
    discarded: bool,
    journal: Option<&Journal>,
) -> Result<(), ReleaseError> {
    if done.worktree_unlocked
        || done.worktree_removed
        || done.branch_deleted
        || done.dispatch_dir_removed
    {
        let mut receipt = receipt(item, &done, discarded);
        if let Some(journal) = journal {
            receipt = journal.mark(&receipt);
        }
        match ledger.append(&attestor.attest(&receipt, &now_utc)) {
            Ok(appended) => done.receipt_seq = appended.lines.last().map(|l| l.seq),
            Err(source) => {
                item.done = Some(done);
                return Err(ReleaseError::Unrecorded {
                    id: item.dispatch_id.to_string(),
                    source,
                });
            }
        }
    }
    item.done = Some(done);
    Ok(())
}

fn git(repo: &Repo) -> Cmd {
    Cmd::git().arg("-C").arg(&repo.root)
}

fn release_one(repo: &Repo, item: &Item, options: &Options) -> Result<Done, ReleaseError> {
    let mut done = Done::default();
    let _lock = repo.lock()?;
    // Alive now? (It may have started since it was classified.)
    let session = format!("vnx-{}", item.dispatch_id);
    let live = super::alive(
        repo,
        &item.dispatch_id,
        item.worktree.as_deref(),
        (&session, false),
    );
    if let Some(why) = live {
        done.skipped = Some(format!("{why}"));
        return Ok(done);
    }
    if let Some(why) = recheck(repo, item, options) {
        done.skipped = Some(why);
        return Ok(done);
    }
    if let (true, Some(path)) = (item.actions.remove_worktree, &item.worktree) {
        if item.actions.unlock_worktree {
            let unlocked = process::run_ok(&git(repo).args(["worktree", "unlock"]).arg(path));
            if let Err(e) = unlocked {
                done.error = Some(e.to_string());
                return Ok(done);
            }
            done.worktree_unlocked = true;
        }
        match process::run_ok(&git(repo).args(["worktree", "remove"]).arg(path)) {
            Ok(_) => done.worktree_removed = true,
            Err(e) => {
                done.error = Some(e.to_string());
                if done.worktree_unlocked {
                    // Put vnx's lock back: git refused, so the worktree stays as it was.
                    let reason = format!(
                        "{}: locked again after git refused to remove it",
                        vnx_lock_reason(&item.dispatch_id)
                    );
                    let relocked = process::run_ok(
                        &git(repo)
                            .args(["worktree", "lock", "--reason", &reason])
                            .arg(path),
                    );
                    done.worktree_unlocked = relocked.is_err();
                }
                return Ok(done);
            }
        }
    }
    if let (true, Some(branch)) = (item.actions.delete_branch, &item.branch) {
        let by_ancestry = item.evidence.as_ref().map(|e| e.rule) == Some(Rule::Ancestor);
        // git's own merge check first where it applies (merged into HEAD or the upstream);
        // otherwise vnx's proof, just re-checked under the lock, stands for it.
        if by_ancestry && process::run_ok(&git(repo).args(["branch", "-d", branch])).is_ok() {
            done.branch_deleted = true;
            done.branch_delete = Some("-d");
        } else {
            match process::run_ok(&git(repo).args(["branch", "-D", branch])) {
                Ok(_) => {
                    done.branch_deleted = true;
                    done.branch_delete = Some("-D");
                }
                Err(e) => done.error = Some(e.to_string()),
            }
        }
    }
    if let (true, Some(dir), None) = (
        item.actions.remove_dispatch_dir,
        &item.dispatch_dir,
        &done.error,
    ) {
        // Only a dispatch that never started, checked again: the ledger and the directory.
        let started = options.ledger.exists()
            && crate::dispatch::view::started(&options.ledger, &item.dispatch_id)?;
        if started || !super::never_started(None, dir) {
            done.skipped = Some("the dispatch has started since it was classified".into());
        } else {
            match std::fs::remove_dir_all(dir) {
                Ok(()) => done.dispatch_dir_removed = true,
                Err(e) => done.error = Some(format!("{}: {e}", dir.display())),
            }
        }
    }
    Ok(done)
}

/// Why the item may no longer be released, looked at again under the worktree lock.
fn recheck(repo: &Repo, item: &Item, options: &Options) -> Option<String> {
    let branch = item.branch.as_deref()?;
    let tip_now = git2::Repository::open(&repo.root).ok().and_then(|r| {
        let b = r.find_branch(branch, git2::BranchType::Local).ok()?;
        Some(crate::ids::CommitId::from(
            b.get().peel_to_commit().ok()?.id(),
        ))
    });
    if tip_now != item.tip {
        return Some("the branch moved since it was classified".into());
    }
    if let (true, Some(path)) = (item.actions.remove_worktree, &item.worktree) {
        match Worktree::dirt_at(path, branch) {
            Ok((None, _)) => {}
            Ok((Some(reason), _)) => return Some(format!("the worktree became dirty: {reason}")),
            Err(e) => return Some(format!("could not read the worktree again: {e}")),
        }
    }
    if item.class == Class::Landed {
        let by_pr = item.evidence.as_ref().map(|e| e.rule) == Some(Rule::PrMerged);
        let still = match (repo.resolve(&options.base).ok(), &item.tip) {
            (_, Some(tip)) if by_pr => {
                proof::pr_merged(&options.ledger, branch, tip.as_str(), &options.trusted_keys)
                    .ok()
                    .flatten()
                    .is_some()
            }
            (Some(base), Some(tip)) => proof::landed(&repo.root, tip.as_str(), base.as_str())
                .ok()
                .flatten()
                .is_some(),
            _ => false,
        };
        if !still {
            return Some(format!("no longer provably in {}", options.base));
        }
    }
    None
}

fn receipt(item: &Item, done: &Done, discarded: bool) -> Receipt {
    receipts::write(&WorktreeReleased {
        dispatch_id: item.dispatch_id.clone(),
        branch: item.branch.clone(),
        worktree: item
            .worktree
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
        dispatch_dir: item
            .dispatch_dir
            .as_ref()
            .filter(|_| done.dispatch_dir_removed)
            .map(|p| p.to_string_lossy().into_owned()),
        class: item.class,
        reason: if discarded {
            format!("discarded on request; it was: {}", item.reason)
        } else {
            item.reason.clone()
        },
        evidence: item.evidence.clone().filter(|_| !discarded),
        action: ReleaseAction {
            worktree_unlocked: done.worktree_unlocked,
            worktree_removed: done.worktree_removed,
            branch_deleted: done.branch_deleted,
            dispatch_dir_removed: done.dispatch_dir_removed,
            branch_delete: done.branch_delete.map(str::to_owned),
        },
        error: done.error.clone(),
        teardown_class: item.recorded.as_ref().and_then(|r| r.teardown_class),
        discarded,
        extra: Default::default(),
    })
}
