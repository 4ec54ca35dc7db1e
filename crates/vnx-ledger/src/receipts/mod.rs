//! The receipts vnx writes, as types: one serde struct per receipt kind, enums for the
//! values a program decides on (status, completion signal, teardown class, lane), the one
//! path that turns a typed receipt into a ledger [`Receipt`], and the path that reads a
//! ledger line back into the same types. A member or a kind this version does not know is
//! kept, never dropped: each struct carries the unknown members in `extra`, and an unknown
//! kind reads as [`Typed::Other`].
//!
//! `receipts/schema/receipt.v2.schema.json` documents these types; a test checks the two
//! against each other.

mod accepted;
mod budget;
mod cancel;
pub mod cli_events;
mod completed;
mod constraint;
mod dismissed;
mod dispatch;
mod egress;
mod gate;
mod group;
mod issue;
pub mod kinds;
mod limits;
mod memory;
pub mod merge;
mod pause;
mod plan;
mod pr;
mod queue;
mod reaction;
mod release;
mod remote;
mod review;
mod sandbox;
mod schedule;
pub mod schema;
pub mod value;
mod waiting;
pub mod worktree;

use std::collections::BTreeMap;

use schemars::{Schema, SchemaGenerator};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Receipt;
use crate::json::{self, Object, Value};

pub use accepted::DispatchAccepted;
pub use budget::{Budget, BudgetRaised, BudgetReached, BudgetUse, BudgetWarning, WARN_PERCENT};
pub use cancel::DispatchCancelRequested;
pub use cli_events::{
    CliVerdict, MAX_PLAUSIBLE_TOKENS, SessionTampering, StreamSummary, Usage, UsageLimit,
    UsageSource,
};
pub use completed::{DispatchCompleted, DispatchCorrected, ReportStatus, WorkerReport};
pub use constraint::{
    ConstraintDecision, ConstraintEnforcement, ConstraintSeverity, ConstraintVerdict, RouteRef,
};
pub use dismissed::DispatchDismissed;
pub use dispatch::{
    CliHomes, CompletionSignal, Continues, DecisionRef, DispatchStarted, DispatchStatus,
    IncludedFile, Placed, Reach, Rebase, ReplayOf, SkillRef, WorktreeCommand,
};
pub use egress::{EgressAction, EgressDecision, EgressFinding, EgressSource, EgressVerdict};
pub use gate::{
    GateDecision, GateExit, GateReport, GateReportEntry, GateReportStatus, GateRequest, GateResult,
    GateStatus, OnMerge, ReviewCounts, ReviewFinding, ReviewVerdict, ReviewWeight, Screenshot,
};
pub use group::{
    CandidateEntry, CandidateEvidence, CandidateVerdict, ChangeSize, GateStanding, GroupCandidate,
    GroupDecision, GroupMember, GroupStarted, LineRef, ReviewStanding,
};
pub use issue::{
    IssueCommented, IssueDeclined, IssueIntake, IssueRelease, IssueReleased, IssueTaken,
};
pub use kinds::{HookKind, Lane, Permission, PromptTransport};
pub use limits::WorkerLimits;
pub use memory::{MemoryFile, MemoryPromoted};
pub use merge::{
    DequeueReason, GateEvidence, MergeCompleted, MergeDequeued, MergeFailed, MergePlanned,
    MergeStatus,
};
pub use pause::{DispatchPaused, PauseLifted, Paused};
pub use plan::{PlanApproved, PlanDenied, PlanStage, PlanStep, plan_sha256};
pub use pr::{PrAction, PrClosed, PrMergeMethod, PrMerged, PrOpened};
pub use queue::{
    Awaited, Dependencies, Dependency, DependencyEnd, DispatchFailover, QueueDecision, QueueVerdict,
};
pub use reaction::{PrEscalated, PrReaction, ReactionAction, ReactionRule};
pub use release::{ReleaseAction, ReleaseClass, ReleaseEvidence, ReleaseRule, WorktreeReleased};
pub use remote::{RemoteLost, RemoteOrigin, RemoteReceipt};
pub use review::{ReviewComment, ReviewSent};
pub use sandbox::{Network, PrivateHome, Quarantine, SessionPlace, Shape};
pub use schedule::{ScheduleFired, ScheduleSkip, ScheduleSkipped};
pub use waiting::{
    AnsweredVia, BackgroundTask, DispatchAnswered, DispatchAnswering, DispatchBackground,
    DispatchBlocked, DispatchLimited, DispatchResumed, DispatchStalled, PermissionAnswer,
    RequestFrom, WaitingFor,
};
pub use worktree::{CheckoutChange, DiffStat, DiffStats, TeardownAction, TeardownClass, VnxCommit};

