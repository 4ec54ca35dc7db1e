//! The merge queue: dispatches merged one at a time, in the order given, under one lock in the
//! git common directory that every `vnx merge` takes (a second process waits its turn). Each
//! entry's conditions are checked against the base's current head — the head after the entry
//! before it landed — and it lands (`land`), is taken out with a `merge_dequeued` receipt
//! (its head conflicts with that head, or a gate failed on the merge result), or is refused by
//! a condition (which, as ever, writes nothing). The rest go on either way.

use crate::ids::{CommitId, DispatchId};
use std::fs::File;

use serde::Serialize;

use super::land::{self, Dequeued, Landing};
use super::{Context, Event, LOCK_FILE, MergeError, Merged, Plan, Reading, conditions, resume};
use crate::config::Config;
use crate::evidence::Evidence;
use crate::worktree::Repo;

/// What became of one dispatch in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryResult {
    /// The base moved to its merge commit.
    Merged,
    /// Taken out, with a `merge_dequeued` receipt; the base did not move.
    Dequeued,
    /// A condition does not hold (or it is unknown or merged already); nothing was written.
    Refused,
    /// `--check`: every condition holds; nothing was merged.
    Mergeable,
    /// One of several: merged before (a rerun of a queue that landed it); nothing was
    /// written. Alone, a dispatch merged before is [`MergeError::AlreadyMerged`].
    AlreadyMerged,
}

/// Why a dispatch was refused.
#[derive(Clone, Debug, Serialize)]
pub struct Refusal {
    /// The first condition that failed, or `null` when the dispatch is not on the ledger or
    /// merged already.
    pub condition: Option<&'static str>,
    /// What was found.
    pub detail: String,
}

/// One dispatch's turn in the queue: `vnx merge --json` prints one per dispatch.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// What became of it.
    pub result: EntryResult,
    /// The conditions, checked on the base's head at its turn, and what the merge used.
    pub plan: Option<Plan>,
    /// The merge, when it landed.
    pub merged: Option<Merged>,
    /// Why it was taken out, when it was.
    pub dequeued: Option<Dequeued>,
    /// Why it was refused, when it was.
    pub refused: Option<Refusal>,
    /// An earlier merge of it that was interrupted after the base moved, completed now.
    pub resumed: Option<Resumed>,
    /// The merge commit it landed as before, when it was merged already.
    pub already_merged: Option<CommitId>,
}

impl Entry {
    fn new(id: &DispatchId, result: EntryResult) -> Entry {
        Entry {
            dispatch_id: id.clone(),
            result,
            plan: None,
            merged: None,
            dequeued: None,
            refused: None,
            resumed: None,
            already_merged: None,
        }
    }
}

impl Refusal {
    fn of(failed: &conditions::Condition) -> Refusal {
        Refusal {
            condition: Some(failed.name),
            detail: failed.detail.clone(),
        }
    }
}

/// A merge interrupted after the base moved to its merge commit, whose `merge_completed` a
/// later `vnx merge` recorded.
#[derive(Debug, Serialize)]
pub struct Resumed {
    /// The interrupted `merge` receipt's line.
    pub merge_receipt_seq: u64,
    /// Its entry hash (the merge commit's `VNX-Receipt` trailer).
    pub merge_receipt: String,
    /// The merge commit the base holds.
    pub merge_commit: CommitId,
    /// The `merge_completed` recorded now.
    pub completed_receipt: crate::ledger::Appended,
    /// The checkpoint made after it.
    pub checkpoint: crate::ledger::checkpoint::CheckpointOutcome,
    /// The in-toto attestation of the merge, as a merge not interrupted writes it.
    pub attestation: super::attestation::Written,
}

/// Merges one dispatch through the queue (or only checks it, unless `apply`). Refusals are in
/// the entry; a dispatch that is unknown or merged already is an error, as it always was.
pub fn merge(ctx: &Context<'_>, id: &DispatchId, apply: bool) -> Result<Entry, MergeError> {
    let (config, repo) = open(ctx.reading.root)?;
    let _lock = lock(ctx, &repo)?;
    turn(ctx, &config, &repo, id, apply)
}

