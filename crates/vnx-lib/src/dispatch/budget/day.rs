//! The project's day budget (`budget.project_day`, ADR 0094, ADR 0100): every dispatch of a
//! UTC day together, held while they run side by side. Each running dispatch's supervisor
//! publishes what its worker used so far in `.vnx-data/budget/live/<id>.json` (beside the
//! ledger, hidden from a sandboxed worker); the day's use is, per dispatch, the larger of
//! what its completion on the ledger and its published use say, so a dispatch that ended
//! while others ran counts once. The limit is the config's, or the highest a person raised
//! it to today (a signed `budget_raised` with `budget: project_day`). A [`DayHold`] keeps one running dispatch's
//! view: read whole when it starts, then only what the ledger gained and the published files,
//! every few seconds. The published files are read as hostile input: bounded, never through a
//! link, never blocking on a FIFO, a file naming another dispatch than its name ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{Budget, Crossed, Tally, cost_of, from, to_millionth, tokens_of};
use crate::config::Prices;
use crate::constraints::budget::Period;
use crate::ids::DispatchId;
use crate::ledger::LedgerError;
use crate::receipts::Typed;

/// Where the published use lives, under the project's data directory.
pub const LIVE_DIR: &[&str] = &["budget", "live"];

/// The most published files read (one per dispatch of the day; more are a worker's flood).
const MAX_FILES: usize = 10_000;

/// The largest published file read.
const MAX_FILE_BYTES: u64 = 4096;

/// The most ledger bytes read on at a refresh (the rest at the next).
const MAX_CATCH_UP: u64 = 16 << 20;

/// What [`Budget::from`] says of a budget that is the project's day, and what the budget
/// receipts' `budget` member says of it.
pub const PROJECT_DAY: &str = from::PROJECT_DAY;

/// The directory of the published use in the data directory `data_dir`.
pub fn live_dir(data_dir: &Path) -> PathBuf {
    LIVE_DIR
        .iter()
        .fold(data_dir.to_owned(), |p, part| p.join(part))
}

/// What one running dispatch's worker used so far, as its supervisor publishes it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LiveUse {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// Tokens used.
    pub tokens: u64,
    /// US dollars used, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// When it was published.
    pub at: jiff::Timestamp,
}

/// Publishes `used` in `dir`, replacing what its dispatch published before.
pub fn publish(dir: &Path, used: &LiveUse) -> std::io::Result<()> {
    vnx_core::files::private_dir(dir)?;
    let path = dir.join(format!("{}.json", used.dispatch_id));
    let json = serde_json::to_vec(used).map_err(std::io::Error::other)?;
    vnx_core::files::write_atomic_private(&path, &json, false)
}

/// What the dispatches published in `dir` that falls in the day of `now`, by dispatch.
pub fn read_live(dir: &Path, now: jiff::Timestamp) -> BTreeMap<DispatchId, (u64, f64)> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten().take(MAX_FILES) {
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        let Ok(bytes) = vnx_core::files::read_bounded(&entry.path(), MAX_FILE_BYTES) else {
            continue;
        };
        let Ok(used) = serde_json::from_slice::<LiveUse>(&bytes) else {
            continue;
        };
        if used.dispatch_id.as_str() != id || !Period::Day.contains(now, used.at) {
            continue;
        }
        let cost = used.cost_usd.filter(|c| c.is_finite() && *c >= 0.0);
        out.insert(used.dispatch_id, (used.tokens, cost.unwrap_or(0.0)));
    }
    out
}

