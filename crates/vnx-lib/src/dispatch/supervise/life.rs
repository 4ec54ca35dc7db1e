//! The worker's life as typed states, below the supervisor's other files: what its provider
//! declares of how its end reads ([`Kind`]), the turn its hooks and session tell of
//! ([`Turn`]), its run while its process runs (`Running`), and how it ended ([`Life`]: stopped
//! before it started, never started, or exited, by itself or stopped with a cause). Each move
//! is a method that takes the state it leaves, so an exit is recorded once, of a worker that
//! ran, and a cause the supervisor stopped it for only where one can be. Beside them the
//! supervisor's clock (its tick and idle wait, the grace a worker gets, the settling waits)
//! and the stop of a worker's process group.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use crate::dispatch::supervise::signals::HookSignal;
use crate::process::{Group, Stopped};
use crate::provider::events::StreamSummary;
use crate::provider::hooks::HookKind;
use crate::provider::{self, Lane, cli};
use crate::receipts::BackgroundTask;

/// Time a worker gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);
/// After a report, how long an interactive worker may take to finish its turn.
pub const SETTLE_AFTER_REPORT: Duration = Duration::from_secs(10);
/// After a report, when no hook will say the turn ended, how long the TUI gets to finish.
pub const SETTLE_WITHOUT_HOOK: Duration = Duration::from_secs(2);
/// After a turn ends without a report, how long a late report is waited for.
pub const LATE_REPORT: Duration = Duration::from_secs(1);
/// How often the supervisor looks at its worker: an interactive one always, a headless one
/// while it is active.
pub(super) const TICK: Duration = Duration::from_millis(100);
/// The longest a headless worker's supervisor waits between two looks while nothing happens
/// (its wait doubles from [`TICK`] to this): its exit and a signal the supervisor catches end
/// the wait at once, and a watch that is due (the deadline, a stall, a budget's poll) ends it
/// then; only output that follows a quiet spell is seen up to this late.
pub(super) const IDLE: Duration = Duration::from_secs(1);

/// Why the supervisor stopped the worker itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopCause {
    /// The deadline passed.
    Deadline,
    /// A person cancelled the dispatch: `vnx cancel` left its request in the dispatch
    /// directory, then signalled the supervisor.
    Cancel,
    /// The supervisor got SIGHUP, SIGTERM or SIGINT that no `vnx cancel` asked for (tmux
    /// died under it, the machine shuts down): the worker is stopped and nothing is recorded,
    /// so the dispatch reads `lost` and `vnx resume` continues it (ADR 0068).
    Interrupted,
    /// After a report or the end of a turn: the TUI would otherwise wait forever.
    Completed,
    /// Its budget was used up (ADR 0094): the worker was interrupted, its session and
    /// worktree kept, and the dispatch needs input until a person raises the budget.
    Budget,
    /// A person's `vnx pause --now` covers it (ADR 0119): the worker was stopped, its session
    /// and worktree kept, and its supervisor waits for the pause to be lifted.
    Paused,
    /// A headless CLI said a usage limit and then went quiet past the stall watch, waiting
    /// for the reset by itself (ADR 0117): stopped, its session kept, the limit waited out
    /// by the supervisor.
    Limit,
}

/// Why the supervisor stopped the worker, with details.
pub type Stop = (StopCause, String);

/// What a worker's provider declares of how its end reads, fixed for the dispatch.
#[derive(Clone, Debug)]
pub struct Kind {
    /// The lane the worker runs in.
    pub lane: Lane,
    /// What ends the dispatch successfully, as the provider declares it.
    pub completion: provider::ProviderCompletion,
    /// The end-of-turn hook installed, if any.
    pub hooks: HookKind,
    /// Whether its exit is the only end of a turn vnx can see of its TUI: a declared TUI,
    /// which has no end-of-turn hook and no session vnx knows to show one (see
    /// [`exit_ends_turn`]). A clean exit without a report then needs input, as headless.
    pub exit_ends_turn: bool,
}

impl Kind {
    /// What `spec`'s provider declares.
    pub fn of(spec: &crate::dispatch::Spec) -> Kind {
        Kind {
            lane: spec.lane,
            completion: spec.invocation.completion,
            hooks: spec.invocation.hooks.clone(),
            exit_ends_turn: exit_ends_turn(&spec.provider, spec.lane),
        }
    }
}

/// Whether a worker of `provider` in `lane` ends its turn only by exiting, as far as vnx can
/// see: a declared provider's TUI (a name no built-in CLI has), which no end-of-turn hook
/// and no session vnx knows signal. A built-in CLI's TUI that exits without a report before
/// its hook or session showed a turn end has failed; its clean exit is no answer.
pub fn exit_ends_turn(provider: &provider::ProviderName, lane: Lane) -> bool {
    lane == Lane::Interactive && provider.cli().is_none()
}

