//! `queue_decision`: what vnx decided about a dispatch of a provider with a concurrency
//! limit — admitted to a slot, queued, rejected — and, for a queued one, how its wait ended
//! (expired past its latest start time, cancelled, or failed to start). A dispatch for a
//! remote host queues the same way, for a host's `capacity` instead of a provider's slots.
//! A dispatch of `--after` waits in the queue for the dispatches it depends on (`Awaited`),
//! is held when one of them ends without its work, and its start records the commits of
//! their work its base holds (`Dependencies`).

use serde::{Deserialize, Serialize};

use crate::ids::{CommitId, DispatchId, Timestamp};

use super::Extra;

/// What was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueVerdict {
    /// It got a slot and starts now (at dispatch time, or from the queue).
    Admitted,
    /// Every slot is taken: it waits in the queue (no worktree, no session, no slot).
    Queued,
    /// Every slot is taken and the policy (or a full queue) refused it; nothing was made.
    Rejected,
    /// Its latest start time passed while it was queued: it never started.
    Expired,
    /// It was cancelled while queued: it never started.
    Cancelled,
    /// It left the queue but could not start (its plan or launch failed).
    Failed,
    /// A dispatch it waits for (`--after`) ended without its work (failed, timed out, was
    /// cancelled or expired), is itself held, or their work does not merge: it stays queued
    /// and starts only if that changes (a follow-up brings the dependency to done), or is
    /// cancelled by a person. Never started, never dropped on its own.
    Held,
}

impl QueueVerdict {
    /// As receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            QueueVerdict::Admitted => "admitted",
            QueueVerdict::Queued => "queued",
            QueueVerdict::Rejected => "rejected",
            QueueVerdict::Expired => "expired",
            QueueVerdict::Cancelled => "cancelled",
            QueueVerdict::Failed => "failed",
            QueueVerdict::Held => "held",
        }
    }

    /// Whether it ends the dispatch before it ever started.
    pub fn closes(self) -> bool {
        matches!(
            self,
            QueueVerdict::Rejected
                | QueueVerdict::Expired
                | QueueVerdict::Cancelled
                | QueueVerdict::Failed
        )
    }
}

impl std::fmt::Display for QueueVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// `queue_decision`: one decision about a dispatch under a provider's concurrency limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QueueDecision {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// Its provider, whose slots it needs.
    pub provider: String,
    /// What was decided.
    pub decision: QueueVerdict,
    /// The provider's concurrency limit (`concurrency:` in `.vnx/config.yaml`).
    pub capacity: u32,
    /// Slots held when it was decided (this dispatch's own not counted).
    pub running: u32,
    /// Its 1-based place among the provider's queued dispatches, while queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<u32>,
    /// Its priority: higher starts first, ties in order of arrival.
    pub priority: i32,
    /// The latest time it may start (RFC 3339, UTC), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_by: Option<Timestamp>,
    /// Why, in words.
    pub reason: String,
    /// For a dispatch for a remote host: the host it waits for (`any`, or its name) while
    /// queued, the one it starts on when admitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// For a dispatch of `--after`: the dispatches it waits for, and what each must reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Awaited>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// What a dependency must reach before its dependents start.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DependencyEnd {
    /// Ended done (or accepted as done): a dependent starts from its branch's work.
    #[default]
    Done,
    /// Merged into its base: a dependent starts from the base, which holds it.
    Merged,
}

/// The dispatches a dispatch of `--after` waits for, as asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Awaited {
    /// The dispatches, in the order given.
    pub on: Vec<DispatchId>,
    /// What each must reach.
    pub until: DependencyEnd,
}

/// One dependency as a dependent's start records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Dependency {
    /// The dispatch depended on.
    pub dispatch_id: DispatchId,
    /// The head of its work, as its own attested completion (or acceptance) recorded it:
    /// a commit the dependent's base holds.
    pub head_commit: CommitId,
    /// The follow-up whose end counted, when one continued the dispatch depended on (its
    /// completion records the head). Absent: the dispatch's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_by: Option<DispatchId>,
}

/// What a dispatch of `--after` waited for and what its base holds, on its
/// `dispatch_started`: `audit-chain verify` checks each head against its dependency's
/// own receipts, and a merge refuses the dependent before its dependencies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Dependencies {
    /// What each had to reach.
    pub until: DependencyEnd,
    /// Each dependency and the commit of its work the base holds, in the order given.
    pub on: Vec<Dependency>,
}

/// `dispatch_failover`: a dispatch that had not started moved from a provider a usage limit
/// holds to the next provider its role's `on_limit:` names (ADR 0120), before it started or
/// while it was queued; or a limited one a person moved (`by`; `vnx resume ID --to`), ended
/// and continued by a follow-up on `to` in its worktree. Its `dispatch_started` (or its
/// follow-up's) names the provider it runs with; the gates judge its work as any other's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchFailover {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// The provider it was asked of, held by a usage limit.
    pub from: String,
    /// The provider it moves to.
    pub to: String,
    /// The model asked of `from`, not carried to `to` (its default is taken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_from: Option<String>,
    /// Why: the hold, in words.
    pub reason: String,
    /// Who moved it, when a person moved a dispatch waiting out a usage limit (`vnx resume
    /// ID --to`): it was ended, and a follow-up on `to` continues it. Absent when the queue
    /// moved one that had not started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}
