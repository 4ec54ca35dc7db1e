//! One worker run: started in its own process group in the worktree (headless or in the
//! pane's terminal), watched for the report, end-of-turn hooks, the deadline, cancellation
//! and stalls, and stopped (TERM, grace, KILL).

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::dispatch::supervise::announce::Recorder;
use crate::dispatch::supervise::asked::{Surroundings, Waited, stop_asked};
use crate::dispatch::supervise::background::Left;
use crate::dispatch::supervise::changes::ChangesWatch;
use crate::dispatch::supervise::facts::EndOfRun;
use crate::dispatch::supervise::life::{
    Exited, GRACE, IDLE, Life, Running, Stop, StopCause, TICK, stop,
};
use crate::dispatch::supervise::live::Live;
use crate::dispatch::supervise::output::{Activity, OutputCopy, copy_output};
use crate::dispatch::supervise::signals::{self};
use crate::dispatch::supervise::tui_watch::TuiWatch;
use crate::dispatch::supervise::{background, budget, left};
use crate::dispatch::{DispatchError, Spec, io_err};
use crate::process::{self, Cmd, Group};
use crate::provider::{Lane, PromptTransport, invocation};
use crate::sandbox::ShapeExt;
use crate::tmux::Tmux;

/// What one worker run is given: the prompt, the deadline and the report seal.
pub(super) struct Job<'a> {
    pub(super) prompt: &'a str,
    pub(super) deadline: Instant,
    pub(super) seal: &'a str,
    /// When the dispatch started: the session file's usage counts from then.
    pub(super) since: std::time::SystemTime,
}

/// Starts the worker and waits for it to end one way or another: how it ended, and what the
/// end of its run says of its usage, once it ran.
pub(super) fn run_worker(
    spec: &Spec,
    around: &Surroundings<'_>,
    job: &Job<'_>,
    log: &mut fs::File,
    screen: &mut Option<String>,
    recorder: &mut Recorder<'_>,
) -> Result<(Life, Option<EndOfRun>), DispatchError> {
    let interactive = spec.lane == Lane::Interactive;
    let relayed = super::keys::started(spec, around, log);
    let argv = wrapped_argv(spec, job.prompt, relayed.and_then(|r| r.port), log);
    // The worker's temporary files stay in the dispatch (a CLI may drop error reports in the
    // temp dir) and go with its end.
    let tmp = spec.dispatch_dir.join("tmp");
    crate::files::private_dir(&tmp).map_err(io_err(&tmp))?;
    let mut cmd = worker_cmd(spec, around, job.seal, &argv, &tmp);
    for (k, v) in relayed.iter().flat_map(|r| &r.env) {
        cmd = cmd.env(k, v);
    }
    let group = match spawn(spec, around, &cmd)? {
        Ok(g) => g,
        Err(e) => {
            let _ = writeln!(log, "vnx: {e}");
            return Ok((Life::Unstarted(e.to_string()), None));
        }
    };
    if interactive && let Some(tty) = around.tty {
        // Hand the terminal to the TUI; it may already have been stopped reading it.
        let _ = process::set_foreground(tty, group.pid());
        let _ = group.resume();
    }
    let mut watched = Watched::new((spec, around, job), group, log);
    let mut running = Running::default();
    let (exit, stopped) = loop {
        if let Some(end) = watched.tick(&mut running, screen, (recorder, log))? {
            break end;
        }
    };
    if interactive {
        hand_back_terminal(around, screen, &|| capture(&watched.tmux, around), &exit);
    }
    // A headless CLI that exited by itself: a wait its stream said is over, and what it
    // left running is waited for (ADR 0099).
    let by_itself = stopped.is_none();
    let mut exited = running.exited(exit, stopped);
    let left = if !interactive && by_itself {
        let mut waits = (&mut watched.waits, &mut watched.live);
        let marks = (&watched.marks, watched.sandboxed.as_ref());
        await_left(
            (spec, marks),
            around,
            job.deadline,
            &mut waits,
            (recorder, log),
            &mut exited,
        )
    } else {
        Left::Ended { waited: false }
    };
    let _ = watched.group.stop(Duration::ZERO);
    // Nothing the worker left outlives its dispatch (after the wait above, already so).
    sweep(&watched.marks, log, interactive || !by_itself);
    let tokens = watched.copy.as_ref().map(|c| c.tokens.clone());
    if let Some(copy) = watched.copy.take() {
        exited.stream = copy.finish();
    }
    reconcile(&mut exited.stream, left);
    let held = (watched.budget.as_mut(), tokens.as_ref());
    let end = held_at_end(spec, held, job.since, &mut exited, (recorder, log));
    exited.temp_files = count_files(&tmp);
    let _ = fs::remove_dir_all(&tmp);
    Ok((Life::Exited(Box::new(exited)), Some(end)))
}

