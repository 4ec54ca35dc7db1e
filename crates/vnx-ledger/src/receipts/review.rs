//! `review_comment` and `review_sent`: a person's comment on a line of a dispatch's diff
//! (`vnx review ID --comment FILE:LINE TEXT`, the dashboard's diff view, the web page), and
//! the follow-up the open comments were sent to the worker in (`vnx review ID --send`). Both
//! live on the ledger only, signed: never in a file a worker can write.

use serde::{Deserialize, Serialize};

use crate::ids::{CommitId, DispatchId};

use super::Extra;
use super::group::LineRef;

/// `review_comment`: a person's comment anchored to a line of a dispatch's diff, as that line
/// is in the dispatch's recorded head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReviewComment {
    /// The dispatch whose diff it is on.
    pub dispatch_id: DispatchId,
    /// The commit the line was read in: the dispatch's recorded head when the comment was
    /// made.
    pub head_commit: CommitId,
    /// The file, as the diff names it on its new side (relative to the repository's root).
    pub file: String,
    /// The line's number in that file at `head_commit` (1 is the first).
    pub line: u64,
    /// SHA-256 (hex) of the line's text at `head_commit`, without its line break: a later head
    /// whose line there hashes otherwise makes the comment stale.
    pub line_sha256: String,
    /// The line's text at `head_commit`, bounded, as the worker wrote it (escape it when it
    /// is shown).
    pub line_text: String,
    /// What the reviewer said, bounded.
    pub body: String,
    /// Who commented: the user vnx ran as, or the device a web page was paired with.
    pub by: String,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `review_sent`: a dispatch's open review comments sent to its worker as one follow-up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReviewSent {
    /// The dispatch the comments are on.
    pub dispatch_id: DispatchId,
    /// The `review_comment` receipts it sent, by line.
    pub comments: Vec<LineRef>,
    /// The follow-up they were sent in: it addressed them once it is on the ledger.
    pub follow_up: DispatchId,
    /// The dispatch that follow-up continues: the newest of `dispatch_id`'s chain.
    pub continues: DispatchId,
    /// Who sent them.
    pub by: String,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}
