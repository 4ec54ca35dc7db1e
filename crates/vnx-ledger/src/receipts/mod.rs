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
pub mod cli_events;
mod constraint;
mod dismissed;
mod dispatch;
mod egress;
mod gate;
mod group;
pub mod kinds;
pub mod merge;
mod pr;
mod queue;
mod release;
mod remote;
mod sandbox;
pub mod schema;
pub mod value;
mod waiting;
pub mod worktree;

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Receipt;
use crate::json::{self, Object, Value};

pub use accepted::DispatchAccepted;
pub use cli_events::{CliVerdict, MAX_PLAUSIBLE_TOKENS, StreamSummary, Usage, UsageSource};
pub use constraint::{
    ConstraintDecision, ConstraintEnforcement, ConstraintSeverity, ConstraintVerdict, RouteRef,
};
pub use dismissed::DispatchDismissed;
pub use dispatch::{
    CheckoutChange, CliHomes, CompletionSignal, Continues, DecisionRef, DispatchCompleted,
    DispatchCorrected, DispatchStarted, DispatchStatus, IncludedFile, Placed, Reach, Rebase,
    ReplayOf, ReportStatus, SkillRef, TeardownAction, WorkerReport, WorktreeCommand,
};
pub use egress::{EgressAction, EgressDecision, EgressFinding, EgressSource, EgressVerdict};
pub use gate::{
    GateDecision, GateExit, GateReport, GateReportEntry, GateReportStatus, GateRequest, GateResult,
    GateStatus, OnMerge, ReviewCounts, ReviewFinding, ReviewVerdict, ReviewWeight,
};
pub use group::{
    CandidateEntry, CandidateEvidence, CandidateVerdict, ChangeSize, GateStanding, GroupCandidate,
    GroupDecision, GroupMember, GroupStarted, LineRef, ReviewStanding,
};
pub use kinds::{HookKind, Lane, Permission, PromptTransport};
pub use merge::{
    DequeueReason, GateEvidence, MergeCompleted, MergeDequeued, MergeFailed, MergePlanned,
    MergeStatus,
};
pub use pr::{PrAction, PrClosed, PrMergeMethod, PrMerged, PrOpened};
pub use queue::{QueueDecision, QueueVerdict};
pub use release::{ReleaseAction, ReleaseClass, ReleaseEvidence, ReleaseRule, WorktreeReleased};
pub use remote::{RemoteLost, RemoteOrigin, RemoteReceipt};
pub use sandbox::{Network, PrivateHome, Quarantine, SessionPlace, Shape};
pub use waiting::{
    AnsweredVia, DispatchAnswered, DispatchBlocked, DispatchResumed, DispatchStalled,
    PermissionAnswer, RequestFrom, WaitingFor,
};
pub use worktree::{DiffStat, DiffStats, TeardownClass, VnxCommit};

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
    let text = std::str::from_utf8(line).ok()?;
    match json::parse(text.trim(), json::Mode::Python).ok()? {
        Value::Object(o) => read(&o),
        _ => None,
    }
}

/// Any receipt, by kind.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Typed {
    /// A `dispatch_started` receipt.
    DispatchStarted(Box<Read<DispatchStarted>>),
    /// A `dispatch_completed` receipt.
    DispatchCompleted(Box<Read<DispatchCompleted>>),
    /// A `dispatch_corrected` receipt.
    DispatchCorrected(Box<Read<DispatchCorrected>>),
    /// A `constraint_decision` receipt.
    ConstraintDecision(Box<Read<ConstraintDecision>>),
    /// A `gate_request` receipt.
    GateRequest(Box<Read<GateRequest>>),
    /// A `gate_result` receipt.
    GateResult(Box<Read<GateResult>>),
    /// A `gate_report` receipt.
    GateReport(Box<Read<GateReport>>),
    /// A `merge` receipt.
    MergePlanned(Box<Read<MergePlanned>>),
    /// A `merge_failed` receipt.
    MergeFailed(Box<Read<MergeFailed>>),
    /// A `merge_completed` receipt.
    MergeCompleted(Box<Read<MergeCompleted>>),
    /// A `merge_dequeued` receipt.
    MergeDequeued(Box<Read<MergeDequeued>>),
    /// A `worktree_released` receipt.
    WorktreeReleased(Box<Read<WorktreeReleased>>),
    /// A `dispatch_blocked` receipt.
    DispatchBlocked(Box<Read<DispatchBlocked>>),
    /// A `dispatch_stalled` receipt.
    DispatchStalled(Box<Read<DispatchStalled>>),
    /// A `dispatch_resumed` receipt.
    DispatchResumed(Box<Read<DispatchResumed>>),
    /// A `dispatch_answered` receipt.
    DispatchAnswered(Box<Read<DispatchAnswered>>),
    /// A `dispatch_accepted` receipt.
    DispatchAccepted(Box<Read<DispatchAccepted>>),
    /// A `dispatch_dismissed` receipt.
    DispatchDismissed(Box<Read<DispatchDismissed>>),
    /// A `group_started` receipt.
    GroupStarted(Box<Read<GroupStarted>>),
    /// A `group_decision` receipt.
    GroupDecision(Box<Read<GroupDecision>>),
    /// A `queue_decision` receipt.
    QueueDecision(Box<Read<QueueDecision>>),
    /// An `egress_decision` receipt.
    EgressDecision(Box<Read<EgressDecision>>),
    /// A `remote_receipt` receipt.
    RemoteReceipt(Box<Read<RemoteReceipt>>),
    /// A `remote_lost` receipt.
    RemoteLost(Box<Read<RemoteLost>>),
    /// A `pr_opened` receipt.
    PrOpened(Box<Read<PrOpened>>),
    /// A `pr_merged` receipt.
    PrMerged(Box<Read<PrMerged>>),
    /// A `pr_closed` receipt.
    PrClosed(Box<Read<PrClosed>>),
    /// A kind this version does not know (or a known kind whose members do not have its
    /// shape): kept whole.
    Other(Object<'static>),
}

