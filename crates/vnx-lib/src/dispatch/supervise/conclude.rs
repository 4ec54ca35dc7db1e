//! The end of a dispatch: a done worker's changes committed, the worktree classified and
//! released (or given back to its pool), the phantom guard applied, and the signed
//! `dispatch_completed` kept on disk and appended; then the supervisor's background work.

use std::fs;
use std::time::{Duration, Instant};

use crate::dispatch::{DispatchError, Spec};
use crate::ledger::Ledger;
use crate::ledger::attest::Attestor;
use crate::ledger::json;
use crate::receipts::{self, DispatchCompleted, DispatchStatus, TeardownAction};
use crate::sandbox::QuarantineExt;
use crate::worktree::{CommitNote, Repo, TeardownClass, Worktree};

use crate::dispatch::error_chain;

/// What became of a dispatch's end once [`conclude`] recorded it.
pub(in crate::dispatch) struct Concluded {
    /// How the dispatch ended (after the phantom guard).
    pub status: DispatchStatus,
    /// What teardown found, when it could classify the worktree.
    pub class: Option<TeardownClass>,
    /// The completion's lines on the ledger.
    pub appended: crate::ledger::AppendOutcome,
    /// The pool entry the worktree went back to.
    pub pooled: Option<String>,
}

/// The end of a dispatch whose `completed` receipt is drawn up (by its supervisor, or by
/// `vnx recover` after the supervisor died): a done worker's changes committed, its
/// commits imported from a sandbox's quarantine, the worktree classified and released, the
/// phantom guard applied, and the signed completion kept on disk and appended.
///
/// A done worker's changes that cannot be committed for want of space (tried again for
/// `commit_patience`) are not recorded as a failure: nothing is recorded, the dispatch is
/// marked (`pending::mark_uncommitted`) and [`DispatchError::Uncommitted`] returned, the work
/// left as it is in the worktree; once space returns, the next command resumes the end.
/// `before_end` adds what was found beside the teardown, once it is over.
pub(in crate::dispatch) fn conclude(
    spec: &Spec,
    repo: &Repo,
    mut completed: DispatchCompleted,
    attestor: &Attestor,
    commit_patience: Duration,
    before_end: &mut dyn FnMut(&mut DispatchCompleted),
) -> Result<Concluded, DispatchError> {
    crate::steps::reached(crate::steps::conclude::WORKER_STOPPED);
    let session_id = completed.session_id.clone();
    let summary = completed.report.as_ref().and_then(|r| r.summary.clone());
    let note = CommitNote {
        dispatch_id: spec.id.as_str(),
        provider: spec.provider.name(),
        model: spec.model.as_deref(),
        session_id: session_id.as_deref(),
        summary: summary.as_deref(),
        accepted_by: None,
    };
    let commit = (completed.status == DispatchStatus::Done).then_some(&note);
    let mut pooled = None;
    // The supervisor started in the worktree: it leaves it before teardown moves it (a
    // pooled checkout some process still works in is never lent again).
    let _ = std::env::set_current_dir(&spec.repo_root);
    let _ = fs::remove_dir_all(spec.relay_dir());
    // A sandboxed worker's private copy of its CLI's home (the user's login among it) goes
    // once the worker has ended; what the worker left there is never read (ADR 0069). What a
    // crash leaves, `vnx prune` removes with the dispatch directory.
    if spec.sandbox.is_some() {
        let _ = crate::sandbox::home::remove(&spec.dispatch_dir);
    }
    // So does the login copied into a home of its CLI's own; its sessions stay.
    crate::dispatch::start::carried::forget_logins(&spec.dispatch_dir);
    // A sandboxed worker's commits wait in its quarantine until git has checked them; if they
    // cannot be brought in, the worktree and the quarantine stay as they are.
    let imported = match spec.sandbox.as_ref().and_then(|s| s.git.as_ref()) {
        Some(q) => q.import(&spec.repo_root).map(|_| ()).map_err(|e| {
            completed.teardown_error = Some(format!(
                "{} (kept: the worktree and {})",
                error_chain(&e),
                q.dir.display()
            ));
        }),
        None => Ok(()),
    };
    let class = match imported {
        Ok(()) => match teardown(
            spec,
            repo,
            commit,
            &mut completed,
            &mut pooled,
            commit_patience,
        ) {
            Ok(class) => class,
            Err(why) => {
                let _ = super::pending::mark_uncommitted(spec.data_dir(), &spec.id);
                return Err(DispatchError::Uncommitted {
                    id: spec.id.clone(),
                    worktree: spec.worktree.clone(),
                    why,
                });
            }
        },
        Err(()) => None,
    };
    before_end(&mut completed);
    if completed.status == DispatchStatus::Done
        && class != Some(TeardownClass::Clean)
        && class != Some(TeardownClass::Committed)
        && class != Some(TeardownClass::Pushed)
    {
        // Done means the work is on the branch: anything less is not a success.
        completed.status = DispatchStatus::Failed;
        let why = completed
            .vnx_commit_error
            .clone()
            .or_else(|| completed.teardown_reason.clone())
            .or_else(|| completed.teardown_error.clone())
            .unwrap_or_else(|| "the worktree could not be classified".into());
        completed.failure_reason = Some(format!(
            "the worker reported done, but its work is not committed: {why}"
        ));
    }
    if crate::dispatch::supervise::phantom::asked(&completed) {
        // A CLI that cannot report asked, and changed nothing: its question, not a phantom.
        completed.status = DispatchStatus::NeedsInput;
        completed.failure_reason = Some(crate::dispatch::supervise::phantom::ASKED.into());
    }
    if crate::dispatch::planned::waits(spec.plan.as_ref(), completed.status) {
        // A planning worker's end is its plan, which waits for a person (ADR 0092).
        completed.status = DispatchStatus::NeedsInput;
        completed.failure_reason = Some(crate::dispatch::planned::WAITS.into());
    }
    completed
        .shed_until(|c| json::to_canonical(&receipts::value::to_value(c)).len() <= MAX_COMPLETION);
    // The phantom guard's correction goes in the same group commit as the completion.
    let corrected = crate::dispatch::supervise::phantom::correction(spec.writes, &completed);
    let status = corrected.as_ref().map_or(completed.status, |c| c.status);
    let mut receipts = vec![receipts::write(&completed)];
    receipts.extend(corrected.as_ref().map(receipts::write));
    let receipts = crate::dispatch::attest_all(attestor, receipts);
    // An answer the worker went on with is recorded before its end.
    crate::dispatch::answer::wait_for_answers(&spec.dispatch_dir, Duration::from_secs(10));
    let appended = keep_and_append(spec, &receipts)?;
    crate::steps::reached(crate::steps::conclude::COMPLETED_APPENDED);
    // The port goes back once the end is on the ledger.
    if let Some(port) = spec.port {
        crate::dispatch::start::ports::release(spec.data_dir(), port, &spec.id);
    }
    Ok(Concluded {
        status,
        class,
        appended,
        pooled,
    })
}

