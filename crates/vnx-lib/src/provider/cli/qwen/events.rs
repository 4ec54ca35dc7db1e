//! Qwen Code `-o stream-json` events (0.15.10): `system/init`, `assistant`
//! (`tool_use`, `text`), `user` (`tool_result`), `result`. An API error is not an error
//! there: after an HTTP 400 or 500 the `result` is `subtype: "success"`, `is_error: false`,
//! its text `[API Error: 400 …]`, and qwen exits 0; that text is the verdict.
//!
//! Background work: not looked for on this CLI (ADR 0096), so nothing here records it;
//! what a worker leaves running, as its shell backgrounds it, is found by the worker's
//! environment and waited for by the supervisor (ADR 0099).

use serde_json::Value;

use crate::provider::cli::stream::{
    HeadlessStream, StreamEvents, StreamSummary, array, keep_first, last_text, result_usage,
    result_verdict, started, str_field, subagent, truncate_message,
};

/// How qwen words a failed model request, as its answer.
const API_ERROR: &str = "[API Error:";

/// Qwen's headless stream.
#[derive(Debug, Default)]
pub(super) struct QwenEvents {
    /// Tool results that were refusals, before the `result` lists them.
    denied: u64,
}

impl StreamEvents for QwenEvents {
    fn event(&mut self, kind: &str, event: &Value, summary: &mut StreamSummary) {
        match kind {
            "system" if str_field(event, "subtype") == Some("init") => started(event, summary),
            "assistant" => assistant(event, summary),
            "user" => {
                self.denied += refusals(event);
                summary.permission_denials = summary.permission_denials.max(self.denied);
            }
            "result" => result(event, summary),
            _ => {}
        }
        keep_first(&mut summary.session_id, event, "session_id");
    }
}

/// The blocks of an event's `message.content`.
pub(super) fn blocks(event: &Value) -> &[Value] {
    event.get("message").map_or(&[], |m| array(m, "content"))
}

fn assistant(event: &Value, summary: &mut StreamSummary) {
    if let Some(message) = event.get("message") {
        keep_first(&mut summary.model, message, "model");
    }
    if let Some(text) = last_text(blocks(event), &["tool_use"], summary)
        && !subagent(event)
        && !is_api_error(text)
    {
        summary.last_message = Some(truncate_message(text));
    }
}

/// Tool results that say the call was declined: by its approval mode headless ("requires
/// permission … declined"), or by a hook's deny (the hook's reason, listed at the end).
fn refusals(event: &Value) -> u64 {
    let declined = |block: &&Value| {
        str_field(block, "type") == Some("tool_result")
            && block.get("is_error").and_then(Value::as_bool) == Some(true)
            && str_field(block, "content")
                .is_some_and(|c| c.contains("requires permission") && c.contains("declined"))
    };
    blocks(event).iter().filter(declined).count() as u64
}

/// Whether a text is qwen's wording of a failed model request.
pub(super) fn is_api_error(text: &str) -> bool {
    text.trim_start().starts_with(API_ERROR)
}

fn result(event: &Value, summary: &mut StreamSummary) {
    result_verdict(event, summary, is_api_error, None);
    if let Some(usage) = result_usage(event, None, Some("total_tokens")) {
        summary.usage = Some(usage);
    }
    if let Some(denials) = event.get("permission_denials").and_then(Value::as_array) {
        summary.permission_denials = summary.permission_denials.max(denials.len() as u64);
    }
}

/// Its headless event stream (see the module's documentation): claimed by its start, which
/// names its version. Its stream is shaped like other CLIs' (`system`, `assistant`, `user`,
/// `result`): only its start tells it apart, so it is asked first.
pub(super) static HEADLESS: HeadlessStream = HeadlessStream {
    format: super::STREAM,
    parser: || Box::new(QwenEvents::default()),
    claims: super::transcript::claims,
    claims_narrowly: true,
    transcript: Some(|| Box::new(super::transcript::QwenTranscript)),
    #[cfg(test)]
    sample: &[],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::cli::stream::Verdict;
    use crate::provider::events::testing::fixture;

    /// A stream recorded from the real qwen 0.15.10 against the scripted model server
    /// (`tests/support/fixtures/qwen/`), fed line by line as the shared parser does.
    fn parse(text: &str) -> StreamSummary {
        crate::provider::events::testing::summary_of(QwenEvents::default(), text)
    }

    #[test]
    fn a_success_has_its_session_usage_tool_calls_and_answer() {
        let s = parse(&fixture("qwen", "headless-shell.jsonl"));
        assert_eq!(s.verdict, Some(Verdict::Success));
        assert_eq!(
            s.session_id.as_deref(),
            Some("58ef4b72-627f-453f-abf2-164351408cc9")
        );
        assert_eq!(s.model.as_deref(), Some("mock-model"));
        assert_eq!(s.tool_calls, 2);
        assert_eq!(s.num_turns, Some(3));
        assert_eq!(s.last_message.as_deref(), Some("Wrote hello.txt."));
        assert_eq!(s.permission_denials, 0);
        let usage = s.usage.unwrap();
        assert_eq!(
            (usage.input_tokens, usage.output_tokens, usage.total_tokens),
            (59941, 70, Some(60011))
        );
        assert_eq!(usage.cached_input_tokens, Some(0));
    }

    #[test]
    fn an_api_error_is_a_failure_whatever_its_result_says() {
        for (name, text) in [
            ("400", fixture("qwen", "api-error.jsonl")),
            ("500", fixture("qwen", "api-error-500.jsonl")),
        ] {
            let s = parse(&text);
            assert_eq!(
                s.verdict,
                Some(Verdict::Error {
                    message: format!("[API Error: {name} scripted failure]")
                }),
                "{name}"
            );
            // The error is not the worker's answer (nor its question).
            assert_eq!(s.last_message, None, "{name}");
        }
    }

    #[test]
    fn a_failed_result_with_an_empty_subtype_says_error_not_nothing() {
        let s =
            parse(r#"{"type":"result","subtype":"","is_error":true,"result":"","session_id":"s"}"#);
        assert_eq!(
            s.verdict,
            Some(Verdict::Error {
                message: "error".into()
            })
        );
    }

    #[test]
    fn a_question_is_the_last_message() {
        let s = parse(&fixture("qwen", "question.jsonl"));
        assert_eq!(s.verdict, Some(Verdict::Success));
        assert_eq!(
            s.last_message.as_deref(),
            Some("Should I also update the documentation?")
        );
        assert_eq!(s.tool_calls, 0);
    }

    #[test]
    fn refused_tools_are_denials() {
        // Declined by its approval mode headless (auto-edit, `vnx report` allowed): two.
        let s = parse(&fixture("qwen", "headless-declined.jsonl"));
        assert_eq!(s.permission_denials, 2);
        assert_eq!(s.tool_calls, 4);
        assert_eq!(s.verdict, Some(Verdict::Success));
        // Denied by a `PreToolUse` hook: listed in the result only.
        let s = parse(&fixture("qwen", "hook-denied.jsonl"));
        assert_eq!(s.permission_denials, 1);
        // A tool it does not offer is not a permission denial.
        let s = parse(&fixture("qwen", "headless-denied.jsonl"));
        assert_eq!(s.permission_denials, 0);
    }

    #[test]
    fn the_declined_count_stands_without_a_result() {
        let text = fixture("qwen", "headless-declined.jsonl");
        let cut: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains(r#""type":"result""#))
            .collect();
        let s = parse(&cut.join("\n"));
        assert_eq!(s.permission_denials, 2);
        assert_eq!(s.verdict, None);
    }
}
