//! `vnx accept ID`: a person accepts an ended dispatch's work as done when its worker ended
//! without `vnx report`, recorded by a signed `dispatch_accepted`. Work the worker left
//! uncommitted in its kept worktree is committed first, by vnx, as it commits a reported
//! worker's (the paths vnx placed left out), and the receipt names that commit. What is
//! accepted is read by vnx, never from a file the worker can write: the completion and the
//! files vnx placed from the ledger (attested), the head from the repository's
//! `dispatch/<id>` ref, the dirt from git's status of the kept worktree. A merge a
//! `vnx follow-up --rebase` left under way is concluded by that commit once every conflict
//! is resolved, or the acceptance is refused and says which are left. The phantom guard
//! still applies: a role that writes files with nothing beyond its base cannot be accepted.
//! The user's `notify` command is told `done`, as for a report.

use std::path::Path;

use crate::config::{Config, ConfigError};
use crate::dispatch::state::{DispatchState, Landed, State};
use crate::evidence::Evidence;
use crate::ids::{CommitId, DispatchId};
use crate::ledger::LedgerError;
use crate::ledger::attest::Attestor;
use crate::receipts::{self, DispatchAccepted, DispatchStatus, TeardownClass};
use crate::worktree::{CommitNote, Worktree, WorktreeError};

/// Why a dispatch's work could not be accepted.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// It has not ended: its worker may still change its branch.
    #[error("dispatch {id} is {status}: only an ended dispatch's work can be accepted")]
    Running {
        /// The dispatch.
        id: DispatchId,
        /// What it is (`running`, `blocked`, `stalled`, `queued`).
        status: String,
    },
    /// It never ran, or nothing recorded its end.
    #[error("dispatch {id} is {status}: no completion to accept")]
    NotEnded {
        /// The dispatch.
        id: DispatchId,
        /// What it is (`lost`, `expired`, …).
        status: String,
    },
    /// Its worker reported done: there is nothing to accept.
    #[error("dispatch {id} already completed done")]
    AlreadyDone {
        /// The dispatch.
        id: DispatchId,
    },
    /// Someone accepted it already, and its branch is still at that head.
    #[error("dispatch {id}'s work was already accepted by {by} at {head}")]
    AlreadyAccepted {
        /// The dispatch.
        id: DispatchId,
        /// Who accepted it.
        by: String,
        /// The head accepted.
        head: CommitId,
    },
    /// Its branch was merged or released.
    #[error("dispatch {id} was {how} already")]
    Landed {
        /// The dispatch.
        id: DispatchId,
        /// `merged` or `released`.
        how: &'static str,
    },
    /// A follow-up continued it: its branch holds the follow-up's work too.
    #[error("dispatch {id} was continued by follow-up {by}")]
    Continued {
        /// The dispatch.
        id: DispatchId,
        /// The follow-up.
        by: DispatchId,
    },
    /// The ledger holds no attested start and completion for it, or receipts about it that
    /// vnx did not write.
    #[error("the ledger holds no evidence vnx wrote for dispatch {id}'s end: {why}")]
    NoEvidence {
        /// The dispatch.
        id: DispatchId,
        /// What is missing or suspect.
        why: String,
    },
    /// Its branch no longer exists (a clean dispatch's is removed, a pushed one's lives on
    /// the remote).
    #[error("dispatch {id}'s branch {branch} does not exist")]
    NoBranch {
        /// The dispatch.
        id: DispatchId,
        /// The branch.
        branch: String,
    },
    /// The phantom guard: a role that writes files, with nothing committed beyond its base.
    #[error(
        "dispatch {id} (role {role}) has nothing committed beyond its base {base}: a writing \
         role's work cannot be accepted empty"
    )]
    NothingCommitted {
        /// The dispatch.
        id: DispatchId,
        /// Its role.
        role: String,
        /// Its base commit, where its branch still is.
        base: CommitId,
    },
    /// Its kept worktree holds changes vnx cannot commit for it: kept on a host, its `.git`
    /// pointed elsewhere, its HEAD off the dispatch branch, or git refused.
    #[error("dispatch {id}'s worktree {} is not clean: {why}", worktree.display())]
    Dirty {
        /// The dispatch.
        id: DispatchId,
        /// The worktree.
        worktree: std::path::PathBuf,
        /// What git's status found.
        why: String,
    },
    /// Its kept worktree holds a merge vnx will not conclude: conflicts are left, or it
    /// merges a commit `vnx follow-up --rebase` did not merge in.
    #[error("dispatch {id}'s merge in {} is unfinished: {why}", worktree.display())]
    MergeUnfinished {
        /// The dispatch.
        id: DispatchId,
        /// The worktree.
        worktree: std::path::PathBuf,
        /// What is unfinished.
        why: String,
    },
    /// The configuration (which roles write files) could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// git could not be read.
    #[error(transparent)]
    Worktree(#[from] WorktreeError),
    /// The ledger could not be read or appended to.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl AcceptError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            AcceptError::Running { id, .. } => {
                format!("wait for it to end (`vnx wait {id}`), or stop it: `vnx cancel {id}`")
            }
            AcceptError::NotEnded { id, .. } => {
                format!("`vnx recover {id}` records a lost dispatch's end; `vnx status {id}`")
            }
            AcceptError::AlreadyDone { id } | AcceptError::AlreadyAccepted { id, .. } => {
                format!("merge it: `vnx merge {id}`")
            }
            AcceptError::Landed { id, .. } => format!("`vnx show {id}` shows where it landed"),
            AcceptError::Continued { by, .. } => format!("accept the follow-up: `vnx accept {by}`"),
            AcceptError::NoEvidence { id, .. } => {
                format!("`vnx audit-chain verify` and `vnx show {id}` show what the ledger holds")
            }
            AcceptError::NoBranch { id, .. } => {
                format!("`vnx show {id}` shows its teardown; there is no local work to accept")
            }
            AcceptError::NothingCommitted { id, .. } => format!(
                "`vnx show {id} --diff` shows its changes; ask for the work with \
                 `vnx follow-up {id} --instruction \"…\"`"
            ),
            AcceptError::Dirty { id, .. } => format!(
                "vnx commits only a worktree that is on its branch and its own: ask for the \
                 work with `vnx follow-up {id} --instruction \"finish, then report\"`, or \
                 commit it in the worktree yourself and accept again"
            ),
            AcceptError::MergeUnfinished { id, worktree, .. } => format!(
                "resolve every conflict in {} and remove its markers, then `vnx accept {id}` \
                 again (vnx commits the merge); or ask the worker: `vnx follow-up {id} \
                 --instruction \"finish the merge, then report\"`",
                worktree.display()
            ),
            AcceptError::Config(e) => return e.hint(),
            AcceptError::Worktree(e) => return e.hint(),
            AcceptError::Ledger(_) => return None,
        })
    }
}