/// Removes what was published in `dir` before the day before `now`'s (a dispatch's file is
/// kept through the day it ran, and the next, as it may run across midnight).
pub fn prune(dir: &Path, now: jiff::Timestamp) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let Ok(old) = now.checked_sub(jiff::SignedDuration::from_hours(48)) else {
        return;
    };
    for entry in entries.flatten().take(MAX_FILES) {
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        let modified = meta
            .modified()
            .ok()
            .and_then(|m| jiff::Timestamp::try_from(m).ok());
        if modified.is_some_and(|m| m < old) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The day's use as the ledger records it: each ended dispatch's tokens and dollars, today's
/// raises of the day's budget, and how far the ledger was read.
#[derive(Clone, Debug, Default)]
pub struct Spent {
    ended: BTreeMap<DispatchId, (u64, f64)>,
    raised_tokens: u64,
    raised_usd: f64,
    offset: u64,
}

impl Spent {
    /// Reads the day of `now` from the whole `ledger`; dollars as each dispatch's CLI said
    /// them, else its tokens at its model's price in `prices`.
    pub fn read(
        ledger: &Path,
        now: jiff::Timestamp,
        prices: Option<&Prices>,
    ) -> Result<Spent, LedgerError> {
        let mut spent = Spent::default();
        if !ledger.exists() {
            return Ok(spent);
        }
        for e in crate::cost::entries(ledger)? {
            if !Period::Day.contains(now, e.completed_at) {
                continue;
            }
            let price = prices.zip(e.model.as_deref()).and_then(|(p, m)| p.of(m));
            let cost = cost_of(e.cost_usd, e.usage.as_ref(), price).unwrap_or(0.0);
            spent.ended_with(e.dispatch_id.clone(), e.tokens().unwrap_or(0), cost);
        }
        let (lines, offset) = crate::ledger::tail::last_lines(ledger, usize::MAX, |l| {
            memchr::memmem::find(l, b"budget_raised").is_some()
        })?;
        for line in &lines {
            spent.raise(line, now);
        }
        spent.offset = offset;
        Ok(spent)
    }

    /// Reads on what `ledger` gained since: dispatches that ended (dollars as their CLI said
    /// them; their published use counts the rest) and raises. A ledger that was replaced is
    /// read again whole.
    pub fn catch_up(
        &mut self,
        ledger: &Path,
        now: jiff::Timestamp,
        prices: Option<&Prices>,
    ) -> Result<(), LedgerError> {
        if !ledger.exists() {
            return Ok(());
        }
        let Some((lines, offset)) =
            crate::ledger::tail::lines_after(ledger, self.offset, MAX_CATCH_UP)?
        else {
            *self = Spent::read(ledger, now, prices)?;
            return Ok(());
        };
        self.offset = offset;
        for line in &lines {
            if memchr::memmem::find(line, b"budget_raised").is_some() {
                self.raise(line, now);
                continue;
            }
            if memchr::memmem::find(line, b"dispatch_completed").is_none() {
                continue;
            }
            let Some(Typed::DispatchCompleted(r)) = Typed::of_line(line) else {
                continue;
            };
            let today = (r.timestamp.as_deref())
                .and_then(|t| t.parse().ok())
                .is_some_and(|at| Period::Day.contains(now, at));
            if !today {
                continue;
            }
            let c = r.receipt;
            let usage = c.token_usage.filter(|u| u.implausible().is_none());
            let cost = (c.cli_events.and_then(|e| e.cost_usd))
                .filter(|c| c.is_finite() && *c >= 0.0)
                .unwrap_or(0.0);
            self.ended_with(c.dispatch_id, usage.as_ref().map_or(0, tokens_of), cost);
        }
        Ok(())
    }

    fn ended_with(&mut self, id: DispatchId, tokens: u64, cost: f64) {
        let e = self.ended.entry(id).or_insert((0, 0.0));
        *e = (e.0.max(tokens), e.1.max(cost));
    }

    /// Keeps `line` when it is a raise of the day's budget made in the day of `now`.
    fn raise(&mut self, line: &[u8], now: jiff::Timestamp) {
        let Some(Typed::BudgetRaised(r)) = Typed::of_line(line) else {
            return;
        };
        let today = (r.timestamp.as_deref())
            .and_then(|t| t.parse().ok())
            .is_some_and(|at| Period::Day.contains(now, at));
        if !today || r.receipt.budget.as_deref() != Some(PROJECT_DAY) {
            return;
        }
        self.raised_tokens = self.raised_tokens.max(r.receipt.tokens_limit);
        let usd = r
            .receipt
            .cost_limit_usd
            .filter(|u| u.is_finite() && *u > 0.0);
        self.raised_usd = self.raised_usd.max(usd.unwrap_or(0.0));
    }

    /// The day's limit: `config`'s, or what a person raised it to today where higher.
    pub fn limit(&self, config: &Budget) -> Budget {
        Budget {
            tokens: config.tokens.map(|t| t.max(self.raised_tokens)),
            cost_usd: config
                .cost_usd
                .map(|c| to_millionth(c.max(self.raised_usd))),
            from: Some(PROJECT_DAY.to_owned()),
            ..Budget::default()
        }
    }

    /// What every dispatch but `except` used today: per dispatch, the larger of its
    /// completion's and its published use (`live`).
    pub fn used_by_others(
        &self,
        live: &BTreeMap<DispatchId, (u64, f64)>,
        except: Option<&DispatchId>,
    ) -> (u64, f64) {
        let ids: BTreeSet<&DispatchId> = self.ended.keys().chain(live.keys()).collect();
        let (mut tokens, mut cost) = (0u64, 0f64);
        for id in ids.into_iter().filter(|id| Some(*id) != except) {
            let (et, ec) = self.ended.get(id).copied().unwrap_or((0, 0.0));
            let (lt, lc) = live.get(id).copied().unwrap_or((0, 0.0));
            tokens = tokens.saturating_add(et.max(lt));
            cost += ec.max(lc);
        }
        (tokens, cost)
    }
}

/// The project-day limit `day` of the config, raised as people raised it today, with what
/// the day's other dispatches used (ended, and running as their supervisors published in
/// `live`) counted before it.
pub fn of_project_day(
    ledger: &Path,
    day: &Budget,
    now: jiff::Timestamp,
    prices: Option<&Prices>,
    live: &Path,
) -> Result<Budget, LedgerError> {
    let spent = Spent::read(ledger, now, prices)?;
    let (used, cost) = spent.used_by_others(&read_live(live, now), None);
    Ok(Budget {
        spent_before: Some(used),
        cost_before_usd: day.cost_usd.map(|_| to_millionth(cost)),
        ..spent.limit(day)
    })
}

/// One running dispatch held to the project's day: what the day's other dispatches used,
/// read again at each [`DayHold::refresh`], counted before its own use.
#[derive(Debug)]
pub struct DayHold {
    config: Budget,
    spent: Spent,
    tally: Tally,
    ledger: PathBuf,
    live: PathBuf,
    me: DispatchId,
    prices: Prices,
    published: Option<(u64, Option<f64>)>,
}

impl DayHold {
    /// The hold of dispatch `me` to the config's day limit `config` (`None` when it limits
    /// neither tokens nor dollars), read from `ledger` and the published use in `live`. A
    /// ledger that cannot be read whole now is read on from its start at each refresh.
    pub fn new(
        (ledger, live): (&Path, &Path),
        me: &DispatchId,
        config: &Budget,
        prices: &Prices,
        now: jiff::Timestamp,
    ) -> Option<DayHold> {
        let spent = Spent::read(ledger, now, Some(prices)).unwrap_or_default();
        let tally = Tally::of(&spent.limit(config))?;
        prune(live, now);
        let mut hold = DayHold {
            config: config.clone(),
            spent,
            tally,
            ledger: ledger.to_owned(),
            live: live.to_owned(),
            me: me.clone(),
            prices: prices.clone(),
            published: None,
        };
        hold.recount(now);
        Some(hold)
    }

    /// Reads again what the day's other dispatches used and today's raises (the published
    /// use even when the ledger cannot be read).
    pub fn refresh(&mut self, now: jiff::Timestamp) -> Result<(), LedgerError> {
        let read = self.spent.catch_up(&self.ledger, now, Some(&self.prices));
        self.recount(now);
        read
    }

    fn recount(&mut self, now: jiff::Timestamp) {
        let (tokens, cost) = self
            .spent
            .used_by_others(&read_live(&self.live, now), Some(&self.me));
        let limit = self.spent.limit(&self.config);
        self.tally.rebase(&Budget {
            spent_before: Some(tokens),
            cost_before_usd: Some(to_millionth(cost)),
            ..limit
        });
    }

    /// Publishes this dispatch's use so far when it changed.
    pub fn publish(&mut self, tokens: u64, cost: Option<f64>, now: jiff::Timestamp) {
        if self.published == Some((tokens, cost)) {
            return;
        }
        let used = LiveUse {
            dispatch_id: self.me.clone(),
            tokens,
            cost_usd: cost.map(to_millionth),
            at: now,
        };
        if publish(&self.live, &used).is_ok() {
            self.published = Some((tokens, cost));
        }
    }

    /// Where this dispatch's use of `tokens` and `cost` leaves the day: the threshold it
    /// crossed, if one.
    pub fn step(&mut self, tokens: u64, cost: Option<f64>) -> Option<Crossed> {
        self.tally.step(tokens, cost)
    }

    /// The day's tally.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }
}

#[cfg(test)]
#[path = "day_tests.rs"]
mod tests;