impl Typed {
    /// Reads any receipt from a ledger object.
    pub fn of(object: &Object<'_>) -> Typed {
        fn boxed<K: Kind, T>(o: &Object<'_>, f: fn(Box<Read<K>>) -> T) -> Option<T> {
            read(o).map(|r| f(Box::new(r)))
        }
        let event = object.get("event_type").and_then(Value::as_str);
        let typed = match event {
            Some(DispatchStarted::EVENT) => boxed(object, Typed::DispatchStarted),
            Some(DispatchCompleted::EVENT) => boxed(object, Typed::DispatchCompleted),
            Some(DispatchCorrected::EVENT) => boxed(object, Typed::DispatchCorrected),
            Some(ConstraintDecision::EVENT) => boxed(object, Typed::ConstraintDecision),
            Some(GateRequest::EVENT) => boxed(object, Typed::GateRequest),
            Some(GateResult::EVENT) => boxed(object, Typed::GateResult),
            Some(GateReport::EVENT) => boxed(object, Typed::GateReport),
            Some(MergePlanned::EVENT) => boxed(object, Typed::MergePlanned),
            Some(MergeFailed::EVENT) => boxed(object, Typed::MergeFailed),
            Some(MergeCompleted::EVENT) => boxed(object, Typed::MergeCompleted),
            Some(MergeDequeued::EVENT) => boxed(object, Typed::MergeDequeued),
            Some(WorktreeReleased::EVENT) => boxed(object, Typed::WorktreeReleased),
            Some(DispatchBlocked::EVENT) => boxed(object, Typed::DispatchBlocked),
            Some(DispatchStalled::EVENT) => boxed(object, Typed::DispatchStalled),
            Some(DispatchResumed::EVENT) => boxed(object, Typed::DispatchResumed),
            Some(DispatchAnswered::EVENT) => boxed(object, Typed::DispatchAnswered),
            Some(DispatchAccepted::EVENT) => boxed(object, Typed::DispatchAccepted),
            Some(DispatchDismissed::EVENT) => boxed(object, Typed::DispatchDismissed),
            Some(GroupStarted::EVENT) => boxed(object, Typed::GroupStarted),
            Some(GroupDecision::EVENT) => boxed(object, Typed::GroupDecision),
            Some(QueueDecision::EVENT) => boxed(object, Typed::QueueDecision),
            Some(EgressDecision::EVENT) => boxed(object, Typed::EgressDecision),
            Some(RemoteReceipt::EVENT) => boxed(object, Typed::RemoteReceipt),
            Some(RemoteLost::EVENT) => boxed(object, Typed::RemoteLost),
            Some(PrOpened::EVENT) => boxed(object, Typed::PrOpened),
            Some(PrMerged::EVENT) => boxed(object, Typed::PrMerged),
            Some(PrClosed::EVENT) => boxed(object, Typed::PrClosed),
            _ => None,
        };
        typed.unwrap_or_else(|| Typed::Other(object.clone().into_owned()))
    }

    /// Reads any receipt from a ledger line; `None` if the line is not a JSON object.
    pub fn of_line(line: &[u8]) -> Option<Typed> {
        let text = std::str::from_utf8(line).ok()?;
        match json::parse(text.trim(), json::Mode::Python).ok()? {
            Value::Object(o) => Some(Typed::of(&o)),
            _ => None,
        }
    }
}

/// The event types of every kind this module types.
pub const KINDS: [&str; 27] = [
    DispatchStarted::EVENT,
    DispatchCompleted::EVENT,
    DispatchCorrected::EVENT,
    ConstraintDecision::EVENT,
    GateRequest::EVENT,
    GateResult::EVENT,
    GateReport::EVENT,
    MergePlanned::EVENT,
    MergeFailed::EVENT,
    MergeCompleted::EVENT,
    MergeDequeued::EVENT,
    WorktreeReleased::EVENT,
    DispatchBlocked::EVENT,
    DispatchStalled::EVENT,
    DispatchResumed::EVENT,
    DispatchAnswered::EVENT,
    DispatchAccepted::EVENT,
    DispatchDismissed::EVENT,
    GroupStarted::EVENT,
    GroupDecision::EVENT,
    QueueDecision::EVENT,
    EgressDecision::EVENT,
    RemoteReceipt::EVENT,
    RemoteLost::EVENT,
    PrOpened::EVENT,
    PrMerged::EVENT,
    PrClosed::EVENT,
];

/// Rounds seconds to milliseconds, as receipts record durations.
pub fn seconds(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}