/// What accepting needs besides the dispatch.
pub struct Accepting<'a> {
    /// The ledger.
    pub ledger: &'a Path,
    /// The main checkout.
    pub root: &'a Path,
    /// The project's configuration (`roles.<role>.writes`).
    pub config: &'a Config,
    /// Signs the receipt.
    pub attestor: &'a Attestor,
    /// The keys whose attestations count.
    pub trusted: &'a [[u8; 32]],
    /// Who accepts.
    pub by: &'a str,
}

/// Accepts dispatch `state`'s committed work as done and records `dispatch_accepted`.
pub fn accept(
    a: &Accepting<'_>,
    state: &DispatchState,
    note: Option<&str>,
) -> Result<DispatchAccepted, AcceptError> {
    let id = state.id.clone();
    refuse_by_state(state)?;
    let ev = Evidence::read(a.ledger, &id, a.trusted)?;
    let unattested = ev.unattested_lines();
    if !unattested.is_empty() {
        return Err(AcceptError::NoEvidence {
            id,
            why: format!("receipts vnx did not write: {}", unattested.join("; ")),
        });
    }
    let (Some(started), Some(completed)) = (&ev.started, &ev.completed) else {
        return Err(AcceptError::NoEvidence {
            id,
            why: "no attested dispatch_started and dispatch_completed".into(),
        });
    };
    let branch = started.receipt.branch.clone();
    let base = &started.receipt.base_commit;
    let role = &started.receipt.role;
    let writes = crate::dispatch::supervise::phantom::writes(role, a.config);
    let Some(head) = branch_tip(a.root, &branch)? else {
        // A clean teardown removed a branch that held nothing: the phantom guard's case.
        let clean = completed.receipt.teardown_class == Some(TeardownClass::Clean);
        return Err(if clean && writes {
            AcceptError::NothingCommitted {
                id,
                role: role.clone(),
                base: base.clone(),
            }
        } else {
            AcceptError::NoBranch { id, branch }
        });
    };
    if let Some(prior) = &ev.accepted {
        // Accepted again only once its branch moved (a merge holds until then).
        if prior.receipt.head_commit == head {
            return Err(AcceptError::AlreadyAccepted {
                id,
                by: prior.receipt.by.clone(),
                head,
            });
        }
    } else if ev.verdict(&id).is_ok() {
        return Err(AcceptError::AlreadyDone { id });
    }
    let (head, vnx_commit) = commit_left(a, state, &ev, head)?;
    if writes && nothing_beyond(a.root, &head, base) {
        return Err(AcceptError::NothingCommitted {
            id,
            role: role.clone(),
            base: base.clone(),
        });
    }
    let previous = ev
        .corrected
        .as_ref()
        .map_or(completed.receipt.status, |c| c.receipt.status);
    let receipt = DispatchAccepted {
        dispatch_id: id,
        head_commit: head,
        branch,
        previous_status: previous,
        completion: completed.reference(),
        by: a.by.to_owned(),
        note: note.map(str::to_owned),
        vnx_commit,
        extra: Default::default(),
    };
    let appended = a.attestor.record(a.ledger, &receipt)?;
    crate::steps::reached(crate::steps::accept::ACCEPTED_APPENDED);
    // The user's `notify` command hears of it as of a report: the state is now `done`.
    if let Some(last) = appended.lines.last() {
        use crate::dispatch::supervise::notify::{Notifier, TIME_LIMIT};
        let mut notifier =
            Notifier::new(&a.config.notify).titled(state.title.as_deref().unwrap_or_default());
        let message = format!("accepted by {}", receipt.by);
        notifier.fire(&receipt.dispatch_id, "done", &last.entry_hash, &message);
        notifier.finish(TIME_LIMIT);
    }
    Ok(receipt)
}

