//! One worker run: started in its own process group in the worktree (headless or in the
//! pane's terminal), watched for the report, end-of-turn hooks, the deadline, cancellation
//! and stalls, and stopped (TERM, grace, KILL).

use std::fs;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::dispatch::supervise::announce::Recorder;
use crate::dispatch::supervise::live::Live;
use crate::dispatch::supervise::outcome::{self, Ended, StopCause};
use crate::dispatch::supervise::signals::{self, HookSignal, ReportFile, SignalReader};
use crate::dispatch::{DispatchError, Spec, io_err};
use crate::process::{self, Cmd, Group, Stopped};
use crate::provider::dialog::Dialog;
use crate::provider::hooks::HookKind;
use crate::provider::{Lane, PromptTransport, cli, invocation};
use crate::sandbox::ShapeExt;
use crate::tmux::Tmux;

use super::{GRACE, LATE_REPORT, SETTLE_AFTER_REPORT, SETTLE_WITHOUT_HOOK, Surroundings, TICK};
use super::{relay_dir, worker_argv, worktree_env};
use crate::dispatch::supervise::output::{Activity, copy_output};

/// What one worker run is given: the prompt, the deadline and the report seal.
pub(super) struct Job<'a> {
    pub(super) prompt: &'a str,
    pub(super) deadline: Instant,
    pub(super) seal: &'a str,
}

