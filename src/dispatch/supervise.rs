//! The supervisor's work inside a dispatch's tmux pane: wait for a concurrency slot, start
//! the worker in its own process group in the worktree (headless: output piped to the pane,
//! `worker.log` and the event parser; interactive: the pane's terminal handed to the TUI),
//! watch for the report, end-of-turn hooks, the deadline and cancellation, stop the worker
//! (TERM, grace, KILL), then classify and release the worktree and append
//! `dispatch_completed` (with the phantom guard's correction, if it fires).

use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::live::Live;
use super::outcome::{self, Ended, StopCause};
use super::record::Recorder;
use super::signals::{self, HookSignal, ReportFile, SignalReader};
use super::{DispatchError, Spec, io_err, slots};
use crate::ledger::attest::Attestor;
use crate::ledger::json;
use crate::ledger::{Ledger, now_utc};
use crate::process::{self, Cmd, Group, Stopped};
use crate::provider::events::{EventParser, StreamSummary};
use crate::provider::hooks::HookKind;
use crate::provider::{Lane, PromptTransport, invocation};
use crate::receipts::{
    self, CheckoutChange, CompletionSignal, DispatchCompleted, DispatchStatus, TeardownAction,
};
use crate::sandbox::{QuarantineExt, ShapeExt};
use crate::tmux::Tmux;
use crate::worktree::{CommitNote, Repo, TeardownClass, Worktree};

/// An error and its causes on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// Time a worker gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);
/// After a report, how long an interactive worker may take to finish its turn.
pub const SETTLE_AFTER_REPORT: Duration = Duration::from_secs(10);
/// After a report, when no hook will say the turn ended, how long the TUI gets to finish.
pub const SETTLE_WITHOUT_HOOK: Duration = Duration::from_secs(2);
/// After a turn ends without a report, how long a late report is waited for.
pub const LATE_REPORT: Duration = Duration::from_secs(1);
const TICK: Duration = Duration::from_millis(100);

/// Where the worker's output goes besides its log: the pane (the supervisor's stdout).
pub type Pane = Arc<Mutex<dyn Write + Send>>;

/// What the supervisor is given by the command line.
pub struct Surroundings<'a> {
    /// The pane, for a headless worker's output.
    pub pane: &'a Pane,
    /// Set on SIGHUP, SIGTERM or SIGINT: stop the worker and record `cancelled`.
    pub cancel: &'a AtomicBool,
    /// The `PATH` to give the worker (the dispatch's `bin/` is put first).
    pub path: Option<OsString>,
    /// The pane's terminal, for an interactive worker.
    pub tty: Option<std::os::fd::BorrowedFd<'a>>,
    /// The pane's tmux id (`%N`), to save an interactive worker's screen to the log.
    pub tmux_pane: Option<String>,
    /// Signs the completion.
    pub attestor: &'a Attestor,
    /// The entry hash of the dispatch's `dispatch_started`, for the `started` notification.
    pub started_hash: Option<String>,
}

/// How a worker ended.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Outcome {
    /// How the dispatch ended (after the phantom guard).
    pub status: DispatchStatus,
    /// What that was decided from.
    pub completion_signal: CompletionSignal,
    /// The worker's exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended the worker, when one did.
    pub signal: Option<i32>,
    /// How long it ran, in seconds.
    pub duration_seconds: f64,
    /// What teardown found, when it could classify the worktree.
    pub teardown_class: Option<TeardownClass>,
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

/// Where a sandbox without a network finds its relayed loopback ports (a directory the worker
/// can only read).
fn relay_dir(spec: &Spec) -> std::path::PathBuf {
    spec.repo_root
        .join(crate::project::DATA_DIR)
        .join("relay")
        .join(&spec.id)
}

