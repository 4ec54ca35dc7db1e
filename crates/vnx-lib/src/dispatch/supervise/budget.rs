//! A running worker held to its dispatch's budget (ADR 0094): about once a second the
//! worker's usage so far is read — from its own session file as it grows
//! (`provider::session::LiveUsage`) and from its headless stream's events, the larger of the
//! two — and added to what counted before it; at [`WARN_PERCENT`] a signed `budget_warning`
//! is appended, at 100 % a signed `budget_reached`, and the worker is interrupted (SIGINT to
//! its process group, the CLI's own interrupt, so its session is kept), given the grace a
//! stop gives, then stopped if it did not end. The dispatch then needs input
//! ("budget reached: N of M tokens") until `vnx approve ID --budget +N` or `vnx cancel`.
//!
//! A budget's dollars are held likewise (ADR 0098): the cost so far is the largest of the
//! CLI's own running cost (its stream's, or its session store's where it records one as it
//! grows, `SessionStore::live_cost`) and the usage read at the price `prices:` gives the
//! dispatch's model (the spec's, else the one the stream named). Neither known, the cost is
//! the CLI's end-of-run cost, held at the end (`how: ended`).
//!
//! The project's day (`budget.project_day`, ADR 0100) is held beside the dispatch's own
//! budget: the watch publishes the worker's use for the day's other dispatches and, every few
//! seconds, counts theirs before its own ([`budget::day::DayHold`]); crossing the day warns
//! and stops the worker as its own budget does, the receipts saying `budget: project_day`.

use std::io::Write;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::dispatch::Spec;
use crate::dispatch::budget::day::{self, DayHold};
use crate::dispatch::budget::{self, Crossed, Reading, Tally, WARN_PERCENT};
use crate::dispatch::supervise::announce::Recorder;
use crate::process::Group;
use crate::provider::session::{self, LiveUsage};
use crate::receipts::{BudgetReached, BudgetUse, BudgetWarning, SessionTampering, Usage};

/// How often the session file is read.
const POLL: Duration = Duration::from_secs(1);

/// How often the day's other dispatches' use is read again.
const DAY_REFRESH: Duration = Duration::from_secs(3);

/// Which budget a reading crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Held {
    /// The dispatch's own ([`Spec::budget`]).
    Own,
    /// The project's day ([`Spec::project_day`]).
    Day,
}

impl Held {
    /// As the budget receipts' `budget` member says it.
    fn member(self) -> Option<String> {
        match self {
            Held::Own => None,
            Held::Day => Some(day::PROJECT_DAY.to_owned()),
        }
    }
}

/// What the stream's parser read so far, shared with the output's threads: the tokens its
/// events counted, the session and model they named, the usage and the cost they recorded.
#[derive(Debug, Default)]
pub(super) struct SoFar {
    /// Tokens counted.
    pub(super) tokens: AtomicU64,
    /// The session named.
    pub(super) session: std::sync::OnceLock<String>,
    /// The model named.
    pub(super) model: std::sync::OnceLock<String>,
    /// The usage counted (priced where the CLI says no cost).
    pub(super) usage: Mutex<Option<Usage>>,
    /// The CLI's own cost so far, in millionths of a US dollar (0: none said).
    pub(super) cost_micros: AtomicU64,
    /// The background work the CLI waits for after its turn ended (ADR 0096).
    waiting_on: Mutex<Vec<crate::receipts::BackgroundTask>>,
    /// Whether the stream closed the run (its closing event, with the CLI's verdict, was read).
    ended: std::sync::atomic::AtomicBool,
    /// The usage limit the stream says the CLI met and has not got past (ADR 0117).
    limit: Mutex<Option<crate::receipts::cli_events::UsageLimit>>,
}

impl SoFar {
    /// The CLI's own cost so far, when its stream said one.
    fn cost(&self) -> Option<f64> {
        let micros = self.cost_micros.load(Ordering::Relaxed);
        (micros > 0).then(|| micros as f64 / 1_000_000.0)
    }

    /// The background work the CLI waits for after its turn ended, as its stream shows it.
    pub(super) fn waiting_on(&self) -> Vec<crate::receipts::BackgroundTask> {
        self.waiting_on
            .lock()
            .map(|w| w.clone())
            .unwrap_or_default()
    }

