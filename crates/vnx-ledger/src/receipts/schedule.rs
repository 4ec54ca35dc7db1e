//! `schedule_fired` and `schedule_skipped`: what `vnx schedule run` (and `vnx serve`) did
//! with a slot of one of the config's `schedules:` — fired it, naming the dispatch it starts
//! before starting it, or skipped it, and why. The last firing of each schedule is read back
//! from these receipts (signed ones only), never from a file a worker could write.

use serde::{Deserialize, Serialize};

use crate::ids::{DispatchId, Timestamp};

use super::Extra;

/// `schedule_fired`: a schedule fired for one of its slots; written before its dispatch is
/// started, so a run killed in between is finished by the next (which starts the dispatch
/// named here when the ledger shows none).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScheduleFired {
    /// The schedule's name under `schedules:`.
    pub schedule: String,
    /// The slot it fires for (RFC 3339, UTC): the time its `every:` or `cron:` named.
    pub slot: Timestamp,
    /// The dispatch it starts.
    pub dispatch_id: DispatchId,
    /// When it fires, as the config says it (`every 30m`, `cron 0 9 * * 1-5`).
    pub when: String,
    /// Slots before this one that passed while nothing fired them (after downtime, with
    /// `catch_up: once`: they fire as this one firing).
    pub missed: u32,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Why a slot was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleSkip {
    /// The schedule's previous dispatch still runs (or waits in the queue), and its
    /// `overlap:` is `skip`.
    Overlap,
    /// The slots passed while nothing fired them (vnx was not running), and its `catch_up:`
    /// is `skip`.
    Missed,
    /// It fired, but its dispatch could not be started (its plan or launch refused).
    Failed,
}

/// `schedule_skipped`: a schedule's slot (and the `missed` ones before it) that started no
/// dispatch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScheduleSkipped {
    /// The schedule's name under `schedules:`.
    pub schedule: String,
    /// The newest slot skipped (RFC 3339, UTC).
    pub slot: Timestamp,
    /// Why.
    pub reason: ScheduleSkip,
    /// Slots before `slot` skipped with it.
    pub missed: u32,
    /// The dispatch concerned: the previous one still running (`overlap`), or the one that
    /// could not start (`failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch_id: Option<DispatchId>,
    /// Why, in words.
    pub detail: String,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}
