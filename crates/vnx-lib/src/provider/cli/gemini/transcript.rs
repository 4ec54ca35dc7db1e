//! Gemini CLI `stream-json` as a transcript: `init`, assistant `message`s (deltas joined),
//! `tool_use`, `tool_result` (denials by policy shown as such), `error`, `result`.

use serde_json::Value;

use super::events::mentions_denial;
use crate::provider::cli::render::*;
use crate::provider::lines::MAX_LINE_BYTES;

/// A renderer of Gemini CLI's headless stream.
#[derive(Debug, Default)]
pub(super) struct GeminiTranscript {
    /// The assistant message being streamed in deltas.
    gemini_text: Option<String>,
}

impl TranscriptEvents for GeminiTranscript {
    fn event(&mut self, kind: &str, event: &Value, out: &mut Sink) {
        if kind != "message" {
            self.gemini_flush(out);
        }
        match kind {
            "init" => {
                let model = str_of(event, "model").unwrap_or("-");
                let session = str_of(event, "session_id").unwrap_or("-");
                out.push(
                    "start",
                    &format!("gemini, model {model}, session {session}"),
                );
            }
            "message" => {
                let assistant = event
                    .get("role")
                    .is_none_or(|r| r.as_str() == Some("assistant"));
                if !assistant {
                    // The user's message is the prompt, shown elsewhere.
                    self.gemini_flush(out);
                    return;
                }
                let content = str_of(event, "content").unwrap_or("");
                let delta = event.get("delta").and_then(Value::as_bool) == Some(true);
                if !delta {
                    self.gemini_flush(out);
                }
                let text = self.gemini_text.get_or_insert_with(String::new);
                // Bounded: what is shown of a message is far less than this.
                if text.len() < MAX_LINE_BYTES {
                    text.push_str(content);
                }
            }
            "tool_use" => {
                let name = str_of(event, "tool_name").unwrap_or("tool");
                let input = describe_input(event.get("parameters").unwrap_or(&Value::Null));
                let shown = show_call(out, SAYS, name, &input, name == "run_shell_command");
                if let Some(id) = str_of(event, "tool_id") {
                    out.remember(id, &shown);
                }
            }
            "tool_result" => {
                let error = event.get("error").filter(|e| e.is_object());
                match (str_of(event, "status"), error) {
                    (Some("error"), Some(error)) => {
                        let message = str_of(error, "message").unwrap_or("");
                        let kind = str_of(error, "type").unwrap_or("");
                        if mentions_denial(kind) || mentions_denial(message) {
                            let tool = str_of(event, "tool_id")
                                .and_then(|id| out.tool_of(id))
                                .unwrap_or("tool")
                                .to_owned();
                            out.push("denied", &format!("{tool} ({})", one_line(message)));
                        } else {
                            out.push_result(false, message);
                        }
                    }
                    (Some("error"), None) => out.push_result(false, ""),
                    _ => {
                        let output = str_of(event, "output").unwrap_or("");
                        out.push_result(true, output);
                    }
                }
            }
            "error" => error_line(out, event),
            "result" => {
                let error = event.get("error").filter(|e| e.is_object());
                let mut parts = vec![match (str_of(event, "status"), error) {
                    (Some("success"), _) => "success".to_owned(),
                    (_, Some(e)) => {
                        format!(
                            "error: {}",
                            one_line(nonblank(e, "message").unwrap_or("error"))
                        )
                    }
                    (status, None) => status.unwrap_or("ended").to_owned(),
                }];
                if let Some(stats) = event.get("stats") {
                    let input = u64_of(stats, "input_tokens").or(u64_of(stats, "input"));
                    let output = u64_of(stats, "output_tokens").or(u64_of(stats, "output"));
                    parts.extend(tokens(input, output, u64_of(stats, "cached")));
                    if let Some(calls) = u64_of(stats, "tool_calls").filter(|c| *c > 0) {
                        parts.push(format!("{calls} tool call(s)"));
                    }
                }
                out.push("end", &parts.join(" · "));
            }
            _ => {}
        }
    }

    fn flush(&mut self, out: &mut Sink) {
        self.gemini_flush(out);
    }
}

impl GeminiTranscript {
    /// Shows the assistant message streamed so far, if any.
    fn gemini_flush(&mut self, out: &mut Sink) {
        if let Some(text) = self.gemini_text.take()
            && !text.trim().is_empty()
        {
            out.push_lines("says", &text, MAX_MESSAGE_LINES);
        }
    }
}
