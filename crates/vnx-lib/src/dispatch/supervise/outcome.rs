//! What a finished worker's dispatch ended as: the status (`done`, `failed`, `needs_input`,
//! `timeout`, `cancelled`), the completion signal it was decided from, and the reason — from
//! the exit status, the worker's `vnx report`, the end-of-turn hook and the CLI's own events.
//! A turn or an exit without a report is never a success for a provider whose completion
//! signal is the report.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use crate::dispatch::supervise::life::{Kind, Life, Stop};
pub use crate::dispatch::supervise::life::{StopCause, exit_ends_turn, hook_session};
use crate::dispatch::supervise::signals::{HookSignal, Report, ReportStatus};
use crate::provider::events::{StreamSummary, Verdict};
use crate::provider::hooks::HookKind;
use crate::provider::{self, Lane, cli};
use crate::receipts::{BackgroundTask, CompletionSignal, DispatchStatus};

/// The verdict on a dispatch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// How the dispatch ended.
    pub status: DispatchStatus,
    /// What that was decided from.
    pub signal: CompletionSignal,
    /// Why it is not done, in words.
    pub reason: Option<String>,
}

fn describe(exit: Option<ExitStatus>) -> String {
    match exit {
        Some(s) if s.code().is_some() => format!("exited with status {}", s.code().unwrap_or(0)),
        Some(s) => format!("was killed by signal {}", s.signal().unwrap_or(0)),
        None => "did not run".into(),
    }
}

fn cli_error(stream: &StreamSummary) -> Option<&str> {
    match &stream.verdict {
        Some(Verdict::Error { message }) => Some(message),
        _ => None,
    }
}

/// Not done: `status`, decided from `signal`, for `why`.
fn decision(status: DispatchStatus, signal: CompletionSignal, why: impl Into<String>) -> Decision {
    Decision {
        status,
        signal,
        reason: Some(why.into()),
    }
}

fn done(signal: CompletionSignal) -> Decision {
    Decision {
        status: DispatchStatus::Done,
        signal,
        reason: None,
    }
}

/// Failed, decided from the exit, for `why`.
fn failed(why: impl Into<String>) -> Decision {
    decision(DispatchStatus::Failed, CompletionSignal::Exit, why)
}

/// Failed for how the worker exited (or did not run).
fn failed_exit(exit: Option<ExitStatus>) -> Decision {
    failed(format!("the worker {}", describe(exit)))
}

/// A CLI that cannot run `vnx report` (no tools): its output's verdict decides. Success
/// (it applied changes) is done; an error (its request failed, whatever its exit code) is
/// failed; no verdict after a clean exit is an answer without changes, so its last message
/// is a question; a failed exit is a failure.
fn by_output(stream: &StreamSummary, exit: Option<ExitStatus>) -> Decision {
    let ok_exit = exit.is_some_and(|s| s.success());
    match (&stream.verdict, ok_exit) {
        (Some(Verdict::Error { message }), _) => failed(message),
        (_, false) => failed_exit(exit),
        (Some(Verdict::Success), true) => done(CompletionSignal::Exit),
        (None, true) => decision(
            DispatchStatus::NeedsInput,
            CompletionSignal::Exit,
            "the worker answered without changing anything",
        ),
    }
}

/// Decides the status of a dispatch whose worker ended as `life` says, `report` the worker's
/// accepted `vnx report`: a `done` whose CLI stopped background work the worker started,
/// unfinished, needs a person instead (ADR 0096).
pub fn decide(kind: &Kind, life: &Life, report: Option<&Report>) -> Decision {
    let never_ran = StreamSummary::default();
    let (exit, stream, turn_end) = match life {
        Life::Unstarted(err) => {
            return decision(DispatchStatus::Failed, CompletionSignal::SpawnFailed, err);
        }
        Life::Refused(_) => (None, &never_ran, None),
        Life::Exited(x) => (Some(x.status), &x.stream, x.turn.end.as_ref()),
    };
    if let Some(stopped) = life.stopped().and_then(by_stop) {
        return stopped;
    }
    let decided = by_exit(kind, (exit, stream), report, turn_end);
    unfinished(&stream.background_stopped, &decided).unwrap_or(decided)
}

