//! `vnx merge`: merges a dispatch's branch into the branch it started from, only when the
//! ledger verifies and extends its last checkpoint, the dispatch completed done, the branch
//! tip is the head its completion recorded, every required gate passed for that head, the
//! base has not moved under it in a conflicting way, and the main checkout is on the base and
//! clean (`conditions`). A merge appends a `merge` receipt first, makes a merge commit whose
//! trailer names that receipt's entry hash, appends `merge_completed` (or `merge_failed`), and
//! anchors a new checkpoint.
//!
//! Every merge goes through the merge queue (`queue`, ADR 0031): one lock serialises them,
//! each is formed on the base's current head as git objects (`form`), the role's command gates
//! run on that merge commit when it differs from the gated head, and the base moves only if
//! they pass (`land`); a dispatch that conflicts or fails them is taken out with a
//! `merge_dequeued` receipt. Before it, `vnx merge` runs the required gates that have no
//! current pass for the head (`missing`). A merge interrupted between its `merge` receipt
//! and its outcome is finished by the next `vnx merge` of the dispatch (`resume`).

pub mod after;
pub mod attestation;
pub mod conditions;
pub mod form;
pub mod land;
pub mod missing;
pub mod plan;
pub mod queue;
pub mod resume;
pub mod shots;

use crate::ids::{CommitId, DispatchId};
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use conditions::{Condition, GateEvidence, Plan};
pub use land::Dequeued;
pub use queue::{Entry, EntryResult, Refusal, merge, readiness, run};

use crate::config::ConfigError;
use crate::gate::GateError;
use crate::ledger::attest::Attestor;
use crate::ledger::checkpoint::{self, Anchor, CheckpointError, CheckpointOutcome};
use crate::ledger::{Appended, LedgerError, now_utc};
use crate::process::ProcessError;
use crate::receipts::DequeueReason;
use crate::worktree::WorktreeError;

/// The merge queue's lock, in the git common directory: held by one `vnx merge` from its
/// first check to its last receipt, so merges (of one or several dispatches, from one
/// process or several) happen one at a time.
pub const LOCK_FILE: &str = "vnx-merge.lock";

/// Progress of a merge queue, for the caller to show.
pub enum Event<'a> {
    /// Another `vnx merge` holds the queue's lock; this one waits for its turn.
    Waiting {
        /// The lock file.
        lock: &'a Path,
    },
    /// A merge commit was made on the base's current head (not yet on the base).
    Formed {
        /// The dispatch.
        id: &'a str,
        /// The merge commit.
        merge_commit: &'a str,
        /// The base's head it was formed on.
        base_tip: &'a str,
    },
    /// A gate on a merge result started or ended.
    Gate(crate::gate::Event<'a>),
    /// The base moved to the merge commit.
    Landed {
        /// The dispatch.
        id: &'a str,
        /// The merge commit.
        merge_commit: &'a str,
    },
    /// An earlier merge of the dispatch was interrupted between its `merge` receipt and its
    /// outcome; its outcome is recorded now.
    Interrupted {
        /// The dispatch.
        id: &'a str,
        /// The interrupted `merge` receipt's line.
        seq: u64,
        /// The merge commit the base already holds, when it moved before the interruption
        /// (`merge_completed` recorded); `None` when it never did (`merge_failed` recorded,
        /// and the dispatch is merged anew).
        landed: Option<&'a str>,
    },
    /// The dispatch was taken out of the queue.
    Dequeued {
        /// The dispatch.
        id: &'a str,
        /// Why.
        reason: DequeueReason,
        /// Why, in words.
        detail: &'a str,
    },
}

/// What a merge needs from its caller.
pub struct Context<'a> {
    /// What checking the conditions reads (its `scratch_objects` is `None`: a merge writes
    /// into the repository); its key also signs the new checkpoint.
    pub reading: Reading<'a>,
    /// Signs the merge receipts.
    pub attestor: &'a Attestor,
    /// Told what the queue is doing (waiting for the lock, forming, gating, landing).
    pub on_event: &'a (dyn Fn(Event<'_>) + Sync),
    /// Who merges, as the `merge` receipt records it.
    pub by: Option<&'a str>,
}

impl Context<'_> {
    /// Signs receipt `kind` and appends it to the ledger; the line it wrote.
    fn append<K: crate::receipts::Kind>(&self, kind: &K) -> Result<Appended, LedgerError> {
        let line = self
            .attestor
            .attest(&crate::receipts::write(kind), &now_utc);
        let appended = crate::ledger::Ledger::new(self.reading.ledger).append(&line)?;
        Ok(appended
            .lines
            .into_iter()
            .last()
            .expect("an append writes its receipt"))
    }
}

