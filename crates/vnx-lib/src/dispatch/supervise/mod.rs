//! The supervisor's work inside a dispatch's tmux pane: wait for a concurrency slot, start
//! the worker in its own process group in the worktree (headless: output piped to the pane,
//! `worker.log` and the event parser; interactive: the pane's terminal handed to the TUI),
//! watch for the report, end-of-turn hooks, the deadline and cancellation, stop the worker
//! (TERM, grace, KILL), then classify and release the worktree and append
//! `dispatch_completed` (with the phantom guard's correction, if it fires).
//!
//! The run is here; the worker's own run (started, watched, stopped) is in `worker`, the
//! copying and parsing of its output and its signs of life in `output`, and the end of the
//! dispatch (commit, teardown, phantom guard, the completion kept and appended) in `conclude`;
//! what its end says beyond the exit (session, cost, usage, question) in `facts`.
//! Around them: the supervisor's per-provider slot (`slots`), the report and hook files
//! (`signals`), running, blocked or stalled as the supervisor sees it (`live`), not done
//! while background work the worker started runs (`background`), each change of
//! live state announced as a signed receipt and to the user's `notify` command (`announce`,
//! `notify`), the verdict (`outcome`), the phantom guard (`phantom`), completions kept until
//! the ledger takes them (`pending`), and a lost dispatch's end recorded from its sealed
//! report (`recover`).

pub mod announce;
pub(crate) mod asked;
pub(crate) mod background;
mod budget;
mod changes;
mod conclude;
mod facts;
pub mod keys;
mod left;
pub mod life;
pub(crate) mod limited;
pub mod live;
pub mod notify;
pub mod outcome;
mod output;
pub(crate) mod paused;
pub mod pending;
pub mod phantom;
pub mod recover;
pub mod signals;
pub mod slots;
mod tui_watch;
mod worker;

pub use asked::Surroundings;
pub use conclude::after_completion;
pub(super) use conclude::{Concluded, conclude};
pub use life::{GRACE, LATE_REPORT, SETTLE_AFTER_REPORT, SETTLE_WITHOUT_HOOK};
pub use output::Pane;

use std::fs;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::dispatch::start::compose::Interruption;
use crate::dispatch::{DispatchError, Spec, io_err};
use crate::receipts::{self, CheckoutChange, CompletionSignal, DispatchCompleted, DispatchStatus};
use crate::worktree::{Repo, TeardownClass};
use announce::Recorder;
use asked::stop_asked;
use facts::EndOfRun;
use life::{Kind, Life, Stop, StopCause};
use signals::ReportFile;
use worker::{Job, run_worker, worktree_env};

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

/// The worker's log, `worker.log` in its dispatch directory: written afresh, private.
fn open_log(path: &std::path::Path) -> Result<fs::File, DispatchError> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))
}

/// The provider's slot, when it has a limit, and how long the supervisor waited for it.
type SlotTaken = (Option<slots::Slot>, Option<Duration>);

/// The provider's concurrency slot, when it has a limit: waited for until one frees, the
/// dispatch is cancelled or its deadline passes (then why the worker never starts); with how
/// long it waited.
fn take_slot(
    spec: &Spec,
    around: &Surroundings<'_>,
    (started, deadline): (Instant, Instant),
) -> Result<Result<SlotTaken, Stop>, DispatchError> {
    let Some(limit) = spec.slot_limit else {
        return Ok(Ok((None, None)));
    };
    let slots_dir = spec.repo_root.join(crate::project::DATA_DIR).join("slots");
    let give_up = || around.cancel.load(Ordering::Relaxed) || Instant::now() >= deadline;
    match slots::acquire(&slots_dir, spec.provider.name(), limit, give_up)
        .map_err(io_err(&slots_dir))?
    {
        Some((slot, waited)) => Ok(Ok((Some(slot), Some(waited)))),
        None => {
            let why = format!(
                "no {} slot (limit {limit}) came free in {:.0} s",
                spec.provider,
                started.elapsed().as_secs_f64()
            );
            let cause = stop_asked(spec, around).unwrap_or(StopCause::Deadline);
            Ok(Err((cause, why)))
        }
    }
}

