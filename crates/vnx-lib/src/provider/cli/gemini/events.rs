//! Gemini CLI `--output-format stream-json` events: `init`, `message` (assistant deltas
//! joined), `tool_use`, `tool_result`, `error`, `result`.

use serde_json::Value;

use crate::provider::cli::stream::{
    CappedText, LAST_MESSAGE_MAX_CHARS, StreamEvents, StreamSummary, Usage, Verdict, error_verdict,
    nonblank_field, remember_error, set_capped, str_field, truncate, u64_field,
};

/// Gemini's headless stream (`gemini -p --output-format stream-json`,
/// packages/core/src/output/types.ts).
#[derive(Debug, Default)]
pub(super) struct GeminiEvents {
    /// The message of the last top-level `error` event, used when the result is an error
    /// without a message of its own.
    remembered_error: Option<String>,
    /// The assistant message being streamed (deltas are appended to it).
    gemini_current: Option<CappedText>,
}

impl StreamEvents for GeminiEvents {
    fn event(&mut self, kind: &str, event: &Value, summary: &mut StreamSummary) {
        match kind {
            "init" => {
                set_capped(&mut summary.session_id, event, "session_id");
                set_capped(&mut summary.model, event, "model");
            }
            "message" => {
                let role = event.get("role");
                let assistant = match role {
                    None => true,
                    Some(role) => role.as_str() == Some("assistant"),
                };
                if !assistant {
                    self.gemini_close_message(summary);
                    return;
                }
                let content = str_field(event, "content").unwrap_or("");
                let delta = event.get("delta").and_then(Value::as_bool) == Some(true);
                match &mut self.gemini_current {
                    Some(current) if delta => current.push(content),
                    _ => {
                        self.gemini_close_message(summary);
                        let mut current = CappedText::default();
                        current.push(content);
                        self.gemini_current = Some(current);
                    }
                }
            }
            "tool_use" => {
                self.gemini_close_message(summary);
                summary.tool_calls += 1;
            }
            "tool_result" => {
                self.gemini_close_message(summary);
                if str_field(event, "status") == Some("error")
                    && let Some(error) = event.get("error")
                    && [str_field(error, "type"), str_field(error, "message")]
                        .into_iter()
                        .flatten()
                        .any(mentions_denial)
                {
                    summary.permission_denials += 1;
                }
            }
            "error" => remember_error(&mut self.remembered_error, event),
            "result" => self.gemini_result(event, summary),
            _ => {}
        }
    }

    fn finish(&mut self, summary: &mut StreamSummary) {
        self.gemini_close_message(summary);
    }
}

impl GeminiEvents {
    fn gemini_result(&mut self, event: &Value, summary: &mut StreamSummary) {
        self.gemini_close_message(summary);
        let error = event.get("error").filter(|e| e.is_object());
        match str_field(event, "status") {
            Some("success") => summary.verdict = Some(Verdict::Success),
            status if status == Some("error") || error.is_some() => {
                let message = error
                    .and_then(|e| nonblank_field(e, "message"))
                    .or(self.remembered_error.as_deref())
                    .unwrap_or("status error");
                summary.verdict = Some(error_verdict(message));
            }
            _ => {}
        }
        let Some(stats) = event.get("stats").filter(|s| s.is_object()) else {
            return;
        };
        let cached = u64_field(stats, "cached");
        // `input` is the uncached part of `input_tokens` in current versions.
        let input = u64_field(stats, "input_tokens").or_else(|| {
            u64_field(stats, "input").map(|uncached| uncached.saturating_add(cached.unwrap_or(0)))
        });
        let output = u64_field(stats, "output_tokens").or(u64_field(stats, "output"));
        let total = u64_field(stats, "total_tokens");
        if input.is_some() || output.is_some() || total.is_some() {
            summary.usage = Some(Usage {
                input_tokens: input.unwrap_or(0),
                output_tokens: output.unwrap_or(0),
                cached_input_tokens: cached,
                cache_creation_input_tokens: None,
                total_tokens: total,
            });
        }
        if let Some(calls) = u64_field(stats, "tool_calls") {
            summary.tool_calls = summary.tool_calls.max(calls);
        }
    }

    /// Ends the gemini assistant message being streamed; a non-blank one becomes the last
    /// message.
    fn gemini_close_message(&mut self, summary: &mut StreamSummary) {
        if let Some(current) = self.gemini_current.take()
            && !current.text.trim().is_empty()
        {
            summary.last_message = Some(truncate(&current.text, LAST_MESSAGE_MAX_CHARS));
        }
    }
}

/// Whether a tool error type or message reads as a refused permission or approval.
fn mentions_denial(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    ["permission", "approval", "denied", "policy"]
        .iter()
        .any(|word| text.contains(word))
}
