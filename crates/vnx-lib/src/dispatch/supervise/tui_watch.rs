//! An interactive worker watched at each of the supervisor's ticks: its hook signals (a turn
//! of its own thread, not its title's, ends the dispatch's), the dialogs its screen shows (a
//! permission dialog no hook signals, a dialog before its first turn), the session file that
//! records the end of a turn no hook signals, and its report; once it reported and its turn
//! ended (or one of them and the wait after it passed), it completed, unless its turn ended
//! with background work still running (then it waits for a turn end without, or, for a CLI
//! whose session file shows that work, for the session to show it ended: `background`).

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::dispatch::Spec;
use crate::dispatch::supervise::announce::Recorder;
use crate::dispatch::supervise::background::{Background, Left};
use crate::dispatch::supervise::left::Marks;
use crate::dispatch::supervise::life::{
    LATE_REPORT, Running, SETTLE_AFTER_REPORT, SETTLE_WITHOUT_HOOK, TICK,
};
use crate::dispatch::supervise::live::Live;
use crate::dispatch::supervise::signals::{self, HookSignal, ReportFile, SignalReader};
use crate::provider::dialog::Dialog;
use crate::provider::hooks::HookKind;
use crate::provider::{cli, invocation};
use crate::tmux::Tmux;

/// What is watched of an interactive worker, and what was seen of it so far.
pub(super) struct TuiWatch {
    reader: SignalReader,
    /// A TUI whose permission dialog no hook of its signals: its screen is watched for the
    /// dialog's line, once a second.
    screen_dialog: Option<Dialog>,
    /// A TUI that asks first (whether to trust the folder, to accept its posture): its
    /// screen is watched for those dialogs until the worker's hooks speak (it is past them).
    start_dialogs: Vec<Dialog>,
    screen_seen: Option<Instant>,
    /// A TUI whose end of turn no hook of its signals, but its session records: the session
    /// is looked at once a second.
    session_turns: Option<(crate::provider::session::Wanted, &'static str)>,
    session_seen: Option<Instant>,
    session_found: Option<PathBuf>,
    reported_seen: bool,
    /// Background work its last turn end named, waited for (ADR 0096).
    background: Background,
    accepted_threads: Vec<String>,
    settle_until: Option<Instant>,
    /// The argument that carries the prompt, as the worker received it.
    initial: String,
    /// What reads a usage limit on its CLI's screen (none: never looked for), the limits its
    /// screen showed so far, and when it was last looked at for one (ADR 0117).
    limits: (Option<cli::TuiLimits>, usize, Option<Instant>),
    /// The CLI's process, what marks the processes of its worker, and the dispatch's
    /// deadline: what it left running outside its tree holds a turn end back until it ends,
    /// or is stopped as unfinished at the deadline (ADR 0099).
    cli: (u32, Marks, Instant),
}

impl TuiWatch {
    /// The watch of `spec`'s worker, given `prompt`, starting now.
    pub(super) fn new(
        spec: &Spec,
        prompt: &str,
        (cli, marks, deadline): (u32, &Marks, Instant),
    ) -> TuiWatch {
        let now = std::time::SystemTime::now();
        TuiWatch {
            reader: SignalReader::default(),
            screen_dialog: screen_dialog(spec),
            start_dialogs: start_dialogs(spec),
            screen_seen: None,
            session_turns: session_turns(spec, now),
            session_seen: None,
            session_found: None,
            reported_seen: false,
            background: Background::of(wanted_session(spec, now)),
            accepted_threads: Vec::new(),
            settle_until: None,
            initial: initial_prompt(spec, prompt),
            limits: (spec.cli().and_then(|c| c.tui_limits()), 0, None),
            cli: (cli, marks.clone(), deadline),
        }
    }