/// What setup and teardown commands, and the worker, see of the dispatch: its id, directory
/// and worktree, and its port when it has one.
fn worktree_env(spec: &Spec) -> Vec<(String, String)> {
    let mut env = vec![
        ("VNX_DISPATCH_ID".to_owned(), spec.id.clone()),
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

/// Runs the whole dispatch. See the module documentation.
pub fn supervise(spec: &Spec, around: &Surroundings<'_>) -> Result<Outcome, DispatchError> {
    let started = Instant::now();
    // The spec is read back from disk: never trust its deadline not to overflow.
    let deadline = started
        .checked_add(Duration::from_secs(
            spec.deadline_secs.min(super::MAX_DEADLINE_SECS),
        ))
        .unwrap_or(started);
    let repo = Repo::from_parts(spec.repo_root.clone(), spec.git_common_dir.clone());
    // Isolation is checked, not assumed: the main checkout before and after the worker.
    let main_before = repo.checkout_state().ok();
    let prompt_path = spec.dispatch_dir.join("prompt.md");
    let prompt = fs::read_to_string(&prompt_path).map_err(io_err(&prompt_path))?;
    let log_path = spec.dispatch_dir.join("worker.log");
    let mut log = {
        use std::os::unix::fs::OpenOptionsExt;
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&log_path)
            .map_err(io_err(&log_path))?
    };
    // Binds the worker's report to this dispatch; in memory and the worker's environment, and
    // made again from the signing key by `vnx recover` if this supervisor dies.
    let seal = signals::seal_for(around.attestor, &spec.id);
    let cancelled = || around.cancel.load(Ordering::Relaxed);
    let mut recorder = Recorder::new(
        &spec.id,
        Ledger::new(&spec.ledger),
        around.attestor,
        &spec.notify,
    );
    if let Some(hash) = &around.started_hash {
        recorder.notify("started", hash);
    }

    let mut ended = Ended {
        lane: spec.lane,
        completion: spec.invocation.completion,
        hooks: spec.invocation.hooks,
        exit: None,
        stopped: None,
        spawn_error: None,
        report: None,
        turn_end: None,
        hook_session: None,
        stream: StreamSummary::default(),
        temp_files: 0,
    };
    let mut slot_wait = None;
    let _slot = match spec.slot_limit {
        None => None,
        Some(limit) => {
            let slots_dir = spec.repo_root.join(crate::project::DATA_DIR).join("slots");
            let give_up = || cancelled() || Instant::now() >= deadline;
            match slots::acquire(&slots_dir, &spec.provider, limit, give_up)
                .map_err(io_err(&slots_dir))?
            {
                Some((slot, waited)) => {
                    slot_wait = Some(waited);
                    Some(slot)
                }
                None => {
                    let why = format!(
                        "no {} slot (limit {limit}) came free in {:.0} s",
                        spec.provider,
                        started.elapsed().as_secs_f64()
                    );
                    let cause = if cancelled() {
                        StopCause::Cancel
                    } else {
                        StopCause::Deadline
                    };
                    ended.stopped = Some((cause, why));
                    None
                }
            }
        }
    };
    // The project's setup commands, in the worktree, before the worker.
    let hook_env = worktree_env(spec);
    let mut worktree_commands = Vec::new();
    if ended.stopped.is_none() && !spec.worktree_setup.is_empty() {
        let (ran, failure) = super::setup::run(
            "setup",
            &spec.worktree_setup,
            &spec.worktree,
            &hook_env,
            deadline,
            true,
            &mut log,
        );
        worktree_commands = ran;
        ended.spawn_error = failure.map(|f| format!("{f}; the worker did not start"));
    }
    let mut screen = None;
    if ended.stopped.is_none() && ended.spawn_error.is_none() {
        let job = Job {
            prompt: &prompt,
            deadline,
            seal: &seal,
        };
        run_worker(
            spec,
            around,
            &job,
            &mut log,
            &mut ended,
            &mut screen,
            &mut recorder,
        )?;
    }
    // Teardown commands after the worker (stop what setup started), before classification;
    // given a minute of their own past the deadline, which may have passed.
    if !spec.worktree_teardown.is_empty() {
        let (ran, _) = super::setup::run(
            "teardown",
            &spec.worktree_teardown,
            &spec.worktree,
            &hook_env,
            deadline.max(Instant::now() + Duration::from_secs(60)),
            false,
            &mut log,
        );
        worktree_commands.extend(ran);
    }
    let mut report_rejected = None;
    match signals::read_report(&spec.dispatch_dir, &spec.id, &seal) {
        ReportFile::Accepted(r) => ended.report = Some(r),
        ReportFile::Rejected(why) => report_rejected = Some(why),
        ReportFile::Missing => {}
    }
    if let Some(text) = screen {
        let _ = writeln!(log, "{text}");
    }
    let duration = started.elapsed().as_secs_f64();
    let decision = outcome::decide(&ended);

    use std::os::unix::process::ExitStatusExt;
    let exit_code = ended.exit.and_then(|s| s.code());
    let exit_signal = ended.exit.and_then(|s| s.signal());
    let mut stream = ended.stream.clone();
    if let Some(turn) = &ended.turn_end {
        stream.session_id = stream.session_id.or_else(|| outcome::hook_session(turn));
        stream.last_message = stream.last_message.or_else(|| outcome::hook_message(turn));
    }
    stream.session_id = stream.session_id.or_else(|| ended.hook_session.clone());
    let mut completed = DispatchCompleted {
        dispatch_id: spec.id.clone(),
        status: decision.status,
        completion_signal: decision.signal,
        lane: Some(spec.lane),
        duration_seconds: Some(receipts::seconds(duration)),
        worker_log: Some(log_path.to_string_lossy().into_owned()),
        exit_code,
        exit_signal,
        failure_reason: decision.reason.clone(),
        temp_files_removed: (ended.temp_files > 0).then_some(ended.temp_files),
        slot_wait_seconds: slot_wait.map(|w| receipts::seconds(w.as_secs_f64())),
        report: ended.report.clone(),
        report_rejected,
        session_id: stream.session_id.clone(),
        token_usage: stream.usage.clone(),
        cli_events: (!stream.is_empty()).then_some(stream),
        worktree_commands,
        ..Default::default()
    };
    if let (Some(before), Ok(after)) = (&main_before, repo.checkout_state()) {
        let changed = *before != after;
        completed.main_checkout_changed = Some(changed);
        if changed {
            completed.main_checkout = Some(CheckoutChange {
                head_before: before.head.clone(),
                head_after: after.head.clone(),
                changed_before: before.changed.clone(),
                changed_after: after.changed.clone(),
            });
        }
    }
    let concluded = conclude(spec, &repo, completed, around.attestor)?;
    // "done" only for a done that stands: the phantom guard's correction is the last line.
    if let Some(last) = concluded.appended.lines.last() {
        recorder.notify(concluded.status.name(), &last.entry_hash);
    }
    recorder.finish();
    // With the end on the ledger, the worktree given back to the pool is proven clean (or
    // removed), so the next dispatch can take it; the slower tidying is [`after_completion`].
    if let (Some(pool), Some(name)) = (super::launch::pool_of(&repo, spec), &concluded.pooled) {
        pool.prove_entry(name);
    }
    Ok(Outcome {
        status: concluded.status,
        completion_signal: decision.signal,
        exit_code,
        signal: exit_signal,
        duration_seconds: duration,
        teardown_class: concluded.class,
    })
}

/// What became of a dispatch's end once [`conclude`] recorded it.
pub(super) struct Concluded {
    /// How the dispatch ended (after the phantom guard).
    pub status: DispatchStatus,
    /// What teardown found, when it could classify the worktree.
    pub class: Option<TeardownClass>,
    /// The completion's lines on the ledger.
    pub appended: crate::ledger::AppendOutcome,
    /// The pool entry the worktree went back to.
    pub pooled: Option<String>,
}

/// The end of a dispatch whose `completed` receipt is drawn up (by its supervisor, or by
/// `vnx recover` after the supervisor died): a done worker's changes committed, its
/// commits imported from a sandbox's quarantine, the worktree classified and released, the
/// phantom guard applied, and the signed completion kept on disk and appended.
pub(super) fn conclude(
    spec: &Spec,
    repo: &Repo,
    mut completed: DispatchCompleted,
    attestor: &Attestor,
) -> Result<Concluded, DispatchError> {
    let session_id = completed.session_id.clone();
    let summary = completed.report.as_ref().and_then(|r| r.summary.clone());
    let note = CommitNote {
        dispatch_id: &spec.id,
        provider: &spec.provider,
        model: spec.model.as_deref(),
        session_id: session_id.as_deref(),
        summary: summary.as_deref(),
    };
    let commit = (completed.status == DispatchStatus::Done).then_some(&note);
    let mut pooled = None;
    // The supervisor started in the worktree: it leaves it before teardown moves it (a
    // pooled checkout some process still works in is never lent again).
    let _ = std::env::set_current_dir(&spec.repo_root);
    let _ = fs::remove_dir_all(relay_dir(spec));
    // A sandboxed worker's commits wait in its quarantine until git has checked them; if they
    // cannot be brought in, the worktree and the quarantine stay as they are.
    let imported = match spec.sandbox.as_ref().and_then(|s| s.git.as_ref()) {
        Some(q) => q.import(&spec.repo_root).map(|_| ()).map_err(|e| {
            completed.teardown_error = Some(format!(
                "{} (kept: the worktree and {})",
                error_chain(&e),
                q.dir.display()
            ));
        }),
        None => Ok(()),
    };
    let class = match imported {
        Ok(()) => teardown(spec, repo, commit, &mut completed, &mut pooled),
        Err(()) => None,
    };
    if completed.status == DispatchStatus::Done
        && class != Some(TeardownClass::Clean)
        && class != Some(TeardownClass::Committed)
        && class != Some(TeardownClass::Pushed)
    {
        // Done means the work is on the branch: anything less is not a success.
        completed.status = DispatchStatus::Failed;
        let why = completed
            .vnx_commit_error
            .clone()
            .or_else(|| completed.teardown_reason.clone())
            .or_else(|| completed.teardown_error.clone())
            .unwrap_or_else(|| "the worktree could not be classified".into());
        completed.failure_reason = Some(format!(
            "the worker reported done, but its work is not committed: {why}"
        ));
    }
    completed
        .shed_until(|c| json::to_canonical(&receipts::value::to_value(c)).len() <= MAX_COMPLETION);
    // The phantom guard's correction goes in the same group commit as the completion.
    let corrected = super::phantom::correction(spec.writes, &completed);
    let status = match &corrected {
        Some(c) => c.status,
        None => completed.status,
    };
    let mut receipts = vec![receipts::write(&completed)];
    receipts.extend(corrected.as_ref().map(receipts::write));
    let receipts: Vec<_> = receipts
        .iter()
        .map(|r| attestor.attest(r, &now_utc))
        .collect();
    let appended = keep_and_append(spec, &receipts)?;
    // The port goes back once the end is on the ledger.
    if let Some(port) = spec.port {
        let data_dir = spec.repo_root.join(crate::project::DATA_DIR);
        super::ports::release(&data_dir, port, &spec.id);
    }
    Ok(Concluded {
        status,
        class,
        appended,
        pooled,
    })
}

/// How long a completion that could not even be kept on disk is offered to the ledger
/// again, at the least: losing it is worse than a pane that waits for space.
const UNKEPT_RETRY: Duration = Duration::from_secs(600);

/// Keeps the signed completion on disk first (in the space its launch reserved), so a ledger
/// that cannot be written now loses nothing, and appends it, retrying with a doubling pause
/// (50 ms to 2 s) for `completion_retry_secs`; what is kept but not appended by then, any
/// later vnx command appends. Should even keeping fail (no reservation and a full disk),
/// both ways are tried again until one works or [`UNKEPT_RETRY`] has passed.
fn keep_and_append(
    spec: &Spec,
    receipts: &[crate::ledger::Receipt],
) -> Result<crate::ledger::AppendOutcome, DispatchError> {
    let ledger = Ledger::new(&spec.ledger);
    let data_dir = spec.repo_root.join(crate::project::DATA_DIR);
    let retry = Duration::from_secs(spec.completion_retry_secs.min(3600));
    let began = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        match super::pending::keep(&data_dir, &spec.id, receipts.to_vec()) {
            Ok(kept) => return Ok(kept.append(&ledger, retry)?),
            Err(_) => match ledger.append_all(receipts) {
                Ok(outcome) => {
                    super::pending::unreserve(&data_dir, &spec.id);
                    return Ok(outcome);
                }
                Err(e) if began.elapsed() + pause > retry.max(UNKEPT_RETRY) => {
                    return Err(e.into());
                }
                Err(_) => {}
            },
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// What a supervisor does once its dispatch's end is on the ledger and queued dispatches had
/// their chance to start, in the background of its pane: the worktree teardown moved aside
/// is deleted, and the pool is made whole again (a dispatch that kept its worktree, dirty,
/// took one for good).
pub fn after_completion(spec: &Spec) {
    let repo = Repo::from_parts(spec.repo_root.clone(), spec.git_common_dir.clone());
    repo.empty_trash();
    if let Some(pool) = super::launch::pool_of(&repo, spec) {
        let _ = pool.fill(&spec.base_commit);
    }
}

/// The most a completion receipt may take of the ledger's 1 MiB line limit.
const MAX_COMPLETION: usize = 512 * 1024;

/// Commits what a done worker left uncommitted (when `commit` says so), classifies and
/// releases the worktree, adding what happened to the receipt.
fn teardown(
    spec: &Spec,
    repo: &Repo,
    commit: Option<&CommitNote<'_>>,
    completed: &mut DispatchCompleted,
    pooled: &mut Option<String>,
) -> Option<TeardownClass> {
    let wt = Worktree {
        // The worktree is its branch's: a follow-up's teardown locks it in the name of the
        // chain's first dispatch, as `worktree-release` looks for.
        id: spec
            .continues
            .as_ref()
            .map_or_else(|| spec.id.clone(), |c| c.first.clone()),
        path: spec.worktree.clone(),
        branch: spec.branch.clone(),
        base_commit: spec.base_commit.clone(),
    };
    // vnx's own files go first: they are not the worker's work.
    let removed = super::workspace::remove(&spec.placed);
    if !spec.placed.is_empty() {
        completed.vnx_files_removed = Some(
            removed
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
        );
    }
    // One read of the working tree decides whether there is anything to commit, and, when
    // there is not, stands for the classification's and the diff statistics' reads too.
    let undirty = match wt.dirt() {
        Ok((None, head)) => Some(head),
        _ => None,
    };
    if let Some(note) = commit.filter(|_| undirty.is_none()) {
        // vnx's files and the copies `.worktreeinclude` made are never the worker's work,
        // even when the worker changed them or un-ignored them.
        // A placed file that is gone was removed above; if the worker committed it (`git
        // add -A` takes it), its removal goes into vnx's commit, so the branch holds none.
        let exclude: Vec<String> = spec
            .placed
            .iter()
            .filter(|p| p.path.symlink_metadata().is_ok())
            .filter_map(|p| p.path.strip_prefix(&spec.worktree).ok())
            .map(|p| p.to_string_lossy().into_owned())
            .chain(spec.included.iter().map(|i| i.path.clone()))
            .collect();
        match wt.commit_all(note, &exclude) {
            Ok(Some(c)) => completed.vnx_commit = Some(c),
            Ok(None) => {}
            Err(e) => completed.vnx_commit_error = Some(error_chain(&e)),
        }
    }
    let (stats, classified) = match undirty {
        Some(head) => (
            wt.diff_stats_undirty(),
            wt.classify_undirty(&spec.remote, head),
        ),
        None => (wt.diff_stats(), wt.classify(&spec.remote)),
    };
    completed.diff_stats = stats;
    match classified {
        Ok(c) => {
            let action = match super::launch::pool_of(repo, spec) {
                Some(pool) => repo.release_with_pool(&wt, &c, &pool, spec.pool_entry.as_deref()),
                None => repo.release_later(&wt, &c),
            };
            completed.teardown_class = Some(c.class);
            completed.teardown_reason = Some(c.reason.clone());
            completed.commits = Some(c.commits);
            completed.head_commit = c.head_commit.clone();
            match action {
                Ok(a) => {
                    completed.teardown_action = Some(TeardownAction {
                        worktree_removed: a.worktree_removed,
                        branch_deleted: a.branch_deleted,
                        locked: a.locked,
                        pooled: a.pooled.is_some(),
                    });
                    pooled.clone_from(&a.pooled);
                }
                Err(e) => completed.teardown_error = Some(e.to_string()),
            }
            Some(c.class)
        }
        Err(e) => {
            completed.teardown_error = Some(e.to_string());
            None
        }
    }
}

/// Starts the worker and waits for it to end one way or another.
/// What one worker run is given: the prompt, the deadline and the report seal.
struct Job<'a> {
    prompt: &'a str,
    deadline: Instant,
    seal: &'a str,
}

fn run_worker(
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
    // The worker's temporary files stay in the dispatch (gemini, for one, drops error reports
    // in the temp dir) and go with its end.
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
            for signal in reader.poll(&spec.dispatch_dir) {
                // codex's `notify` also names its title sub-thread: only its end-of-turn
                // signal (below) tells the dispatch's own thread.
                if signal.event != "codex-notify" && ended.hook_session.is_none() {
                    ended.hook_session = outcome::hook_session(&signal);
                }
                for change in live.on_signal(&signal, Instant::now()) {
                    recorder.change(&change, log);
                }
                if ends_turn(
                    spec.invocation.hooks,
                    &signal,
                    &initial,
                    &mut accepted_threads,
                ) && ended.turn_end.is_none()
                {
                    ended.turn_end = Some(signal);
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
                (true, None) if spec.invocation.hooks == HookKind::None => {
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
        let cause = if around.cancel.load(Ordering::Relaxed) {
            Some((StopCause::Cancel, "the supervisor was told to stop"))
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
    }
    if let Some(copy) = copy {
        ended.stream = copy.finish();
    }
    ended.exit = Some(exit);
    ended.temp_files = count_files(&tmp);
    let _ = fs::remove_dir_all(&tmp);
    Ok(())
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
/// codex's `notify` names it among the turn's input messages.
fn initial_prompt(spec: &Spec, prompt: &str) -> String {
    let file = spec.dispatch_dir.join("prompt.md");
    spec.invocation
        .argv
        .iter()
        .find(|a| a.contains(invocation::PROMPT) || a.contains(invocation::PROMPT_FILE))
        .map(|a| invocation::expand(a, prompt, &file.to_string_lossy()))
        .unwrap_or_default()
}

/// Whether a hook signal ends the dispatch's turn. Codex also notifies for its title
/// sub-thread: only the thread whose input was the dispatch's prompt counts.
fn ends_turn(
    kind: HookKind,
    signal: &HookSignal,
    initial: &str,
    threads: &mut Vec<String>,
) -> bool {
    if !kind.ends_turn(&signal.event) {
        return false;
    }
    if kind != HookKind::CodexNotify {
        return true;
    }
    let thread = signal
        .payload
        .get("thread-id")
        .and_then(|t| t.as_str())
        .unwrap_or_default()
        .to_owned();
    let ours = signal
        .payload
        .get("input-messages")
        .and_then(|m| m.as_array())
        .is_some_and(|m| m.iter().any(|m| m.as_str() == Some(initial)));
    if ours && !threads.contains(&thread) {
        threads.push(thread.clone());
    }
    threads.contains(&thread)
}

/// Copies a headless worker's stdout and stderr to the log and the pane on two threads, and
/// parses stdout's events.
struct OutputCopy {
    /// Bytes copied so far, both streams: a sign of life.
    bytes: Arc<std::sync::atomic::AtomicU64>,
    stdout: Option<std::thread::JoinHandle<StreamSummary>>,
    stderr: Option<std::thread::JoinHandle<StreamSummary>>,
}

impl OutputCopy {
    fn finish(self) -> StreamSummary {
        if let Some(t) = self.stderr {
            let _ = t.join();
        }
        self.stdout.and_then(|t| t.join().ok()).unwrap_or_default()
    }
}

fn copy_output(group: &mut Group, log: &fs::File, pane: &Pane, spec: &Spec) -> OutputCopy {
    let log = Arc::new(Mutex::new(log.try_clone()));
    let bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let pump = |mut pipe: Box<dyn Read + Send>, mut parser: Option<EventParser>| {
        let log = Arc::clone(&log);
        let bytes = Arc::clone(&bytes);
        let pane = Arc::clone(pane);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                bytes.fetch_add(n as u64, Ordering::Relaxed);
                if let Some(p) = parser.as_mut() {
                    p.feed(&buf[..n]);
                }
                if let Ok(Ok(log)) = log.lock().as_deref_mut().map(|l| l.as_mut()) {
                    let _ = log.write_all(&buf[..n]);
                }
                if let Ok(mut pane) = pane.lock() {
                    let _ = pane.write_all(&buf[..n]);
                    let _ = pane.flush();
                }
            }
            parser.map(EventParser::finish).unwrap_or_default()
        })
    };
    let stdout = group
        .stdout()
        .map(|p| pump(Box::new(p), Some(EventParser::new(spec.invocation.output))));
    let stderr = group.stderr().map(|p| pump(Box::new(p), None));
    OutputCopy {
        bytes,
        stdout,
        stderr,
    }
}

/// Signs of life from the worker's output: a headless worker's bytes, an interactive one's
/// pane activity as tmux keeps it (checked once a second).
#[derive(Debug, Default)]
struct Activity {
    bytes: u64,
    pane_activity: Option<u64>,
    checked: Option<Instant>,
}

impl Activity {
    /// Whether the worker produced output since the last call.
    fn changed(
        &mut self,
        copy: Option<&OutputCopy>,
        tmux: &Tmux,
        pane: Option<&str>,
        now: Instant,
    ) -> bool {
        if let Some(copy) = copy {
            let bytes = copy.bytes.load(Ordering::Relaxed);
            let changed = bytes != self.bytes;
            self.bytes = bytes;
            return changed;
        }
        let Some(pane) = pane else {
            return false;
        };
        if self
            .checked
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            return false;
        }
        self.checked = Some(now);
        let seen = tmux.window_activity(pane);
        let changed = seen.is_some() && self.pane_activity.is_some() && seen != self.pane_activity;
        if seen.is_some() {
            self.pane_activity = seen;
        }
        changed
    }
}