/// What the worker left uncommitted in a kept (dirty) worktree, committed by vnx: the head
/// accepted then, and the commit made. The worktree is read again (the person may have
/// committed since); one teardown removed or returned to its pool holds nothing uncommitted.
fn commit_left(
    a: &Accepting<'_>,
    state: &DispatchState,
    ev: &Evidence,
    mut head: CommitId,
) -> Result<(CommitId, Option<crate::worktree::VnxCommit>), AcceptError> {
    let id = state.id.clone();
    let (Some(started), Some(completed)) = (&ev.started, &ev.completed) else {
        return Ok((head, None));
    };
    let branch = started.receipt.branch.clone();
    let base = &started.receipt.base_commit;
    let worktree = Path::new(&started.receipt.worktree);
    let kept = completed.receipt.teardown_class == Some(TeardownClass::Dirty);
    if let (true, Some(origin)) = (kept, &started.receipt.remote) {
        // Its worktree is on the host, out of vnx's reach here: accepted once its place's vnx
        // committed the work there and its branch came here past the completion's head.
        if completed.receipt.head_commit.as_ref() != Some(&head) {
            return Ok((head, None));
        }
        return Err(AcceptError::Dirty {
            id,
            worktree: worktree.to_owned(),
            why: format!("kept on host {} with uncommitted changes", origin.host),
        });
    }
    let mut vnx_commit = None;
    if kept && worktree.is_dir() {
        let (dirt, _) = Worktree::dirt_at(worktree, &branch)?;
        if let Some(why) = dirt {
            let note = CommitNote {
                dispatch_id: id.as_str(),
                provider: &started.receipt.provider,
                model: started.receipt.model.as_deref(),
                session_id: completed.receipt.session_id.as_deref(),
                summary: state.title.as_deref(),
                accepted_by: Some(a.by),
            };
            let wt = Worktree {
                id: id.clone(),
                path: worktree.to_owned(),
                branch: branch.clone(),
                base_commit: base.clone(),
            };
            let refused = |why: String| AcceptError::Dirty {
                id: id.clone(),
                worktree: worktree.to_owned(),
                why,
            };
            // A merge `vnx follow-up --rebase` started is concluded with the work, or the
            // acceptance refused: accepting the head from before it would conflict again.
            let rebase = started
                .receipt
                .continues
                .as_ref()
                .and_then(|c| c.rebase.as_ref());
            match wt.commit_all(&note, &placed_paths(&started.receipt), rebase) {
                Ok(Some(c)) => {
                    crate::steps::reached(crate::steps::accept::WORK_COMMITTED);
                    head = CommitId::parse(&c.commit).map_err(|_| refused(why.clone()))?;
                    vnx_commit = Some(c);
                }
                // Only vnx's own files differ: nothing of the worker's to commit.
                Ok(None) => {}
                Err(WorktreeError::NotOnBranch { .. } | WorktreeError::ForeignGit { .. }) => {
                    return Err(refused(why));
                }
                Err(WorktreeError::MergeUnfinished { why, .. }) => {
                    return Err(AcceptError::MergeUnfinished {
                        id,
                        worktree: worktree.to_owned(),
                        why,
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok((head, vnx_commit))
}

/// The refusals the dispatch's state decides: live, never ended, landed, continued, done.
fn refuse_by_state(s: &DispatchState) -> Result<(), AcceptError> {
    let id = s.id.clone();
    let status = s.state.name().to_owned();
    match s.state {
        State::Running
        | State::Blocked
        | State::Stalled
        | State::Limited
        | State::Paused
        | State::Queued => {
            return Err(AcceptError::Running { id, status });
        }
        State::Lost | State::Expired => return Err(AcceptError::NotEnded { id, status }),
        State::Ended(_) => {}
    }
    if let Some(landed) = s.landed {
        let how = match landed {
            Landed::Merged => "merged",
            Landed::Released => "released",
        };
        return Err(AcceptError::Landed { id, how });
    }
    if let Some(by) = &s.continued_by {
        return Err(AcceptError::Continued { id, by: by.clone() });
    }
    if s.state == State::Ended(DispatchStatus::Done) && s.accepted.is_none() {
        return Err(AcceptError::AlreadyDone { id });
    }
    Ok(())
}

/// The paths vnx put in the worktree, relative to it, as the attested start records them:
/// never the worker's work, whatever it did to them.
fn placed_paths(started: &receipts::DispatchStarted) -> Vec<String> {
    let root = Path::new(&started.worktree);
    started
        .vnx_files_placed
        .iter()
        .filter_map(|p| p.path.strip_prefix(root).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .chain(started.worktree_include.iter().map(|i| i.path.clone()))
        .collect()
}

/// The commit `refs/heads/<branch>` names in the repository at `root`, read by vnx.
fn branch_tip(root: &Path, branch: &str) -> Result<Option<CommitId>, AcceptError> {
    let repo = crate::worktree::Repo::discover(root)?;
    let Ok(r) = git2::Repository::open(&repo.root) else {
        return Ok(None);
    };
    let tip = r
        .find_reference(&format!("refs/heads/{branch}"))
        .ok()
        .and_then(|found| found.peel_to_commit().ok())
        .map(|c| CommitId::from(c.id()));
    Ok(tip)
}

/// Whether `head` holds no commit beyond `base`: it is `base`, or an ancestor of it.
fn nothing_beyond(root: &Path, head: &CommitId, base: &CommitId) -> bool {
    if head == base {
        return true;
    }
    let (Ok(r), Ok(h), Ok(b)) = (
        git2::Repository::open(root),
        git2::Oid::from_str(head.as_str()),
        git2::Oid::from_str(base.as_str()),
    ) else {
        return false;
    };
    r.graph_descendant_of(b, h).unwrap_or(false)
}
