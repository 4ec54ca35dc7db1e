//! Gemini CLI `--output-format stream-json` events: `init`, `message` (assistant deltas
//! joined), `tool_use`, `tool_result`, `error`, `result`.

use serde_json::Value;

use super::*;

impl EventParser {
    pub(super) fn gemini(&mut self, kind: &str, event: &Value) {
        match kind {
            "init" => {
                set_capped(&mut self.summary.session_id, event, "session_id");
                set_capped(&mut self.summary.model, event, "model");
            }
            "message" => {
                let role = event.get("role");
                let assistant = match role {
                    None => true,
                    Some(role) => role.as_str() == Some("assistant"),
                };
                if !assistant {
                    self.gemini_close_message();
                    return;
                }
                let content = str_field(event, "content").unwrap_or("");
                let delta = event.get("delta").and_then(Value::as_bool) == Some(true);
                match &mut self.gemini_current {
                    Some(current) if delta => current.push(content),
                    _ => {
                        self.gemini_close_message();
                        let mut current = CappedText::default();
                        current.push(content);
                        self.gemini_current = Some(current);
                    }
                }
            }
            "tool_use" => {
                self.gemini_close_message();
                self.summary.tool_calls += 1;
            }
            "tool_result" => {
                self.gemini_close_message();
                if str_field(event, "status") == Some("error")
                    && let Some(error) = event.get("error")
                    && [str_field(error, "type"), str_field(error, "message")]
                        .into_iter()
                        .flatten()
                        .any(mentions_denial)
                {
                    self.summary.permission_denials += 1;
                }
            }
            "error" => self.remember_error(event),
            "result" => self.gemini_result(event),
            _ => {}
        }
    }

    fn gemini_result(&mut self, event: &Value) {
        self.gemini_close_message();
        let error = event.get("error").filter(|e| e.is_object());
        match str_field(event, "status") {
            Some("success") => self.summary.verdict = Some(Verdict::Success),
            status if status == Some("error") || error.is_some() => {
                let message = error
                    .and_then(|e| nonblank_field(e, "message"))
                    .or(self.remembered_error.as_deref())
                    .unwrap_or("status error");
                self.summary.verdict = Some(error_verdict(message));
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
            self.summary.usage = Some(Usage {
                input_tokens: input.unwrap_or(0),
                output_tokens: output.unwrap_or(0),
                cached_input_tokens: cached,
                cache_creation_input_tokens: None,
                total_tokens: total,
            });
        }
        if let Some(calls) = u64_field(stats, "tool_calls") {
            self.summary.tool_calls = self.summary.tool_calls.max(calls);
        }
    }

    /// Ends the gemini assistant message being streamed; a non-blank one becomes the last
    /// message.
    pub(super) fn gemini_close_message(&mut self) {
        if let Some(current) = self.gemini_current.take()
            && !current.text.trim().is_empty()
        {
            self.summary.last_message = Some(truncate(&current.text, LAST_MESSAGE_MAX_CHARS));
        }
    }
}
