//! What a finished worker's dispatch ended as: the status (`done`, `failed`, `needs_input`,
//! `timeout`, `cancelled`), the completion signal it was decided from, and the reason — from
//! the exit status, the worker's `vnx report`, the end-of-turn hook and the CLI's own events.
//! A turn or an exit without a report is never a success for a provider whose completion
//! signal is the report.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use super::signals::{HookSignal, Report, ReportStatus};
use crate::ledger::json::{self, Value};
use crate::provider::events::{StreamSummary, Verdict};
use crate::provider::hooks::HookKind;
use crate::provider::{CompletionSignal, Lane};

/// Why the supervisor stopped the worker itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopCause {
    Deadline,
    Cancel,
    /// After a report or the end of a turn: the TUI would otherwise wait forever.
    Completed,
}

/// Everything known when the worker has ended.
#[derive(Clone, Debug)]
pub struct Ended {
    pub lane: Lane,
    pub completion: CompletionSignal,
    pub hooks: HookKind,
    pub exit: Option<ExitStatus>,
    pub stopped: Option<(StopCause, String)>,
    pub spawn_error: Option<String>,
    pub report: Option<Report>,
    pub turn_end: Option<HookSignal>,
    pub stream: StreamSummary,
    /// Files the worker left in its temporary directory (removed).
    pub temp_files: u64,
}

/// The verdict on a dispatch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub status: &'static str,
    pub signal: &'static str,
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

fn decision(status: &'static str, signal: &'static str, reason: Option<String>) -> Decision {
    Decision {
        status,
        signal,
        reason,
    }
}

/// Decides the status of an ended dispatch.
pub fn decide(e: &Ended) -> Decision {
    if let Some(err) = &e.spawn_error {
        return decision("failed", "spawn_failed", Some(err.clone()));
    }
    match &e.stopped {
        Some((StopCause::Deadline, why)) => {
            return decision("timeout", "deadline", Some(why.clone()));
        }
        Some((StopCause::Cancel, why)) => {
            return decision("cancelled", "supervisor_signal", Some(why.clone()));
        }
        _ => {}
    }
    let ok_exit = e.exit.is_some_and(|s| s.success());
    if e.completion == CompletionSignal::Exit {
        return match (ok_exit, cli_error(&e.stream)) {
            (true, None) => decision("done", "exit", None),
            (_, Some(msg)) => decision("failed", "exit", Some(msg.to_owned())),
            (false, None) => decision(
                "failed",
                "exit",
                Some(format!("the worker {}", describe(e.exit))),
            ),
        };
    }
    if let Some(report) = &e.report {
        return match report.status {
            ReportStatus::Failed => decision(
                "failed",
                "report",
                Some(format!(
                    "the worker reported failure: {}",
                    report.summary.as_deref().unwrap_or("(no summary)")
                )),
            ),
            ReportStatus::Done if e.lane == Lane::Headless && !ok_exit => decision(
                "failed",
                "report",
                Some(format!(
                    "the worker reported done, then {}",
                    describe(e.exit)
                )),
            ),
            ReportStatus::Done => match cli_error(&e.stream) {
                Some(msg) => decision(
                    "failed",
                    "report",
                    Some(format!(
                        "the worker reported done, but the CLI reported an error: {msg}"
                    )),
                ),
                None => decision("done", "report", None),
            },
        };
    }
    let unreported = |what: &str| {
        let mut why = format!("{what} without running `vnx report`");
        if e.stream.permission_denials > 0 {
            why.push_str(&format!(
                "; {} tool call(s) were denied permission",
                e.stream.permission_denials
            ));
        }
        why
    };
    if e.turn_end.is_some() {
        return decision(
            "needs_input",
            e.hooks.signal_name(),
            Some(unreported("the worker ended its turn")),
        );
    }
    match (ok_exit, cli_error(&e.stream)) {
        (_, Some(msg)) => decision("failed", "exit", Some(msg.to_owned())),
        (true, None) if e.lane == Lane::Headless => decision(
            "needs_input",
            "exit",
            Some(unreported("the worker ended its turn and exited")),
        ),
        (true, None) => decision("failed", "exit", Some(unreported("the worker exited"))),
        (false, None) => decision(
            "failed",
            "exit",
            Some(format!("the worker {}", describe(e.exit))),
        ),
    }
}