/// The dispatch's end concluded ([`conclude`]) while the main checkout's state "after" is
/// read beside it (both reads of git that take milliseconds, of different checkouts), on a
/// libgit2 handle of its own so the teardown's reads of the repository do not wait for it,
/// and noted against `main_before` before the end is appended.
fn conclude_beside_main(
    spec: &Spec,
    repo: &Repo,
    completed: DispatchCompleted,
    around: &Surroundings<'_>,
    patience: Duration,
    main_before: Option<crate::worktree::CheckoutState>,
) -> Result<Concluded, DispatchError> {
    // What the worker changed, for the conflict radar, while its worktree still shows it all.
    changes::record(spec, &mut Default::default());
    std::thread::scope(|scope| {
        let apart = repo.apart();
        let mut after = main_before
            .as_ref()
            .map(|_| scope.spawn(move || apart.checkout_state()));
        let mut note_main_checkout = |completed: &mut DispatchCompleted| {
            let after = after
                .take()
                .and_then(|h| h.join().ok())
                .and_then(Result::ok);
            if let (Some(before), Some(after)) = (&main_before, after) {
                note_checkout_change(completed, before, &after);
            }
        };
        conclude(
            spec,
            repo,
            completed,
            around.attestor,
            patience,
            &mut note_main_checkout,
        )
    })
}

/// A supervisor interrupted by a signal no `vnx cancel` asked for records nothing: the
/// dispatch reads lost, and `vnx resume` continues it in its worktree.
fn refuse_if_interrupted(
    spec: &Spec,
    life: &Life,
    log: &mut fs::File,
) -> Result<(), DispatchError> {
    // A pause that stopped a worker before it could wait (it never ran) leaves it as an
    // interruption does: lost, for `vnx resume`.
    let Some((StopCause::Interrupted | StopCause::Paused, why)) = life.stopped() else {
        return Ok(());
    };
    let _ = writeln!(
        log,
        "vnx: {why}; nothing is recorded: the dispatch reads lost, and `vnx resume {}` \
         continues it in its worktree",
        spec.id
    );
    Err(DispatchError::Interrupted {
        id: spec.id.clone(),
        why: why.clone(),
    })
}

