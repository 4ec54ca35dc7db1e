//! The pull-request receipts `vnx pr` writes: `pr_opened` (a dispatch's recorded head pushed
//! and its pull request opened or updated on the forge), `pr_merged` (the pull request merged,
//! by `vnx pr merge` or by a person on the forge, with the merge commit) and `pr_closed` (seen
//! closed on the forge without a merge). Text read from the forge is bounded before it is
//! recorded.

use serde::{Deserialize, Serialize};

use crate::ids::{CommitId, DispatchId};

use super::Extra;
use super::merge::CompletionRef;

/// Whether `vnx pr open` made a new pull request or updated the one its branch had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrAction {
    /// A new pull request was opened.
    Created,
    /// The branch's open pull request was updated (title, body, the new head pushed).
    Updated,
    /// A stacked pull request's base moved onto the branch it merges into, once the pull
    /// request it was stacked on merged (`--after`).
    Retargeted,
}

/// How a pull request was merged on the forge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrMergeMethod {
    /// A merge commit with two parents.
    Merge,
    /// One commit with the head's tree.
    Squash,
    /// Each commit replayed on the base.
    Rebase,
    /// Merged on the forge by a person; the method is not known.
    Unknown,
}

impl PrMergeMethod {
    /// As the config and `gh pr merge` spell it.
    pub fn name(self) -> &'static str {
        match self {
            PrMergeMethod::Merge => "merge",
            PrMergeMethod::Squash => "squash",
            PrMergeMethod::Rebase => "rebase",
            PrMergeMethod::Unknown => "unknown",
        }
    }

    /// The method a person chooses by `name` (`merge`, `squash` or `rebase`), as the config,
    /// `vnx pr merge --method` and the MCP tool `pr_merge` take it; `None` for another word.
    pub fn chosen(name: &str) -> Option<PrMergeMethod> {
        use PrMergeMethod as M;
        [M::Merge, M::Squash, M::Rebase]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

/// `pr_opened`: the dispatch's recorded head was pushed to the forge's branch and its pull
/// request opened or updated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrOpened {
    /// The dispatch whose head was pushed.
    pub dispatch_id: DispatchId,
    /// The pull request's number on the forge.
    pub number: u64,
    /// Its address.
    pub url: String,
    /// The repository, `owner/name`.
    pub repo: String,
    /// The remote pushed to.
    pub remote: String,
    /// The branch pushed, `dispatch/<id>` (a follow-up's: its chain's first).
    pub branch: String,
    /// The branch it asks to merge into.
    pub base: String,
    /// The commit pushed: the head the dispatch's completion (or acceptance) recorded.
    pub head_commit: CommitId,
    /// Whether it is a draft.
    pub draft: bool,
    /// Created or updated.
    pub action: PrAction,
    /// The gates that passed on that head when it was opened.
    pub gates_passed: Vec<String>,
    /// The completion (or acceptance) the head comes from.
    pub completion: CompletionRef,
    /// Who asked, when not the user at the terminal: the agent that asked through `vnx mcp
    /// --act` (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `pr_merged`: the pull request was merged on the forge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrMerged {
    /// The dispatch whose head was merged.
    pub dispatch_id: DispatchId,
    /// The pull request's number.
    pub number: u64,
    /// Its address.
    pub url: String,
    /// The repository, `owner/name`.
    pub repo: String,
    /// The branch the pull request merged, `dispatch/<id>`.
    pub branch: String,
    /// The head merged (the forge's head of the pull request).
    pub head_commit: CommitId,
    /// The commit the merge made on the base.
    pub merge_commit: CommitId,
    /// The branch merged into.
    pub base: String,
    /// How.
    pub method: PrMergeMethod,
    /// Whether `vnx pr merge` merged it (`true`) or it was found merged on the forge.
    pub by_vnx: bool,
    /// The forge login that merged it, as the forge names it (bounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_by: Option<String>,
    /// Who asked, when not the user at the terminal: the agent that asked through `vnx mcp
    /// --act` (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `pr_closed`: the pull request was found closed on the forge without a merge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrClosed {
    /// The dispatch the pull request was opened for.
    pub dispatch_id: DispatchId,
    /// The pull request's number.
    pub number: u64,
    /// Its address.
    pub url: String,
    /// The repository, `owner/name`.
    pub repo: String,
    /// The branch the pull request was for.
    pub branch: String,
    /// The head it had when it was seen closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_commit: Option<CommitId>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}
