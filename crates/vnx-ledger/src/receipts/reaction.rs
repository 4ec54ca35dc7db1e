//! The receipts of `vnx pr watch` (ADR 0093): `pr_reaction` (a rule of `forge.reactions`
//! acted on a pull request at its recorded head: the fix follow-up it started, or the merge
//! it asked for) and `pr_escalated` (a rule gave up and handed the pull request to a person,
//! with why). Each (rule, pull request, head) is acted on once: a watcher reads these back
//! before it acts, so a restarted one neither repeats nor skips a reaction.

use serde::{Deserialize, Serialize};

use crate::ids::{CommitId, DispatchId};

use super::Extra;

/// A rule of `forge.reactions`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReactionRule {
    /// A check on the recorded head failed.
    ChecksFailed,
    /// A reviewer asked for changes.
    ChangesRequested,
    /// Approved, and every check passes.
    ApprovedAndGreen,
}

impl ReactionRule {
    /// As the config spells it.
    pub fn name(self) -> &'static str {
        match self {
            ReactionRule::ChecksFailed => "checks_failed",
            ReactionRule::ChangesRequested => "changes_requested",
            ReactionRule::ApprovedAndGreen => "approved_and_green",
        }
    }
}

/// What a reaction does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReactionAction {
    /// A follow-up told what the forge says is wrong (`vnx pr fix`).
    Fix,
    /// The pull request merged (`vnx pr merge`).
    Merge,
}

/// `pr_reaction`: a rule acted on a pull request at its recorded head. Written before the
/// act, so an interrupted one is finished by the next pass (the follow-up's id is chosen
/// here, and a launch refuses an id that exists).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrReaction {
    /// The dispatch whose recorded head the pull request is at (its chain's latest).
    pub dispatch_id: DispatchId,
    /// The pull request's number.
    pub number: u64,
    /// Its address.
    pub url: String,
    /// The branch of the pull request, `dispatch/<id>`.
    pub branch: String,
    /// The recorded head the rule acted on.
    pub head_commit: CommitId,
    /// The rule.
    pub rule: ReactionRule,
    /// What it does.
    pub action: ReactionAction,
    /// Which attempt of the rule on this pull request (1 for the first).
    pub attempt: u32,
    /// The most attempts the rule allows (its `retries`; 1 for a merge).
    pub attempts_allowed: u32,
    /// The follow-up a fix starts, its id chosen before it starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<DispatchId>,
    /// Why, in words.
    pub why: String,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `pr_escalated`: a rule stopped acting on a pull request and hands it to a person (its
/// attempts used up, changes still requested after `escalate_after`, a fix that did not
/// update it, a merge vnx's conditions refuse, or a rule that only tells). The dispatch then
/// waits for a person until its pull request moves on, is merged or closed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrEscalated {
    /// The dispatch whose recorded head the pull request is at.
    pub dispatch_id: DispatchId,
    /// The pull request's number.
    pub number: u64,
    /// Its address.
    pub url: String,
    /// The branch of the pull request.
    pub branch: String,
    /// The recorded head when it escalated.
    pub head_commit: CommitId,
    /// The rule.
    pub rule: ReactionRule,
    /// The attempts the rule made on this pull request.
    pub attempts: u32,
    /// Why a person is needed, in words.
    pub why: String,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}