/// What checking a merge's conditions reads: a [`Context`] without what a merge writes with.
/// [`queue::readiness`] checks with it alone, writing nothing to the repository.
#[derive(Clone, Copy)]
pub struct Reading<'a> {
    /// The main checkout's root.
    pub root: &'a Path,
    /// The ledger the evidence is read from.
    pub ledger: &'a Path,
    /// The checkpoint key: trusted when verifying (read, never created).
    pub key: Option<&'a Path>,
    /// Hashing threads for verification.
    pub threads: usize,
    /// Where the checkpoint witness is kept (see `ledger::checkpoint::witness`).
    pub witness_dir: Option<&'a Path>,
    /// The keys whose attestations count.
    pub trusted_keys: &'a [[u8; 32]],
    /// An empty directory outside the repository where `git merge-tree` writes the objects
    /// it forms (the repository's objects stay its alternates), so that a check leaves the
    /// repository as it was; `None`: into the repository, as a merge does.
    pub scratch_objects: Option<&'a Path>,
}

impl<'a> Reading<'a> {
    /// How a read that only uses the read index at `index` (authenticated by `attestor`)
    /// reads with these settings: it never writes the index (the reads that list do).
    pub fn index_only(
        &self,
        index: &'a Path,
        attestor: &'a crate::ledger::attest::Attestor,
    ) -> crate::dispatch::fold::ReadOptions<'a> {
        crate::dispatch::fold::ReadOptions {
            index: Some(index),
            attestor: Some(attestor),
            trusted: self.trusted_keys,
            key: self.key,
            witness_dir: self.witness_dir,
            threads: self.threads,
            max_violations: 0,
            write: false,
        }
    }
}

/// A merge that happened.
#[derive(Debug, Serialize)]
pub struct Merged {
    /// The `merge` receipt, whose entry hash the commit's trailer names.
    pub merge_receipt: Appended,
    /// The merge commit.
    pub merge_commit: CommitId,
    /// The merge commit's tree equals the one `git merge-tree` predicted.
    pub tree_as_planned: bool,
    /// The command gates that passed on the merge commit itself (empty when its tree is the
    /// head's, which the gates passed on already).
    pub merge_result_gates: Vec<GateEvidence>,
    /// The `merge_completed` receipt.
    pub completed_receipt: Appended,
    /// The checkpoint made after the merge.
    pub checkpoint: CheckpointOutcome,
    /// The in-toto attestation of the merge, kept under `.vnx-data/attestations/`, or why
    /// none could be written.
    pub attestation: attestation::Written,
}

/// Why a merge did not happen (or happened but was not anchored).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The repository has no `.vnx/config.yaml`.
    #[error("{path} is not initialised for vnx")]
    NotInitialised {
        /// The repository's root.
        path: PathBuf,
    },
    /// No `dispatch_started` for the id.
    #[error("dispatch {id} is not on the ledger {ledger}")]
    UnknownDispatch {
        /// The dispatch asked about.
        id: String,
        /// The ledger read.
        ledger: PathBuf,
    },
    /// The dispatch was merged before.
    #[error("dispatch {id} is already merged, as {commit}")]
    AlreadyMerged {
        /// The dispatch.
        id: String,
        /// Its merge commit.
        commit: String,
    },
    /// An earlier merge of the dispatch was interrupted between its `merge` receipt and its
    /// outcome (only `vnx merge`, not `--check`, records that outcome).
    #[error("{}", interrupted_text(id, *seq, landed.as_deref()))]
    Interrupted {
        /// The dispatch.
        id: DispatchId,
        /// The interrupted `merge` receipt's line.
        seq: u64,
        /// The merge commit the base already holds, when it moved before the interruption.
        landed: Option<String>,
    },
    /// A condition does not hold; nothing was merged.
    #[error("refusing to merge {id}: {condition}: {detail}")]
    Refused {
        /// The dispatch.
        id: String,
        /// The first condition that failed.
        condition: &'static str,
        /// What was found.
        detail: String,
    },
    #[error(
        "git merge of {id} failed after its merge receipt was written (recorded as merge_failed)"
    )]
    /// git refused the merge after the `merge` receipt was written (recorded as `merge_failed`).
    GitMerge {
        /// The dispatch.
        id: String,
        /// What git said.
        #[source]
        source: ProcessError,
    },
    /// The merge happened but the ledger could not be checkpointed after it.
    #[error("merged {id} as {commit}, but could not checkpoint the ledger")]
    CheckpointAfterMerge {
        /// The dispatch.
        id: String,
        /// The merge commit.
        commit: String,
        /// Why the checkpoint failed.
        #[source]
        source: CheckpointError,
    },
    /// No signing key to checkpoint with.
    #[error("refusing to merge {id}: there is no checkpoint key to sign the checkpoint after it")]
    NoKey {
        /// The dispatch.
        id: String,
    },
    /// The gates could not be run (on the head before the merge, or on a merge result).
    #[error("could not run the gates of {id}")]
    Gate {
        /// The dispatch.
        id: String,
        /// Why.
        #[source]
        source: Box<GateError>,
    },
    /// The merge lock could not be taken.
    #[error("could not take the merge lock {path}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// `.vnx/config.yaml` is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The ledger could not be read or written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The checkpoints could not be read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The repository could not be read.
    #[error(transparent)]
    Worktree(#[from] WorktreeError),
    /// A git command failed.
    #[error("git failed in {path}")]
    Git {
        /// The repository.
        path: PathBuf,
        /// What running git said.
        #[source]
        source: ProcessError,
    },
}