/// The verdict on a worker the supervisor stopped, when its cause decides it (a worker
/// closed after it completed is judged as if it ended by itself).
fn by_stop((cause, why): &Stop) -> Option<Decision> {
    let signal = CompletionSignal::SupervisorSignal;
    match cause {
        StopCause::Deadline => Some(decision(
            DispatchStatus::Timeout,
            CompletionSignal::Deadline,
            why,
        )),
        // An interrupted supervisor records nothing; were it asked, the worker was stopped
        // by a signal all the same.
        StopCause::Cancel | StopCause::Interrupted | StopCause::Paused => {
            Some(decision(DispatchStatus::Cancelled, signal, why))
        }
        StopCause::Budget => Some(decision(DispatchStatus::NeedsInput, signal, why)),
        // Waited out as a limit unless it left a report, which then judges it.
        StopCause::Completed | StopCause::Limit => None,
    }
}

/// The verdict on a worker that ended by itself (or was closed after it completed) from its
/// exit, its output, its report and its turn's end.
fn by_exit(
    kind: &Kind,
    (exit, stream): (Option<ExitStatus>, &StreamSummary),
    report: Option<&Report>,
    turn_end: Option<&HookSignal>,
) -> Decision {
    let ok_exit = exit.is_some_and(|s| s.success());
    if kind.completion == provider::ProviderCompletion::Exit {
        return match (ok_exit, cli_error(stream)) {
            (true, None) => done(CompletionSignal::Exit),
            (_, Some(msg)) => failed(msg),
            (false, None) => failed_exit(exit),
        };
    }
    if kind.completion == provider::ProviderCompletion::Output {
        return by_output(stream, exit);
    }
    if let Some(report) = report {
        let failed = |why: String| decision(DispatchStatus::Failed, CompletionSignal::Report, why);
        return match report.status {
            ReportStatus::Failed => failed(format!(
                "the worker reported failure: {}",
                report.summary.as_deref().unwrap_or("(no summary)")
            )),
            ReportStatus::Done if kind.lane == Lane::Headless && !ok_exit => {
                failed(format!("the worker reported done, then {}", describe(exit)))
            }
            ReportStatus::Done => match cli_error(stream) {
                Some(msg) => failed(format!(
                    "the worker reported done, but the CLI reported an error: {msg}"
                )),
                None => done(CompletionSignal::Report),
            },
        };
    }
    let unreported = |what: &str| {
        let mut why = format!("{what} without running `vnx report`");
        if stream.permission_denials > 0 {
            why.push_str(&format!(
                "; {} tool call(s) were denied permission",
                stream.permission_denials
            ));
        }
        why
    };
    if let Some(turn) = turn_end {
        return decision(
            DispatchStatus::NeedsInput,
            turn_end_signal(&kind.hooks, turn),
            unreported("the worker ended its turn"),
        );
    }
    match (ok_exit, cli_error(stream)) {
        (_, Some(msg)) => failed(msg),
        (true, None) if kind.lane == Lane::Headless || kind.exit_ends_turn => decision(
            DispatchStatus::NeedsInput,
            CompletionSignal::Exit,
            unreported("the worker ended its turn and exited"),
        ),
        (true, None) => failed(unreported("the worker exited")),
        (false, None) => failed_exit(exit),
    }
}

/// The verdict on a worker that ended (it exited, or reported and ended its turn) as it
/// would otherwise be `done`, but whose CLI said background work it started was stopped
/// unfinished (`background_stopped`): it needs a person.
fn unfinished(background_stopped: &[BackgroundTask], decided: &Decision) -> Option<Decision> {
    if decided.status != DispatchStatus::Done {
        return None;
    }
    let why = super::background::stopped(background_stopped)?;
    Some(decision(
        DispatchStatus::NeedsInput,
        decided.signal.clone(),
        why,
    ))
}

/// The signal a turn that ended through `hook` is recorded as: its CLI's name for it; a
/// turn end its session showed (a CLI without hooks) is named so already.
fn turn_end_signal(hook: &HookKind, turn: &HookSignal) -> CompletionSignal {
    cli::of_hook_event(hook.name())
        .and_then(|c| c.turn_end_signal())
        .or_else(|| {
            cli::CLIS
                .iter()
                .filter_map(|c| c.turn_end_signal())
                .find(|s| *s == turn.event)
        })
        .map_or(CompletionSignal::Exit, |s| {
            CompletionSignal::TurnEnded(s.into())
        })
}

/// The last assistant message an end-of-turn hook carries, as its CLI reads it.
pub fn hook_message(signal: &HookSignal) -> Option<String> {
    cli::hooks_of_event(&signal.event)?
        .message(&signal.payload)
        .map(|s| crate::dispatch::supervise::signals::shorten(s, 4000))
}