/// How long a completion that could not even be kept on disk is offered to the ledger
/// again, at the least: losing it is worse than a pane that waits for space.
const UNKEPT_RETRY: Duration = Duration::from_secs(600);

/// Keeps the signed completion on disk first (in the space its launch reserved), so a ledger
/// that cannot be written now loses nothing, and appends it, retrying with a doubling pause
/// (50 ms to 2 s) for `completion_retry_secs`; what is kept but not appended by then, any
/// later vnx command appends. Should even keeping fail (no reservation and a full disk),
/// both ways are tried again until one works or [`UNKEPT_RETRY`] has passed.
fn keep_and_append(
    spec: &Spec,
    receipts: &[crate::ledger::Receipt],
) -> Result<crate::ledger::AppendOutcome, DispatchError> {
    let ledger = Ledger::new(&spec.ledger);
    let data_dir = spec.repo_root.join(crate::project::DATA_DIR);
    let retry = Duration::from_secs(spec.completion_retry_secs.min(3600));
    let began = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        match crate::dispatch::supervise::pending::keep(&data_dir, &spec.id, receipts.to_vec()) {
            Ok(kept) => return Ok(kept.append(&ledger, retry)?),
            Err(_) => match ledger.append_all(receipts) {
                Ok(outcome) => {
                    crate::dispatch::supervise::pending::unreserve(&data_dir, &spec.id);
                    return Ok(outcome);
                }
                Err(e) if began.elapsed() + pause > retry.max(UNKEPT_RETRY) => {
                    return Err(e.into());
                }
                Err(_) => {}
            },
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// What a supervisor does once its dispatch's end is on the ledger and queued dispatches had
/// their chance to start, in the background of its pane: the worktree teardown moved aside
/// is deleted, and the pool is made whole again (a dispatch that kept its worktree, dirty,
/// took one for good).
pub fn after_completion(spec: &Spec) {
    let repo = Repo::from_parts(spec.repo_root.clone(), spec.git_common_dir.clone());
    repo.empty_trash();
    if let Some(pool) = crate::dispatch::start::launch::pool_of(&repo, spec) {
        let _ = pool.fill(spec.base_commit.as_str());
    }
}

/// The most a completion receipt may take of the ledger's 1 MiB line limit.
const MAX_COMPLETION: usize = 512 * 1024;

/// Whether a failed commit failed for want of space: git or the system said so, or the
/// worktree's filesystem has next to nothing left.
fn for_want_of_space(why: &str, worktree: &std::path::Path) -> bool {
    const FULL: [&str; 2] = ["No space left on device", "Disk quota exceeded"];
    FULL.iter().any(|f| why.contains(f))
        || rustix::fs::statvfs(worktree)
            .is_ok_and(|s| s.f_bavail.saturating_mul(s.f_frsize) < 256 * 1024)
}

/// Commits what a done worker left uncommitted (when `commit` says so), classifies and
/// releases the worktree, adding what happened to the receipt. `Err` (why) when the commit
/// failed for want of space for `patience` on end: nothing is classified or released then.
fn teardown(
    spec: &Spec,
    repo: &Repo,
    commit: Option<&CommitNote<'_>>,
    completed: &mut DispatchCompleted,
    pooled: &mut Option<String>,
    patience: Duration,
) -> Result<Option<TeardownClass>, String> {
    let wt = Worktree {
        // The worktree is its branch's: a follow-up's teardown locks it in the name of the
        // chain's first dispatch, as `worktree-release` looks for.
        id: spec
            .continues
            .as_ref()
            .map_or_else(|| spec.id.clone(), |c| c.first.clone()),
        path: spec.worktree.clone(),
        branch: spec.branch.clone(),
        base_commit: spec.base_commit.clone(),
    };
    // vnx's own files go first: they are not the worker's work.
    let removed = crate::dispatch::start::workspace::remove(&spec.placed);
    if let Some(file) = &spec.hook_trust {
        // Best effort: a leftover entry names a worktree that no longer exists.
        let project = spec
            .worktree
            .canonicalize()
            .unwrap_or_else(|_| spec.worktree.clone());
        if let Some(hooks) = spec.cli().and_then(|c| c.hooks()) {
            hooks.forget_trust(file, &project);
        }
    }
    if !spec.placed.is_empty() {
        completed.vnx_files_removed = Some(
            removed
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
        );
    }
    if spec
        .worktree
        .symlink_metadata()
        .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    {
        // Released already, by a teardown that died before the end was recorded (a
        // supervisor or a recovery killed after it): the branch holds what it committed.
        return Ok(released(repo, &wt, completed));
    }
    // One read of the working tree decides whether there is anything to commit, and, when
    // there is not, stands for the classification's and the diff statistics' reads too.
    let undirty = (wt.dirt().ok()).and_then(|(dirt, head)| dirt.is_none().then_some(head));
    if let Some(note) = commit.filter(|_| undirty.is_none()) {
        // vnx's files and the copies `.worktreeinclude` made are never the worker's work,
        // even when the worker changed them or un-ignored them.
        // A placed file that is gone was removed above; if the worker committed it (`git
        // add -A` takes it), its removal goes into vnx's commit, so the branch holds none.
        let exclude: Vec<String> = spec
            .placed
            .iter()
            .filter(|p| p.path.symlink_metadata().is_ok())
            .filter_map(|p| p.path.strip_prefix(&spec.worktree).ok())
            .map(|p| p.to_string_lossy().into_owned())
            .chain(spec.included.iter().map(|i| i.path.clone()))
            .collect();
        let give_up = Instant::now() + patience;
        let mut pause = Duration::from_millis(100);
        loop {
            let rebase = spec.continues.as_ref().and_then(|c| c.rebase.as_ref());
            match wt.commit_all(note, &exclude, rebase) {
                Ok(Some(c)) => {
                    completed.vnx_commit = Some(c);
                    crate::steps::reached(crate::steps::conclude::WORK_COMMITTED);
                }
                Ok(None) => {}
                Err(e) => {
                    let why = error_chain(&e);
                    if !for_want_of_space(&why, &spec.worktree) {
                        completed.vnx_commit_error = Some(why);
                    } else if Instant::now() + pause > give_up {
                        return Err(why);
                    } else {
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(Duration::from_secs(2));
                        continue;
                    }
                }
            }
            break;
        }
    }
    let (stats, classified) = match undirty {
        Some(head) => wt.undirty(&spec.remote, head),
        None => (wt.diff_stats(), wt.classify(&spec.remote)),
    };
    completed.diff_stats = stats;
    Ok(match classified {
        Ok(c) => {
            let action = match crate::dispatch::start::launch::pool_of(repo, spec) {
                Some(pool) => repo.release_with_pool(&wt, &c, &pool, spec.pool_entry.as_deref()),
                None => repo.release_later(&wt, &c),
            };
            completed.teardown_class = Some(c.class);
            completed.teardown_reason = Some(c.reason.clone());
            completed.commits = Some(c.commits);
            completed.head_commit = c.head_commit.clone();
            match action {
                Ok(a) => {
                    crate::steps::reached(crate::steps::conclude::TORN_DOWN);
                    completed.teardown_action = Some(TeardownAction {
                        worktree_removed: a.worktree_removed,
                        branch_deleted: a.branch_deleted,
                        locked: a.locked,
                        pooled: a.pooled.is_some(),
                    });
                    pooled.clone_from(&a.pooled);
                }
                Err(e) => completed.teardown_error = Some(e.to_string()),
            }
            Some(c.class)
        }
        Err(e) => {
            completed.teardown_error = Some(e.to_string());
            None
        }
    })
}

/// The teardown of a dispatch whose worktree was released already: classified from its
/// branch ([`Repo::classify_released`]), nothing left to release.
fn released(
    repo: &Repo,
    wt: &Worktree,
    completed: &mut DispatchCompleted,
) -> Option<TeardownClass> {
    let Some(c) = repo.classify_released(wt) else {
        completed.teardown_error = Some(format!(
            "its worktree {} and its branch {} are both gone",
            wt.path.display(),
            wt.branch
        ));
        return None;
    };
    completed.diff_stats = repo.released_diff_stats(wt);
    completed.teardown_class = Some(c.class);
    completed.teardown_reason = Some(c.reason);
    completed.commits = Some(c.commits);
    completed.head_commit = c.head_commit;
    completed.teardown_action = Some(TeardownAction {
        worktree_removed: true,
        branch_deleted: false,
        locked: false,
        pooled: false,
    });
    Some(c.class)
}
