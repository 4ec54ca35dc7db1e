//! `vnx merge`: merges a dispatch's branch into the branch it started from, only when the
//! ledger verifies and extends its last checkpoint, the dispatch completed done, the branch
//! tip is the head its completion recorded, every required gate passed for that head, the
//! base has not moved under it in a conflicting way, and the main checkout is on the base and
//! clean (`conditions`). A merge appends a `merge` receipt first, makes a `--no-ff` merge
//! commit whose trailer names that receipt's entry hash, appends `merge_completed` (or
//! `merge_failed`), and anchors a new checkpoint.

pub mod conditions;

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use conditions::{Condition, Plan};

use crate::config::ConfigError;
use crate::gate::evidence::Evidence;
use crate::ledger::attest::Attestor;
use crate::ledger::checkpoint::{self, Anchor, CheckpointError, CheckpointOutcome};
use crate::ledger::receipt::is_dispatch_id;
use crate::ledger::{Appended, Ledger, LedgerError, now_utc};
use crate::process::{self, Cmd, ProcessError};
use crate::receipts::{self, MergeCompleted, MergeFailed, MergePlanned, MergeStatus};
use crate::worktree::{Repo, WorktreeError};

/// The lock a merge holds from its checks to its receipt, in the git common directory.
pub const LOCK_FILE: &str = "vnx-merge.lock";

/// What a merge needs from its caller.
pub struct Context<'a> {
    /// The main checkout's root.
    pub root: &'a Path,
    /// The ledger the evidence is read from and the merge receipts go to.
    pub ledger: &'a Path,
    /// The checkpoint key: trusted when verifying, and signs the new checkpoint.
    pub key: Option<&'a Path>,
    /// Hashing threads for verification.
    pub threads: usize,
    /// Signs the merge receipts.
    pub attestor: &'a Attestor,
    /// Where the checkpoint witness is kept (see `ledger::witness`).
    pub witness_dir: Option<&'a Path>,
    /// The keys whose attestations count (see [`crate::ledger::attest::trusted_keys`]).
    pub trusted_keys: &'a [[u8; 32]],
}

/// A merge that happened.
#[derive(Debug, Serialize)]
pub struct Merged {
    /// The `merge` receipt, whose entry hash the commit's trailer names.
    pub merge_receipt: Appended,
    /// The merge commit.
    pub merge_commit: String,
    /// The merge commit's tree equals the one `git merge-tree` predicted.
    pub tree_as_planned: bool,
    /// The `merge_completed` receipt.
    pub completed_receipt: Appended,
    /// The checkpoint made after the merge.
    pub checkpoint: CheckpointOutcome,
}

/// What `merge` did.
#[derive(Debug, Serialize)]
pub struct Outcome {
    /// The conditions and what the merge would use.
    pub plan: Plan,
    /// What was merged; `None` for `--check` or a refusal.
    pub merged: Option<Merged>,
}