/// Merges `ids` one at a time, in the order given (or only checks each, unless `apply`). A
/// dispatch that is refused or taken out does not stop the rest; an operational failure does.
/// One merged before is said so ([`EntryResult::AlreadyMerged`]): a rerun of a queue that
/// landed them all finds them all landed.
pub fn run(ctx: &Context<'_>, ids: &[DispatchId], apply: bool) -> Result<Vec<Entry>, MergeError> {
    let (config, repo) = open(ctx.reading.root)?;
    let _lock = lock(ctx, &repo)?;
    let mut entries = Vec::new();
    for id in ids {
        let entry = match turn(ctx, &config, &repo, id, apply) {
            Ok(entry) => entry,
            Err(MergeError::AlreadyMerged { commit, .. }) => Entry {
                already_merged: CommitId::parse(&commit).ok(),
                ..Entry::new(id, EntryResult::AlreadyMerged)
            },
            Err(e @ (MergeError::UnknownDispatch { .. } | MergeError::Interrupted { .. })) => {
                Entry {
                    refused: Some(Refusal {
                        condition: None,
                        detail: e.to_string(),
                    }),
                    ..Entry::new(id, EntryResult::Refused)
                }
            }
            Err(e) => return Err(e),
        };
        entries.push(entry);
    }
    Ok(entries)
}

/// Checks the ids and the project, and loads its configuration.
fn open(root: &std::path::Path) -> Result<(Config, Repo), MergeError> {
    let config_path = crate::project::Project::at(root).config_path();
    if config_path.symlink_metadata().is_err() {
        return Err(MergeError::NotInitialised {
            path: root.to_owned(),
        });
    }
    let config = crate::config::load(&config_path)?;
    let repo = Repo::discover(root)?;
    Ok((config, repo))
}

/// Takes the queue's lock, waiting (and saying so) while another `vnx merge` holds it.
fn lock(ctx: &Context<'_>, repo: &Repo) -> Result<File, MergeError> {
    let path = repo.common_dir.join(LOCK_FILE);
    let lock_err = |source| MergeError::Lock {
        path: path.clone(),
        source,
    };
    if let Some(file) = crate::files::lock_file(&path, false).map_err(lock_err)? {
        return Ok(file);
    }
    (ctx.on_event)(Event::Waiting { lock: &path });
    let file = crate::files::lock_file(&path, true).map_err(lock_err)?;
    Ok(file.expect("a waited-for lock is held"))
}

/// Whether dispatch `id` could merge now, as `vnx merge ID --check` says, but without the
/// queue's lock and with `git merge-tree` writing into `ctx.scratch_objects`: nothing is
/// written to the repository or the ledger. The verdict may be overtaken by a merge running
/// meanwhile; `vnx merge` checks again under the lock.
pub fn readiness(ctx: &Reading<'_>, id: &DispatchId) -> Result<Entry, MergeError> {
    let (config, repo) = open(ctx.root)?;
    refuse_interrupted(ctx, &repo, id)?;
    let plan = plan(ctx, &config, &repo, id)?;
    let refused = plan.first_failed().map(Refusal::of);
    let result = match refused {
        Some(_) => EntryResult::Refused,
        None => EntryResult::Mergeable,
    };
    Ok(Entry {
        plan: Some(plan),
        refused,
        ..Entry::new(id, result)
    })
}

/// The conditions of merging a dispatch that is on the ledger and not merged yet.
fn plan(
    ctx: &Reading<'_>,
    config: &Config,
    repo: &Repo,
    id: &DispatchId,
) -> Result<Plan, MergeError> {
    let ev = Evidence::read(ctx.ledger, id, ctx.trusted_keys)?;
    if ev.started.is_none() && ev.unattested_start().is_none() {
        return Err(MergeError::UnknownDispatch {
            id: id.to_string(),
            ledger: ctx.ledger.to_owned(),
        });
    }
    if let Some(commit) = merged_as(ctx.ledger, id)? {
        return Err(MergeError::AlreadyMerged {
            id: id.to_string(),
            commit: commit.to_string(),
        });
    }
    conditions::check(ctx, config, repo, &ev, id)
}

/// Refuses to check a dispatch whose last merge was interrupted (only a merge, not a check,
/// records that merge's outcome).
fn refuse_interrupted(ctx: &Reading<'_>, repo: &Repo, id: &DispatchId) -> Result<(), MergeError> {
    match resume::interrupted(ctx.ledger, id, ctx.trusted_keys)? {
        Some(open) => Err(MergeError::Interrupted {
            id: id.clone(),
            seq: open.seq,
            landed: resume::landed_commit(repo, &open).map(|c| c.to_string()),
        }),
        None => Ok(()),
    }
}