/// Starts the worker and waits for it to end one way or another.
pub(super) fn run_worker(
    spec: &Spec,
    around: &Surroundings<'_>,
    job: &Job<'_>,
    log: &mut fs::File,
    ended: &mut Ended,
    screen: &mut Option<String>,
    recorder: &mut Recorder<'_>,
) -> Result<(), DispatchError> {
    let (prompt, deadline, seal) = (job.prompt, job.deadline, job.seal);
    let interactive = spec.lane == Lane::Interactive;
    let argv: Vec<std::ffi::OsString> = worker_argv(spec, prompt)
        .into_iter()
        .map(Into::into)
        .collect();
    // A sandboxed worker is bwrap's child: the same argv, environment and directory inside;
    // without a network, `vnx __relay` inside carries the listed loopback ports to this
    // machine's.
    let argv = match &spec.sandbox {
        Some(shape) if shape.relays() => {
            let dir = relay_dir(spec);
            if let Err(e) = crate::sandbox::relay::serve_outside(&dir, &shape.loopback) {
                let _ = writeln!(log, "vnx: could not relay loopback ports: {e}");
            }
            let mut relayed: Vec<std::ffi::OsString> = vec![
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
    };
    let bin = spec.dispatch_dir.join("bin");
    let mut path = bin.into_os_string();
    if let Some(p) = &around.path {
        path.push(":");
        path.push(p);
    }
    // The worker's temporary files stay in the dispatch (a CLI may drop error reports in the
    // temp dir) and go with its end.
    let tmp = spec.dispatch_dir.join("tmp");
    crate::files::private_dir(&tmp).map_err(io_err(&tmp))?;
    let mut cmd = Cmd::new(&argv[0])
        .args(&argv[1..])
        .cwd(&spec.worktree)
        .env(signals::SEAL_VAR, seal)
        .env("TMPDIR", &tmp)
        .env("PATH", path);
    for (k, v) in worktree_env(spec) {
        cmd = cmd.env(k, v);
    }
    for (k, v) in &spec.invocation.env {
        cmd = cmd.env(k, v);
    }
    let prompt_path = spec.dispatch_dir.join("prompt.md");
    let stdin = if spec.invocation.prompt_transport == PromptTransport::Stdin {
        Some(fs::File::open(&prompt_path).map_err(io_err(&prompt_path))?)
    } else {
        None
    };
    let spawned = if interactive && around.tty.is_some() {
        Group::spawn_in_terminal(&cmd)
    } else {
        Group::spawn(&cmd, |c| {
            if !interactive {
                c.stdin(stdin.map_or_else(Stdio::null, Stdio::from))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
            }
        })
    };
    let mut group = match spawned {
        Ok(g) => g,
        Err(e) => {
            let _ = writeln!(log, "vnx: {e}");
            ended.spawn_error = Some(e.to_string());
            return Ok(());
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
    let mut reader = SignalReader::default();
    let mut live = Live::new(
        &spec.id,
        format!("vnx attach {}", spec.id),
        spec.stall_after_secs.map(Duration::from_secs),
        Instant::now(),
    );
    let mut activity = Activity::default();
    // A TUI whose permission dialog no hook of its signals: its screen is watched for the
    // dialog's line, once a second.
    let screen_dialog = screen_dialog(spec).filter(|_| interactive);
    // A TUI that asks first (whether to trust the folder, to accept its posture): its screen
    // is watched for those dialogs until the worker's hooks speak (it is past them then).
    let mut start_dialogs = if interactive {
        start_dialogs(spec)
    } else {
        Vec::new()
    };
    let mut screen_seen: Option<Instant> = None;
    // A TUI whose end of turn no hook of its signals, but its session records: the session
    // is looked at once a second.
    let session_turns = session_turns(spec, std::time::SystemTime::now()).filter(|_| interactive);
    let mut session_seen: Option<Instant> = None;
    let mut session_found: Option<std::path::PathBuf> = None;
    let mut reported_seen = false;
    let mut accepted_threads: Vec<String> = Vec::new();
    let mut settle_until: Option<Instant> = None;
    let initial = initial_prompt(spec, prompt);
    let wait_err = |e| io_err(&spec.worktree)(e);
    let exit = loop {
        if let Some(status) = group.wait_until(Instant::now() + TICK).map_err(wait_err)? {
            let _ = group.stop(Duration::ZERO);
            break status;
        }
        let now = Instant::now();
        if activity.changed(copy.as_ref(), &tmux, around.tmux_pane.as_deref(), now)
            && let Some(change) = live.on_activity("output", now)
        {
            recorder.change(&change, log);
        }
        if let Some(change) = live.tick(now) {
            recorder.change(&change, log);
        }
        if interactive {
            let signals = reader.poll(&spec.dispatch_dir);
            if !signals.is_empty() && !live.blocked_by_screen() {
                start_dialogs.clear();
            }
            for signal in signals {
                if ended.hook_session.is_none() {
                    ended.hook_session = outcome::hook_session(&signal, false);
                }
                let turn_end = ends_turn(
                    &spec.invocation.hooks,
                    &signal,
                    &initial,
                    &mut accepted_threads,
                );
                // The end of a turn of another thread of the worker's (its title's) says
                // nothing of the dispatch's: a dialog the worker shows still stands.
                if turn_end || !spec.invocation.hooks.ends_turn(&signal.event) {
                    for change in live.on_signal(&signal, Instant::now()) {
                        recorder.change(&change, log);
                    }
                }
                if turn_end && ended.turn_end.is_none() {
                    ended.turn_end = Some(signal);
                }
            }
            let watched = screen_dialog.is_some() || !start_dialogs.is_empty();
            if let (true, Some(pane)) = (watched, around.tmux_pane.as_deref())
                && screen_seen.is_none_or(|at| at.elapsed() >= SCREEN_EVERY)
            {
                screen_seen = Some(Instant::now());
                if let Ok(screen) = tmux.capture_pane(pane) {
                    let seen = screen_dialog
                        .iter()
                        .chain(&start_dialogs)
                        .find_map(|d| d.seen(&screen));
                    let seen = seen
                        .as_ref()
                        .map(|s| (s.lines.as_str(), (s.target.clone(), s.command.clone())));
                    for change in live.on_dialog(seen, Instant::now()) {
                        recorder.change(&change, log);
                    }
                }
            }
            if let Some((wanted, name)) = &session_turns
                && ended.turn_end.is_none()
                && session_seen.is_none_or(|at| at.elapsed() >= SCREEN_EVERY)
            {
                session_seen = Some(Instant::now());
                // Looked for until found; then only that session is read.
                if session_found.is_none() {
                    session_found = wanted.find();
                }
                if session_found.as_deref().is_some_and(|found| {
                    wanted
                        .cli
                        .module()
                        .is_some_and(|m| m.session_turn_ended(found, wanted.since))
                }) {
                    ended.turn_end = Some(HookSignal {
                        event: (*name).to_owned(),
                        received_at: jiff::Timestamp::now().to_string(),
                        payload: serde_json::Value::Null,
                    });
                }
            }
            let reported = matches!(
                signals::read_report(&spec.dispatch_dir, &spec.id, seal),
                ReportFile::Accepted(_)
            );
            if reported && !reported_seen {
                reported_seen = true;
                // The worker reported: whatever it waited for, it is past it.
                if let Some(change) = live.went_on("report", Instant::now()) {
                    recorder.change(&change, log);
                }
            }
            let settle = match (reported, &ended.turn_end) {
                (true, Some(_)) => Some(Duration::ZERO),
                (true, None) if spec.invocation.hooks == HookKind::NONE => {
                    Some(SETTLE_WITHOUT_HOOK)
                }
                (true, None) => Some(SETTLE_AFTER_REPORT),
                (false, Some(_)) => Some(LATE_REPORT),
                (false, None) => None,
            };
            if let Some(settle) = settle {
                let until = *settle_until.get_or_insert(Instant::now() + settle);
                if Instant::now() >= until || settle.is_zero() {
                    *screen = capture();
                    let why = "the worker completed; vnx closed its session".to_owned();
                    ended.stopped = Some((StopCause::Completed, why));
                    break stop(&mut group).map_err(wait_err)?.0;
                }
            }
        }
        let cause = if let Some(asked) = super::stop_asked(spec, around) {
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
        };
        if let Some((cause, what)) = cause {
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
        if let (Some(tty), Some(group)) = (around.tty, process::own_process_group()) {
            let _ = process::set_foreground(tty, group);
        }
        if screen.is_none() {
            *screen = capture();
        }
        // Said in the pane, after its screen was kept for the log: a TUI may exit leaving
        // its last screen up (one refused at its trust dialog), and whoever looks at the
        // pane, a person or `vnx deny` making sure its key was taken, sees that it ended.
        if let Some(tty) = around.tty {
            let said = match exit.code() {
                Some(code) => format!("\r\nvnx: the worker exited with status {code}\r\n"),
                None => "\r\nvnx: the worker ended\r\n".to_owned(),
            };
            let _ = rustix::io::write(tty, said.as_bytes());
        }
    }
    if let Some(copy) = copy {
        ended.stream = copy.finish();
    }
    ended.exit = Some(exit);
    ended.temp_files = count_files(&tmp);
    let _ = fs::remove_dir_all(&tmp);
    Ok(())
}

/// How often a TUI's screen is looked at for its permission dialog.
const SCREEN_EVERY: Duration = Duration::from_secs(1);

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
    if cli.hook_events().is_empty() {
        Dialog::of_cli(cli).filter(Dialog::findable)
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
    use crate::provider::session;
    let cli = session::Cli::of(&spec.provider)?;
    let module = cli.module()?;
    if !module.hook_events().is_empty() {
        return None;
    }
    let name = module.turn_end_signal()?;
    let wanted = session::Wanted {
        cli,
        homes: spec.session_homes.clone()?,
        cwd: spec.worktree.clone(),
        since,
        session_id: spec.session_id.clone(),
    };
    Some((wanted, name))
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

fn stop(group: &mut Group) -> std::io::Result<(std::process::ExitStatus, &'static str)> {
    Ok(match group.stop(GRACE)? {
        Stopped::Terminated(s) => (s, "stopped with SIGTERM"),
        Stopped::Killed(s) => (s, "ignored SIGTERM; killed with SIGKILL"),
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
        cli::of_hook_event(&signal.event).and_then(|c| c.turn_thread(&signal.payload, initial))
    else {
        return true;
    };
    if thread.prompted && !threads.contains(&thread.id) {
        threads.push(thread.id.clone());
    }
    threads.contains(&thread.id)
}
