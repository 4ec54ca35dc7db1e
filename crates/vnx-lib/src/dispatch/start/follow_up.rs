//! Follow-ups: which dispatch a follow-up continues, and whether it may. A follow-up is a new
//! dispatch (its own id, receipts and report) that works in the worktree and on the branch
//! of the chain's first dispatch and resumes the CLI session the last one recorded. Only the
//! latest dispatch of a chain can be continued, only once it has ended, and never once its
//! branch was merged or released.

use std::collections::BTreeMap;
use std::path::Path;

use crate::ids::{CommitId, DispatchId};
use crate::ledger::LedgerError;
use crate::ledger::tail;
use crate::project::Project;
use crate::receipts::{DispatchStarted, DispatchStatus, Typed};

use crate::dispatch::view::State;

pub use crate::dispatch::spec::Continued;

/// Why a dispatch cannot be continued.
#[derive(Debug, thiserror::Error)]
pub enum FollowUpError {
    /// The ledger records no such dispatch.
    #[error("no dispatch {id} on the ledger")]
    Unknown {
        /// The id given.
        id: String,
    },
    /// It has not ended.
    #[error("dispatch {id} is {state}: a follow-up continues a dispatch that has ended")]
    NotEnded {
        /// The dispatch.
        id: String,
        /// Its state.
        state: String,
    },
    /// A later follow-up continued it already.
    #[error("dispatch {id} was continued by {by}")]
    Continued {
        /// The dispatch.
        id: String,
        /// The follow-up that continued it.
        by: String,
    },
    /// Its branch was merged.
    #[error("the branch {branch} of dispatch {id} was merged (by the merge of {merged})")]
    Merged {
        /// The dispatch.
        id: String,
        /// Its branch.
        branch: String,
        /// The dispatch whose merge took the branch.
        merged: String,
    },
    /// Its branch was released (deleted).
    #[error("the branch {branch} of dispatch {id} was released")]
    Released {
        /// The dispatch.
        id: String,
        /// Its branch.
        branch: String,
    },
    /// Its branch is gone, and no commit to bring it back at is recorded.
    #[error("the branch {branch} of dispatch {id} is gone, and its completion records no head")]
    BranchGone {
        /// The dispatch.
        id: String,
        /// Its branch.
        branch: String,
    },
    /// Its `instruction.md` (in the dispatch directory, which its worker could write) is not
    /// the instruction its `dispatch_started` recorded, or is not a plain file vnx may read.
    #[error("the instruction of dispatch {id} at {path} {problem}")]
    Instruction {
        /// The dispatch.
        id: String,
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl FollowUpError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            FollowUpError::Unknown { .. } => Some("`vnx status` lists the dispatches".into()),
            FollowUpError::NotEnded { id, state } if state == "lost" => Some(format!(
                "`vnx cancel {id}` closes a lost dispatch; then follow it up"
            )),
            FollowUpError::NotEnded { id, .. } => Some(format!(
                "`vnx wait {id}` for it to end, or `vnx cancel {id}` to stop it"
            )),
            FollowUpError::Continued { by, .. } => Some(format!("follow up {by} instead")),
            FollowUpError::Merged { .. } | FollowUpError::Released { .. } => {
                Some("start a new dispatch from the base branch instead".into())
            }
            FollowUpError::BranchGone { .. } => {
                Some("start a new dispatch with `vnx dispatch-agent`".into())
            }
            FollowUpError::Instruction { id, .. } => Some(format!(
                "the dispatch directory was changed after {id} started (by its worker?); \
                 `vnx show {id}` and `vnx audit-chain verify` say what it recorded"
            )),
            FollowUpError::Ledger(e) => e.hint(),
        }
    }
}

/// What the ledger says about every dispatch of a chain.
#[derive(Default)]
struct Facts {
    started: BTreeMap<DispatchId, DispatchStarted>,
    status: BTreeMap<DispatchId, DispatchStatus>,
    session: BTreeMap<DispatchId, Option<String>>,
    head: BTreeMap<DispatchId, Option<CommitId>>,
    continued_by: BTreeMap<DispatchId, DispatchId>,
    merged: BTreeMap<String, DispatchId>,
    conflict: BTreeMap<String, (Option<u64>, String)>,
    released: BTreeMap<String, bool>,
}

