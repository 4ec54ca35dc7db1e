//! What the ledger knows about one dispatch, as an attestation states it (the vnx predicate):
//! its CLI and model, posture and sandbox or place, role, instruction hash, gates, approvals,
//! review comments, its merge, and the chain's head with the checkpoint that anchors it. Only
//! receipts a trusted key attests count.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::LedgerError;
use crate::attest;
use crate::checkpoint::{Anchor, CheckpointError};
use crate::evidence::{Evidence, Evidenced};
use crate::ids::DispatchId;
use crate::json::{self, Value};
use crate::receipts::merge::CompletionRef;
use crate::receipts::{self, DispatchAnswered, MergeCompleted, ReviewComment, ReviewSent};
use crate::tail;

/// A ledger line an attestation cites: its number and the SHA-256 of its bytes (without its
/// newline), as a merge cites the completion it rests on.
pub type Cited = CompletionRef;

/// The CLI that did the work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cli {
    /// The provider (a built-in CLI or a declared one).
    pub provider: String,
    /// Its model, as the start resolved it.
    pub model: Option<String>,
    /// Its binary and what its version probe said.
    pub binary: String,
    /// The version.
    pub binary_version: Option<String>,
    /// Headless or interactive.
    pub lane: serde_json::Value,
}

/// What the worker was allowed and where it ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posture {
    /// The permission posture.
    pub permission: serde_json::Value,
    /// The CLI's flags for it.
    pub permission_flags: Vec<String>,
    /// The sandbox (`bubblewrap`) and its network, when it ran in one.
    pub sandbox: Option<String>,
    /// The place (a host under `hosts:`) when it ran there; `None`: this machine.
    pub place: Option<String>,
}

/// One gate's newest result on the attested head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gate {
    /// The gate's name.
    pub gate: String,
    /// Its kind.
    pub kind: String,
    /// `pass`, `fail`, …
    pub status: serde_json::Value,
    /// The commit it ran on.
    pub head_commit: String,
    /// The contract tying its request to its result.
    pub contract_hash: String,
    /// Its `gate_result` line.
    pub result: Cited,
}

/// A person's approval of a plan, or answer to a permission prompt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// `plan` or `permission`.
    pub what: String,
    /// The dispatch it was given to (a plan's: the planning dispatch).
    pub dispatch_id: String,
    /// Who.
    pub by: String,
    /// The plan's SHA-256 (`plan`), or `approve`/`deny` and the tool or command asked
    /// about (`permission`).
    pub detail: String,
    /// Its line.
    pub line: Cited,
}

/// A review comment on the dispatch's diff, or one sent to it to address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The file and line commented on (`sent`: empty).
    pub at: String,
    /// SHA-256 of the comment's text.
    pub body_sha256: String,
    /// Who.
    pub by: String,
    /// `open` (on this dispatch's work, not sent), `sent` (sent to the follow-up named), or
    /// `addressed` (sent to this dispatch to address).
    pub state: String,
    /// The follow-up it was sent to.
    pub sent_to: Option<String>,
    /// Its line (a `review_comment`, or the `review_sent` that sent comments here).
    pub line: Cited,
}

/// The merge the ledger records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merge {
    /// The merge commit.
    pub merge_commit: String,
    /// The commit merged (the dispatch's head).
    pub head_commit: String,
    /// The branch merged into.
    pub base_ref: String,
    /// The merge commit's tree.
    pub tree: String,
    /// The `merge_completed` line.
    pub line: Cited,
}

/// The newest checkpoint of the ledger anchored in the repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointFact {
    /// The checkpoint commit (abbreviated).
    pub id: String,
    /// Lines it covers.
    pub lines: u64,
    /// SHA-256 of line `lines`.
    pub head: String,
    /// The key that signed it (hex).
    pub public_key: String,
}

/// The ledger's state when the attestation was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerState {
    /// Its last line.
    pub head: Cited,
    /// The checkpoint that anchors it (its `lines` at or below the head's).
    pub checkpoint: Option<CheckpointFact>,
}

/// The vnx predicate: what the ledger knows about one dispatch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// The dispatch.
    pub dispatch_id: String,
    /// Its role.
    pub role: String,
    /// SHA-256 of its instruction as given.
    pub instruction_sha256: String,
    /// The CLI.
    pub cli: Cli,
    /// Posture and sandbox or place.
    pub posture: Posture,
    /// The branch it worked on.
    pub branch: String,
    /// The base it started from: `ref` and `commit`.
    pub base_ref: String,
    /// The commit it started from.
    pub base_commit: String,
    /// When it started.
    pub started_at: Option<String>,
    /// When it completed.
    pub completed_at: Option<String>,
    /// Its status: its completion's, or the phantom guard's correction of it.
    pub status: Option<serde_json::Value>,
    /// The phantom guard's `dispatch_corrected` of the completion, when it corrected it.
    pub corrected: Option<Cited>,
    /// The head its completion (or acceptance) names.
    pub head_commit: Option<String>,
    /// Its completion line, and its acceptance's when a person accepted the work.
    pub completion: Option<Cited>,
    /// The acceptance (`vnx accept`).
    pub accepted: Option<Cited>,
    /// The newest result of each gate on the head.
    pub gates: Vec<Gate>,
    /// Plans approved and permission prompts answered.
    pub approvals: Vec<Approval>,
    /// Review comments.
    pub review: Vec<Review>,
    /// Its merge.
    pub merge: Option<Merge>,
    /// The ledger's head and its checkpoint.
    pub ledger: LedgerState,
}

