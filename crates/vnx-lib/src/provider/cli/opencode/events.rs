//! opencode `run --format json` events (1.18.33), one JSON object a line, each naming its
//! `sessionID`: `step_start`, `tool_use` (a finished call: `part.tool`, `part.state.status`
//! `completed`|`error`), `step_finish` (`part.reason` `tool-calls`|`stop`, `part.tokens`,
//! `part.cost`), `text` (`part.text`), and `error` (`error.name`, `error.data.message`,
//! `error.data.statusCode`) for a failed model request. There is no closing result: a turn
//! that ended (`stop`) without an error is a success; a denied tool is a `tool_use` whose
//! error says the user rejected it (opencode exits 0 after it).
//!
//! Background work, seen on 1.18.33 (ADR 0096): it has no background facility to record.
//! Its `task` tool (a sub-agent, `subagent_type` `general` or `explore`) runs the sub-agent's
//! whole session inside the call: the `tool_use` comes, `completed`, once the sub-agent
//! ended (its answer in `part.state.output`, `<task id=… state="completed">`), and the turn
//! goes on after it; its schema has no way to start one in the background. Its `bash` tool
//! has no background option either: a command the shell itself sends to the background
//! (`… &`) returns at once ("(no output)", exit 0) and runs on in a session of its own after
//! opencode exits, and nothing in the stream says it still runs (only the command's text
//! would). `StreamSummary::background_stopped` stays empty: the supervisor finds such a
//! command by the worker's environment and waits for it (ADR 0099).

use serde_json::Value;

use super::transcript::{error_message, refused};
use crate::provider::cli::stream::{
    HeadlessStream, LAST_MESSAGE_MAX_CHARS, StreamEvents, StreamSummary, Usage, Verdict, add,
    error_verdict, f64_field, keep_first, nonblank_field, truncate, u64_field,
};

/// opencode's headless stream.
#[derive(Debug, Default)]
pub(crate) struct OpencodeEvents {
    /// The reason of the last finished step.
    last_reason: Option<String>,
    /// The last error's message.
    error: Option<String>,
    /// Tokens and cost summed over the steps.
    usage: Option<Usage>,
    cost: Option<f64>,
    /// The steps finished.
    steps: u64,
}

impl StreamEvents for OpencodeEvents {
    fn event(&mut self, kind: &str, event: &Value, summary: &mut StreamSummary) {
        keep_first(&mut summary.session_id, event, "sessionID");
        let part = event.get("part").unwrap_or(&Value::Null);
        match kind {
            "tool_use" => {
                summary.tool_calls += 1;
                if refused(part) {
                    summary.permission_denials += 1;
                }
            }
            "step_finish" => self.step_finish(part),
            "text" => {
                if let Some(text) = nonblank_field(part, "text") {
                    summary.last_message = Some(truncate(text, LAST_MESSAGE_MAX_CHARS));
                }
            }
            "error" => self.error = Some(error_message(event)),
            _ => {}
        }
        summary.usage = self.usage.clone();
        summary.cost_usd = self.cost;
        if self.steps > 0 {
            summary.num_turns = Some(self.steps);
        }
    }

    fn finish(&mut self, summary: &mut StreamSummary) {
        if let Some(message) = &self.error {
            summary.verdict = Some(error_verdict(message));
        } else if self
            .last_reason
            .as_deref()
            .is_some_and(|r| r != "tool-calls")
        {
            summary.verdict = Some(Verdict::Success);
        }
    }
}

impl OpencodeEvents {
    fn step_finish(&mut self, part: &Value) {
        self.steps += 1;
        if let Some(reason) = nonblank_field(part, "reason") {
            self.last_reason = Some(truncate(reason, 64));
        }
        add_tokens(&mut self.usage, part);
        if let Some(cost) = f64_field(part, "cost").filter(|c| *c >= 0.0) {
            *self.cost.get_or_insert(0.0) += cost;
        }
    }
}

/// Adds the `tokens` a finished step's part records (input, output, cache reads and writes,
/// total), if it records them, to `usage`.
pub(super) fn add_tokens(usage: &mut Option<Usage>, part: &Value) {
    let Some(tokens) = part.get("tokens").filter(|t| t.is_object()) else {
        return;
    };
    let usage = usage.get_or_insert_with(Usage::default);
    let cache = tokens.get("cache").unwrap_or(&Value::Null);
    add(&mut usage.input_tokens, u64_field(tokens, "input"));
    add(&mut usage.output_tokens, u64_field(tokens, "output"));
    add(
        usage.cached_input_tokens.get_or_insert(0),
        u64_field(cache, "read"),
    );
    add(
        usage.cache_creation_input_tokens.get_or_insert(0),
        u64_field(cache, "write"),
    );
    add(
        usage.total_tokens.get_or_insert(0),
        u64_field(tokens, "total"),
    );
}

