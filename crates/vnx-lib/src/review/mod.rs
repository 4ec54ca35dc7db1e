//! Review comments on a dispatch's diff (`vnx review`, issue 53 §2, ADR 0091): a comment is
//! anchored to a file and line of the diff's new side as the dispatch's recorded head has it,
//! kept on the ledger only as a signed `review_comment` (never where a worker can write), and
//! read back with whether it is stale (its line's text changed in the newest head of the
//! dispatch's chain) and which follow-up addressed it (a signed `review_sent` naming a
//! follow-up that is on the ledger). Sending the open ones is one follow-up whose instruction
//! quotes each comment, with the code it points at, as `vnx pr fix` quotes a forge's review
//! threads (`instruction`). Where the diff's lines and the files' text are read: `anchor`.

pub mod anchor;
pub mod instruction;

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::dispatch::view::DispatchState;
use crate::ids::{CommitId, DispatchId};
use crate::ledger::attest::{self, Attestor};
use crate::ledger::{LedgerError, json, tail};
use crate::receipts::{self, ReviewComment, ReviewSent};

/// The most characters of a comment's text kept.
pub const MAX_BODY: usize = 4000;
/// The most characters of the commented line's text kept in its receipt.
pub const MAX_LINE_TEXT: usize = 500;
/// The most characters of a `FILE:LINE` anchor.
pub const MAX_ANCHOR: usize = 1000;

/// Where a comment is: a file of the diff's new side and a line of it (1 is the first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The file, relative to the repository's root, as the diff names it.
    pub file: String,
    /// The line.
    pub line: u64,
}

impl Anchor {
    /// Reads `FILE:LINE` (the last colon separates them, so a file name may hold colons): a
    /// file that is not empty and a line of decimal digits, at least 1.
    pub fn parse(text: &str) -> Result<Anchor, ReviewError> {
        let bad = || ReviewError::BadAnchor {
            text: text.chars().take(MAX_ANCHOR).collect(),
        };
        if text.chars().count() > MAX_ANCHOR {
            return Err(bad());
        }
        let (file, line) = text.rsplit_once(':').ok_or_else(bad)?;
        if file.is_empty() || line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let line: u64 = line.parse().map_err(|_| bad())?;
        if line == 0 || file.chars().any(char::is_control) {
            return Err(bad());
        }
        Ok(Anchor {
            file: file.trim_start_matches("./").to_owned(),
            line,
        })
    }
}

impl std::fmt::Display for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Why a review could not be read, added to or sent.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// A comment's place that is not `FILE:LINE`.
    #[error("{text:?} is not FILE:LINE (a file of the diff and a line number from 1)")]
    BadAnchor {
        /// What was given.
        text: String,
    },
    /// A comment without text.
    #[error("a review comment on {anchor} needs some text")]
    EmptyBody {
        /// Where it was to go.
        anchor: String,
    },
    /// The dispatch has no recorded head: it has not ended, or vnx did not record its end.
    #[error("dispatch {id} has no recorded head to comment on")]
    NoHead {
        /// The dispatch.
        id: DispatchId,
    },
    /// The place is not a line of the diff's new side.
    #[error("{anchor} is not a line of the new side of dispatch {id}'s diff")]
    NotInDiff {
        /// The dispatch.
        id: DispatchId,
        /// The place named.
        anchor: String,
    },
    /// Nothing open to send.
    #[error("dispatch {id} has no open review comment to send")]
    NothingToSend {
        /// The dispatch.
        id: DispatchId,
    },
    /// The repository could not be read.
    #[error("could not read dispatch {id}'s diff in {}", repo.display())]
    Git {
        /// The dispatch.
        id: DispatchId,
        /// The repository.
        repo: std::path::PathBuf,
        /// What libgit2 said.
        #[source]
        source: git2::Error,
    },
    /// The ledger could not be read or appended to.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl ReviewError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            ReviewError::BadAnchor { .. } => Some("e.g. --comment src/main.rs:42".into()),
            ReviewError::EmptyBody { .. } => None,
            ReviewError::NoHead { id } => Some(format!(
                "comment once it has ended: `vnx status {id}` shows where it is"
            )),
            ReviewError::NotInDiff { id, .. } => Some(format!(
                "`vnx show {id} --diff` shows the diff; comment on an added or context line"
            )),
            ReviewError::NothingToSend { id } => Some(format!(
                "add one with `vnx review {id} --comment FILE:LINE TEXT`"
            )),
            ReviewError::Git { .. } => None,
            ReviewError::Ledger(e) => e.hint(),
        }
    }
}