/// Why the facts cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The checkpoint ref could not be read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// No attested start of the dispatch.
    #[error("the ledger holds no attested start of dispatch {0}")]
    NotStarted(DispatchId),
}

fn cited(raw: &[u8], seq: Option<u64>) -> Cited {
    Cited {
        seq,
        line_sha256: hex::encode(Sha256::digest(raw)),
    }
}

fn value<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// The ledger's lines about a dispatch (every receipt whose `dispatch_id` it is; lines about
/// others among them are passed over), in ledger order.
pub type About<'a> = &'a dyn Fn(&DispatchId) -> Result<Vec<Vec<u8>>, LedgerError>;

/// What the ledger at `ledger` knows about dispatch `id`, counting receipts `trusted` keys
/// attest; the newest checkpoint from `anchor`'s repository.
pub fn read(
    ledger: &Path,
    anchor: Option<&Anchor>,
    id: &DispatchId,
    trusted: &[[u8; 32]],
) -> Result<Facts, FactsError> {
    // One scan for every line naming the dispatch (blocks without its id only counted).
    read_about(ledger, anchor, id, trusted, &|d| {
        lines_naming(ledger, d.as_str())
    })
}

/// [`read`], the lines about a dispatch taken from `about` (a read index's, which reads only
/// its own lines); a plan approved for its planning dispatch is read only when it has one.
pub fn read_about(
    ledger: &Path,
    anchor: Option<&Anchor>,
    id: &DispatchId,
    trusted: &[[u8; 32]],
    about: About<'_>,
) -> Result<Facts, FactsError> {
    let lines = about(id)?;
    let e = Evidence::of_lines(&lines, id, trusted);
    let Some(started) = &e.started else {
        return Err(FactsError::NotStarted(id.clone()));
    };
    let s = &started.receipt;
    let head = e.head().map(|h| h.as_str().to_owned());
    let mut gates: Vec<Gate> = Vec::new();
    if let Some(head) = &head {
        for r in e
            .results
            .iter()
            .filter(|r| r.receipt.head_commit.as_str() == head)
        {
            gates.retain(|g| g.gate != r.receipt.gate);
            gates.push(Gate {
                gate: r.receipt.gate.clone(),
                kind: r.receipt.kind.clone(),
                status: value(&r.receipt.status),
                head_commit: head.clone(),
                contract_hash: r.receipt.contract_hash.clone(),
                result: r.reference(),
            });
        }
    }
    let planned_in = s.plan.as_ref().and_then(|p| p.planned_in.clone());
    let mut facts = Facts {
        dispatch_id: id.to_string(),
        role: s.role.clone(),
        instruction_sha256: s.instruction_sha256.clone(),
        cli: Cli {
            provider: s.provider.clone(),
            model: s.model.clone(),
            binary: s.binary.clone(),
            binary_version: s.binary_version.clone(),
            lane: value(&s.lane),
        },
        posture: Posture {
            permission: value(&s.permission),
            permission_flags: s.permission_flags.clone(),
            sandbox: s
                .sandbox
                .as_ref()
                .map(|b| format!("{}, network {}", b.kind, value(&b.network))),
            place: s.remote.as_ref().map(|r| r.host.clone()),
        },
        branch: s.branch.clone(),
        base_ref: s.base_ref.clone(),
        base_commit: s.base_commit.to_string(),
        started_at: started.line.text("timestamp").map(str::to_owned),
        completed_at: e
            .completed
            .as_ref()
            .and_then(|c| c.line.text("timestamp").map(str::to_owned)),
        status: match (&e.corrected, &e.completed) {
            (Some(c), _) => Some(value(&c.receipt.status)),
            (None, c) => c.as_ref().map(|c| value(&c.receipt.status)),
        },
        corrected: e.corrected.as_ref().map(Evidenced::reference),
        head_commit: head,
        completion: e.completed.as_ref().map(Evidenced::reference),
        accepted: e.accepted.as_ref().map(Evidenced::reference),
        gates,
        approvals: Vec::new(),
        review: Vec::new(),
        merge: None,
        ledger: ledger_state(ledger, anchor)?,
    };
    others(&lines, id, None, trusted, &mut facts);
    if let Some(planning) = &planned_in {
        let lines = about(planning)?;
        others(&lines, id, Some(planning), trusted, &mut facts);
    }
    Ok(facts)
}