/// Its headless event stream (see the module's documentation).
pub(super) static HEADLESS: HeadlessStream = HeadlessStream {
    format: super::STREAM,
    parser: || Box::new(OpencodeEvents::default()),
    claims: super::transcript::claims,
    claims_narrowly: false,
    transcript: Some(|| Box::new(super::transcript::OpencodeTranscript::default())),
    #[cfg(test)]
    sample: &[],
};

#[cfg(test)]
mod tests {
    use crate::provider::events::testing::fixture;
    use proptest::prelude::*;

    use super::*;

    /// A stream recorded from the real opencode 1.18.33 against the scripted model server
    /// (`tests/support/fixtures/opencode/`), fed line by line as the shared parser does.
    fn parse(text: &str) -> StreamSummary {
        crate::provider::events::testing::summary_of(OpencodeEvents::default(), text)
    }

    #[test]
    fn a_success_has_its_session_usage_tool_calls_and_answer() {
        let s = parse(&fixture("opencode", "headless-shell.jsonl"));
        assert_eq!(s.verdict, Some(Verdict::Success));
        assert!(
            s.session_id
                .as_deref()
                .is_some_and(|id| id.starts_with("ses_")),
            "{s:?}"
        );
        assert!(s.tool_calls >= 1, "{s:?}");
        assert_eq!(s.permission_denials, 0);
        let usage = s.usage.unwrap();
        assert!(
            usage.input_tokens > 0 && usage.output_tokens > 0,
            "{usage:?}"
        );
        assert_eq!(
            usage.total_tokens,
            Some(usage.input_tokens + usage.output_tokens)
        );
        assert_eq!(s.cost_usd, Some(0.0));
        assert!(s.last_message.is_some());
    }

    #[test]
    fn an_api_error_is_a_failure() {
        for (code, text) in [
            (400, fixture("opencode", "api-error.jsonl")),
            (500, fixture("opencode", "api-error-500.jsonl")),
        ] {
            let s = parse(&text);
            assert_eq!(
                s.verdict,
                Some(Verdict::Error {
                    message: format!("APIError (HTTP {code}): scripted failure")
                })
            );
            assert_eq!(s.last_message, None);
        }
    }

    #[test]
    fn a_question_is_the_last_message() {
        let s = parse(&fixture("opencode", "question.jsonl"));
        assert_eq!(s.verdict, Some(Verdict::Success));
        assert_eq!(
            s.last_message.as_deref(),
            Some("Should I also update the documentation?")
        );
        assert_eq!(s.tool_calls, 0);
    }

    #[test]
    fn a_rejected_tool_is_a_denial_and_a_turn_it_ended_no_success() {
        let s = parse(&fixture("opencode", "headless-denied.jsonl"));
        assert_eq!(s.permission_denials, 1);
        assert_eq!(s.tool_calls, 1);
        // The turn ended on the rejected call: no answer, no verdict of success.
        assert_eq!(s.verdict, None);
    }

    #[test]
    fn a_sub_agent_ends_within_its_call_and_leaves_nothing_unfinished() {
        let s = parse(&fixture("opencode", "headless-task.jsonl"));
        assert_eq!(s.verdict, Some(Verdict::Success));
        assert_eq!(s.tool_calls, 1);
        assert_eq!(
            s.last_message.as_deref(),
            Some("The helper says the docs are fine.")
        );
        assert!(s.background_stopped.is_empty(), "{s:?}");
        // A command its shell sent to the background looks like any finished call.
        let s = parse(&fixture("opencode", "headless-background-shell.jsonl"));
        assert_eq!((&s.verdict, s.tool_calls), (&Some(Verdict::Success), 1));
        assert!(s.background_stopped.is_empty(), "{s:?}");
    }

    proptest! {
        /// Whatever a worker prints, the parser neither panics nor keeps more than its caps.
        #[test]
        fn hostile_events_are_bounded(
            kind in prop::sample::select(vec!["step_start", "tool_use", "step_finish", "text", "error", "x"]),
            text in ".{0,300}",
            n in any::<i64>(),
            f in any::<f64>(),
        ) {
            let event = serde_json::json!({
                "type": kind, "sessionID": text.repeat(2),
                "part": {"text": text.repeat(20), "reason": text, "cost": f,
                         "tokens": {"input": n, "output": f, "total": n, "cache": {"read": n}},
                         "state": {"status": "error", "error": text}},
                "error": {"name": text, "data": {"message": text.repeat(10), "statusCode": n}},
            });
            let mut parser = OpencodeEvents::default();
            let mut summary = StreamSummary::default();
            parser.event(kind, &event, &mut summary);
            parser.event(kind, &event, &mut summary);
            parser.finish(&mut summary);
            prop_assert!(summary.session_id.map_or(0, |s| s.chars().count()) <= 256);
            prop_assert!(summary.last_message.map_or(0, |s| s.chars().count()) <= LAST_MESSAGE_MAX_CHARS);
            if let Some(Verdict::Error { message }) = summary.verdict {
                prop_assert!(message.chars().count() <= 500);
            }
        }
    }
}