/// What is watched of a running worker, tick by tick: its process group, its output (a
/// headless worker's) or pane, its live state, its changes, its budget, the background work
/// it waits on and, for a TUI, its hooks, screen, session and report.
struct Watched<'a> {
    spec: &'a Spec,
    around: &'a Surroundings<'a>,
    job: &'a Job<'a>,
    group: Group,
    copy: Option<OutputCopy>,
    tmux: Tmux,
    live: Live,
    activity: Activity,
    changes: ChangesWatch,
    /// What marks the worker's processes, and when its CLI started (ADR 0099).
    marks: left::Marks,
    tui: Option<TuiWatch>,
    budget: Option<budget::Watch>,
    waits: background::Background,
    /// A sandboxed headless CLI's PID namespace ends with it: what it left is looked for
    /// while it runs (ADR 0099).
    sandboxed: Option<background::Sandboxed>,
    /// How long a headless worker is left alone before the next look (see [`IDLE`]).
    quiet: Duration,
    /// The usage limits a TUI's screen showed it gave up at, and the time waited for them,
    /// added to its deadline (ADR 0117).
    limits: (u32, Duration),
}

impl<'a> Watched<'a> {
    /// The watch of the worker just started as `group`.
    fn new(
        (spec, around, job): (&'a Spec, &'a Surroundings<'a>, &'a Job<'a>),
        mut group: Group,
        log: &fs::File,
    ) -> Watched<'a> {
        let interactive = spec.lane == Lane::Interactive;
        let copy = (!interactive).then(|| copy_output(&mut group, log, around.pane, spec));
        let live = Live::new(
            &spec.id,
            format!("vnx attach {}", spec.id),
            spec.stall_after_secs.map(Duration::from_secs),
            Instant::now(),
        );
        let marks = left::Marks::of_worker(spec.id.as_str(), group.pid());
        let tui = interactive
            .then(|| TuiWatch::new(spec, job.prompt, (group.pid(), &marks, job.deadline)));
        let sandboxed = (!interactive && spec.sandbox.is_some())
            .then(|| background::Sandboxed::new(marks.clone()));
        Watched {
            spec,
            around,
            job,
            copy,
            tmux: Tmux::new(spec.tmux_socket.clone()),
            live,
            activity: Activity::default(),
            changes: ChangesWatch::new(Instant::now()),
            marks,
            tui,
            budget: budget::Watch::new(spec, job.since),
            waits: background::Background::default(),
            sandboxed,
            group,
            quiet: TICK,
            limits: (0, Duration::ZERO),
        }
    }

    /// When the worker is looked at next, unless it exits or the supervisor catches a signal
    /// first: an interactive one's hooks, pane and session every [`TICK`]; a headless one's
    /// output after `quiet`, or when a watch is due first (its deadline, a stall, its budget's
    /// poll, its changes, a sandbox's look).
    fn next_look(&self, now: Instant) -> Instant {
        if self.tui.is_some() {
            return now + TICK;
        }
        let due = [
            Some(self.job.deadline),
            self.live.stall_due(),
            self.changes.due(),
            self.budget.as_ref().map(budget::Watch::due),
            self.sandboxed.as_ref().and_then(background::Sandboxed::due),
        ];
        due.into_iter()
            .flatten()
            .fold(now + self.quiet, Instant::min)
    }