    /// One tick: what the worker's hooks, screen (`pane` on `tmux`), session and report say,
    /// recorded through `live` and `recorder`; `true` once the worker completed.
    #[expect(
        clippy::too_many_arguments,
        reason = "the supervisor's state, each a piece"
    )]
    pub(super) fn tick(
        &mut self,
        spec: &Spec,
        seal: &str,
        (tmux, pane): (&Tmux, Option<&str>),
        live: &mut Live,
        recorder: &mut Recorder<'_>,
        log: &mut fs::File,
        running: &mut Running,
    ) -> bool {
        self.hear_signals(spec, live, (recorder, log), running);
        let (held, change) = self.background.poll(&spec.id, Instant::now());
        recorder.change(change, log);
        if let Some(held) = held {
            running.turn.ended(held);
        }
        self.watch_screen((tmux, pane), live, (recorder, log));
        self.watch_session(spec, (recorder, log), running);
        let reported = matches!(
            signals::read_report(&spec.dispatch_dir, &spec.id, seal),
            ReportFile::Accepted(_)
        );
        if reported && !self.reported_seen {
            self.reported_seen = true;
            // The worker reported: whatever it waited for, it is past it.
            recorder.change(live.went_on("report", Instant::now()), log);
        }
        // Processes the worker left running hold the turn end that would conclude.
        if self.background.left_waiting() {
            return self.left_ended(spec, live, (recorder, log), running);
        }
        // Background work runs: the worker is busy, not stalled, and not done.
        if self.background.waiting() {
            recorder.change(live.on_activity("background", Instant::now()), log);
            return false;
        }
        self.settled(spec, reported, running)
            && self.left_ended(spec, live, (recorder, log), running)
    }

    /// A usage limit its CLI's screen (`pane` on `tmux`, with its history) newly shows it gave
    /// up at: more than it showed when last looked at, at most once a second. Its CLI's
    /// module says what such a screen looks like.
    pub(super) fn limit_seen(
        &mut self,
        (tmux, pane): (&Tmux, Option<&str>),
    ) -> Option<crate::receipts::UsageLimit> {
        let (read, seen, looked) = self.limits;
        let read = read?;
        if looked.is_some_and(|at| at.elapsed() < SCREEN_EVERY) {
            return None;
        }
        self.limits.2 = Some(Instant::now());
        let screen = tmux.capture_history(pane?).ok()?;
        let limits = read(&screen);
        // A dialog gone from the screen counts no more: the next one is new.
        self.limits.1 = limits.len();
        (limits.len() > seen).then(|| limits.into_iter().last())?
    }

    /// Told to go on with keys at a limit's dialog: the dialog is taken as gone, so one still
    /// (or again) on the screen at the next look is a limit again.
    pub(super) fn dialog_answered(&mut self) {
        self.limits.1 = 0;
    }

    /// The worker's hook signals since the last look: each heard by its turn and by `live`,
    /// a turn end of its own thread without background work concluding it.
    fn hear_signals(
        &mut self,
        spec: &Spec,
        live: &mut Live,
        (recorder, log): (&mut Recorder<'_>, &mut fs::File),
        running: &mut Running,
    ) {
        let signals = self.reader.poll(&spec.dispatch_dir);
        if !signals.is_empty() && !live.blocked_by_screen() {
            self.start_dialogs.clear();
        }
        for signal in signals {
            running.turn.heard(&signal);
            let mut turn_end = ends_turn(
                &spec.invocation.hooks,
                &signal,
                &self.initial,
                &mut self.accepted_threads,
            );
            // The end of a turn of another thread of the worker's (its title's) says
            // nothing of the dispatch's: a dialog the worker shows still stands.
            if turn_end || !spec.invocation.hooks.ends_turn(&signal.event) {
                recorder.change(live.on_signal(&signal, Instant::now()), log);
            }
            // A turn that ended with background work running is not the dispatch's end.
            if turn_end {
                let (ends, change) = self.background.turn_end(&spec.id, &signal, Instant::now());
                turn_end = ends;
                recorder.change(change, log);
            }
            if turn_end && !running.turn.has_ended() {
                self.concludes(spec, signal, (recorder, log), running);
            }
        }
    }

    /// The worker's screen in `pane`, once a second while a dialog no hook signals may show
    /// on it: what it shows told to `live`.
    fn watch_screen(
        &mut self,
        (tmux, pane): (&Tmux, Option<&str>),
        live: &mut Live,
        (recorder, log): (&mut Recorder<'_>, &mut fs::File),
    ) {
        let watched = self.screen_dialog.is_some() || !self.start_dialogs.is_empty();
        if let (true, Some(pane)) = (watched, pane)
            && self
                .screen_seen
                .is_none_or(|at| at.elapsed() >= SCREEN_EVERY)
        {
            self.screen_seen = Some(Instant::now());
            if let Ok(screen) = tmux.capture_pane(pane) {
                let seen = (self.screen_dialog)
                    .iter()
                    .chain(&self.start_dialogs)
                    .find_map(|d| d.seen(&screen));
                let seen = seen
                    .as_ref()
                    .map(|s| (s.lines.as_str(), (s.target.clone(), s.command.clone())));
                recorder.change(live.on_dialog(seen, Instant::now()), log);
            }
        }
    }

    /// The worker's session, once a second for a CLI whose turn ends no hook signals: a turn
    /// end it records concludes the turn.
    fn watch_session(
        &mut self,
        spec: &Spec,
        (recorder, log): (&mut Recorder<'_>, &mut fs::File),
        running: &mut Running,
    ) {
        if let Some((wanted, name)) = &self.session_turns
            && !running.turn.has_ended()
            && self
                .session_seen
                .is_none_or(|at| at.elapsed() >= SCREEN_EVERY)
        {
            self.session_seen = Some(Instant::now());
            // Looked for until found; then only that session is read.
            if self.session_found.is_none() {
                self.session_found = wanted.find();
            }
            if self
                .session_found
                .as_deref()
                .is_some_and(|found| wanted.cli.store().turn_ended(found, wanted.since))
            {
                let signal = HookSignal {
                    event: (*name).to_owned(),
                    received_at: jiff::Timestamp::now().to_string(),
                    payload: serde_json::Value::Null,
                };
                self.concludes(spec, signal, (recorder, log), running);
            }
        }
    }

    /// Whether the worker settled: it reported and its turn ended, or one of them and the wait
    /// after it passed.
    fn settled(&mut self, spec: &Spec, reported: bool, running: &Running) -> bool {
        let settle = match (reported, running.turn.has_ended()) {
            (true, true) => Duration::ZERO,
            (true, false) if spec.invocation.hooks == HookKind::NONE => SETTLE_WITHOUT_HOOK,
            (true, false) => SETTLE_AFTER_REPORT,
            (false, true) => LATE_REPORT,
            (false, false) => return false,
        };
        let until = *self.settle_until.get_or_insert(Instant::now() + settle);
        Instant::now() >= until || settle.is_zero()
    }

    /// Whether no process the worker left running outside the CLI's tree runs (any did and
    /// ended, or the wait ran out and vnx stopped them, kept in `running` as unfinished);
    /// while some run, the dispatch waits on them and is busy, not stalled.
    fn left_ended(
        &mut self,
        spec: &Spec,
        live: &mut Live,
        (recorder, log): (&mut Recorder<'_>, &mut fs::File),
        running: &mut Running,
    ) -> bool {
        let now = Instant::now();
        let (pid, marks, deadline) = &self.cli;
        // A tick before the deadline's own: what was left is stopped as unfinished, and the
        // turn end concludes.
        let give_up = now + TICK >= *deadline;
        let limit = super::background::left_wait(spec);
        let (state, change) =
            (self.background).left_poll(&spec.id, (marks, Some(*pid)), (give_up, limit), now);
        recorder.change(change, log);
        match state {
            Left::Running => {
                recorder.change(live.on_activity("background", now), log);
                false
            }
            Left::Ended { .. } => true,
            Left::Stopped(tasks) => {
                running.left_stopped(tasks);
                true
            }
        }
    }

    /// A turn end that concludes the dispatch's turn, unless the worker's session shows
    /// background work still running (then it is held back until it shows none).
    fn concludes(
        &mut self,
        spec: &Spec,
        signal: HookSignal,
        (recorder, log): (&mut Recorder<'_>, &mut fs::File),
        running: &mut Running,
    ) {
        let (now, change) = self
            .background
            .session_turn_end(&spec.id, signal, Instant::now());
        recorder.change(change, log);
        if let Some(now) = now {
            running.turn.ended(now);
        }
    }
}

/// The dialogs a built-in CLI's TUI may show before its first turn.
fn start_dialogs(spec: &Spec) -> Vec<Dialog> {
    spec.cli().map(Dialog::start_of).unwrap_or_default()
}

/// The permission dialog of a TUI no hook of whose signals it (a built-in CLI without hook
/// events, or a declared one with `interactive.dialog:`): the screen is all that shows it.
fn screen_dialog(spec: &Spec) -> Option<Dialog> {
    let Some(cli) = spec.cli() else {
        let declared = spec.invocation.tui.dialog.as_ref()?;
        return Dialog::declared(declared).ok();
    };
    if cli.hooks().is_none() {
        Dialog::of_cli(cli)
    } else {
        None
    }
}

/// The session of a built-in CLI whose TUI's end of turn no hook of its signals but its
/// session records (it names a turn end and has no hook events), and the name that end is
/// recorded under; `since`: about when the worker started.
fn session_turns(
    spec: &Spec,
    since: std::time::SystemTime,
) -> Option<(crate::provider::session::Wanted, &'static str)> {
    let wanted = wanted_session(spec, since)?;
    let module = wanted.cli.module()?;
    if module.hooks().is_some() {
        return None;
    }
    let name = module.turn_end_signal()?;
    Some((wanted, name))
}

/// What the session of a built-in CLI's worker is looked for by; `since`: about when the
/// worker started.
fn wanted_session(
    spec: &Spec,
    since: std::time::SystemTime,
) -> Option<crate::provider::session::Wanted> {
    use crate::provider::session;
    Some(session::Wanted {
        cli: session::Cli::of(spec.provider.name())?,
        homes: spec.session_homes.clone()?,
        cwd: spec.worktree.clone(),
        since,
        session_id: spec.session_id.clone(),
    })
}

/// The argument that carries the prompt (or points at its file), as the worker receives it:
/// how a CLI whose end-of-turn hook fires for threads of its own tells the dispatch's.
fn initial_prompt(spec: &Spec, prompt: &str) -> String {
    let file = spec.dispatch_dir.join("prompt.md");
    spec.invocation
        .argv
        .iter()
        .find(|a| a.contains(invocation::PROMPT) || a.contains(invocation::PROMPT_FILE))
        .map(|a| invocation::expand(a, prompt, &file.to_string_lossy()))
        .unwrap_or_default()
}

/// Whether a hook signal ends the dispatch's turn. Where the CLI's hook also fires for threads
/// of its own, only the thread whose input was the dispatch's prompt counts.
fn ends_turn(
    kind: &HookKind,
    signal: &HookSignal,
    initial: &str,
    threads: &mut Vec<String>,
) -> bool {
    if !kind.ends_turn(&signal.event) {
        return false;
    }
    let Some(thread) =
        cli::hooks_of_event(&signal.event).and_then(|h| h.turn_thread(&signal.payload, initial))
    else {
        return true;
    };
    if thread.prompted && !threads.contains(&thread.id) {
        threads.push(thread.id.clone());
    }
    threads.contains(&thread.id)
}

/// How often a TUI's screen is looked at for its permission dialog.
const SCREEN_EVERY: Duration = Duration::from_secs(1);