    /// Keeps what the stream's parser `p` read so far.
    pub(super) fn heard(&self, p: &crate::provider::events::EventParser) {
        if let Ok(mut waiting) = self.waiting_on.lock() {
            *waiting = p.waiting_on_so_far();
        }
        let s = p.so_far();
        if let Some(u) = s.usage.as_ref().filter(|u| u.implausible().is_none()) {
            let n = budget::tokens_of(u);
            self.tokens.fetch_max(n, Ordering::Relaxed);
            if let Ok(mut usage) = self.usage.lock() {
                *usage = Some(u.clone());
            }
        }
        if let Some(id) = s.session_id.as_deref() {
            let _ = self.session.set(id.to_owned());
        }
        if let Some(model) = s.model.as_deref() {
            let _ = self.model.set(model.chars().take(200).collect());
        }
        if let Some(usd) = s.cost_usd {
            self.said_cost(usd);
        }
        if s.verdict.is_some() {
            self.ended.store(true, Ordering::Relaxed);
        }
        if let Ok(mut limit) = self.limit.lock()
            && limit.as_ref() != s.usage_limit.as_ref()
        {
            *limit = s.usage_limit.clone();
        }
    }

    /// The usage limit the stream says the CLI met and has not got past, if one.
    pub(super) fn limit(&self) -> Option<crate::receipts::cli_events::UsageLimit> {
        self.limit.lock().ok().and_then(|l| l.clone())
    }

    /// Keeps a cost the stream said (a finite figure at least 0; a count never goes down).
    pub(super) fn said_cost(&self, usd: f64) {
        if usd.is_finite() && usd > 0.0 {
            (self.cost_micros).fetch_max(crate::dispatch::state::micros(usd), Ordering::Relaxed);
        }
    }
}

/// [`SoFar`], shared.
pub(super) type StreamTokens = Arc<SoFar>;

/// One worker's budget watch.
pub(super) struct Watch {
    /// Its own budget; `None` when only the project's day holds it.
    own: Option<Tally>,
    /// The project's day.
    day: Option<DayHold>,
    next_day: Instant,
    reader: Option<LiveUsage>,
    next_poll: Instant,
    /// The most tokens seen so far (a count never goes down: a worker that truncates its
    /// session file does not win its tokens back).
    seen: u64,
    /// The most dollars seen so far, when a cost was known.
    seen_cost: Option<f64>,
    /// The dispatch's model (the spec's) and the project's prices.
    model: Option<String>,
    prices: crate::config::Prices,
    /// The cost the CLI said at its end, once it ended.
    end_cost: Option<f64>,
    /// The usage the end of the run says (its completion's), once it ended.
    end_usage: Option<Usage>,
    /// What was said in the worker's log of what was done to its session file.
    told_tampering: usize,
}

impl Watch {
    /// The watch of `spec`'s worker, started at `since`; `None` when neither its budget nor
    /// the project's day limits tokens or dollars.
    pub(super) fn new(spec: &Spec, since: SystemTime) -> Option<Watch> {
        let own = spec.budget.as_ref().and_then(Tally::of);
        let live = day::live_dir(spec.data_dir());
        let day = (spec.project_day.as_ref()).and_then(|limit| {
            let now = jiff::Timestamp::now();
            DayHold::new((&spec.ledger, &live), &spec.id, limit, &spec.prices, now)
        });
        if own.is_none() && day.is_none() {
            return None;
        }
        let reader =
            session::Cli::for_provider(spec.provider.name(), spec.invocation.tui.session.as_ref())
                .zip(spec.session_homes.clone())
                .and_then(|(cli, homes)| {
                    LiveUsage::new(session::Wanted {
                        cli,
                        homes,
                        cwd: spec.worktree.clone(),
                        since,
                        session_id: spec.session_id.clone(),
                    })
                });
        Some(Watch {
            own,
            day,
            next_day: Instant::now() + DAY_REFRESH,
            reader,
            next_poll: Instant::now(),
            seen: 0,
            seen_cost: None,
            model: spec.model.clone(),
            prices: spec.prices.clone(),
            end_cost: None,
            end_usage: None,
            told_tampering: 0,
        })
    }

    /// What the live reading of the session file saw: the lines it skipped for claiming
    /// what no dispatch can have used, and what was done to the file.
    pub(super) fn said(&self) -> (u64, Vec<SessionTampering>) {
        self.reader
            .as_ref()
            .map_or((0, Vec::new()), |r| (r.skipped(), r.tampering().to_vec()))
    }

    /// Says in the worker's log what was done to the session file since it was last told:
    /// each once.
    fn tell_news(&mut self, log: &mut impl Write) {
        let Some(reader) = &self.reader else {
            return;
        };
        let seen = reader.tampering();
        for t in &seen[self.told_tampering.min(seen.len())..] {
            let _ = writeln!(
                log,
                "vnx: the worker's session file was {} while it ran: the usage read before \
                 stands, and what it holds now is counted on top",
                t.describe()
            );
        }
        self.told_tampering = seen.len();
    }

    /// When its next poll is due.
    pub(super) fn due(&self) -> Instant {
        self.next_poll
    }

