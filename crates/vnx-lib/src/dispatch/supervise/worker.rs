//! One worker run: started in its own process group in the worktree (headless or in the
//! pane's terminal), watched for the report, end-of-turn hooks, the deadline, cancellation
//! and stalls, and stopped (TERM, grace, KILL).

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::dispatch::supervise::announce::Recorder;
use crate::dispatch::supervise::background::Left;
use crate::dispatch::supervise::facts::EndOfRun;
use crate::dispatch::supervise::live::Live;
use crate::dispatch::supervise::outcome::{Ended, StopCause};
use crate::dispatch::supervise::signals::{self};
use crate::dispatch::supervise::tui_watch::TuiWatch;
use crate::dispatch::supervise::{background, budget, left};
use crate::dispatch::{DispatchError, Spec, io_err};
use crate::process::{self, Cmd, Group, Stopped};
use crate::provider::{Lane, PromptTransport};
use crate::sandbox::ShapeExt;
use crate::tmux::Tmux;

use super::{GRACE, Surroundings, TICK};
use super::{relay_dir, worker_argv, worktree_env};
use crate::dispatch::supervise::output::{Activity, copy_output};

/// What one worker run is given: the prompt, the deadline and the report seal.
pub(super) struct Job<'a> {
    pub(super) prompt: &'a str,
    pub(super) deadline: Instant,
    pub(super) seal: &'a str,
    /// When the dispatch started: the session file's usage counts from then.
    pub(super) since: std::time::SystemTime,
}

/// Starts the worker and waits for it to end one way or another; what the end of its run
/// says of its usage, once it ran.
pub(super) fn run_worker(
    spec: &Spec,
    around: &Surroundings<'_>,
    job: &Job<'_>,
    log: &mut fs::File,
    ended: &mut Ended,
    screen: &mut Option<String>,
    recorder: &mut Recorder<'_>,
) -> Result<Option<EndOfRun>, DispatchError> {
    let (prompt, deadline, seal) = (job.prompt, job.deadline, job.seal);
    let interactive = spec.lane == Lane::Interactive;
    let argv = wrapped_argv(spec, prompt, log);
    // The worker's temporary files stay in the dispatch (a CLI may drop error reports in the
    // temp dir) and go with its end.
    let tmp = spec.dispatch_dir.join("tmp");
    crate::files::private_dir(&tmp).map_err(io_err(&tmp))?;
    let cmd = worker_cmd(spec, around, seal, &argv, &tmp);
    let mut group = match spawn(spec, around, &cmd)? {
        Ok(g) => g,
        Err(e) => {
            let _ = writeln!(log, "vnx: {e}");
            ended.spawn_error = Some(e.to_string());
            return Ok(None);
        }
    };
    if interactive && let Some(tty) = around.tty {
        // Hand the terminal to the TUI; it may already have been stopped reading it.
        let _ = process::set_foreground(tty, group.pid());
        let _ = group.resume();
    }
    let copy = (!interactive).then(|| copy_output(&mut group, log, around.pane, spec));
    let tmux = Tmux::new(spec.tmux_socket.clone());
    let capture = || {
        around
            .tmux_pane
            .as_deref()
            .and_then(|p| tmux.capture_history(p).ok())
    };
    let mut live = Live::new(
        &spec.id,
        format!("vnx attach {}", spec.id),
        spec.stall_after_secs.map(Duration::from_secs),
        Instant::now(),
    );
    let mut activity = Activity::default();
    let mut changes = super::changes::ChangesWatch::new(Instant::now());
    // What marks the worker's processes, and when its CLI started (ADR 0099).
    let marks = left::Marks::of_worker(spec.id.as_str(), group.pid());
    let mut watch =
        interactive.then(|| TuiWatch::new(spec, prompt, (group.pid(), &marks, deadline)));
    let mut watch_budget = budget::Watch::new(spec, job.since);
    let mut waits = background::Background::default();
    let wait_err = |e| io_err(&spec.worktree)(e);
    let mut exited = false;
    // A sandboxed headless CLI's PID namespace ends with it: what it left is looked for
    // while it runs (ADR 0099).
    let mut sandboxed =
        (!interactive && spec.sandbox.is_some()).then(|| background::Sandboxed::new(marks.clone()));
    let exit = loop {
        if let Some(status) = group.wait_until(Instant::now() + TICK).map_err(wait_err)? {
            // A headless CLI's group is stopped once what it left running was waited for.
            if interactive {
                let _ = group.stop(Duration::ZERO);
            }
            exited = true;
            break status;
        }
        let now = Instant::now();
        let active = activity.changed(copy.as_ref(), &tmux, around.tmux_pane.as_deref(), now);
        if active && let Some(change) = live.on_activity("output", now) {
            recorder.change(&change, log);
        }
        changes.tick(spec, now, active);
        if let Some(sandboxed) = &mut sandboxed {
            sandboxed.tick(group.pid(), now);
        }
        if let Some(change) = live.tick(now) {
            recorder.change(&change, log);
        }
        let tokens = copy.as_ref().map(|c| &c.tokens);
        let held = (&mut group, tokens);
        if let Some((status, why)) =
            budget::on_tick(spec, watch_budget.as_mut(), held, recorder, log).map_err(wait_err)?
        {
            if interactive {
                *screen = capture();
            }
            ended.stopped = Some((StopCause::Budget, why));
            break status;
        }
        for change in background::stream_tick(&mut waits, &spec.id, tokens, &mut live, now) {
            recorder.change(&change, log);
        }
        if let Some(watch) = &mut watch {
            let pane = around.tmux_pane.as_deref();
            if watch.tick(spec, seal, (&tmux, pane), &mut live, recorder, log, ended) {
                *screen = capture();
                let why = "the worker completed; vnx closed its session".to_owned();
                ended.stopped = Some((StopCause::Completed, why));
                break stop(&mut group).map_err(wait_err)?.0;
            }
        }
        if let Some((cause, what)) = stop_cause(spec, around, deadline) {
            if interactive {
                *screen = capture();
            }
            let (status, how) = stop(&mut group).map_err(wait_err)?;
            let why = match cause {
                StopCause::Deadline => {
                    format!("deadline of {} s passed; {how}", spec.deadline_secs)
                }
                _ => format!("{what}; {how}"),
            };
            ended.stopped = Some((cause, why));
            break status;
        }
    };
    if interactive {
        hand_back_terminal(around, screen, &capture, &exit);
    }
    // A headless CLI that exited by itself: a wait its stream said is over, and what it
    // left running is waited for (ADR 0099).
    let left = if !interactive && exited {
        let mut watched = (&mut waits, &mut live, sandboxed.as_ref());
        await_left(
            (spec, &marks),
            around,
            deadline,
            &mut watched,
            (recorder, log),
            ended,
        )
    } else {
        Left::Ended { waited: false }
    };
    let _ = group.stop(Duration::ZERO);
    // Nothing the worker left outlives its dispatch (after the wait above, already so).
    sweep(&marks, log, interactive || !exited);
    let tokens = copy.as_ref().map(|c| c.tokens.clone());
    if let Some(copy) = copy {
        ended.stream = copy.finish();
    }
    reconcile(&mut ended.stream, left);
    let held = (watch_budget.as_mut(), tokens.as_ref());
    let end = held_at_end(spec, held, job.since, ended, (recorder, log));
    ended.exit = Some(exit);
    ended.temp_files = count_files(&tmp);
    let _ = fs::remove_dir_all(&tmp);
    Ok(Some(end))
}