/// Runs the whole dispatch. See the module documentation.
pub fn supervise(spec: &Spec, around: &Surroundings<'_>) -> Result<Outcome, DispatchError> {
    let started = Instant::now();
    let started_wall = std::time::SystemTime::now();
    // The spec is read back from disk: never trust its deadline not to overflow.
    let deadline = started
        .checked_add(Duration::from_secs(
            spec.deadline_secs.min(crate::dispatch::MAX_DEADLINE_SECS),
        ))
        .unwrap_or(started);
    let repo = Repo::from_parts(spec.repo_root.clone(), spec.git_common_dir.clone());
    // Isolation is checked, not assumed: the main checkout before and after the worker (the
    // launch's read of it stands for "before" when it made one).
    let main_before = match &spec.main_before {
        Some(state) => Some(state.clone()),
        None => repo.checkout_state().ok(),
    };
    let prompt_path = spec.dispatch_dir.join("prompt.md");
    let prompt = fs::read_to_string(&prompt_path).map_err(io_err(&prompt_path))?;
    let log_path = spec.dispatch_dir.join("worker.log");
    let mut log = open_log(&log_path)?;
    // Binds the worker's report to this dispatch; in memory and the worker's environment, and
    // made again from the signing key by `vnx recover` if this supervisor dies.
    let seal = signals::seal_for(around.attestor, &spec.id);
    let mut recorder = Recorder::new(spec, around.attestor);
    if let Some(hash) = &around.started_hash {
        recorder.notify("started", hash, "");
    }

    let (_slot, slot_wait, refused) = match take_slot(spec, around, (started, deadline))? {
        Ok((slot, waited)) => (slot, waited, None),
        Err(stop) => (None, None, Some(stop)),
    };
    let job = Job {
        prompt: &prompt,
        deadline,
        seal: &seal,
        since: started_wall,
    };
    let lived =
        live_between_setup_and_teardown(spec, around, &job, refused, (&mut recorder, &mut log))?;
    refuse_if_interrupted(spec, &lived.life, &mut log)?;
    let read = signals::read_report(&spec.dispatch_dir, &spec.id, &seal);
    let (report, report_rejected) = match read {
        ReportFile::Accepted(r) => (Some(r), None),
        ReportFile::Rejected(why) => (None, Some(why)),
        ReportFile::Missing => (None, None),
    };
    if let Some(text) = &lived.screen {
        let _ = writeln!(log, "{text}");
    }
    let duration = started.elapsed().as_secs_f64();
    let decision = outcome::decide(&Kind::of(spec), &lived.life, report.as_ref());
    let (exit_code, exit_signal) = lived.life.exit_code_and_signal();
    let end = (lived.end_of_run).unwrap_or_else(|| {
        let never_ran = (&Default::default(), &Default::default());
        EndOfRun::read(spec, never_ran, started_wall)
    });
    let temp_files = match &lived.life {
        Life::Exited(x) => x.temp_files,
        _ => 0,
    };
    let mut completed = DispatchCompleted {
        lane: Some(spec.lane),
        duration_seconds: Some(receipts::seconds(duration)),
        worker_log: Some(log_path.to_string_lossy().into_owned()),
        exit_code,
        exit_signal,
        failure_reason: decision.reason.clone(),
        temp_files_removed: (temp_files > 0).then_some(temp_files),
        slot_wait_seconds: slot_wait.map(|w| receipts::seconds(w.as_secs_f64())),
        report,
        report_rejected,
        worktree_commands: lived.worktree_commands,
        ..DispatchCompleted::new(spec.id.clone(), decision.status, decision.signal.clone())
    };
    facts::settle(&mut completed, &end);
    let concluded = record_end(spec, (&repo, main_before), completed, around, recorder)?;
    Ok(Outcome {
        status: concluded.status,
        completion_signal: decision.signal,
        exit_code,
        signal: exit_signal,
        duration_seconds: duration,
        teardown_class: concluded.class,
    })
}

/// What the worker's life came to, between the worktree's setup and teardown commands.
struct Lived {
    life: Life,
    end_of_run: Option<EndOfRun>,
    worktree_commands: Vec<crate::receipts::WorktreeCommand>,
    /// An interactive worker's last screen, for the log.
    screen: Option<String>,
}

