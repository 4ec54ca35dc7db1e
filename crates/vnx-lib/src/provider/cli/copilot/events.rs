//! GitHub Copilot CLI `--output-format json` events (1.0.102), one JSON object a line, each
//! with `type` and `data`: `user.message`, `assistant.turn_start`, `assistant.message`
//! (`content`, `toolRequests`), `tool.execution_start`, `tool.execution_complete` (`success`,
//! `error.code`: `denied` for a refused tool), `assistant.turn_end`, `session.error` (a failed
//! model request: `message`, `statusCode`), and a last `result` (`sessionId`, `exitCode`;
//! its `usage` has no tokens: those are in the session file, `sessions`). Many more are
//! marked `ephemeral` (deltas, model calls); they are skipped. A denied tool is not an error
//! of the run: copilot exits 0 after it, and the worker's report decides.
//!
//! Background work: not looked for on this CLI (ADR 0096), so nothing here records it;
//! what a worker leaves running, as its shell backgrounds it, is found by the worker's
//! environment and waited for by the supervisor (ADR 0099).
//!
//! A usage limit, seen on copilot 1.0.102 (ADR 0117): an HTTP 429 it retries is
//! `assistant.turn_retry` (`reason: "rate_limit"`), no stop; one it gives up on is a
//! `session.error` with `errorType: "rate_limit"` and `statusCode: 429`, its `message` the
//! API's words with the reset (`Please try again in 3600s.`): `StreamSummary::usage_limit`.

use serde_json::Value;

use super::transcript::is_denied;
use crate::provider::cli::limit::said;
use crate::provider::cli::stream::{
    ERROR_MESSAGE_MAX_CHARS, HeadlessStream, LAST_MESSAGE_MAX_CHARS, StreamEvents, StreamSummary,
    Verdict, array, error_verdict, keep_first, nonblank_field, set_capped, str_field, truncate,
    u64_field,
};

/// Copilot's headless stream.
#[derive(Debug, Default)]
pub(super) struct CopilotEvents {
    /// The message of the last `session.error`, for a `result` that failed.
    error: Option<String>,
    /// Turns that ended.
    turns: u64,
}

impl StreamEvents for CopilotEvents {
    fn event(&mut self, kind: &str, event: &Value, summary: &mut StreamSummary) {
        if event.get("ephemeral").and_then(Value::as_bool) == Some(true) {
            return;
        }
        let data = event.get("data").unwrap_or(&Value::Null);
        match kind {
            "assistant.message" => {
                keep_first(&mut summary.model, data, "model");
                let requests = array(data, "toolRequests").len() as u64;
                summary.tool_calls = summary.tool_calls.saturating_add(requests);
                if let Some(text) = nonblank_field(data, "content")
                    && data.get("parentToolCallId").is_none()
                {
                    summary.last_message = Some(truncate(text, LAST_MESSAGE_MAX_CHARS));
                }
            }
            "tool.execution_complete" if is_denied(data) => {
                summary.permission_denials = summary.permission_denials.saturating_add(1);
            }
            "assistant.turn_end" => {
                self.turns = self.turns.saturating_add(1);
                summary.num_turns = Some(self.turns);
            }
            "session.error" => {
                let message = nonblank_field(data, "message")
                    .map(str::to_owned)
                    .or_else(|| u64_field(data, "statusCode").map(|s| format!("HTTP {s}")))
                    .unwrap_or_else(|| "error".to_owned());
                self.error = Some(truncate(&message, ERROR_MESSAGE_MAX_CHARS));
                // A limit it gave up on; one it waits out is `assistant.turn_retry` (ADR 0117).
                let limited = str_field(data, "errorType") == Some("rate_limit")
                    || u64_field(data, "statusCode") == Some(429);
                summary.usage_limit = limited.then(|| said(&message));
            }
            "result" => {
                set_capped(&mut summary.session_id, event, "sessionId");
                let failed = event
                    .get("exitCode")
                    .and_then(Value::as_i64)
                    .is_some_and(|c| c != 0);
                summary.verdict = Some(match (&self.error, failed) {
                    (Some(message), _) => error_verdict(message),
                    (None, true) => error_verdict("copilot reported a failure (exitCode != 0)"),
                    (None, false) => Verdict::Success,
                });
            }
            _ => {}
        }
        if kind == "session.start" || kind == "session.resume" {
            set_capped(&mut summary.session_id, data, "sessionId");
        }
    }

    /// A stream that ended after an error but before its `result` (killed, or cut) still
    /// records the error.
    fn finish(&mut self, summary: &mut StreamSummary) {
        if summary.verdict.is_none()
            && let Some(message) = &self.error
        {
            summary.verdict = Some(error_verdict(message));
        }
    }
}

/// Its headless event stream (see the module's documentation). Its dotted vocabulary and a
/// `result` naming `sessionId` tell it apart; asked before the CLIs that take any `result`.
pub(super) static HEADLESS: HeadlessStream = HeadlessStream {
    format: super::STREAM,
    parser: || Box::new(CopilotEvents::default()),
    claims: super::transcript::claims,
    claims_narrowly: true,
    transcript: Some(|| Box::new(super::transcript::CopilotTranscript::default())),
    #[cfg(test)]
    sample: &[],
};

#[cfg(test)]
mod tests {
    use crate::provider::events::testing::fixture;
    use proptest::prelude::*;

    use super::*;

