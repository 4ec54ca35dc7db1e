//! The receipts of issues taken as work (issue 72): `issue_taken` (an issue of the forge
//! made a dispatch's task, by `vnx run --issue` or the watcher), `issue_declined` (an issue
//! left alone: its author is not one the project takes work from), `issue_commented` (vnx
//! told the issue how its dispatch stands, once per thing told) and `issue_released` (vnx
//! stopped following the issue: it was closed, or its dispatch could not start). Text read
//! from the forge is bounded before it is recorded.

use serde::{Deserialize, Serialize};

use crate::ids::DispatchId;

use super::Extra;

/// How an issue came to vnx.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IssueIntake {
    /// A person named it: `vnx run --issue N`.
    Run,
    /// The watcher found it by its label or assignee (`forge.issues`).
    Watch,
}

/// `issue_taken`: an issue made a dispatch's task, recorded before the dispatch starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IssueTaken {
    /// The issue's number.
    pub issue: u64,
    /// Its address.
    pub url: String,
    /// The repository, `owner/name`.
    pub repo: String,
    /// Its title, bounded and escaped.
    pub title: String,
    /// Its author's login, as the forge names it (bounded).
    pub author: String,
    /// How the forge associates its author with the repository (GitHub's
    /// `author_association`: `OWNER`, `MEMBER`, `COLLABORATOR`, …).
    pub association: String,
    /// Its labels when it was taken (bounded).
    pub labels: Vec<String>,
    /// The dispatch that works on it.
    pub dispatch_id: DispatchId,
    /// How it came: named by a person, or found by the watcher.
    pub how: IssueIntake,
    /// Who asked, when not the user at the terminal (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `issue_declined`: an issue vnx did not take, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IssueDeclined {
    /// The issue's number.
    pub issue: u64,
    /// Its address.
    pub url: String,
    /// The repository, `owner/name`.
    pub repo: String,
    /// Its author's login (bounded).
    pub author: String,
    /// How the forge associates its author with the repository.
    pub association: String,
    /// How it came.
    pub how: IssueIntake,
    /// Why it was not taken, in words.
    pub why: String,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `issue_commented`: vnx commented on an issue it took (that it was taken, how its
/// dispatch ended, its pull request), once per thing told.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IssueCommented {
    /// The issue's number.
    pub issue: u64,
    /// The repository, `owner/name`.
    pub repo: String,
    /// The dispatch the comment is about.
    pub dispatch_id: DispatchId,
    /// What it told: `taken`, `ended:<status>` or `pull_request`.
    pub about: String,
    /// The pull request it named, for `pull_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Why vnx stopped following an issue it took.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IssueRelease {
    /// The issue was closed on the forge (by a person, or by its pull request's merge).
    Closed,
    /// Its dispatch could not start.
    StartFailed,
}

/// `issue_released`: vnx stopped following an issue it took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IssueReleased {
    /// The issue's number.
    pub issue: u64,
    /// The repository, `owner/name`.
    pub repo: String,
    /// The dispatch that worked on it.
    pub dispatch_id: DispatchId,
    /// Why.
    pub why: IssueRelease,
    /// Whether vnx asked the dispatch to stop (it still ran when the issue closed).
    pub cancelled: bool,
    /// What went wrong, for a start that failed (bounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}