impl MergeError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            MergeError::NotInitialised { .. } => Some("run `vnx init` first".into()),
            MergeError::UnknownDispatch { .. } => {
                Some("`vnx status` lists the dispatches on the ledger".into())
            }
            MergeError::Interrupted { id, .. } => Some(format!(
                "run `vnx merge {id}`: it records the interrupted merge's outcome first"
            )),
            MergeError::AlreadyMerged { id, .. } => Some(format!(
                "nothing to do; `vnx show {id}` shows the merge, `vnx follow-up` cannot \
                 continue a merged branch: dispatch anew for more work"
            )),
            MergeError::Refused {
                condition: "base_compatible",
                ..
            } => None,
            MergeError::Refused { condition, id, .. } => Some(match *condition {
                "ledger_verifies" => "run `vnx audit-chain verify` to see what changed".into(),
                "checkpoint_extended" => "run `vnx audit-chain verify`; a ledger without any \
                                          checkpoint gets one from `vnx audit-chain checkpoint`"
                    .into(),
                "gates_passed" => format!(
                    "a gate that failed holds the merge until it passes: fix the work (`vnx \
                     follow-up {id}`), then run `vnx gate-check {id}` or `vnx merge {id}` again"
                ),
                "main_checkout_ready" => {
                    "check out the base branch and commit or stash your changes".into()
                }
                "dispatch_done" => {
                    "only work its dispatch reported done (and the phantom guard let stand) \
                     merges; dispatch the task again"
                        .into()
                }
                plan::NAME => format!(
                    "`vnx show {id}` shows its chain's plan; a plan that waits is approved with \
                     `vnx approve ID` (which starts the follow-up that carries it out) and \
                     merges from that follow-up"
                ),
                "branch_at_recorded_head" => {
                    "commits made after the dispatch completed were never gated; merge them \
                     through a dispatch of their own"
                        .into()
                }
                _ => format!("`vnx merge {id} --check --json` lists every condition"),
            }),
            MergeError::GitMerge { .. } => {
                Some("the main checkout is back where it was; see git's message above".into())
            }
            MergeError::NoKey { .. } => {
                Some("set HOME or XDG_CONFIG_HOME, or pass --key PATH".into())
            }
            MergeError::CheckpointAfterMerge { .. } => {
                Some("fix the cause, then run `vnx audit-chain checkpoint`".into())
            }
            MergeError::Checkpoint(e) => e.hint(),
            MergeError::Config(e) => e.hint(),
            MergeError::Ledger(e) => e.hint(),
            MergeError::Worktree(e) => e.hint(),
            MergeError::Gate { source, .. } => source.hint(),
            _ => None,
        }
    }
}

fn interrupted_text(id: &DispatchId, seq: u64, landed: Option<&str>) -> String {
    match landed {
        Some(commit) => format!(
            "the merge of {id} (receipt line {seq}) was interrupted after the base moved to \
             {commit}; its merge_completed is not recorded yet"
        ),
        None => format!(
            "the merge of {id} (receipt line {seq}) was interrupted before the base moved; \
             its merge_failed is not recorded yet"
        ),
    }
}

/// Verifies the ledger against its checkpoints and anchors a new one at its head, signed with
/// `key` (created on first use).
pub fn anchor(
    ledger: &Path,
    key: &Path,
    threads: usize,
    witness_dir: Option<&Path>,
) -> Result<CheckpointOutcome, CheckpointError> {
    let anchor = Anchor::discover(ledger)?;
    let trusted = checkpoint::trusted_keys(&anchor, Some(key))?;
    checkpoint::checkpoint(
        ledger,
        &anchor,
        key,
        &trusted,
        threads,
        &now_utc(),
        witness_dir,
    )
}

/// What to do about a dispatch whose head conflicts with its base's head: a follow-up that
/// merges the base into its worktree and has its worker resolve the conflict (ADR 0065),
/// then its merge; or a replay of its task on the base as it is now (ADR 0047: the first
/// dispatch of a follow-up chain, whose branch it is), then the replay's merge.
pub fn conflict_hint(plan: &Plan) -> String {
    let first = plan
        .branch
        .as_deref()
        .and_then(|b| b.strip_prefix("dispatch/"))
        .unwrap_or(plan.dispatch_id.as_str());
    let base = plan
        .base_ref
        .as_deref()
        .map(|r| r.strip_prefix("refs/heads/").unwrap_or(r))
        .unwrap_or("BRANCH");
    format!(
        "resolve it in its worktree, keeping the work: `vnx follow-up {id} --rebase --base-ref \
         {base}`, then `vnx merge` the follow-up; or replay the task on the current base: \
         `vnx replay {first} --base-ref {base}`, then `vnx merge` the replay (vnx merge runs \
         its gates); a manual rebase of dispatch/{first} is never merged, since its tip is no \
         longer the head that was gated",
        id = plan.dispatch_id
    )
}

/// Turns a refusing outcome into the error naming its first failed condition.
pub fn refusal(plan: &Plan) -> Option<MergeError> {
    plan.first_failed().map(|c| MergeError::Refused {
        id: plan.dispatch_id.to_string(),
        condition: c.name,
        detail: c.detail.clone(),
    })
}