/// What the verdict's tests write of an ended worker: its facts flat, made into the
/// [`Life`] they describe for [`decide`].
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::dispatch::supervise::life::{Exited, Turn};

    /// Everything known when the worker has ended, as a test sets it.
    #[derive(Clone, Debug)]
    pub(crate) struct Ended {
        pub(crate) lane: Lane,
        pub(crate) completion: provider::ProviderCompletion,
        pub(crate) hooks: HookKind,
        pub(crate) exit_ends_turn: bool,
        pub(crate) exit: Option<ExitStatus>,
        pub(crate) stopped: Option<Stop>,
        pub(crate) spawn_error: Option<String>,
        pub(crate) report: Option<Report>,
        pub(crate) turn_end: Option<HookSignal>,
        pub(crate) hook_session: Option<String>,
        pub(crate) stream: StreamSummary,
        pub(crate) temp_files: u64,
    }

    /// [`super::decide`] on the life `e` describes: not started for a spawn error, else
    /// exited (or, without an exit, refused for its stop).
    pub(crate) fn decide(e: &Ended) -> Decision {
        let kind = Kind {
            lane: e.lane,
            completion: e.completion,
            hooks: e.hooks.clone(),
            exit_ends_turn: e.exit_ends_turn,
        };
        let life = match (&e.spawn_error, e.exit, &e.stopped) {
            (Some(err), _, _) => Life::Unstarted(err.clone()),
            (None, Some(status), _) => Life::Exited(Box::new(Exited {
                status,
                stopped: e.stopped.clone(),
                turn: Turn {
                    end: e.turn_end.clone(),
                    session: e.hook_session.clone(),
                },
                stream: e.stream.clone(),
                temp_files: e.temp_files,
            })),
            (None, None, Some(stop)) => Life::Refused(stop.clone()),
            (None, None, None) => panic!("a worker that neither ran nor was stopped"),
        };
        super::decide(&kind, &life, e.report.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{Ended, decide};
    use super::*;

    fn exit(code: i32) -> Option<ExitStatus> {
        Some(ExitStatus::from_raw(code << 8))
    }

    fn ended(completion: provider::ProviderCompletion, lane: Lane) -> Ended {
        Ended {
            lane,
            completion,
            hooks: HookKind::NONE,
            exit_ends_turn: false,
            exit: exit(0),
            stopped: None,
            spawn_error: None,
            report: None,
            turn_end: None,
            hook_session: None,
            stream: StreamSummary::default(),
            temp_files: 0,
        }
    }

    fn report(status: ReportStatus) -> Option<Report> {
        Some(Report {
            dispatch_id: crate::ids::DispatchId::parse("D-1").unwrap(),
            status,
            summary: Some("s".into()),
            reported_at: crate::ids::Timestamp::parse("2026-11-25T06:38:06Z").unwrap(),
            mac: None,
        })
    }

    #[test]
    fn only_a_report_makes_an_ai_worker_done() {
        let mut e = ended(provider::ProviderCompletion::Report, Lane::Headless);
        assert_eq!(
            decide(&e).status,
            DispatchStatus::NeedsInput,
            "exit 0 alone"
        );
        e.report = report(ReportStatus::Done);
        assert_eq!(decide(&e), done(CompletionSignal::Report));
        e.exit = exit(1);
        assert_eq!(
            decide(&e).status,
            DispatchStatus::Failed,
            "done, then a failing exit"
        );
        e.exit = exit(0);
        e.stream.verdict = Some(Verdict::Error {
            message: "API Error: 400".into(),
        });
        assert_eq!(
            decide(&e).status,
            DispatchStatus::Failed,
            "the CLI's own error wins"
        );
        e.report = report(ReportStatus::Failed);
        assert_eq!(decide(&e).status, DispatchStatus::Failed);
    }

    #[test]
    fn a_cli_without_tools_is_judged_by_its_output() {
        let mut e = ended(provider::ProviderCompletion::Output, Lane::Headless);
        // It answered and changed nothing: its answer is a question.
        assert_eq!(decide(&e).status, DispatchStatus::NeedsInput);
        e.stream.verdict = Some(Verdict::Success);
        assert_eq!(decide(&e), done(CompletionSignal::Exit));
        // Applied, then a failing exit.
        e.exit = exit(1);
        assert_eq!(decide(&e).status, DispatchStatus::Failed);
        // Its request failed though it exited 0.
        e.exit = exit(0);
        e.stream.verdict = Some(Verdict::Error {
            message: "litellm.BadRequestError: scripted failure".into(),
        });
        let d = decide(&e);
        assert_eq!(d.status, DispatchStatus::Failed);
        assert_eq!(
            d.reason.as_deref(),
            Some("litellm.BadRequestError: scripted failure")
        );
        // A report (which it cannot make) changes nothing.
        e.stream.verdict = None;
        e.report = report(ReportStatus::Done);
        assert_eq!(decide(&e).status, DispatchStatus::NeedsInput);
    }

    #[test]
    fn a_turn_that_ends_without_a_report_needs_input() {
        // For every CLI whose hooks end a turn, its hooks named by any of its events: the
        // signal is its name for the turn's end (its own payloads: its module's tests).
        let mut ending = 0;
        for c in cli::CLIS {
            let Some(name) = c.turn_end_signal() else {
                continue;
            };
            for event in c.hooks().map_or(&[][..], |h| h.events()) {
                let mut e = ended(provider::ProviderCompletion::Report, Lane::Interactive);
                e.hooks = HookKind::named(event);
                e.turn_end = Some(HookSignal {
                    event: (*event).into(),
                    received_at: "t".into(),
                    payload: serde_json::json!({}),
                });
                e.stopped = Some((StopCause::Completed, String::new()));
                let d = decide(&e);
                assert_eq!(
                    (d.status, d.signal),
                    (
                        DispatchStatus::NeedsInput,
                        CompletionSignal::TurnEnded(name.into())
                    ),
                    "{event}"
                );
                e.turn_end = None;
                assert_eq!(
                    decide(&e).status,
                    DispatchStatus::Failed,
                    "{event}: a TUI that exits without reporting"
                );
                ending += 1;
            }
        }
        assert!(ending > 0, "no CLI's hooks end a turn");
    }

    #[test]
    fn a_declared_tui_that_exits_without_a_report_needs_input() {
        // A TUI of a name no built-in CLI has: its exit is the only end of turn vnx sees.
        let kimi = provider::ProviderName::of("kimi");
        assert!(exit_ends_turn(&kimi, Lane::Interactive));
        assert!(!exit_ends_turn(&kimi, Lane::Headless));
        for p in provider::Provider::ALL {
            let p = provider::ProviderName::BuiltIn(p);
            assert!(!exit_ends_turn(&p, Lane::Interactive), "{p}");
        }
        let mut e = ended(provider::ProviderCompletion::Report, Lane::Interactive);
        e.exit_ends_turn = true;
        let d = decide(&e);
        assert_eq!(
            (d.status, d.signal),
            (DispatchStatus::NeedsInput, CompletionSignal::Exit)
        );
        assert_eq!(
            d.reason.as_deref(),
            Some("the worker ended its turn and exited without running `vnx report`")
        );
        e.report = report(ReportStatus::Done);
        assert_eq!(decide(&e).status, DispatchStatus::Done);
        e.report = None;
        // A crash, or its CLI's own error, is a failure still.
        e.exit = exit(2);
        assert_eq!(decide(&e).status, DispatchStatus::Failed);
        e.exit = exit(0);
        e.stream.verdict = Some(Verdict::Error {
            message: "API Error: 500".into(),
        });
        assert_eq!(decide(&e).status, DispatchStatus::Failed);
        // A built-in CLI's TUI that exits before its hook or session showed a turn end.
        e.stream.verdict = None;
        e.exit_ends_turn = false;
        assert_eq!(decide(&e).status, DispatchStatus::Failed);
    }

    #[test]
    fn deadlines_cancels_and_plain_exits() {
        let mut e = ended(provider::ProviderCompletion::Exit, Lane::Headless);
        assert_eq!(decide(&e), done(CompletionSignal::Exit));
        e.exit = exit(3);
        assert_eq!(decide(&e).status, DispatchStatus::Failed);
        e.stopped = Some((StopCause::Deadline, "late".into()));
        assert_eq!(decide(&e).status, DispatchStatus::Timeout);
        e.stopped = Some((StopCause::Cancel, "told".into()));
        assert_eq!(decide(&e).signal, CompletionSignal::SupervisorSignal);
        e.spawn_error = Some("ENOENT".into());
        assert_eq!(decide(&e).signal, CompletionSignal::SpawnFailed);
    }
}