    /// One tick (waiting for the worker to exit until its next look, [`Watched::next_look`]):
    /// how its process ended and why the supervisor stopped it, if it did, once it ended.
    fn tick(
        &mut self,
        running: &mut Running,
        screen: &mut Option<String>,
        (recorder, log): (&mut Recorder<'_>, &mut fs::File),
    ) -> Result<Option<(ExitStatus, Option<Stop>)>, DispatchError> {
        let (spec, around) = (self.spec, self.around);
        let interactive = spec.lane == Lane::Interactive;
        let wait_err = |e| io_err(&spec.worktree)(e);
        let until = self.next_look(Instant::now());
        if let Some(status) = self.group.wait_or_signal(until).map_err(wait_err)? {
            // A headless CLI's group is stopped once what it left running was waited for.
            if interactive {
                let _ = self.group.stop(Duration::ZERO);
            }
            return Ok(Some((status, None)));
        }
        let now = Instant::now();
        let pane = around.tmux_pane.as_deref();
        let active = (self.activity).changed(self.copy.as_ref(), &self.tmux, pane, now);
        if active {
            recorder.change(self.live.on_activity("output", now), log);
        }
        self.changes.tick(spec, now, active);
        if let Some(sandboxed) = &mut self.sandboxed {
            sandboxed.tick(self.group.pid(), now);
        }
        recorder.change(self.live.tick(now), log);
        // Quiet past the stall watch after its CLI said a usage limit: the CLI waits for the
        // reset by itself, saying nothing (as one CLI does); stopped, the wait is the supervisor's.
        let stalled = self.live.stalled();
        if let Some(limit) = (self.copy.as_ref().filter(|_| stalled)).and_then(|c| c.tokens.limit())
        {
            let (status, how) = stop(&mut self.group).map_err(wait_err)?;
            let why = format!(
                "quiet after its CLI met a usage limit ({}); {how}",
                limit.said
            );
            return Ok(Some((status, Some((StopCause::Limit, why)))));
        }
        let tokens = self.copy.as_ref().map(|c| &c.tokens);
        let held = (&mut self.group, tokens);
        if let Some((status, why)) =
            budget::on_tick(spec, self.budget.as_mut(), held, recorder, log).map_err(wait_err)?
        {
            if interactive {
                *screen = capture(&self.tmux, around);
            }
            return Ok(Some((status, Some((StopCause::Budget, why)))));
        }
        recorder.change(
            background::stream_tick(&mut self.waits, &spec.id, tokens, &mut self.live, now),
            log,
        );
        // Active, or waiting on background work its stream named: looked at every tick.
        self.quiet = match active || self.waits.waiting() {
            true => TICK,
            false => (self.quiet * 2).min(IDLE),
        };
        if let Some(tui) = &mut self.tui {
            let seen = (&self.tmux, pane);
            if tui.tick(
                spec,
                self.job.seal,
                seen,
                &mut self.live,
                recorder,
                log,
                running,
            ) {
                *screen = capture(&self.tmux, around);
                let why = "the worker completed; vnx closed its session".to_owned();
                let status = stop(&mut self.group).map_err(wait_err)?.0;
                return Ok(Some((status, Some((StopCause::Completed, why)))));
            }
        }
        // A TUI idle at its input after a usage limit: waited out, then told to go on.
        if !active && let Some(stopped) = self.tui_limit(screen, (recorder, log))? {
            return Ok(Some(stopped));
        }
        let deadline = self.job.deadline + self.limits.1;
        let Some((cause, what)) = stop_cause(spec, around, deadline) else {
            return Ok(None);
        };
        if interactive {
            *screen = capture(&self.tmux, around);
        }
        let (status, how) = stop(&mut self.group).map_err(wait_err)?;
        let why = match cause {
            StopCause::Deadline => format!("deadline of {} s passed; {how}", spec.deadline_secs),
            _ => format!("{what}; {how}"),
        };
        Ok(Some((status, Some((cause, why)))))
    }
}

/// An interactive worker's screen, with its history, from its pane.
fn capture(tmux: &Tmux, around: &Surroundings<'_>) -> Option<String> {
    (around.tmux_pane.as_deref()).and_then(|p| tmux.capture_history(p).ok())
}

/// The worker's argv with the prompt (or the prompt file's path) in place.
fn worker_argv(spec: &Spec, prompt: &str) -> Vec<String> {
    let file = spec.dispatch_dir.join("prompt.md");
    let file = file.to_string_lossy();
    let mut argv: Vec<String> = spec.invocation.argv[1..]
        .iter()
        .map(|a| invocation::expand(a, prompt, &file))
        .collect();
    argv.insert(0, spec.invocation.argv[0].clone());
    argv
}

/// What setup and teardown commands, and the worker, see of the dispatch: its id, directory
/// and worktree, and its port when it has one.
pub(super) fn worktree_env(spec: &Spec) -> Vec<(String, String)> {
    let mut env = vec![
        ("VNX_DISPATCH_ID".to_owned(), spec.id.to_string()),
        (
            "VNX_DISPATCH_DIR".to_owned(),
            spec.dispatch_dir.to_string_lossy().into_owned(),
        ),
        (
            "VNX_WORKTREE".to_owned(),
            spec.worktree.to_string_lossy().into_owned(),
        ),
    ];
    if let Some(port) = spec.port {
        env.push(("VNX_PORT".to_owned(), port.to_string()));
    }
    env
}

impl Watched<'_> {
    /// A TUI whose screen newly shows a usage limit it gave up at (ADR 0117): recorded and
    /// waited out as a headless worker's is (and held on by a pause), then its CLI, still at
    /// its input in the same session, is told to go on. How it ended when a person's cancel
    /// (or a hangup) came during the wait.
    fn tui_limit(
        &mut self,
        screen: &mut Option<String>,
        (recorder, log): (&mut Recorder<'_>, &mut fs::File),
    ) -> Result<Option<(ExitStatus, Option<Stop>)>, DispatchError> {
        let (spec, around) = (self.spec, self.around);
        let pane = around.tmux_pane.as_deref();
        let Some(limit) = (self.tui.as_mut()).and_then(|t| t.limit_seen((&self.tmux, pane))) else {
            return Ok(None);
        };
        self.limits.0 += 1;
        match super::limited::wait_out(spec, around, &limit, self.limits.0, (recorder, log)) {
            Waited::Over(w) => {
                self.limits.1 += w;
                if let Some(drain) = around.after_reset {
                    drain();
                }
                if let Err(e) = self.go_on_after_limit() {
                    let _ = writeln!(log, "vnx: could not tell the worker to go on: {e}");
                }
                Ok(None)
            }
            Waited::Stopped((cause, why)) => {
                *screen = capture(&self.tmux, around);
                let (status, how) = stop(&mut self.group).map_err(io_err(&spec.worktree))?;
                Ok(Some((status, Some((cause, format!("{why}; {how}"))))))
            }
        }
    }

    /// Tells a TUI its limit is over: its dialog's keys where its CLI's limit is a dialog,
    /// else one line typed at its input.
    fn go_on_after_limit(&mut self) -> Result<(), crate::tmux::TmuxError> {
        let session = &self.spec.session;
        match self.spec.cli().and_then(|c| c.tui_limit_keys()) {
            Some(keys) => {
                if let Some(tui) = &mut self.tui {
                    tui.dialog_answered();
                }
                self.tmux.send_keys(session, keys)
            }
            None => {
                let text = crate::dispatch::start::compose::TUI_AFTER_LIMIT;
                self.tmux.send_keys(session, &["-l", text])?;
                self.tmux.send_keys(session, &["Enter"])
            }
        }
    }
}

/// Why the supervisor stops the worker now, if it does: it was told to (cancelled or
/// interrupted), or the deadline passed; with what to say of it.
fn stop_cause(
    spec: &Spec,
    around: &Surroundings<'_>,
    deadline: Instant,
) -> Option<(StopCause, &'static str)> {
    if let Some(asked) = stop_asked(spec, around) {
        Some(match asked {
            StopCause::Cancel => (asked, "the supervisor was told to stop (`vnx cancel`)"),
            StopCause::Paused => (asked, "a pause stopped it (`vnx pause --now`)"),
            _ => (
                asked,
                "the supervisor was interrupted by a signal no `vnx cancel` asked for (a \
                 hangup as its tmux server died, or the machine shutting down)",
            ),
        })
    } else if Instant::now() >= deadline {
        Some((StopCause::Deadline, ""))
    } else {
        None
    }
}

/// The worker's process group started: in the pane's terminal for a TUI, else with its
/// prompt file (or nothing) on stdin and its output piped.
fn spawn(
    spec: &Spec,
    around: &Surroundings<'_>,
    cmd: &Cmd,
) -> Result<Result<Group, process::ProcessError>, DispatchError> {
    let interactive = spec.lane == Lane::Interactive;
    let prompt_path = spec.dispatch_dir.join("prompt.md");
    let stdin = if spec.invocation.prompt_transport == PromptTransport::Stdin {
        Some(fs::File::open(&prompt_path).map_err(io_err(&prompt_path))?)
    } else {
        None
    };
    Ok(if interactive && around.tty.is_some() {
        Group::spawn_in_terminal(cmd)
    } else {
        Group::spawn(cmd, |c| {
            if !interactive {
                c.stdin(stdin.map_or_else(Stdio::null, Stdio::from))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
            }
        })
    })
}

/// A headless worker's CLI exited by itself: a wait its stream said ended with it, and the
/// processes it left running (ADR 0099) waited for until none runs, or stopped when the wait
/// runs out ([`background::left_wait`]) or the deadline passes (unfinished work, named), or
/// the dispatch is cancelled (then `exited` says why it stopped). In a sandbox none is left
/// (its PID namespace ended with the CLI): what `sandboxed` saw it leave ended unfinished.
fn await_left(
    (spec, (marks, sandboxed)): (&Spec, (&left::Marks, Option<&background::Sandboxed>)),
    around: &Surroundings<'_>,
    deadline: Instant,
    (waits, live): &mut (&mut background::Background, &mut Live),
    (recorder, log): (&mut Recorder<'_>, &mut fs::File),
    exited: &mut Exited,
) -> Left {
    recorder.change(
        background::stream_ended(waits, &spec.id, Instant::now()),
        log,
    );
    loop {
        let now = Instant::now();
        let asked = stop_asked(spec, around);
        let give_up = asked.is_some() || now >= deadline;
        let limit = background::left_wait(spec);
        let (state, change) = waits.left_poll(&spec.id, (marks, None), (give_up, limit), now);
        recorder.change(change, log);
        match state {
            Left::Running => {
                recorder.change(live.on_activity("background", now), log);
            }
            // Stopped when the wait ran out or the deadline passed: unfinished work, which
            // needs a person; when the supervisor was told to stop, that is how it ended.
            Left::Stopped(tasks) if asked.is_some() => {
                let what = "what the worker left running was stopped";
                let why = match asked {
                    Some(StopCause::Cancel) => {
                        format!("the supervisor was told to stop (`vnx cancel`); {what}")
                    }
                    _ => format!("the supervisor was interrupted; {what}"),
                };
                // Stopped after its CLI exited (what it left running was stopped).
                exited.stopped = asked.map(|cause| (cause, why));
                return Left::Stopped(tasks);
            }
            // None is left: in a sandbox, what it left ended with it.
            Left::Ended { waited: false } => {
                let tasks = sandboxed.map(background::Sandboxed::ended);
                return match tasks.filter(|t| !t.is_empty()) {
                    Some(tasks) => Left::Stopped(tasks),
                    None => Left::Ended { waited: false },
                };
            }
            other => return other,
        }
        std::thread::sleep(TICK);
    }
}

/// Stops whatever the worker left running that is still there (its CLI has ended), and
/// says so in its log; when `needed` (no wait on what it left came first).
fn sweep(marks: &left::Marks, log: &mut fs::File, needed: bool) {
    // After a wait on what it left, the wait's last look found none or stopped them all:
    // looking again would only cost a scan of `/proc`.
    if !needed {
        return;
    }
    for p in left::stop_all(marks, None, GRACE) {
        let _ = writeln!(
            log,
            "vnx: stopped process {} the worker left running: {}",
            p.id.pid, p.command
        );
    }
}

/// What the processes the worker left running came to, in its stream's terms: background
/// work its CLI said it left running counts for nothing once vnx saw every process left end,
/// else it is unfinished; the processes vnx stopped are unfinished.
fn reconcile(stream: &mut crate::receipts::StreamSummary, left: Left) {
    let left_by_cli = std::mem::take(&mut stream.background_left);
    match left {
        Left::Ended { waited: true } => {}
        Left::Ended { waited: false } | Left::Running => {
            stream.background_stopped.extend(left_by_cli);
        }
        Left::Stopped(tasks) => stream.background_stopped.extend(tasks),
    }
    stream
        .background_stopped
        .truncate(crate::receipts::BackgroundTask::MAX_TASKS);
}

/// A TUI worker's end: the terminal given back to the supervisor, its last screen kept, and
/// how it ended said in the pane.
fn hand_back_terminal(
    around: &Surroundings<'_>,
    screen: &mut Option<String>,
    capture: &dyn Fn() -> Option<String>,
    exit: &std::process::ExitStatus,
) {
    if let (Some(tty), Some(group)) = (around.tty, process::own_process_group()) {
        let _ = process::set_foreground(tty, group);
    }
    if screen.is_none() {
        *screen = capture();
    }
    if let Some(tty) = around.tty {
        say_it_ended(tty, exit);
    }
}

/// What the end of the worker's run (since `since`) says of its usage; a worker that ended
/// by itself (or was closed after its report) held to its budget at its end
/// (`budget::at_end`), with the usage and cost that end says (its completion's: a run that
/// ended over its budget is held even if no live reading saw it): the dispatch then needs
/// input as if it had been stopped at it.
fn held_at_end(
    spec: &Spec,
    (watch, tokens): (Option<&mut budget::Watch>, Option<&budget::StreamTokens>),
    since: std::time::SystemTime,
    exited: &mut Exited,
    (recorder, log): (&mut Recorder<'_>, &mut fs::File),
) -> EndOfRun {
    let mut end = EndOfRun::read(spec, (&exited.stream, &exited.turn), since);
    let Some(watch) = watch else {
        return end;
    };
    let said = (end.usage(), end.stream.cost_usd);
    if exited.by_itself()
        && let Some(why) = budget::at_end(spec, watch, (tokens, said), recorder, log)
    {
        exited.held_to_budget(why);
    }
    (end.live_skipped, end.tampering) = watch.said();
    end
}

/// The worker's argv as it is run: [`sandboxed_argv`] behind `prlimit` when the worker has
/// memory or process limits (`admission:`) and this machine has `prlimit`; its log says when
/// it runs without the limits it was given.
fn wrapped_argv(
    spec: &Spec,
    prompt: &str,
    relay: Option<u16>,
    log: &mut fs::File,
) -> Vec<OsString> {
    let argv = sandboxed_argv(spec, prompt, relay, log);
    match &spec.limits {
        Some(limits) if limits.enforced_by.is_none() => {
            let _ = writeln!(
                log,
                "vnx: prlimit (util-linux) is not installed: the worker runs without its \
                 memory and process limits"
            );
            argv
        }
        Some(limits) => crate::admission::limits::wrap(limits, argv),
        None => argv,
    }
}

/// The worker's argv: its CLI's (`worker_argv`), inside bubblewrap when sandboxed (bwrap's
/// child gets the same argv, environment and directory); without a network, `vnx __relay`
/// inside carries the listed loopback ports, and the credential relay's `relay`, to this
/// machine's.
fn sandboxed_argv(
    spec: &Spec,
    prompt: &str,
    relay: Option<u16>,
    log: &mut fs::File,
) -> Vec<OsString> {
    let argv: Vec<OsString> = worker_argv(spec, prompt)
        .into_iter()
        .map(Into::into)
        .collect();
    match &spec.sandbox {
        Some(shape) if shape.relays() => {
            let dir = spec.relay_dir();
            let ports: Vec<u16> = shape.loopback.iter().copied().chain(relay).collect();
            if let Err(e) = crate::sandbox::relay::serve_outside(&dir, &ports) {
                let _ = writeln!(log, "vnx: could not relay loopback ports: {e}");
            }
            let mut relayed: Vec<OsString> = vec![
                spec.vnx.clone().into(),
                "__relay".into(),
                "--dir".into(),
                dir.into(),
            ];
            for port in &ports {
                relayed.extend(["--port".into(), port.to_string().into()]);
            }
            relayed.push("--".into());
            relayed.extend(argv);
            shape.wrap(&relayed)
        }
        Some(shape) => shape.wrap(&argv),
        None => argv,
    }
}

/// The worker's command: `argv` in its worktree, its report seal, its temporary directory
/// `tmp`, its dispatch's `bin/` first on PATH, and the environment its worktree and its CLI
/// need.
fn worker_cmd(
    spec: &Spec,
    around: &Surroundings<'_>,
    seal: &str,
    argv: &[OsString],
    tmp: &Path,
) -> Cmd {
    let bin = spec.dispatch_dir.join("bin");
    let mut path = bin.into_os_string();
    if let Some(p) = &around.path {
        path.push(":");
        path.push(p);
    }
    let mut cmd = Cmd::new(&argv[0])
        .args(&argv[1..])
        .cwd(&spec.worktree)
        .env(signals::SEAL_VAR, seal)
        .env("TMPDIR", tmp)
        .env("PATH", path);
    for (k, v) in worktree_env(spec) {
        cmd = cmd.env(k, v);
    }
    for (k, v) in &spec.invocation.env {
        cmd = cmd.env(k, v);
    }
    // Not only bwrap's `--unsetenv`: its first process inside keeps the environment it was
    // started with, which the worker reads in `/proc/1/environ`.
    for var in spec.sandbox.iter().flat_map(|s| &s.withheld_env) {
        cmd = cmd.env_remove(var);
    }
    cmd
}

/// Says in the pane (its terminal `tty`) that the worker ended, after its screen was kept for
/// the log: a TUI may exit leaving its last screen up (one refused at its trust dialog), and
/// whoever looks at the pane, a person or `vnx deny` making sure its key was taken, sees it.
fn say_it_ended(tty: std::os::fd::BorrowedFd<'_>, exit: &std::process::ExitStatus) {
    let said = match exit.code() {
        Some(code) => format!("\r\nvnx: the worker exited with status {code}\r\n"),
        None => "\r\nvnx: the worker ended\r\n".to_owned(),
    };
    let _ = rustix::io::write(tty, said.as_bytes());
}

/// Files under a directory (not following links).
fn count_files(dir: &std::path::Path) -> u64 {
    fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => count_files(&e.path()),
                _ => 1,
            })
            .sum()
    })
}