/// A serde value as a ledger value.
pub fn ledger_value(v: &impl serde::Serialize) -> Value<'static> {
    let text = serde_json::to_string(v).expect("plain data serializes");
    json::parse(&text, json::Mode::Strict)
        .map(Value::into_owned)
        .unwrap_or(Value::Null)
}

/// Receipt fields from a hook payload: the session id (claude, gemini) or thread id (codex).
pub fn hook_session(signal: &HookSignal) -> Option<String> {
    ["session_id", "thread-id"]
        .iter()
        .find_map(|k| signal.payload.get(k)?.as_str())
        .map(|s| super::signals::shorten(s, 256))
}

/// The last assistant message a hook carries (gemini `prompt_response`, codex
/// `last-assistant-message`).
pub fn hook_message(signal: &HookSignal) -> Option<String> {
    ["prompt_response", "last-assistant-message"]
        .iter()
        .find_map(|k| signal.payload.get(k)?.as_str())
        .map(|s| super::signals::shorten(s, 4000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(code: i32) -> Option<ExitStatus> {
        Some(ExitStatus::from_raw(code << 8))
    }

    fn ended(completion: CompletionSignal, lane: Lane) -> Ended {
        Ended {
            lane,
            completion,
            hooks: HookKind::None,
            exit: exit(0),
            stopped: None,
            spawn_error: None,
            report: None,
            turn_end: None,
            stream: StreamSummary::default(),
            temp_files: 0,
        }
    }

    fn report(status: ReportStatus) -> Option<Report> {
        Some(Report {
            dispatch_id: "D-1".into(),
            status,
            summary: Some("s".into()),
            reported_at: "t".into(),
            mac: None,
        })
    }

    #[test]
    fn only_a_report_makes_an_ai_worker_done() {
        let mut e = ended(CompletionSignal::Report, Lane::Headless);
        assert_eq!(decide(&e).status, "needs_input", "exit 0 alone");
        e.report = report(ReportStatus::Done);
        assert_eq!(decide(&e), decision("done", "report", None));
        e.exit = exit(1);
        assert_eq!(decide(&e).status, "failed", "done, then a failing exit");
        e.exit = exit(0);
        e.stream.verdict = Some(Verdict::Error {
            message: "API Error: 400".into(),
        });
        assert_eq!(decide(&e).status, "failed", "the CLI's own error wins");
        e.report = report(ReportStatus::Failed);
        assert_eq!(decide(&e).status, "failed");
    }

    #[test]
    fn a_turn_that_ends_without_a_report_needs_input() {
        let mut e = ended(CompletionSignal::Report, Lane::Interactive);
        e.hooks = HookKind::ClaudeStop;
        e.turn_end = Some(HookSignal {
            event: "claude-stop".into(),
            received_at: "t".into(),
            payload: serde_json::json!({"session_id": "abc"}),
        });
        e.stopped = Some((StopCause::Completed, String::new()));
        let d = decide(&e);
        assert_eq!((d.status, d.signal), ("needs_input", "claude_stop_hook"));
        assert_eq!(
            hook_session(e.turn_end.as_ref().unwrap()).as_deref(),
            Some("abc")
        );
        e.turn_end = None;
        assert_eq!(
            decide(&e).status,
            "failed",
            "a TUI that exits without reporting"
        );
    }

    #[test]
    fn deadlines_cancels_and_plain_exits() {
        let mut e = ended(CompletionSignal::Exit, Lane::Headless);
        assert_eq!(decide(&e), decision("done", "exit", None));
        e.exit = exit(3);
        assert_eq!(decide(&e).status, "failed");
        e.stopped = Some((StopCause::Deadline, "late".into()));
        assert_eq!(decide(&e).status, "timeout");
        e.stopped = Some((StopCause::Cancel, "told".into()));
        assert_eq!(decide(&e).signal, "supervisor_signal");
        e.spawn_error = Some("ENOENT".into());
        assert_eq!(decide(&e).signal, "spawn_failed");
    }
}