/// Why the supervisor stops the worker now, if it does: it was told to (cancelled or
/// interrupted), or the deadline passed; with what to say of it.
fn stop_cause(
    spec: &Spec,
    around: &Surroundings<'_>,
    deadline: Instant,
) -> Option<(StopCause, &'static str)> {
    if let Some(asked) = super::stop_asked(spec, around) {
        Some(match asked {
            StopCause::Cancel => (asked, "the supervisor was told to stop (`vnx cancel`)"),
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
/// the dispatch is cancelled (then `ended` says why it stopped). In a sandbox none is left
/// (its PID namespace ended with the CLI): what `sandboxed` saw it leave ended unfinished.
fn await_left(
    (spec, marks): (&Spec, &left::Marks),
    around: &Surroundings<'_>,
    deadline: Instant,
    (waits, live, sandboxed): &mut (
        &mut background::Background,
        &mut Live,
        Option<&background::Sandboxed>,
    ),
    (recorder, log): (&mut Recorder<'_>, &mut fs::File),
    ended: &mut Ended,
) -> Left {
    if let Some(change) = background::stream_ended(waits, &spec.id, Instant::now()) {
        recorder.change(&change, log);
    }
    loop {
        let now = Instant::now();
        let asked = super::stop_asked(spec, around);
        let give_up = asked.is_some() || now >= deadline;
        let limit = background::left_wait(spec);
        let (state, change) = waits.left_poll(&spec.id, (marks, None), (give_up, limit), now);
        if let Some(change) = change {
            recorder.change(&change, log);
        }
        match state {
            Left::Running => {
                if let Some(change) = live.on_activity("background", now) {
                    recorder.change(&change, log);
                }
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
                ended.stopped = asked.map(|cause| (cause, why));
                return Left::Stopped(tasks);
            }
            // None is left: in a sandbox, what it left ended with it.
            Left::Ended { waited: false } => {
                let tasks = (*sandboxed).map(background::Sandboxed::ended);
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
    ended: &mut Ended,
    (recorder, log): (&mut Recorder<'_>, &mut fs::File),
) -> EndOfRun {
    let mut end = EndOfRun::read(spec, ended, since);
    let Some(watch) = watch else {
        return end;
    };
    let by_itself = matches!(ended.stopped, None | Some((StopCause::Completed, _)));
    let said = (end.usage(), end.stream.cost_usd);
    if by_itself && let Some(why) = budget::at_end(spec, watch, (tokens, said), recorder, log) {
        ended.stopped = Some((StopCause::Budget, why));
    }
    (end.live_skipped, end.tampering) = watch.said();
    end
}

/// The worker's argv as it is run: its CLI's (`worker_argv`), inside bubblewrap when
/// sandboxed (bwrap's child gets the same argv, environment and directory); without a
/// network, `vnx __relay` inside carries the listed loopback ports to this machine's.
fn wrapped_argv(spec: &Spec, prompt: &str, log: &mut fs::File) -> Vec<OsString> {
    let argv: Vec<OsString> = worker_argv(spec, prompt)
        .into_iter()
        .map(Into::into)
        .collect();
    match &spec.sandbox {
        Some(shape) if shape.relays() => {
            let dir = relay_dir(spec);
            if let Err(e) = crate::sandbox::relay::serve_outside(&dir, &shape.loopback) {
                let _ = writeln!(log, "vnx: could not relay loopback ports: {e}");
            }
            let mut relayed: Vec<OsString> = vec![
                spec.vnx.clone().into(),
                "__relay".into(),
                "--dir".into(),
                dir.into(),
            ];
            for port in &shape.loopback {
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

pub(super) fn stop(group: &mut Group) -> std::io::Result<(std::process::ExitStatus, &'static str)> {
    Ok(match group.stop(GRACE)? {
        Stopped::Terminated(s) => (s, "stopped with SIGTERM"),
        Stopped::Killed(s) => (s, "ignored SIGTERM; killed with SIGKILL"),
    })
}