/// The project's setup commands, in the worktree, before the worker; the worker run, unless
/// it was `refused` its start or setup failed; then the teardown commands (stop what setup
/// started), before classification, given a minute of their own past the deadline, which
/// may have passed.
fn live_between_setup_and_teardown(
    spec: &Spec,
    around: &Surroundings<'_>,
    job: &Job<'_>,
    refused: Option<Stop>,
    (recorder, log): (&mut Recorder<'_>, &mut fs::File),
) -> Result<Lived, DispatchError> {
    let hook_env = worktree_env(spec);
    let mut worktree_commands = Vec::new();
    let mut life = refused.map(Life::Refused);
    if life.is_none() && !spec.worktree_setup.is_empty() {
        let (ran, failure) = crate::dispatch::setup::run(
            "setup",
            &spec.worktree_setup,
            &spec.worktree,
            &hook_env,
            job.deadline,
            true,
            log,
        );
        worktree_commands = ran;
        life = failure.map(|f| Life::Unstarted(format!("{f}; the worker did not start")));
    }
    let mut screen = None;
    let mut end_of_run = None;
    let life = match life {
        Some(life) => life,
        None => {
            let (life, end) = run_limited(spec, around, job, (log, &mut screen, recorder))?;
            end_of_run = end;
            life
        }
    };
    if !spec.worktree_teardown.is_empty() {
        let (ran, _) = crate::dispatch::setup::run(
            "teardown",
            &spec.worktree_teardown,
            &spec.worktree,
            &hook_env,
            job.deadline.max(Instant::now() + Duration::from_secs(60)),
            false,
            log,
        );
        worktree_commands.extend(ran);
    }
    Ok(Lived {
        life,
        end_of_run,
        worktree_commands,
        screen,
    })
}

/// The worker run, and run on after each usage limit that stopped it, once per reset, and
/// after each pause that stopped it, once lifted, in its session (ADR 0117, `limited`; ADR
/// 0119, `paused`): the time waited is added to the deadline.
fn run_limited(
    spec: &Spec,
    around: &Surroundings<'_>,
    job: &Job<'_>,
    (log, screen, recorder): (&mut fs::File, &mut Option<String>, &mut Recorder<'_>),
) -> Result<(Life, Option<EndOfRun>), DispatchError> {
    let (mut life, mut end) = run_worker(spec, around, job, log, screen, recorder)?;
    let mut deadline = job.deadline;
    let mut count = 0;
    loop {
        let (waited, why) = if let Some(limit) = limited::limit_of(spec, &life, job.seal) {
            count += 1;
            let waited = limited::wait_out(spec, around, &limit, count, (recorder, log));
            (waited, Interruption::Limit)
        } else if paused::stopped_by_pause(&life) {
            let waited = paused::wait_out(spec, around, (recorder, log));
            (waited, Interruption::Pause)
        } else {
            break;
        };
        let waited = match waited {
            asked::Waited::Over(waited) => waited,
            asked::Waited::Stopped(stop) => {
                if let Life::Exited(exited) = &mut life {
                    exited.stopped = Some(stop);
                }
                break;
            }
        };
        deadline += waited;
        if let Some(drain) = around.after_reset {
            drain();
        }
        let (next, prompt) = limited::continued(spec, end.as_ref(), job.prompt, why);
        let _ = writeln!(log, "vnx: continuing after the {}", why.name());
        let again = Job {
            prompt: &prompt,
            deadline,
            ..*job
        };
        let (next_life, next_end) = run_worker(&next, around, &again, log, screen, recorder)?;
        life = next_life;
        // What every run used, counted in the end of the last (a run that never started
        // leaves the earlier end as it was).
        end = match (end, next_end) {
            (Some(earlier), Some(mut next)) => {
                limited::add_earlier(&mut next, earlier);
                Some(next)
            }
            (earlier, next) => next.or(earlier),
        };
    }
    Ok((life, end))
}

/// The completion concluded and appended ([`conclude_beside_main`]), announced, and the
/// worktree given back to the pool proven.
fn record_end(
    spec: &Spec,
    (repo, main_before): (&Repo, Option<crate::worktree::CheckoutState>),
    completed: DispatchCompleted,
    around: &Surroundings<'_>,
    mut recorder: Recorder<'_>,
) -> Result<Concluded, DispatchError> {
    let asked = facts::question_of(&completed);
    // A commit a full disk refuses is tried again as long as the ledger's append would be.
    let patience = Duration::from_secs(spec.completion_retry_secs.min(3600));
    let concluded = conclude_beside_main(spec, repo, completed, around, patience, main_before)?;
    // "done" only for a done that stands: the phantom guard's correction is the last line.
    if let Some(last) = concluded.appended.lines.last() {
        let message = if concluded.status == DispatchStatus::NeedsInput {
            asked.as_str()
        } else {
            ""
        };
        recorder.notify(concluded.status.name(), &last.entry_hash, message);
    }
    recorder.finish();
    // With the end on the ledger, the worktree given back to the pool is proven clean (or
    // removed), so the next dispatch can take it; the slower tidying is [`after_completion`].
    if let (Some(pool), Some(name)) = (
        crate::dispatch::start::launch::pool_of(repo, spec),
        &concluded.pooled,
    ) {
        pool.prove_entry(name);
    }
    Ok(concluded)
}

/// Records whether the main checkout changed between `before` and `after` the worker, and
/// how when it did.
fn note_checkout_change(
    completed: &mut DispatchCompleted,
    before: &crate::worktree::CheckoutState,
    after: &crate::worktree::CheckoutState,
) {
    let changed = before != after;
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
