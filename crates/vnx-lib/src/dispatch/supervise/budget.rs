//! A running worker held to its dispatch's budget (ADR 0094): about once a second the
//! worker's usage so far is read — from its own session file as it grows
//! (`provider::session::LiveUsage`) and from its headless stream's events, the larger of the
//! two — and added to what counted before it; at [`WARN_PERCENT`] a signed `budget_warning`
//! is appended, at 100 % a signed `budget_reached`, and the worker is interrupted (SIGINT to
//! its process group, the CLI's own interrupt, so its session is kept), given the grace a
//! stop gives, then stopped if it did not end. The dispatch then needs input
//! ("budget reached: N of M tokens") until `vnx approve ID --budget +N` or `vnx cancel`.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::dispatch::Spec;
use crate::dispatch::budget::{self, Crossed, Tally, WARN_PERCENT};
use crate::dispatch::supervise::announce::Recorder;
use crate::process::Group;
use crate::provider::session::{self, LiveUsage};
use crate::receipts::{BudgetReached, BudgetWarning};

/// How often the session file is read.
const POLL: Duration = Duration::from_secs(1);

/// What the stream's parser read so far, shared with the output's threads: the tokens its
/// events counted and the session they named.
#[derive(Debug, Default)]
pub(super) struct SoFar {
    /// Tokens counted.
    pub(super) tokens: AtomicU64,
    /// The session named.
    pub(super) session: std::sync::OnceLock<String>,
}

/// [`SoFar`], shared.
pub(super) type StreamTokens = Arc<SoFar>;

/// One worker's budget watch.
pub(super) struct Watch {
    tally: Tally,
    reader: Option<LiveUsage>,
    next_poll: Instant,
    /// The most tokens seen so far (a count never goes down: a worker that truncates its
    /// session file does not win its tokens back).
    seen: u64,
}

impl Watch {
    /// The watch of `spec`'s worker, started at `since`; `None` when its budget limits no
    /// tokens.
    pub(super) fn new(spec: &Spec, since: SystemTime) -> Option<Watch> {
        let tally = Tally::of(spec.budget.as_ref()?)?;
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
            tally,
            reader,
            next_poll: Instant::now(),
            seen: 0,
        })
    }

    /// Reads the usage when a poll is due; the threshold it crossed, if one.
    pub(super) fn tick(&mut self, now: Instant, stream: Option<&StreamTokens>) -> Option<Crossed> {
        if now < self.next_poll {
            return None;
        }
        self.next_poll = now + POLL;
        if let (Some(reader), Some(id)) =
            (self.reader.as_mut(), stream.and_then(|s| s.session.get()))
        {
            reader.name(id);
        }
        let from_session = self
            .reader
            .as_mut()
            .and_then(LiveUsage::poll)
            .map_or(0, |u| budget::tokens_of(&u));
        let from_stream = stream.map_or(0, |t| t.tokens.load(Ordering::Relaxed));
        self.seen = self.seen.max(from_session).max(from_stream);
        self.tally.step(self.seen)
    }

    /// The budget's tokens.
    pub(super) fn limit(&self) -> u64 {
        self.tally.limit
    }
}

/// Appends the signed `budget_warning` for `used` tokens.
pub(super) fn warn(
    spec: &Spec,
    used: u64,
    limit: u64,
    recorder: &mut Recorder<'_>,
    log: &mut impl Write,
) {
    let _ = writeln!(
        log,
        "vnx: {WARN_PERCENT} % of the budget used: {used} of {limit} tokens"
    );
    let warning = BudgetWarning {
        dispatch_id: spec.id.clone(),
        tokens_used: used,
        tokens_limit: limit,
        extra: Default::default(),
    };
    let message = format!("{used} of {limit} tokens used");
    recorder.record(&warning, "budget_warning", &message, log);
}

/// Interrupts the worker at its budget: SIGINT to its group, then, after the grace, the
/// stop a deadline gets. Appends the signed `budget_reached`; the exit status and why.
pub(super) fn stop_at_budget(
    spec: &Spec,
    group: &mut Group,
    (used, limit): (u64, u64),
    recorder: &mut Recorder<'_>,
    log: &mut impl Write,
) -> std::io::Result<(std::process::ExitStatus, String)> {
    let _ = group.interrupt();
    let (status, how) = match group.wait_until(Instant::now() + super::GRACE)? {
        Some(status) => {
            let _ = group.stop(Duration::ZERO);
            (status, "interrupted")
        }
        None => (super::worker::stop(group)?.0, "stopped"),
    };
    let why = budget::reached_reason(used, limit);
    let reached = BudgetReached {
        dispatch_id: spec.id.clone(),
        tokens_used: used,
        tokens_limit: limit,
        how: how.to_owned(),
        extra: Default::default(),
    };
    let _ = writeln!(log, "vnx: {why}; the worker was {how}");
    recorder.record(&reached, "budget_reached", &why, log);
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
    match watch.tick(Instant::now(), stream) {
        Some(Crossed::Warning(used)) => {
            warn(spec, used, watch.limit(), recorder, log);
            Ok(None)
        }
        Some(Crossed::Reached(used)) => {
            stop_at_budget(spec, group, (used, watch.limit()), recorder, log).map(Some)
        }
        None => Ok(None),
    }
}

/// The budget looked at once more when the worker ended by itself. A worker that crossed it
/// between two polls and ended its run first (a turn that ends within a second of the model
/// call that used it up) is held at its end as it would have been stopped:
/// a signed `budget_reached` (how: `ended`) and the reason the dispatch needs input.
pub(super) fn at_end(
    spec: &Spec,
    watch: &mut Watch,
    stream: Option<&StreamTokens>,
    recorder: &mut Recorder<'_>,
    log: &mut impl Write,
) -> Option<String> {
    watch.next_poll = Instant::now();
    let used = match watch.tick(Instant::now(), stream)? {
        Crossed::Reached(used) => used,
        Crossed::Warning(used) => {
            warn(spec, used, watch.limit(), recorder, log);
            return None;
        }
    };
    let limit = watch.limit();
    let why = budget::reached_reason(used, limit);
    let reached = BudgetReached {
        dispatch_id: spec.id.clone(),
        tokens_used: used,
        tokens_limit: limit,
        how: "ended".to_owned(),
        extra: Default::default(),
    };
    let _ = writeln!(log, "vnx: {why}; the worker had ended its run");
    recorder.record(&reached, "budget_reached", &why, log);
    Some(why)
}