/// SHA-256 (hex) of a line's text.
pub fn line_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// `text` cut to `max` characters.
fn bounded(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// A comment as read back from the ledger, with what became of it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Comment {
    /// Its line on the ledger.
    pub seq: Option<u64>,
    /// SHA-256 of its ledger line: what a `review_sent` names it by.
    pub receipt_sha256: String,
    /// When it was made.
    pub timestamp: Option<String>,
    /// The receipt.
    #[serde(flatten)]
    pub receipt: ReviewComment,
    /// Whether its line's text differs in the newest head of its dispatch's chain (or the
    /// line is gone there).
    pub stale: bool,
    /// The follow-up that was sent it and is on the ledger.
    pub addressed_by: Option<DispatchId>,
}

impl Comment {
    /// Whether no follow-up addressed it yet.
    pub fn is_open(&self) -> bool {
        self.addressed_by.is_none()
    }

    /// Its place, `FILE:LINE`.
    pub fn anchor(&self) -> String {
        format!("{}:{}", self.receipt.file, self.receipt.line)
    }
}

/// The signed review receipts about one dispatch, in ledger order.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    /// Its comments, each with its line's number and hash.
    pub comments: Vec<(Option<u64>, String, Option<String>, ReviewComment)>,
    /// The sends.
    pub sent: Vec<ReviewSent>,
}

/// The review receipts about dispatch `id` that one of `trusted` signed (a line that claims
/// to be one but is not signed so is a worker's and is left out).
pub fn recorded(
    ledger: &Path,
    id: &DispatchId,
    trusted: &[[u8; 32]],
) -> Result<Recorded, LedgerError> {
    let mut out = Recorded::default();
    if !ledger.exists() {
        return Ok(out);
    }
    let (lines, _) = tail::last_lines(ledger, usize::MAX, |l| {
        memchr::memmem::find(l, id.as_str().as_bytes()).is_some()
            && memchr::memmem::find(l, b"\"review_").is_some()
    })?;
    for raw in lines {
        let Some(object) = json::object_of_line(&raw) else {
            continue;
        };
        let kind = object.get("event_type").and_then(json::Value::as_str);
        if !matches!(kind, Some("review_comment" | "review_sent"))
            || !attest::check(&object, trusted).is_valid()
        {
            continue;
        }
        if let Some(r) = receipts::read::<ReviewComment>(&object) {
            if r.receipt.dispatch_id == *id {
                let hash = hex::encode(Sha256::digest(&raw));
                out.comments.push((r.seq, hash, r.timestamp, r.receipt));
            }
        } else if let Some(r) = receipts::read::<ReviewSent>(&object)
            && r.receipt.dispatch_id == *id
        {
            out.sent.push(r.receipt);
        }
    }
    Ok(out)
}

/// `id`'s chain among `states`: `id`, then the follow-up that continued it, and so on.
pub fn chain<'s>(states: &'s [DispatchState], id: &DispatchId) -> Vec<&'s DispatchState> {
    let mut out: Vec<&DispatchState> = states.iter().filter(|s| s.id == *id).take(1).collect();
    while let Some(next) = (out.last())
        .and_then(|at| at.continued_by.as_ref())
        .and_then(|next| states.iter().find(|s| s.id == *next))
        .filter(|next| out.len() <= states.len() && !out.iter().any(|o| o.id == next.id))
    {
        out.push(next);
    }
    out
}

/// The newest dispatch of `id`'s chain among `states` (`id` itself when nothing continued it).
pub fn newest<'s>(states: &'s [DispatchState], id: &DispatchId) -> Option<&'s DispatchState> {
    chain(states, id).pop()
}

/// Dispatch `id`'s comments, each with whether it is stale against the newest recorded head
/// of its chain and which follow-up among `states` addressed it.
pub fn comments(
    repo_root: &Path,
    ledger: &Path,
    states: &[DispatchState],
    id: &DispatchId,
    trusted: &[[u8; 32]],
) -> Result<Vec<Comment>, ReviewError> {
    judged(repo_root, states, id, recorded(ledger, id, trusted)?)
}

