//! Qwen Code's `-o stream-json` as a transcript: its start (`system/init`), the assistant's
//! text and tool calls, the tool results, and the end: its verdict (an `[API Error: …]` result
//! is an error, whatever its `subtype` says), turns, tokens and permission denials.

use serde_json::Value;

use super::events::is_api_error;
use crate::provider::cli::render::*;
use crate::provider::cli::stream::result_failed;

/// A renderer of qwen's headless stream.
#[derive(Debug, Default)]
pub(super) struct QwenTranscript;

/// Whether an event is qwen's: its start names its version (seen on 0.15.10).
pub(super) fn claims(kind: &str, event: &Value) -> bool {
    kind == "system" && event.get("qwen_code_version").is_some()
}

impl TranscriptEvents for QwenTranscript {
    fn event(&mut self, kind: &str, event: &Value, out: &mut Sink) {
        match kind {
            "system" if str_of(event, "subtype") == Some("init") => {
                let version = str_of(event, "qwen_code_version").unwrap_or("-");
                let posture = ("permission_mode", "approval mode");
                start(out, &format!("qwen {version}"), event, posture);
            }
            "assistant" => assistant(out, event),
            "user" => results(out, event),
            "result" => end(out, event),
            _ => {}
        }
    }
}

fn assistant(out: &mut Sink, event: &Value) {
    let label = labels(event);
    for block in super::events::blocks(event) {
        match str_of(block, "type") {
            Some("text") => {
                if let Some(text) = nonblank(block, "text") {
                    let label = if is_api_error(text) {
                        "error"
                    } else {
                        label[0]
                    };
                    out.push_lines(label, text, MAX_MESSAGE_LINES);
                }
            }
            Some("tool_use") => tool_use(out, block, label, "run_shell_command"),
            _ => {}
        }
    }
}

fn results(out: &mut Sink, event: &Value) {
    for block in super::events::blocks(event) {
        if str_of(block, "type") != Some("tool_result") {
            continue;
        }
        let ok = block.get("is_error").and_then(Value::as_bool) != Some(true);
        out.push_result(ok, str_of(block, "content").unwrap_or(""));
    }
}

fn end(out: &mut Sink, event: &Value) {
    let failed = result_failed(event, str_of(event, "subtype"))
        || nonblank(event, "result").is_some_and(is_api_error);
    closing(out, event, failed, None);
}

#[cfg(test)]
mod tests {
    use crate::provider::events::testing::fixture;
    use crate::provider::transcript::render;

    #[test]
    fn a_worker_log_of_qwen_is_drawn_as_qwen() {
        let lines = render(fixture("qwen", "headless-declined.jsonl").as_bytes());
        assert!(lines[0].contains("qwen 0.15.10, model mock-model, approval mode auto-edit"));
        let text = lines.join("\n");
        let drawn = |label: &str, end: &str| {
            lines
                .iter()
                .any(|l| l.starts_with(label) && l.ends_with(end))
        };
        assert!(drawn("$", "git add -A && git commit -q -m x"), "{text}");
        assert!(drawn("denied", "echo hi > ran.txt"), "{text}");
        let end = lines.last().unwrap();
        assert!(end.contains("success · 5 turn(s)"), "{end}");
        assert!(end.contains("2 permission denial(s)"), "{end}");
    }

    #[test]
    fn an_api_error_ends_the_transcript_as_an_error() {
        let lines = render(fixture("qwen", "api-error-500.jsonl").as_bytes());
        let end = lines.last().unwrap();
        assert!(
            end.contains("error: [API Error: 500 scripted failure]"),
            "{end}"
        );
        assert!(!end.contains("success"), "{end}");
    }
}