fn read_facts(ledger: &Path) -> Result<Facts, LedgerError> {
    let mut facts = Facts::default();
    if !ledger.exists() {
        return Ok(facts);
    }
    let (lines, _) = tail::last_lines(ledger, usize::MAX, |l| {
        [
            &b"\"dispatch_"[..],
            b"merge_completed",
            b"merge_dequeued",
            b"worktree_released",
        ]
        .iter()
        .any(|k| memchr::memmem::find(l, k).is_some())
    })?;
    for typed in lines.iter().filter_map(|l| Typed::of_line(l)) {
        match typed {
            Typed::DispatchStarted(r) => {
                let s = r.receipt;
                if let Some(c) = &s.continues {
                    facts
                        .continued_by
                        .insert(c.dispatch_id.clone(), s.dispatch_id.clone());
                }
                facts.started.insert(s.dispatch_id.clone(), s);
            }
            Typed::DispatchCompleted(r) => {
                let c = r.receipt;
                facts.status.insert(c.dispatch_id.clone(), c.status);
                facts.session.insert(c.dispatch_id.clone(), c.session_id);
                facts.head.insert(c.dispatch_id, c.head_commit);
            }
            Typed::DispatchCorrected(r) => {
                facts.status.insert(r.receipt.dispatch_id, r.receipt.status);
            }
            Typed::MergeCompleted(r) => {
                facts.merged.insert(r.receipt.branch, r.receipt.dispatch_id);
            }
            Typed::MergeDequeued(r) => {
                let branch = facts.started.get(&r.receipt.dispatch_id).map(|s| &s.branch);
                if let Some(branch) = branch.cloned()
                    && r.receipt.reason == crate::receipts::DequeueReason::Conflict
                {
                    let base = r.receipt.base_ref.clone();
                    facts.conflict.insert(branch, (r.seq, base));
                }
            }
            Typed::WorktreeReleased(r) => {
                if let Some(branch) = r.receipt.branch {
                    let deleted = r.receipt.action.branch_deleted;
                    *facts.released.entry(branch).or_default() |= deleted;
                }
            }
            _ => {}
        }
    }
    Ok(facts)
}

/// The dispatch `id` of `project` as a follow-up would continue it, in `state` (from
/// [`crate::dispatch::view`]).
pub fn find(
    project: &Project,
    ledger: &Path,
    id: &DispatchId,
    state: Option<State>,
) -> Result<Continued, FollowUpError> {
    let facts = read_facts(ledger)?;
    let unknown = || FollowUpError::Unknown { id: id.to_string() };
    let started = facts.started.get(id).cloned().ok_or_else(unknown)?;
    let status = match state {
        Some(State::Ended(status)) => status,
        Some(other) => {
            return Err(FollowUpError::NotEnded {
                id: id.to_string(),
                state: other.name().to_owned(),
            });
        }
        None => return Err(unknown()),
    };
    if let Some(by) = facts.continued_by.get(id) {
        return Err(FollowUpError::Continued {
            id: id.to_string(),
            by: by.to_string(),
        });
    }
    let branch = started.branch.clone();
    if let Some(merged) = facts.merged.get(&branch) {
        return Err(FollowUpError::Merged {
            id: id.to_string(),
            branch,
            merged: merged.to_string(),
        });
    }
    if facts.released.get(&branch).copied().unwrap_or(false) {
        return Err(FollowUpError::Released {
            id: id.to_string(),
            branch,
        });
    }
    let first = started
        .continues
        .as_ref()
        .map_or_else(|| started.dispatch_id.clone(), |c| c.first.clone());
    let tip = git2::Repository::open(&project.root).ok().and_then(|r| {
        let b = r.find_branch(&branch, git2::BranchType::Local).ok()?;
        Some(CommitId::from(b.get().peel_to_commit().ok()?.id()))
    });
    let Some(head_commit) = tip.or_else(|| facts.head.get(id).cloned().flatten()) else {
        return Err(FollowUpError::BranchGone {
            id: id.to_string(),
            branch,
        });
    };
    Ok(Continued {
        status,
        first,
        // A session id a ledger recorded before vnx checked them (it came from a hook payload
        // the worker could write) is resumed only if it is one its CLI could have written.
        session_id: facts
            .session
            .get(id)
            .cloned()
            .flatten()
            .filter(|s| crate::provider::session::valid_id(&started.provider, s)),
        head_commit,
        instruction: recorded_instruction(project, &started)?,
        conflict: facts.conflict.get(&started.branch).cloned(),
        rebase: None,
        started,
    })
}

/// The largest instruction a follow-up reads back (a dispatch takes at most 1 MiB).
const MAX_INSTRUCTION: u64 = 4 << 20;

/// The instruction `started` recorded, read back from its dispatch directory, which the
/// worker could write: never through a link, never blocking on a FIFO, bounded, and only if
/// its SHA-256 is the one `dispatch_started` recorded. A pruned file is said to be gone.
fn recorded_instruction(
    project: &Project,
    started: &DispatchStarted,
) -> Result<String, FollowUpError> {
    use sha2::{Digest, Sha256};
    let id = &started.dispatch_id;
    let path = crate::dispatch::dir_of(&project.root, id).join("instruction.md");
    let problem = |problem: String| FollowUpError::Instruction {
        id: id.to_string(),
        path: path.clone(),
        problem,
    };
    let bytes = match crate::files::read_bounded(&path, MAX_INSTRUCTION) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok("(its instruction is no longer on disk)".into());
        }
        Err(e) => return Err(problem(format!("cannot be read safely: {e}"))),
    };
    if hex::encode(Sha256::digest(&bytes)) != started.instruction_sha256 {
        return Err(problem(
            "is not the one its dispatch_started recorded (its SHA-256 differs)".into(),
        ));
    }
    String::from_utf8(bytes).map_err(|_| problem("is not UTF-8".into()))
}