/// What the worker's hooks and session said of its turn.
#[derive(Clone, Debug, Default)]
pub struct Turn {
    /// The hook call that ended the turn (the first that concluded it).
    pub end: Option<HookSignal>,
    /// The session a live-state hook named (a permission prompt, a tool that ran): the
    /// session id of a dispatch stopped before its turn ended.
    pub session: Option<String>,
}

impl Turn {
    /// A hook signal heard: the first session one names is kept.
    pub fn heard(&mut self, signal: &HookSignal) {
        if self.session.is_none() {
            self.session = hook_session(signal, false);
        }
    }

    /// The turn ended with `signal`, unless an earlier signal ended it.
    pub fn ended(&mut self, signal: HookSignal) {
        self.end.get_or_insert(signal);
    }

    /// Whether the turn has ended.
    pub fn has_ended(&self) -> bool {
        self.end.is_some()
    }
}

/// A worker whose process runs: its turn so far, and the processes it left running that vnx
/// stopped as unfinished at a TUI turn end.
#[derive(Debug, Default)]
pub(super) struct Running {
    pub(super) turn: Turn,
    left_stopped: Vec<BackgroundTask>,
}

impl Running {
    /// What the worker left running was stopped unfinished (`tasks`).
    pub(super) fn left_stopped(&mut self, tasks: Vec<BackgroundTask>) {
        self.left_stopped.extend(tasks);
    }

    /// Its process ended with `status`, `stopped` by the supervisor or by itself; what its
    /// output said is only what vnx stopped of what it left, until a headless worker's
    /// output, read to its end, says it all.
    pub(super) fn exited(self, status: ExitStatus, stopped: Option<Stop>) -> Exited {
        let stream = StreamSummary {
            background_stopped: self.left_stopped,
            ..StreamSummary::default()
        };
        Exited {
            status,
            stopped,
            turn: self.turn,
            stream,
            temp_files: 0,
        }
    }
}

/// A worker whose process ended: all known of its run.
#[derive(Clone, Debug)]
pub struct Exited {
    /// How its process ended.
    pub status: ExitStatus,
    /// Why the supervisor stopped it, when it did.
    pub stopped: Option<Stop>,
    /// What its hooks and session said of its turn.
    pub turn: Turn,
    /// What its CLI's output said.
    pub stream: StreamSummary,
    /// Files it left in its temporary directory (removed).
    pub temp_files: u64,
}

impl Exited {
    /// Whether it ended by itself (or was closed after it completed): no cause but its own.
    pub fn by_itself(&self) -> bool {
        matches!(self.stopped, None | Some((StopCause::Completed, _)))
    }

    /// Held to its budget at its end: it needs input as if stopped at it. Only a worker that
    /// ended by itself is held so; another's cause stands.
    pub(super) fn held_to_budget(&mut self, why: String) {
        if self.by_itself() {
            self.stopped = Some((StopCause::Budget, why));
        }
    }
}

/// How a dispatch's worker ended.
#[derive(Clone, Debug)]
pub enum Life {
    /// It never started: the supervisor was stopped, or the deadline passed, while it waited
    /// for its provider's slot.
    Refused(Stop),
    /// It could not be started: its worktree's setup failed, or its program did not spawn.
    Unstarted(String),
    /// Its process ran and ended.
    Exited(Box<Exited>),
}

impl Life {
    /// Why the supervisor stopped the worker, when it did.
    pub fn stopped(&self) -> Option<&Stop> {
        match self {
            Life::Refused(stop) => Some(stop),
            Life::Unstarted(_) => None,
            Life::Exited(x) => x.stopped.as_ref(),
        }
    }

    /// The exit code and the signal that ended it, when it ran.
    pub fn exit_code_and_signal(&self) -> (Option<i32>, Option<i32>) {
        match self {
            Life::Exited(x) => (x.status.code(), x.status.signal()),
            _ => (None, None),
        }
    }
}

/// The session (or thread) id a hook signal names, as its CLI reads it; `turn_end`: the
/// signal that ended the turn.
pub fn hook_session(signal: &HookSignal, turn_end: bool) -> Option<String> {
    cli::hooks_of_event(&signal.event)?
        .session(&signal.event, &signal.payload, turn_end)
        .map(|s| crate::dispatch::supervise::signals::shorten(s, 256))
}

/// Stops a worker's process group (TERM, [`GRACE`], KILL); with how it ended, in words.
pub(super) fn stop(group: &mut Group) -> std::io::Result<(ExitStatus, &'static str)> {
    Ok(match group.stop(GRACE)? {
        Stopped::Terminated(s) => (s, "stopped with SIGTERM"),
        Stopped::Killed(s) => (s, "ignored SIGTERM; killed with SIGKILL"),
    })
}