    /// Reads the usage when a poll is due; the threshold it crossed, if one, and of which
    /// budget.
    pub(super) fn tick(
        &mut self,
        now: Instant,
        stream: Option<&StreamTokens>,
    ) -> Option<(Crossed, Held, Tally)> {
        if now < self.next_poll {
            return None;
        }
        self.next_poll = now + POLL;
        if let (Some(reader), Some(id)) =
            (self.reader.as_mut(), stream.and_then(|s| s.session.get()))
        {
            reader.name(id);
        }
        let session = self.reader.as_mut().and_then(LiveUsage::poll);
        let from_session = session.as_ref().map_or(0, budget::tokens_of);
        let from_stream = stream.map_or(0, |t| t.tokens.load(Ordering::Relaxed));
        let at_end = self.end_usage.as_ref().map_or(0, budget::tokens_of);
        self.seen = self.seen.max(from_session).max(from_stream).max(at_end);
        let limits_cost = |t: Option<&Tally>| t.is_some_and(|t| t.cost_limit.is_some());
        if limits_cost(self.own.as_ref()) || limits_cost(self.day.as_ref().map(DayHold::tally)) {
            let cost = self.cost(session.as_ref(), stream);
            self.seen_cost = match (self.seen_cost, cost) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        let (seen, seen_cost) = (self.seen, self.seen_cost);
        if let Some(own) = self.own.as_mut()
            && let Some(crossed) = own.step(seen, seen_cost)
        {
            return Some((crossed, Held::Own, own.clone()));
        }
        let day = self.day.as_mut()?;
        let at = jiff::Timestamp::now();
        day.publish(seen, seen_cost, at);
        if now >= self.next_day {
            self.next_day = now + DAY_REFRESH;
            // Not read this time: as last read, and read again at the next refresh.
            let _ = day.refresh(at);
        }
        let crossed = day.step(seen, seen_cost)?;
        Some((crossed, Held::Day, day.tally().clone()))
    }

    /// The cost so far: the largest of the CLI's own (its session store's, its stream's) and
    /// the usage read at its model's price; `None` when none is known.
    fn cost(&self, session: Option<&Usage>, stream: Option<&StreamTokens>) -> Option<f64> {
        let model = (self.model.as_deref())
            .or_else(|| stream.and_then(|s| s.model.get().map(String::as_str)));
        let price = model.and_then(|m| self.prices.of(m));
        let stream_usage = stream.and_then(|s| s.usage.lock().ok().and_then(|u| u.clone()));
        [
            self.reader.as_ref().and_then(LiveUsage::cost),
            stream.and_then(|s| s.cost()),
            self.end_cost,
            price.zip(session).map(|(p, u)| p.cost(u)),
            price.zip(stream_usage.as_ref()).map(|(p, u)| p.cost(u)),
            price.zip(self.end_usage.as_ref()).map(|(p, u)| p.cost(u)),
        ]
        .into_iter()
        .flatten()
        .filter(|c| c.is_finite() && *c >= 0.0)
        .reduce(f64::max)
    }
}

/// A reading as its receipt records it: the tokens used and the limit, and the dollars when
/// the budget limits dollars.
fn used(spec: &Spec, (reading, tally, held): Of<'_>) -> BudgetUse {
    BudgetUse {
        dispatch_id: spec.id.clone(),
        tokens_used: reading.tokens,
        tokens_limit: tally.limit.unwrap_or(0),
        cost_used_usd: reading.cost_usd.filter(|_| tally.cost_limit.is_some()),
        cost_limit_usd: tally.cost_limit,
        limit: Some(reading.which.name().to_owned()),
        budget: held.member(),
    }
}

/// A reading of a budget: what was read, the tally it was read against and which budget.
pub(super) type Of<'a> = (&'a Reading, &'a Tally, Held);

/// Appends the signed `budget_warning` for `reading`.
pub(super) fn warn(
    spec: &Spec,
    of @ (reading, tally, held): Of<'_>,
    recorder: &mut Recorder<'_>,
    log: &mut impl Write,
) {
    let said = match (reading.which, reading.cost_usd, tally.cost_limit) {
        (budget::Which::Cost, Some(used), Some(limit)) => {
            format!("{} of {}", budget::dollars(used), budget::dollars(limit))
        }
        _ => format!("{} of {} tokens", reading.tokens, tally.limit.unwrap_or(0)),
    };
    let whose = match held {
        Held::Own => "the budget",
        Held::Day => "the project's day budget",
    };
    let _ = writeln!(log, "vnx: {WARN_PERCENT} % of {whose} used: {said}");
    let warning = BudgetWarning {
        used: used(spec, of),
        extra: Default::default(),
    };
    let message = format!("{said} used");
    recorder.record(&warning, "budget_warning", &message, log);
}

/// The signed `budget_reached` of `reading`, stopped `how`; the reason the dispatch needs
/// input.
fn reached(
    spec: &Spec,
    of @ (reading, tally, held): Of<'_>,
    how: &str,
    recorder: &mut Recorder<'_>,
    log: &mut impl Write,
) -> String {
    let why = budget::reading_reason(tally, reading, held == Held::Day);
    let receipt = BudgetReached {
        used: used(spec, of),
        how: how.to_owned(),
        extra: Default::default(),
    };
    let told = match how {
        "ended" => "the worker had ended its run".to_owned(),
        _ => format!("the worker was {how}"),
    };
    let _ = writeln!(log, "vnx: {why}; {told}");
    recorder.record(&receipt, "budget_reached", &why, log);
    why
}

/// Interrupts the worker at its budget: SIGINT to its group, then, after the grace, the
/// stop a deadline gets. A worker whose stream already closed its run (a CLI that says its
/// cost only in its closing event) is first given the grace to exit by itself: it is held at
/// its end (`ended`), not interrupted on its way out. Appends the signed `budget_reached`;
/// the exit status and why.
pub(super) fn stop_at_budget(
    spec: &Spec,
    (group, run_closed): (&mut Group, bool),
    of: Of<'_>,
    recorder: &mut Recorder<'_>,
    log: &mut impl Write,
) -> std::io::Result<(std::process::ExitStatus, String)> {
    let exited = match run_closed {
        true => group.wait_until(Instant::now() + super::life::GRACE)?,
        false => None,
    };
    let (status, how) = match exited {
        Some(status) => {
            let _ = group.stop(Duration::ZERO);
            (status, "ended")
        }
        None => {
            let _ = group.interrupt();
            match group.wait_until(Instant::now() + super::life::GRACE)? {
                Some(status) => {
                    let _ = group.stop(Duration::ZERO);
                    (status, "interrupted")
                }
                None => (super::life::stop(group)?.0, "stopped"),
            }
        }
    };
    let why = reached(spec, of, how, recorder, log);
    Ok((status, why))
}

/// What a budget crossing does in the worker's loop: a warning is appended and the run goes
/// on (`None`); the end interrupts the worker and says how it ended and why.
pub(super) fn on_tick(
    spec: &Spec,
    watch: Option<&mut Watch>,
    (group, stream): (&mut Group, Option<&StreamTokens>),
    recorder: &mut Recorder<'_>,
    log: &mut impl Write,
) -> std::io::Result<Option<(std::process::ExitStatus, String)>> {
    let Some(watch) = watch else {
        return Ok(None);
    };
    let crossed = watch.tick(Instant::now(), stream);
    watch.tell_news(log);
    match crossed {
        Some((Crossed::Warning(reading), held, tally)) => {
            warn(spec, (&reading, &tally, held), recorder, log);
            Ok(None)
        }
        Some((Crossed::Reached(reading), held, tally)) => {
            let run_closed = stream.is_some_and(|s| s.ended.load(Ordering::Relaxed));
            let of = (&reading, &tally, held);
            stop_at_budget(spec, (group, run_closed), of, recorder, log).map(Some)
        }
        None => Ok(None),
    }
}

/// The budget looked at once more when the worker ended by itself, its session file read to
/// its end, with the usage and the cost the end of its run says (`end`: the completion's
/// usage, and the cost its CLI said at its end; a CLI that says them only then is held to
/// them here). A worker that crossed it between two polls and ended its run first (a turn
/// that ends within a second of the model call that used it up), or whose crossing no live
/// reading could see, is held at its end as it would have been stopped: a signed
/// `budget_reached` (how: `ended`) and the reason the dispatch needs input.
pub(super) fn at_end(
    spec: &Spec,
    watch: &mut Watch,
    (stream, (end_usage, end_cost)): (Option<&StreamTokens>, (Option<&Usage>, Option<f64>)),
    recorder: &mut Recorder<'_>,
    log: &mut impl Write,
) -> Option<String> {
    watch.end_cost = end_cost;
    watch.end_usage = end_usage.cloned();
    if let Some(reader) = watch.reader.as_mut() {
        reader.drain();
    }
    watch.next_poll = Instant::now();
    let crossed = watch.tick(Instant::now(), stream);
    watch.tell_news(log);
    match crossed? {
        (Crossed::Reached(reading), held, tally) => Some(reached(
            spec,
            (&reading, &tally, held),
            "ended",
            recorder,
            log,
        )),
        (Crossed::Warning(reading), held, tally) => {
            warn(spec, (&reading, &tally, held), recorder, log);
            None
        }
    }
}