/// Unknown members of a receipt, kept as read.
pub type Extra = BTreeMap<String, serde_json::Value>;

/// A receipt kind: its event type and its members.
pub trait Kind: Serialize + DeserializeOwned {
    /// The `event_type` of receipts of this kind.
    const EVENT: &'static str;
}

/// Members the ledger (or the attestation) adds to every line: not part of a kind's type.
const ENVELOPE: [&str; 6] = [
    "event_type",
    "seq",
    "prev_hash",
    "prev_line_sha256",
    "schema_version",
    crate::attest::FIELD,
];

/// Turns a typed receipt into a ledger receipt: the one way vnx builds the receipts it
/// writes. It cannot fail: the kinds are plain data (see [`value`]); the members the ledger
/// sets itself are never taken from `extra`.
pub fn write<K: Kind>(kind: &K) -> Receipt {
    let mut object = match value::to_value(kind) {
        Value::Object(o) => o,
        // Every kind is a struct; were one not, its value is kept rather than lost.
        other => {
            let mut o = Object::default();
            o.insert("value", other);
            o
        }
    };
    for field in ENVELOPE {
        object.remove(field);
    }
    object.insert("event_type", Value::string(K::EVENT));
    Receipt::typed(object)
}

impl crate::attest::Attestor {
    /// Signs a receipt of `kind` (stamped now) and appends it to the ledger at `ledger`.
    pub fn record<K: Kind>(
        &self,
        ledger: &std::path::Path,
        kind: &K,
    ) -> Result<crate::AppendOutcome, crate::LedgerError> {
        crate::Ledger::new(ledger).append(&self.attest(&write(kind), &crate::now_utc))
    }
}

/// Turns a receipt a remote host wrote into one this machine writes: its kind is kept, the
/// members the ledger and the attestation set are dropped (this ledger sets its own), and `origin` becomes its
/// `remote` member, typed as every kind that can come from a host declares it. The host's
/// other members are kept as they are (the caller has rewritten what only means something
/// there).
pub fn write_reattested(
    mut object: Object<'static>,
    origin: &RemoteOrigin,
) -> Result<Receipt, crate::ReceiptError> {
    for field in ENVELOPE.iter().chain(&["timestamp"]) {
        if *field != "event_type" {
            object.remove(field);
        }
    }
    object.insert("remote", value::to_value(origin));
    Receipt::from_object(object)
}

/// A receipt read back from the ledger: its kind's members and the ledger's own.
#[derive(Clone, Debug, PartialEq)]
pub struct Read<K> {
    /// The line number the ledger gave it (`None` on lines other tools wrote).
    pub seq: Option<u64>,
    /// When it was written.
    pub timestamp: Option<String>,
    /// The receipt's members, typed.
    pub receipt: K,
}

/// Reads one receipt of kind `K` from a ledger object; `None` when it is another kind or its
/// members do not have the kind's shape.
pub fn read<K: Kind>(object: &Object<'_>) -> Option<Read<K>> {
    if object.get("event_type").and_then(Value::as_str) != Some(K::EVENT) {
        return None;
    }
    let mut members = serde_json::Map::new();
    for (key, v) in object.iter() {
        let key = String::from_utf8_lossy(key);
        if !ENVELOPE.contains(&key.as_ref()) && key != "timestamp" {
            members.insert(key.into_owned(), value::to_json(v));
        }
    }
    let receipt = serde_json::from_value(serde_json::Value::Object(members)).ok()?;
    Some(Read {
        seq: object.get("seq").and_then(Value::as_u64),
        timestamp: object
            .get("timestamp")
            .and_then(Value::as_str)
            .map(str::to_owned),
        receipt,
    })
}

/// Reads one receipt of kind `K` from a ledger line (canonical, or as other tools write
/// JSON).
pub fn read_line<K: Kind>(line: &[u8]) -> Option<Read<K>> {
    read(&json::object_of_line(line)?)
}