    /// A stream recorded from the real copilot 1.0.102 against the scripted model server
    /// (`tests/support/fixtures/copilot/`), fed line by line as the shared parser does.
    fn parse(text: &str) -> StreamSummary {
        crate::provider::events::testing::summary_of(CopilotEvents::default(), text)
    }

    #[test]
    fn a_success_has_its_session_tool_calls_and_answer() {
        let s = parse(&fixture("copilot", "headless-shell.jsonl"));
        assert_eq!(s.verdict, Some(Verdict::Success));
        assert_eq!(
            s.session_id.as_deref(),
            Some("9ac4954f-5664-421b-a7cf-0c3986575adc")
        );
        assert_eq!(s.model.as_deref(), Some("mock-model"));
        assert_eq!(s.tool_calls, 2);
        assert_eq!(s.permission_denials, 0);
        assert_eq!(s.last_message.as_deref(), Some("Wrote hello.txt."));
        assert_eq!(s.num_turns, Some(3));
        assert_eq!(s.usage, None, "its stream has no tokens");
    }

    #[test]
    fn a_denied_tool_is_counted_and_the_run_still_succeeds() {
        let s = parse(&fixture("copilot", "headless-denied.jsonl"));
        assert_eq!(s.verdict, Some(Verdict::Success));
        assert_eq!(s.permission_denials, 1);
        assert_eq!(s.last_message.as_deref(), Some("Ran it."));
        let s = parse(&fixture("copilot", "hook-deny.jsonl"));
        assert_eq!(s.permission_denials, 2, "a hook's deny is a denial too");
    }

    #[test]
    fn an_http_error_is_the_verdict_with_copilots_message() {
        let s = parse(&fixture("copilot", "api-error.jsonl"));
        assert_eq!(
            s.verdict,
            Some(Verdict::Error {
                message: "400 scripted failure".into()
            })
        );
        let s = parse(&fixture("copilot", "api-error-500.jsonl"));
        let Some(Verdict::Error { message }) = s.verdict else {
            panic!("{s:?}");
        };
        assert!(message.contains("500 scripted failure"), "{message}");
    }

    #[test]
    fn a_limit_it_gave_up_on_is_said_with_its_reset_one_it_retried_is_not() {
        // copilot 1.0.102 against a 429 an hour away: no retry, `session.error`
        // (`errorType: "rate_limit"`), exit 1 (tests/support/fixtures/limits/).
        let far = parse(&fixture("limits/far", "copilot.out"));
        let limit = far.usage_limit.expect("a limit");
        assert_eq!(
            limit.said,
            "429 Rate limit reached for requests. Please try again in 3600s."
        );
        assert_eq!(limit.resets_in_seconds, Some(3600));
        assert!(matches!(far.verdict, Some(Verdict::Error { .. })));
        // 20 s away: `assistant.turn_retry` (`reason: "rate_limit"`), then the answer.
        let near = parse(&fixture("limits/near", "copilot.out"));
        assert_eq!(near.usage_limit, None);
        assert_eq!(near.verdict, Some(Verdict::Success));
        // A status alone says it; another error says none.
        let s = parse(r#"{"type":"session.error","data":{"statusCode":429}}"#);
        assert_eq!(s.usage_limit.unwrap().said, "HTTP 429");
        let s = parse(r#"{"type":"session.error","data":{"message":"500 boom","statusCode":500}}"#);
        assert_eq!(s.usage_limit, None);
    }

    #[test]
    fn a_question_is_the_last_message() {
        let s = parse(&fixture("copilot", "question.jsonl"));
        assert_eq!(
            s.last_message.as_deref(),
            Some("Should I also update the documentation?")
        );
    }

    #[test]
    fn a_failed_result_without_a_message_is_an_error() {
        let s = parse(r#"{"type":"result","sessionId":"s","exitCode":3}"#);
        assert!(matches!(s.verdict, Some(Verdict::Error { .. })));
        let s = parse(r#"{"type":"session.error","data":{"statusCode":429}}"#);
        assert_eq!(
            s.verdict,
            Some(Verdict::Error {
                message: "HTTP 429".into()
            }),
            "cut before its result"
        );
    }

    proptest! {
        /// Whatever a worker's CLI prints, the parser keeps its fields bounded and never
        /// panics.
        #[test]
        fn hostile_events_stay_bounded(
            kind in prop::sample::select(vec![
                "assistant.message", "tool.execution_complete", "assistant.turn_end",
                "session.error", "result", "session.start", "other",
            ]),
            text in ".{0,3000}",
            code in any::<i64>(),
            success in any::<bool>(),
        ) {
            let event = serde_json::json!({
                "type": kind,
                "sessionId": text,
                "exitCode": code,
                "data": {
                    "content": text, "model": text, "message": text, "sessionId": text,
                    "success": success, "error": {"code": "denied", "message": text},
                    "toolRequests": [text],
                },
            });
            let mut parser = CopilotEvents::default();
            let mut s = StreamSummary::default();
            parser.event(kind, &event, &mut s);
            parser.finish(&mut s);
            prop_assert!(s.session_id.map_or(0, |x| x.chars().count()) <= 256);
            prop_assert!(s.model.map_or(0, |x| x.chars().count()) <= 256);
            prop_assert!(
                s.last_message.map_or(0, |x| x.chars().count()) <= LAST_MESSAGE_MAX_CHARS
            );
            if let Some(Verdict::Error { message }) = s.verdict {
                prop_assert!(message.chars().count() <= ERROR_MESSAGE_MAX_CHARS);
            }
        }
    }
}
