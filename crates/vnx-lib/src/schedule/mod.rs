//! Schedules (`schedules:` in `.vnx/config.yaml`, ADR 0118): which of their slots are due, read
//! from what the ledger recorded of each (its signed `schedule_fired` and `schedule_skipped`
//! receipts, never a file a worker could write), and when each fires next (`mod`); firing what
//! is due, each firing recorded before its dispatch starts through the same start `vnx run`
//! uses, and a firing a killed run left unstarted started by the next (`fire`). Times are UTC.

mod fire;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{CatchUp, Schedule};
use crate::ids::DispatchId;
use crate::ledger::{LedgerError, attest, json, tail};
use crate::receipts::{self, ScheduleFired, ScheduleSkipped};

pub use fire::{Action, Outcome, fire};

/// How late a slot may fire and still be on time: a slot older than this is caught up
/// (`catch_up: once`) or skipped (`catch_up: skip`).
pub const ON_TIME: jiff::SignedDuration = jiff::SignedDuration::from_secs(600);

/// Why schedules could not be fired at all (one schedule's dispatch that cannot start is
/// that schedule's outcome, not this).
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The ledger could not be read or written.
    #[error("cannot read or write the ledger {path}")]
    Ledger {
        /// The ledger.
        path: PathBuf,
        /// Why.
        #[source]
        source: LedgerError,
    },
    /// The schedules' lock could not be taken.
    #[error("cannot take the schedules' lock {path}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl ScheduleError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            ScheduleError::Ledger { .. } => {
                Some("`vnx audit-chain verify` says what is wrong with the ledger".into())
            }
            ScheduleError::Lock { .. } => None,
        }
    }
}

/// What the ledger recorded of one schedule.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Last {
    /// The newest slot it fired or skipped.
    pub slot: Option<jiff::Timestamp>,
    /// Its newest firing.
    pub fired: Option<ScheduleFired>,
    /// Whether its newest receipt is that firing (nothing recorded after it: its dispatch
    /// may not have started, if the run that fired it was killed).
    pub fired_last: bool,
}

/// The signed `schedule_fired` and `schedule_skipped` receipts of `ledger` (those one of
/// `trusted` signed; a line that claims to be one but is not signed so is left out), as
/// what each schedule last did.
pub fn recorded(
    ledger: &Path,
    trusted: &[[u8; 32]],
) -> Result<BTreeMap<String, Last>, LedgerError> {
    let mut out: BTreeMap<String, Last> = BTreeMap::new();
    if !ledger.exists() {
        return Ok(out);
    }
    let (lines, _) = tail::last_lines(ledger, usize::MAX, |l| {
        memchr::memmem::find(l, b"\"schedule_").is_some()
    })?;
    for raw in lines {
        let Some(object) = json::object_of_line(&raw) else {
            continue;
        };
        if !attest::check(&object, trusted).is_valid() {
            continue;
        }
        let (name, slot, fired) = if let Some(r) = receipts::read::<ScheduleFired>(&object) {
            let f = r.receipt;
            (f.schedule.clone(), f.slot.instant(), Some(f))
        } else if let Some(r) = receipts::read::<ScheduleSkipped>(&object) {
            (r.receipt.schedule, r.receipt.slot.instant(), None)
        } else {
            continue;
        };
        let last = out.entry(name).or_default();
        last.slot = last.slot.max(Some(slot));
        last.fired_last = fired.is_some();
        if fired.is_some() {
            last.fired = fired;
        }
    }
    Ok(out)
}

/// A schedule's slot that is due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    /// The schedule.
    pub name: String,
    /// The newest slot at or before now that it has not fired or skipped.
    pub slot: jiff::Timestamp,
    /// The slots before it that passed unfired since its last firing.
    pub missed: u32,
    /// Whether the slot is older than [`ON_TIME`].
    pub late: bool,
}

/// The slot of `schedule` due at `now`, given what the ledger recorded of it (`last`): the
/// newest slot at or before `now` when it is newer than the last one fired or skipped. A
/// schedule never fired considers only that newest slot (none before it are missed).
pub fn due_one(
    name: &str,
    schedule: &Schedule,
    last: Option<&Last>,
    now: jiff::Timestamp,
) -> Option<Due> {
    if !schedule.enabled {
        return None;
    }
    let slot = schedule.when.latest(now)?;
    let before = last.and_then(|l| l.slot);
    if before.is_some_and(|b| b >= slot) {
        return None;
    }
    let missed = before.map_or(0, |b| schedule.when.count(b, slot).saturating_sub(1));
    Some(Due {
        name: name.to_owned(),
        slot,
        missed,
        late: now.duration_since(slot) > ON_TIME,
    })
}

/// The slots of `schedules` due at `now`, given what the ledger recorded (`last`).
pub fn due(
    schedules: &BTreeMap<String, Schedule>,
    last: &BTreeMap<String, Last>,
    now: jiff::Timestamp,
) -> Vec<Due> {
    (schedules.iter())
        .filter_map(|(name, s)| due_one(name, s, last.get(name), now))
        .collect()
}

/// When `schedule` fires next, seen at `now`: the slot due now, if one is, else its next
/// slot (with `catch_up: skip`, a late slot due now is skipped, so its next); `None` when
/// it is disabled.
pub fn next_firing(
    schedule: &Schedule,
    last: Option<&Last>,
    now: jiff::Timestamp,
) -> Option<jiff::Timestamp> {
    match due_one("", schedule, last, now) {
        Some(d) if !(d.late && schedule.catch_up == CatchUp::Skip) => Some(d.slot),
        _ if schedule.enabled => schedule.when.next(now),
        _ => None,
    }
}

/// The soonest time any of `schedules` fires, seen at `now`.
pub fn soonest(
    schedules: &BTreeMap<String, Schedule>,
    last: &BTreeMap<String, Last>,
    now: jiff::Timestamp,
) -> Option<jiff::Timestamp> {
    (schedules.iter())
        .filter_map(|(name, s)| next_firing(s, last.get(name), now))
        .min()
}

/// One schedule as `vnx schedule` and `vnx status` list it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Listed {
    /// Its name.
    pub name: String,
    /// When it fires, as the config says it (`every 30m`, `cron 0 9 * * 1-5`).
    pub when: String,
    /// Whether it fires at all.
    pub enabled: bool,
    /// When it fires next (RFC 3339, UTC); `None` when disabled.
    pub next: Option<String>,
    /// Whether a slot is due now (the next `vnx schedule run` fires it).
    pub due: bool,
    /// The newest slot it fired or skipped.
    pub last_slot: Option<String>,
    /// The dispatch of its newest firing.
    pub last_dispatch: Option<DispatchId>,
}

/// Every schedule of `schedules` as listed at `now`, by name.
pub fn list(
    schedules: &BTreeMap<String, Schedule>,
    last: &BTreeMap<String, Last>,
    now: jiff::Timestamp,
) -> Vec<Listed> {
    let shown = |t: jiff::Timestamp| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    (schedules.iter())
        .map(|(name, s)| {
            let l = last.get(name);
            let next = next_firing(s, l, now);
            Listed {
                name: name.clone(),
                when: s.when.shown(),
                enabled: s.enabled,
                next: next.map(shown),
                due: next.is_some_and(|n| n <= now),
                last_slot: l.and_then(|l| l.slot).map(shown),
                last_dispatch: l
                    .and_then(|l| l.fired.as_ref())
                    .map(|f| f.dispatch_id.clone()),
            }
        })
        .collect()
}
