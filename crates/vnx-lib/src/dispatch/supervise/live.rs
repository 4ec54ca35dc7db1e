//! A running dispatch's live state, as its supervisor sees it: running, blocked on a person
//! (from the CLIs' own permission and notification hooks; from the screen only for a TUI
//! whose dialog no hook signals, ADR 0056), or stalled
//! (nothing from the worker for a while). Each change becomes a receipt; none ends the
//! dispatch.

use crate::ids::DispatchId;
use std::time::{Duration, Instant};

use crate::dispatch::supervise::signals::HookSignal;
use crate::provider::cli::{self, hook::HookSays};
use crate::receipts::{DispatchBlocked, DispatchResumed, DispatchStalled, WaitingFor};

/// The longest command or message a blocked receipt keeps, in bytes.
const MAX_TEXT: usize = 2000;

/// The source of a block the pane's screen showed (a CLI's dialog no hook of its signals).
pub const SCREEN: &str = "screen";

/// A change of live state, as the receipt that records it.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// The worker waits for a person.
    Blocked(DispatchBlocked),
    /// The worker produced nothing for the stall time.
    Stalled(DispatchStalled),
    /// A blocked or stalled worker goes on.
    Resumed(DispatchResumed),
    /// The worker's turn ended while background work it started still runs.
    Background(crate::receipts::DispatchBackground),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Running,
    Blocked,
    Stalled,
}

/// Tracks one dispatch's live state.
#[derive(Debug)]
pub struct Live {
    id: DispatchId,
    answer_with: String,
    stall_after: Option<Duration>,
    state: State,
    /// The event that blocked the worker, while it is blocked.
    blocked_by: Option<String>,
    since: Instant,
    last_activity: Instant,
    /// What the screen's dialog named (its target and command), while it blocks the worker.
    screen_asks: Option<(Option<String>, Option<String>)>,
    /// What the last look at the screen saw a dialog name, not yet recorded: a dialog is a
    /// block once two looks in a row agree on it, so a frame the TUI had half drawn (the
    /// marker shown, the command not yet) is not recorded as a prompt naming nothing.
    sighted: Option<Named>,
}

/// What a dialog on the screen names: its target and its command.
pub type Named = (Option<String>, Option<String>);

/// What a hook signal says about the worker waiting: `Some` for a prompt that waits for a
/// person, with (what for, tool, command, message).
type Waiting = (WaitingFor, Option<String>, Option<String>, Option<String>);

/// What `signal` says about the worker, as the CLI whose hook sent it reads it.
fn says(signal: &HookSignal) -> HookSays {
    cli::hooks_of_event(&signal.event).map_or(HookSays::Nothing, |hooks| {
        hooks.says(&signal.event, &signal.payload)
    })
}

/// A payload's text as a blocked receipt keeps it.
fn bounded(text: Option<String>) -> Option<String> {
    text.map(|s| crate::dispatch::supervise::signals::shorten(&s, MAX_TEXT))
}

/// Whether `signal` says the worker waits for a person, and for what.
pub fn waiting(signal: &HookSignal) -> Option<Waiting> {
    match says(signal) {
        HookSays::Waiting {
            waiting_for,
            tool,
            command,
            message,
        } => Some((
            waiting_for,
            bounded(tool),
            bounded(command),
            bounded(message),
        )),
        HookSays::GoesOn | HookSays::Nothing => None,
    }
}

/// Whether `signal` shows the worker going on: a tool ran, a turn ended.
pub fn goes_on(signal: &HookSignal) -> bool {
    says(signal) == HookSays::GoesOn
}

/// Whether the CLI sends `event` once for each prompt it shows: a second one while the worker
/// is blocked by the first is a new prompt.
fn once_per_prompt(event: &str) -> bool {
    cli::hooks_of_event(event).is_some_and(|hooks| hooks.once_per_prompt(event))
}