/// Declares every receipt kind, each once as `Type = "event_type",`: its [`Kind`] impl, its
/// [`Typed`] variant and the arm of [`Typed::of`] that reads it, its event in [`KINDS`], and
/// its definition in the published schema ([`schema`]), all in this order.
macro_rules! kinds {
    ($($kind:ident = $event:literal,)+) => {
        $(impl Kind for $kind {
            const EVENT: &'static str = $event;
        })+

        /// Any receipt, by kind.
        #[derive(Clone, Debug, PartialEq)]
        #[non_exhaustive]
        pub enum Typed {
            $(#[doc = concat!("A receipt of kind `", $event, "`.")]
            $kind(Box<Read<$kind>>),)+
            /// A kind this version does not know (or a known kind whose members do not have
            /// its shape): kept whole.
            Other(Object<'static>),
        }

        impl Typed {
            /// Reads any receipt from a ledger object.
            pub fn of(object: &Object<'_>) -> Typed {
                let typed = match object.get("event_type").and_then(Value::as_str) {
                    $(Some($event) => read(object).map(|r| Typed::$kind(Box::new(r))),)+
                    _ => None,
                };
                typed.unwrap_or_else(|| Typed::Other(object.clone().into_owned()))
            }
        }

        /// The event types of every kind this module types.
        pub const KINDS: [&str; [$($event),+].len()] = [$($event),+];

        /// Each kind's event type and its schema, made by `generator`.
        fn kind_schemas(generator: &mut SchemaGenerator) -> Vec<(&'static str, Schema)> {
            vec![$(($event, generator.subschema_for::<$kind>())),+]
        }
    };
}

kinds! {
    DispatchStarted = "dispatch_started",
    DispatchCompleted = "dispatch_completed",
    DispatchCorrected = "dispatch_corrected",
    ConstraintDecision = "constraint_decision",
    GateRequest = "gate_request",
    GateResult = "gate_result",
    GateReport = "gate_report",
    MergePlanned = "merge",
    MergeFailed = "merge_failed",
    MergeCompleted = "merge_completed",
    MergeDequeued = "merge_dequeued",
    WorktreeReleased = "worktree_released",
    DispatchBlocked = "dispatch_blocked",
    DispatchStalled = "dispatch_stalled",
    DispatchLimited = "dispatch_limited",
    DispatchResumed = "dispatch_resumed",
    DispatchBackground = "dispatch_background",
    DispatchAnswering = "dispatch_answering",
    DispatchAnswered = "dispatch_answered",
    DispatchAccepted = "dispatch_accepted",
    DispatchDismissed = "dispatch_dismissed",
    GroupStarted = "group_started",
    GroupDecision = "group_decision",
    QueueDecision = "queue_decision",
    EgressDecision = "egress_decision",
    RemoteReceipt = "remote_receipt",
    RemoteLost = "remote_lost",
    PrOpened = "pr_opened",
    PrMerged = "pr_merged",
    PrClosed = "pr_closed",
    PrReaction = "pr_reaction",
    PrEscalated = "pr_escalated",
    ReviewComment = "review_comment",
    ReviewSent = "review_sent",
    PlanApproved = "plan_approved",
    PlanDenied = "plan_denied",
    BudgetWarning = "budget_warning",
    BudgetReached = "budget_reached",
    BudgetRaised = "budget_raised",
    DispatchCancelRequested = "dispatch_cancel_requested",
    Paused = "paused",
    PauseLifted = "pause_lifted",
    DispatchPaused = "dispatch_paused",
    DispatchFailover = "dispatch_failover",
    ScheduleFired = "schedule_fired",
    ScheduleSkipped = "schedule_skipped",
    IssueTaken = "issue_taken",
    IssueDeclined = "issue_declined",
    IssueCommented = "issue_commented",
    IssueReleased = "issue_released",
    MemoryPromoted = "memory_promoted",
}

impl Typed {
    /// Reads any receipt from a ledger line; `None` if the line is not a JSON object.
    pub fn of_line(line: &[u8]) -> Option<Typed> {
        Some(Typed::of(&json::object_of_line(line)?))
    }
}

/// Rounds seconds to milliseconds, as receipts record durations.
pub fn seconds(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}