/// The comments on dispatch `d` as a reader of one dispatch shows them (`vnx show`, the page,
/// MCP's `show_dispatch`), each judged as [`comments`] judges it. Most dispatches have none:
/// nothing more is read unless a `review_comment` is among its own receipts, and the
/// dispatches' states (`states`, which may list every dispatch) only when one of `trusted`
/// signed such a comment.
pub fn shown(
    repo_root: &Path,
    ledger: &Path,
    d: &crate::dispatch::detail::Detail,
    trusted: &[[u8; 32]],
    states: impl FnOnce() -> Result<Vec<DispatchState>, LedgerError>,
) -> Result<Vec<Comment>, ReviewError> {
    if !d.has_review_comments() {
        return Ok(Vec::new());
    }
    let recorded = recorded(ledger, &d.state.id, trusted)?;
    if recorded.comments.is_empty() {
        return Ok(Vec::new());
    }
    judged(repo_root, &states()?, &d.state.id, recorded)
}

/// `recorded`'s comments on dispatch `id`, each with whether it is stale against the newest
/// head of its chain among `states` and the follow-up that addressed it.
fn judged(
    repo_root: &Path,
    states: &[DispatchState],
    id: &DispatchId,
    recorded: Recorded,
) -> Result<Vec<Comment>, ReviewError> {
    if recorded.comments.is_empty() {
        return Ok(Vec::new());
    }
    // The newest head recorded: a follow-up still running has none yet.
    let newest_head = (chain(states, id).into_iter().rev()).find_map(|s| s.head_commit.clone());
    let repo = anchor::open(repo_root, id)?;
    let on_ledger = |f: &DispatchId| states.iter().any(|s| s.id == *f);
    Ok(recorded
        .comments
        .into_iter()
        .map(|(seq, receipt_sha256, timestamp, receipt)| {
            let stale = match &newest_head {
                Some(head) if *head != receipt.head_commit => {
                    anchor::line_at(&repo, head, &receipt.file, receipt.line)
                        .is_none_or(|now| line_hash(&now) != receipt.line_sha256)
                }
                _ => false,
            };
            let addressed_by = recorded
                .sent
                .iter()
                .filter(|s| s.comments.iter().any(|c| c.line_sha256 == receipt_sha256))
                .map(|s| &s.follow_up)
                .find(|f| on_ledger(f))
                .cloned();
            Comment {
                seq,
                receipt_sha256,
                timestamp,
                receipt,
                stale,
                addressed_by,
            }
        })
        .collect())
}

/// Records a comment `body` by `by` on `at` of dispatch `id`'s diff from `base` to its
/// recorded `head`: refused unless `at` is a line of the diff's new side.
#[expect(clippy::too_many_arguments, reason = "one comment's parts")]
pub fn comment(
    repo_root: &Path,
    ledger: &Path,
    attestor: &Attestor,
    id: &DispatchId,
    (base, head): (&CommitId, &CommitId),
    at: &Anchor,
    body: &str,
    by: &str,
) -> Result<ReviewComment, ReviewError> {
    if body.trim().is_empty() {
        return Err(ReviewError::EmptyBody {
            anchor: at.to_string(),
        });
    }
    let repo = anchor::open(repo_root, id)?;
    let lines = anchor::new_side(&repo, id, base, head, &at.file)?;
    let not_in_diff = || ReviewError::NotInDiff {
        id: id.clone(),
        anchor: at.to_string(),
    };
    if !lines.contains(&at.line) {
        return Err(not_in_diff());
    }
    let text = anchor::line_at(&repo, head, &at.file, at.line).ok_or_else(not_in_diff)?;
    let receipt = ReviewComment {
        dispatch_id: id.clone(),
        head_commit: head.clone(),
        file: at.file.clone(),
        line: at.line,
        line_sha256: line_hash(&text),
        line_text: bounded(&text, MAX_LINE_TEXT),
        body: bounded(body, MAX_BODY),
        by: by.to_owned(),
        extra: Default::default(),
    };
    attestor.record(ledger, &receipt)?;
    Ok(receipt)
}

/// Records that `comments` of dispatch `id` were sent in follow-up `follow_up` of
/// `continues`, by `by`.
pub fn record_sent(
    ledger: &Path,
    attestor: &Attestor,
    id: &DispatchId,
    comments: &[Comment],
    (continues, follow_up): (&DispatchId, &DispatchId),
    by: &str,
) -> Result<ReviewSent, ReviewError> {
    let receipt = ReviewSent {
        dispatch_id: id.clone(),
        comments: comments
            .iter()
            .map(|c| receipts::LineRef {
                seq: c.seq,
                line_sha256: c.receipt_sha256.clone(),
            })
            .collect(),
        follow_up: follow_up.clone(),
        continues: continues.clone(),
        by: by.to_owned(),
        extra: Default::default(),
    };
    attestor.record(ledger, &receipt)?;
    Ok(receipt)
}

#[cfg(test)]
mod tests;
