//! Not done while background work runs (ADR 0096): a worker whose CLI ends its turn while a
//! background shell or a sub-agent it started still runs has not finished. In the TUI lane
//! the CLI's end-of-turn hook names that work (where its `Hooks::background` says so): such a
//! turn end is not the dispatch's, the dispatch reads "waiting on 1 background task: …" (a
//! signed `dispatch_background`), and the CLI's next turn end that names none concludes it
//! (a `dispatch_resumed`, `after: background`, first). In the headless lane the CLI's events
//! name the work its CLI left unfinished as it exited, stopped or running out of sight
//! (`StreamSummary::background_stopped`): the dispatch then needs a person, whatever the
//! worker reported.
//!
//! A worker can write a hook signal of its own (`vnx __hook` is on its `PATH`), so it can
//! end its dispatch early as it could before (a turn end and a report of its own); it cannot
//! make a turn end that names background work count.

use std::time::Instant;

use crate::dispatch::supervise::live::Change;
use crate::dispatch::supervise::outcome::{Decision, Ended};
use crate::dispatch::supervise::signals::HookSignal;
use crate::ids::DispatchId;
use crate::provider::cli;
use crate::receipts::{BackgroundTask, DispatchBackground, DispatchResumed, DispatchStatus};

/// What the supervisor knows of an interactive worker's background work.
#[derive(Debug, Default)]
pub(crate) struct Background {
    /// The receipt of what it waits on, and since when, while it waits.
    waiting: Option<(DispatchBackground, Instant)>,
}

impl Background {
    /// Whether the worker's turn ended while background work ran, which has not ended since.
    pub(crate) fn waiting(&self) -> bool {
        self.waiting.is_some()
    }

    /// A turn end of the dispatch's thread arrived: whether it ends the dispatch's turn (it
    /// names no background work still running), with the change of live state it makes (a
    /// new or different wait, or the end of one).
    pub(crate) fn turn_end(
        &mut self,
        id: &DispatchId,
        signal: &HookSignal,
        now: Instant,
    ) -> (bool, Option<Change>) {
        let running = cli::hooks_of_event(&signal.event)
            .and_then(|hooks| hooks.background(&signal.event, &signal.payload))
            .filter(|(tasks, more)| !tasks.is_empty() || *more > 0);
        match (running, self.waiting.take()) {
            (Some((tasks, more)), before) => {
                let receipt = DispatchBackground {
                    dispatch_id: id.clone(),
                    tasks,
                    more: (more > 0).then_some(more),
                    source: signal.event.clone(),
                    remote: None,
                    extra: Default::default(),
                };
                let same = before
                    .as_ref()
                    .is_some_and(|(b, _)| b.tasks == receipt.tasks && b.more == receipt.more);
                let since = before.map_or(now, |(_, since)| since);
                let change = (!same).then(|| Change::Background(receipt.clone()));
                self.waiting = Some((receipt, since));
                (false, change)
            }
            (None, Some((_, since))) => {
                let resumed = DispatchResumed {
                    dispatch_id: id.clone(),
                    after: DispatchBackground::AFTER.to_owned(),
                    waited_seconds: crate::receipts::seconds(
                        now.duration_since(since).as_secs_f64(),
                    ),
                    source: signal.event.clone(),
                    remote: None,
                    extra: Default::default(),
                };
                (true, Some(Change::Resumed(resumed)))
            }
            (None, None) => (true, None),
        }
    }
}

/// The background work a headless worker's CLI left unfinished as it exited (stopped, or
/// left running out of sight), after its turn had ended, in one line; `None` when none.
pub(super) fn stopped(tasks: &[BackgroundTask]) -> Option<String> {
    if tasks.is_empty() {
        return None;
    }
    let receipt = DispatchBackground {
        dispatch_id: DispatchId::parse("D-0").expect("a valid id"),
        tasks: tasks.to_vec(),
        more: None,
        source: String::new(),
        remote: None,
        extra: Default::default(),
    };
    Some(format!(
        "the worker's turn ended while {} still ran, and its CLI exited without {} finishing \
         (it stopped {it}, or left {it} running where vnx cannot see {it} end); a follow-up \
         can run that work in the foreground",
        receipt.describe(),
        if tasks.len() == 1 { "it" } else { "them" },
        it = if tasks.len() == 1 { "it" } else { "them" },
    ))
}

/// The verdict on a worker that ended (it exited, or reported and ended its turn) as it
/// would otherwise be `done`, but whose CLI said background work it started was stopped
/// unfinished: it needs a person.
pub(super) fn unfinished(e: &Ended, decided: &Decision) -> Option<Decision> {
    if decided.status != DispatchStatus::Done {
        return None;
    }
    let why = stopped(&e.stream.background_stopped)?;
    Some(Decision {
        status: DispatchStatus::NeedsInput,
        signal: decided.signal.clone(),
        reason: Some(why),
    })
}