/// One dispatch's turn, under the lock.
fn turn(
    ctx: &Context<'_>,
    config: &Config,
    repo: &Repo,
    id: &DispatchId,
    apply: bool,
) -> Result<Entry, MergeError> {
    if apply && let Some(resumed) = resume_interrupted(ctx, repo, id)? {
        return Ok(Entry {
            resumed: Some(resumed),
            ..Entry::new(id, EntryResult::Merged)
        });
    }
    if !apply {
        // (A merge has just recorded the outcome of any interrupted one.)
        refuse_interrupted(&ctx.reading, repo, id)?;
    }
    let plan = plan(&ctx.reading, config, repo, id)?;
    let mut entry = Entry::new(id, EntryResult::Mergeable);
    if let Some(failed) = plan.first_failed() {
        let dequeued = apply.then(|| land::dequeue_conflict(ctx, repo, &plan));
        match dequeued.transpose()?.flatten() {
            Some(d) => {
                entry.result = EntryResult::Dequeued;
                entry.dequeued = Some(d);
            }
            None => {
                entry.result = EntryResult::Refused;
                entry.refused = Some(Refusal::of(failed));
            }
        }
    } else if apply {
        if ctx.reading.key.is_none() {
            return Err(MergeError::NoKey { id: id.to_string() });
        }
        match land::land(ctx, config, repo, &plan)? {
            Landing::Merged(m) => {
                entry.result = EntryResult::Merged;
                entry.merged = Some(*m);
            }
            Landing::Dequeued(d) => {
                entry.result = EntryResult::Dequeued;
                entry.dequeued = Some(*d);
            }
        }
    }
    entry.plan = Some(plan);
    Ok(entry)
}

/// Records the outcome of an earlier merge of `id` that was interrupted between its `merge`
/// receipt and its outcome: completed when the base holds its merge commit (returned), or
/// failed when it does not (and the turn goes on to merge it anew).
fn resume_interrupted(
    ctx: &Context<'_>,
    repo: &Repo,
    id: &DispatchId,
) -> Result<Option<Resumed>, MergeError> {
    let Some(open) = resume::interrupted(ctx.reading.ledger, id, ctx.reading.trusted_keys)? else {
        return Ok(None);
    };
    let key = ctx
        .reading
        .key
        .ok_or_else(|| MergeError::NoKey { id: id.to_string() })?;
    match resume::finish(ctx, repo, &open)? {
        resume::Finished::NotLanded { .. } => {
            (ctx.on_event)(Event::Interrupted {
                id: id.as_str(),
                seq: open.seq,
                landed: None,
            });
            Ok(None)
        }
        resume::Finished::Landed {
            merge_commit,
            completed,
        } => {
            let r = &ctx.reading;
            let checkpoint =
                super::anchor(r.ledger, key, r.threads, r.witness_dir).map_err(|source| {
                    MergeError::CheckpointAfterMerge {
                        id: id.to_string(),
                        commit: merge_commit.to_string(),
                        source,
                    }
                })?;
            let attestation = super::attestation::write(ctx, id, &merge_commit);
            (ctx.on_event)(Event::Interrupted {
                id: id.as_str(),
                seq: open.seq,
                landed: Some(merge_commit.as_str()),
            });
            Ok(Some(Resumed {
                merge_receipt_seq: open.seq,
                merge_receipt: open.entry_hash,
                merge_commit,
                completed_receipt: completed,
                checkpoint,
                attestation,
            }))
        }
    }
}

/// The merge commit of dispatch `id`, when the ledger records its `merge_completed`.
fn merged_as(ledger: &std::path::Path, id: &DispatchId) -> Result<Option<CommitId>, MergeError> {
    let (found, _) = crate::ledger::tail::last_lines(ledger, 1, |l| {
        memchr::memmem::find(l, b"merge_completed").is_some()
            && crate::receipts::read_line::<crate::receipts::MergeCompleted>(l)
                .is_some_and(|r| r.receipt.dispatch_id == *id)
    })?;
    Ok(found
        .first()
        .and_then(|l| crate::receipts::read_line::<crate::receipts::MergeCompleted>(l))
        .map(|r| r.receipt.merge_commit))
}