impl Live {
    /// A dispatch that starts running now. `answer_with` is the attach command a blocked
    /// receipt names; `stall_after` of `None` never reports a stall.
    pub fn new(
        id: &DispatchId,
        answer_with: String,
        stall_after: Option<Duration>,
        now: Instant,
    ) -> Live {
        Live {
            id: id.clone(),
            answer_with,
            stall_after,
            state: State::Running,
            blocked_by: None,
            since: now,
            last_activity: now,
            screen_asks: None,
            sighted: None,
        }
    }

    /// Whether a dialog on the pane's screen blocks the worker now.
    pub fn blocked_by_screen(&self) -> bool {
        self.state == State::Blocked && self.blocked_by.as_deref() == Some(SCREEN)
    }

    /// The worker showed it goes on (`source`: what showed it): a blocked or stalled worker
    /// is running again.
    pub fn went_on(&mut self, source: &str, now: Instant) -> Option<Change> {
        self.last_activity = now;
        self.resume(source, now)
    }

    fn resume(&mut self, source: &str, now: Instant) -> Option<Change> {
        let after = match self.state {
            State::Running => return None,
            State::Blocked => "blocked",
            State::Stalled => "stalled",
        };
        let waited = now.duration_since(self.since).as_secs_f64();
        self.state = State::Running;
        self.blocked_by = None;
        self.since = now;
        Some(Change::Resumed(DispatchResumed {
            dispatch_id: self.id.clone(),
            after: after.to_owned(),
            waited_seconds: crate::receipts::seconds(waited),
            source: source.to_owned(),
            remote: None,
            extra: Default::default(),
        }))
    }

    /// A hook signal arrived. A prompt blocks (a stalled worker is blocked instead; a new
    /// prompt of a blocked one is resumed and blocked again, so each prompt is a
    /// `dispatch_blocked` naming its command); a tool that ran or a turn that ended resumes.
    /// Every signal counts as activity.
    pub fn on_signal(&mut self, signal: &HookSignal, now: Instant) -> Vec<Change> {
        self.last_activity = now;
        if let Some(waiting) = waiting(signal) {
            let new_prompt = self.blocked_by.as_deref() == Some(signal.event.as_str())
                && once_per_prompt(&signal.event);
            if self.state == State::Blocked && !new_prompt {
                return Vec::new();
            }
            self.block(&signal.event, waiting, now)
        } else if goes_on(signal) {
            self.resume(&signal.event, now).into_iter().collect()
        } else {
            Vec::new()
        }
    }

    /// Blocked by `source`, waiting as `waiting` says: the end of the state it was in, if it
    /// was not running, then the block.
    fn block(&mut self, source: &str, waiting: Waiting, now: Instant) -> Vec<Change> {
        let (waiting_for, tool, command, message) = waiting;
        let mut changes: Vec<Change> = self.resume(source, now).into_iter().collect();
        self.state = State::Blocked;
        self.blocked_by = Some(source.to_owned());
        self.since = now;
        changes.push(Change::Blocked(DispatchBlocked {
            dispatch_id: self.id.clone(),
            waiting_for,
            tool,
            command,
            message,
            source: source.to_owned(),
            answer_with: self.answer_with.clone(),
            remote: None,
            extra: Default::default(),
        }));
        changes
    }

    /// The dialog the pane shows (its lines, and the target and command it names), or
    /// `None`. A dialog that shows on two looks in a row blocks the worker (source
    /// [`SCREEN`]); one naming something else while the worker is blocked is a new prompt;
    /// no dialog resumes it.
    pub fn on_dialog(&mut self, dialog: Option<(&str, Named)>, now: Instant) -> Vec<Change> {
        let mut changes = Vec::new();
        let Some((lines, (target, command))) = dialog else {
            self.sighted = None;
            if self.blocked_by.as_deref() == Some(SCREEN) {
                self.screen_asks = None;
                changes.extend(self.resume(SCREEN, now));
            }
            return changes;
        };
        let asks = (bounded(target), bounded(command));
        if self.state == State::Blocked && self.screen_asks.as_ref() == Some(&asks) {
            self.sighted = None;
            return changes;
        }
        if self.sighted.as_ref() != Some(&asks) {
            self.sighted = Some(asks);
            return changes;
        }
        self.sighted = None;
        self.screen_asks = Some(asks.clone());
        let message = bounded(Some(lines.to_owned()));
        self.block(
            SCREEN,
            (WaitingFor::Permission, asks.0, asks.1, message),
            now,
        )
    }