/// The ledger's lines that hold `text`, in ledger order.
pub(crate) fn lines_naming(ledger: &Path, text: &str) -> Result<Vec<Vec<u8>>, LedgerError> {
    Ok(tail::numbered_lines_containing(ledger, text.as_bytes())?
        .into_iter()
        .map(|(_, line)| line)
        .collect())
}

/// The receipts `Evidence` does not read, among `lines`: answers, plans approved (the
/// dispatch's, or with `planned_in` its planning dispatch's), review comments and sends, and
/// the merge.
fn others(
    lines: &[Vec<u8>],
    id: &DispatchId,
    planned_in: Option<&DispatchId>,
    trusted: &[[u8; 32]],
    facts: &mut Facts,
) {
    for raw in lines {
        let Some(fields) = json::object_of_line(raw) else {
            continue;
        };
        let event = fields.get("event_type").and_then(Value::as_str);
        let interesting = matches!(
            event,
            Some(
                "dispatch_answered"
                    | "plan_approved"
                    | "review_comment"
                    | "review_sent"
                    | "merge_completed"
            )
        );
        if !interesting || !attest::check(&fields, trusted).is_valid() {
            continue;
        }
        let seq = fields.get("seq").and_then(Value::as_u64);
        let line = cited(raw, seq);
        let about = fields.get("dispatch_id").and_then(Value::as_str);
        let ours = about == Some(id.as_str());
        if let Some(r) = receipts::read::<DispatchAnswered>(&fields).filter(|_| ours) {
            let r = r.receipt;
            let asked = r.command.or(r.tool).unwrap_or_default();
            facts.approvals.push(Approval {
                what: "permission".into(),
                dispatch_id: id.to_string(),
                by: r.by,
                detail: format!("{} {asked}", r.answer.name()).trim_end().to_owned(),
                line,
            });
        } else if let Some(r) = receipts::read::<receipts::PlanApproved>(&fields) {
            let r = r.receipt;
            // The first pass counts the dispatch's own; the second its planning dispatch's.
            if planned_in.map_or(ours, |p| *p == r.dispatch_id) {
                facts.approvals.push(Approval {
                    what: "plan".into(),
                    dispatch_id: r.dispatch_id.to_string(),
                    by: r.by,
                    detail: r.plan_sha256,
                    line,
                });
            }
        } else if let Some(r) = receipts::read::<ReviewComment>(&fields).filter(|_| ours) {
            let r = r.receipt;
            facts.review.push(Review {
                at: format!("{}:{}", r.file, r.line),
                body_sha256: hex::encode(Sha256::digest(r.body.as_bytes())),
                by: r.by,
                state: "open".into(),
                sent_to: None,
                line,
            });
        } else if let Some(r) = receipts::read::<ReviewSent>(&fields) {
            let r = r.receipt;
            if ours {
                let sent: Vec<&str> = r.comments.iter().map(|c| c.line_sha256.as_str()).collect();
                for c in facts.review.iter_mut() {
                    if sent.contains(&c.line.line_sha256.as_str()) {
                        c.state = "sent".into();
                        c.sent_to = Some(r.follow_up.to_string());
                    }
                }
            } else if r.follow_up == *id {
                facts.review.push(Review {
                    at: String::new(),
                    body_sha256: String::new(),
                    by: r.by,
                    state: "addressed".into(),
                    sent_to: Some(id.to_string()),
                    line,
                });
            }
        } else if let Some(r) = receipts::read::<MergeCompleted>(&fields).filter(|_| ours) {
            let r = r.receipt;
            facts.merge = Some(Merge {
                merge_commit: r.merge_commit.to_string(),
                head_commit: r.head_commit.to_string(),
                base_ref: r.base_ref,
                tree: r.tree,
                line,
            });
        }
    }
}

/// The ledger's last line and the newest checkpoint of it.
fn ledger_state(ledger: &Path, anchor: Option<&Anchor>) -> Result<LedgerState, FactsError> {
    let (last, _) = tail::last_lines(ledger, 1, |_| true)?;
    let raw = last.into_iter().next().unwrap_or_default();
    let seq = json::object_of_line(&raw).and_then(|f| f.get("seq").and_then(Value::as_u64));
    let checkpoint = match anchor {
        Some(a) => a.newest(&a.ledger_name(ledger))?.map(|c| CheckpointFact {
            id: c.id,
            lines: c.lines,
            head: hex::encode(c.head),
            public_key: hex::encode(c.public_key),
        }),
        None => None,
    };
    Ok(LedgerState {
        head: cited(&raw, seq),
        checkpoint,
    })
}
