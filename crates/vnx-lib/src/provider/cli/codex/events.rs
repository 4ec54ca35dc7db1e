//! Codex `exec --json` events: `thread.started`, `item.*`, `turn.completed`, `turn.failed`,
//! and non-fatal `error`s.

use serde_json::Value;

use crate::provider::cli::stream::{
    LAST_MESSAGE_MAX_CHARS, StreamEvents, StreamSummary, Usage, Verdict, add, error_verdict,
    nonblank_field, remember_error, set_capped, str_field, truncate, u64_field,
};

/// Codex's headless stream.
#[derive(Debug, Default)]
pub(super) struct CodexEvents {
    /// The message of the last top-level `error` event, used when the turn fails without a
    /// message of its own.
    remembered_error: Option<String>,
}

impl StreamEvents for CodexEvents {
    fn event(&mut self, kind: &str, event: &Value, summary: &mut StreamSummary) {
        match kind {
            "thread.started" => set_capped(&mut summary.session_id, event, "thread_id"),
            "item.completed" => {
                let Some(item) = event.get("item") else {
                    return;
                };
                match str_field(item, "type") {
                    Some("agent_message") => {
                        if let Some(text) = nonblank_field(item, "text") {
                            summary.last_message = Some(truncate(text, LAST_MESSAGE_MAX_CHARS));
                        }
                    }
                    Some("command_execution") => {
                        summary.tool_calls += 1;
                        if str_field(item, "status") == Some("declined") {
                            summary.permission_denials += 1;
                        }
                    }
                    Some("file_change" | "mcp_tool_call" | "web_search" | "collab_tool_call") => {
                        summary.tool_calls += 1;
                    }
                    _ => {}
                }
            }
            "turn.completed" => {
                if let Some(turn) = event.get("usage").filter(|u| u.is_object()) {
                    let usage = summary.usage.get_or_insert_with(Usage::default);
                    add(&mut usage.input_tokens, u64_field(turn, "input_tokens"));
                    add(&mut usage.output_tokens, u64_field(turn, "output_tokens"));
                    if let Some(cached) = u64_field(turn, "cached_input_tokens") {
                        let total = usage.cached_input_tokens.get_or_insert(0);
                        *total = total.saturating_add(cached);
                    }
                }
                let turns = summary.num_turns.get_or_insert(0);
                *turns = turns.saturating_add(1);
                summary.verdict = Some(Verdict::Success);
            }
            "turn.failed" => {
                let own = event
                    .get("error")
                    .and_then(|e| nonblank_field(e, "message"));
                let message = own
                    .or(self.remembered_error.as_deref())
                    .unwrap_or("turn failed");
                summary.verdict = Some(error_verdict(message));
            }
            // Not fatal by itself: codex reports retries and missing model metadata this way
            // and carries on. A fatal one is followed by `turn.failed` or a failing exit.
            "error" => remember_error(&mut self.remembered_error, event),
            _ => {}
        }
    }
}