    /// The worker produced something (`source`: `output`, `report`, …): a stalled worker goes
    /// on. A blocked one stays blocked: a TUI redraws while it waits.
    pub fn on_activity(&mut self, source: &str, now: Instant) -> Option<Change> {
        self.last_activity = now;
        if self.state == State::Stalled {
            return self.resume(source, now);
        }
        None
    }

    /// Whether the worker is stalled: quiet past the stall watch.
    pub fn stalled(&self) -> bool {
        self.state == State::Stalled
    }

    /// When a stall is due, if one is watched for and the worker runs: [`Live::tick`] then
    /// reports it unless the worker showed activity since.
    pub fn stall_due(&self) -> Option<Instant> {
        let after = self.stall_after?;
        (self.state == State::Running).then(|| self.last_activity + after)
    }

    /// Called on every tick: reports a stall once the worker has been quiet long enough.
    pub fn tick(&mut self, now: Instant) -> Option<Change> {
        let after = self.stall_after?;
        let idle = now.duration_since(self.last_activity);
        if self.state != State::Running || idle < after {
            return None;
        }
        self.state = State::Stalled;
        self.since = now;
        Some(Change::Stalled(DispatchStalled {
            dispatch_id: self.id.clone(),
            idle_seconds: crate::receipts::seconds(idle.as_secs_f64()),
            stall_after_seconds: after.as_secs(),
            remote: None,
            extra: Default::default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    impl Live {
        /// Whether the worker is blocked now.
        pub(crate) fn is_blocked(&self) -> bool {
            self.state == State::Blocked
        }

        /// What the pane shows, for a CLI whose permission dialog no hook of its signals: its
        /// dialog's lines while it is up (`dialog`, holding its line `marker`), else `None`, with
        /// the target (`→ …`) or command (`$ …`) it names below its line (see [`Live::on_dialog`]).
        pub(crate) fn on_screen(
            &mut self,
            dialog: Option<&str>,
            marker: &str,
            now: Instant,
        ) -> Vec<Change> {
            let asks = dialog.map(|lines| crate::provider::dialog::asks_below(lines, marker));
            self.on_dialog(dialog.zip(asks), now)
        }
    }

    /// A dialog as a TUI draws it (seen on a real one), with
    /// the history above it and another column beside it.
    const DIALOG: &str = "     $ touch first.txt\n  ┃  △ Permission required\n  ┃    # Shell command\n  ┃\n  ┃  $ touch NAME          /tmp/work/.vnx-data/\n  ┃   Allow once   Allow always   Reject";

    #[test]
    fn a_dialog_on_the_screen_blocks_each_prompt_once_and_its_end_resumes() {
        let t0 = Instant::now();
        let mut live = Live::new(&DispatchId::parse("D-1").unwrap(), "a".into(), None, t0);
        let marker = "△ Permission required";
        let first = DIALOG.replace("NAME", "second.txt");
        // Seen once, it may be a frame half drawn: a block once the next look agrees.
        assert!(live.on_screen(Some(&first), marker, t0).is_empty());
        let changes = live.on_screen(Some(&first), marker, t0);
        let [Change::Blocked(b)] = changes.as_slice() else {
            panic!("{changes:?}")
        };
        assert_eq!(b.command.as_deref(), Some("touch second.txt"));
        assert_eq!(b.source, SCREEN);
        assert_eq!(b.waiting_for, WaitingFor::Permission);
        // The same dialog drawn again is the same prompt.
        assert!(live.on_screen(Some(&first), marker, t0).is_empty());
        // Another one, with no screen between them, is a new prompt.
        let next = DIALOG.replace("NAME", "third.txt");
        assert!(live.on_screen(Some(&next), marker, t0).is_empty());
        let changes = live.on_screen(Some(&next), marker, t0);
        assert!(
            matches!(changes.as_slice(), [Change::Resumed(_), Change::Blocked(b)] if b.command.as_deref() == Some("touch third.txt")),
            "{changes:?}"
        );
        // The dialog gone: the worker goes on; no dialog again changes nothing.
        assert!(matches!(
            live.on_screen(None, marker, t0).as_slice(),
            [Change::Resumed(r)] if r.source == SCREEN
        ));
        assert!(live.on_screen(None, marker, t0).is_empty());
        assert!(!live.is_blocked());
    }

    /// Seen on a real CLI in CI: a look caught its dialog with the marker drawn and
    /// the command not yet, and the block was recorded naming nothing.
    #[test]
    fn a_dialog_half_drawn_is_not_recorded_as_a_prompt_naming_nothing() {
        let t0 = Instant::now();
        let mut live = Live::new(&DispatchId::parse("D-1").unwrap(), "a".into(), None, t0);
        let marker = "△ Permission required";
        let whole = DIALOG.replace("NAME", "second.txt");
        let half: String = whole.lines().take(3).collect::<Vec<_>>().join("\n");
        assert!(live.on_screen(Some(&half), marker, t0).is_empty());
        assert!(live.on_screen(Some(&whole), marker, t0).is_empty());
        let changes = live.on_screen(Some(&whole), marker, t0);
        let [Change::Blocked(b)] = changes.as_slice() else {
            panic!("{changes:?}")
        };
        assert_eq!(b.command.as_deref(), Some("touch second.txt"));
        // Nor a frame half redrawn while it blocks a new prompt.
        for _ in 0..2 {
            assert!(live.on_screen(Some(&half), marker, t0).is_empty());
            assert!(live.on_screen(Some(&whole), marker, t0).is_empty());
        }
        assert!(live.is_blocked());
    }

    fn signal(event: &str, payload: Value) -> HookSignal {
        HookSignal {
            event: event.into(),
            received_at: "2026-11-22T00:00:00Z".into(),
            payload,
        }
    }

    #[test]
    fn a_signal_of_no_cli_does_not_block() {
        let mut live = Live::new(
            &DispatchId::parse("D-1").unwrap(),
            String::new(),
            None,
            Instant::now(),
        );
        let s = signal(
            "unknown-permission-request",
            serde_json::json!({"tool_name": "Bash", "tool_input": {"command": "x"}}),
        );
        assert!(live.on_signal(&s, Instant::now()).is_empty(), "{s:?}");
        assert!(waiting(&s).is_none());
        assert!(!goes_on(&s));
    }

    #[test]
    fn quiet_workers_stall_once_and_activity_resumes_them() {
        let t0 = Instant::now();
        let mut live = Live::new(
            &DispatchId::parse("D-1").unwrap(),
            String::new(),
            Some(Duration::from_secs(5)),
            t0,
        );
        assert!(live.tick(t0 + Duration::from_secs(4)).is_none());
        let Some(Change::Stalled(s)) = live.tick(t0 + Duration::from_secs(5)) else {
            panic!()
        };
        assert_eq!((s.idle_seconds, s.stall_after_seconds), (5.0, 5));
        assert!(live.tick(t0 + Duration::from_secs(9)).is_none(), "once");
        let Some(Change::Resumed(r)) = live.on_activity("output", t0 + Duration::from_secs(7))
        else {
            panic!()
        };
        assert_eq!((r.after.as_str(), r.source.as_str()), ("stalled", "output"));
        // A blocked worker is never called stalled (a CLI's permission request blocks it
        // alike: its module's tests).
        let marker = "△ Permission required";
        assert!(live.on_screen(Some(DIALOG), marker, t0).is_empty());
        let blocked = live.on_screen(Some(DIALOG), marker, t0 + Duration::from_secs(8));
        assert!(
            matches!(blocked.as_slice(), [Change::Blocked(_)]),
            "{blocked:?}"
        );
        assert!(live.tick(t0 + Duration::from_secs(60)).is_none());
    }
}