/// Why a merge did not happen (or happened but was not anchored).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// Not a dispatch id.
    #[error("{id:?} is not a dispatch id")]
    BadId {
        /// What was given.
        id: String,
    },
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
            MergeError::BadId { .. } => Some("dispatch ids look like D-1a2b3c4d".into()),
            MergeError::UnknownDispatch { .. } => {
                Some("`vnx status` lists the dispatches on the ledger".into())
            }
            MergeError::AlreadyMerged { id, .. } => Some(format!(
                "nothing to do; `vnx show {id}` shows the merge, `vnx follow-up` cannot \
                 continue a merged branch: dispatch anew for more work"
            )),
            MergeError::Refused { condition, id, .. } => Some(match *condition {
                "ledger_verifies" => "run `vnx audit-chain verify` to see what changed".into(),
                "checkpoint_extended" => "run `vnx audit-chain verify`; a ledger without any \
                                          checkpoint gets one from `vnx audit-chain checkpoint`"
                    .into(),
                "gates_passed" => format!("run `vnx gate-check {id}`"),
                "main_checkout_ready" => {
                    "check out the base branch and commit or stash your changes".into()
                }
                "dispatch_done" => {
                    "only work its dispatch reported done (and the phantom guard let stand) \
                     merges; dispatch the task again"
                        .into()
                }
                "branch_at_recorded_head" => {
                    "commits made after the dispatch completed were never gated; merge them \
                     through a dispatch of their own"
                        .into()
                }
                "base_compatible" => {
                    "rebase or re-run the dispatch on the current base, then gate it again".into()
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
            _ => None,
        }
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

/// Checks the conditions for merging `id` and, when `apply` and all hold, merges it.
pub fn merge(ctx: &Context<'_>, id: &str, apply: bool) -> Result<Outcome, MergeError> {
    if !is_dispatch_id(id) {
        return Err(MergeError::BadId { id: id.to_owned() });
    }
    let config_path = crate::project::Project::at(ctx.root).config_path();
    if config_path.symlink_metadata().is_err() {
        return Err(MergeError::NotInitialised {
            path: ctx.root.to_owned(),
        });
    }
    let config = crate::config::load(&config_path)?;
    let repo = Repo::discover(ctx.root)?;
    let lock_path = repo.common_dir.join(LOCK_FILE);
    let lock_err = |source| MergeError::Lock {
        path: lock_path.clone(),
        source,
    };
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(lock_err)?;
    lock.lock().map_err(lock_err)?;
    let ev = Evidence::read(ctx.ledger, id, ctx.trusted_keys)?;
    if ev.started.is_none() && ev.unattested_start().is_none() {
        return Err(MergeError::UnknownDispatch {
            id: id.to_owned(),
            ledger: ctx.ledger.to_owned(),
        });
    }
    if let Some(commit) = merged_as(ctx.ledger, id)? {
        return Err(MergeError::AlreadyMerged {
            id: id.to_owned(),
            commit,
        });
    }
    let plan = conditions::check(ctx, &config, &repo, &ev, id)?;
    if !apply || plan.first_failed().is_some() {
        return Ok(Outcome { plan, merged: None });
    }
    if ctx.key.is_none() {
        return Err(MergeError::NoKey { id: id.to_owned() });
    }
    let merged = execute(ctx, &repo, &plan)?;
    Ok(Outcome {
        plan,
        merged: Some(merged),
    })
}

/// The merge commit of dispatch `id`, when the ledger records its `merge_completed`.
fn merged_as(ledger: &Path, id: &str) -> Result<Option<String>, MergeError> {
    let (found, _) = crate::ledger::tail::last_lines(ledger, 1, |l| {
        memchr::memmem::find(l, b"merge_completed").is_some()
            && crate::receipts::read_line::<crate::receipts::MergeCompleted>(l)
                .is_some_and(|r| r.receipt.dispatch_id == id)
    })?;
    Ok(found
        .first()
        .and_then(|l| crate::receipts::read_line::<crate::receipts::MergeCompleted>(l))
        .map(|r| r.receipt.merge_commit))
}

/// Turns a refusing outcome into the error naming its first failed condition.
pub fn refusal(plan: &Plan) -> Option<MergeError> {
    plan.first_failed().map(|c| MergeError::Refused {
        id: plan.dispatch_id.clone(),
        condition: c.name,
        detail: c.detail.clone(),
    })
}

fn execute(ctx: &Context<'_>, repo: &Repo, plan: &Plan) -> Result<Merged, MergeError> {
    let ledger = Ledger::new(ctx.ledger);
    let id = plan.dispatch_id.as_str();
    let head = plan.head_commit.clone().unwrap_or_default();
    let branch = plan.branch.clone().unwrap_or_default();
    let base_ref = plan.base_ref.clone().unwrap_or_default();
    let conditions = plan.conditions.iter().map(|c| c.name.to_owned()).collect();
    let appended = ledger.append(&ctx.attestor.attest(
        &receipts::write(&MergePlanned {
            dispatch_id: id.to_owned(),
            status: MergeStatus::Planned,
            role: plan.role.clone(),
            branch: branch.clone(),
            head_commit: head.clone(),
            base_ref: base_ref.clone(),
            base_commit: plan.base_commit.clone(),
            base_tip: plan.base_tip.clone(),
            base_moved: plan.base_moved,
            merge_tree: plan.merge_tree.clone(),
            strategy: "git merge --no-ff".to_owned(),
            gates: plan.gates.clone(),
            conditions,
            checkpoint: plan.checkpoint.clone(),
            completion: plan.completion.clone(),
            extra: Default::default(),
        }),
        &now_utc,
    ))?;
    let merge_receipt = appended
        .lines
        .last()
        .cloned()
        .expect("an append writes its receipt");
    let git = || Cmd::new("git").arg("-C").arg(&repo.root);
    let short_base = base_ref.trim_start_matches("refs/heads/");
    let merged = process::run_ok(
        &git()
            .args(["merge", "--no-ff", "--no-edit", "-m"])
            .arg(format!("Merge {branch} into {short_base}"))
            .arg("-m")
            .arg(format!(
                "VNX-Dispatch: {id}\nVNX-Receipt: {}",
                merge_receipt.entry_hash
            ))
            .arg(&head),
    );
    if let Err(source) = merged {
        if repo.common_dir.join("MERGE_HEAD").exists() {
            let _ = process::run(&git().args(["merge", "--abort"]));
        }
        ledger.append(&ctx.attestor.attest(
            &receipts::write(&MergeFailed {
                dispatch_id: id.to_owned(),
                status: MergeStatus::Failed,
                merge_receipt: merge_receipt.entry_hash.clone(),
                merge_receipt_seq: merge_receipt.seq,
                failure_reason: source.to_string(),
                extra: Default::default(),
            }),
            &now_utc,
        ))?;
        return Err(MergeError::GitMerge {
            id: id.to_owned(),
            source,
        });
    }
    let git_err = |source| MergeError::Git {
        path: repo.root.clone(),
        source,
    };
    let commit = process::run_ok(&git().args(["rev-parse", "HEAD"])).map_err(git_err)?;
    let tree = process::run_ok(&git().args(["rev-parse", "HEAD^{tree}"])).map_err(git_err)?;
    let completed = ledger.append(&ctx.attestor.attest(
        &receipts::write(&MergeCompleted {
            dispatch_id: id.to_owned(),
            status: MergeStatus::Merged,
            merge_receipt: merge_receipt.entry_hash.clone(),
            merge_receipt_seq: merge_receipt.seq,
            merge_commit: commit.clone(),
            tree: tree.clone(),
            tree_as_planned: plan.merge_tree.as_deref() == Some(tree.as_str()),
            branch,
            head_commit: head,
            base_ref,
            extra: Default::default(),
        }),
        &now_utc,
    ))?;
    let completed_receipt = completed
        .lines
        .last()
        .cloned()
        .expect("an append writes its receipt");
    let key = ctx.key.expect("checked before merging");
    let checkpoint = anchor(ctx.ledger, key, ctx.threads, ctx.witness_dir).map_err(|source| {
        MergeError::CheckpointAfterMerge {
            id: id.to_owned(),
            commit: commit.clone(),
            source,
        }
    })?;
    Ok(Merged {
        merge_receipt,
        tree_as_planned: plan.merge_tree.as_deref() == Some(tree.as_str()),
        merge_commit: commit,
        completed_receipt,
        checkpoint,
    })
}
