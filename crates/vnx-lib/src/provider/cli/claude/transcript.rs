//! Claude Code `stream-json` as a transcript: `system/init`, `assistant` (text, tool calls),
//! `user` (tool results), `result` (verdict, turns, tokens, cost, permission denials); in an
//! interactive claude's session file, also the end of each turn (`system/turn_duration`).

use serde_json::Value;

use crate::provider::cli::render::*;
use crate::provider::cli::stream::result_failed;

/// A renderer of Claude Code's headless stream (and its session file, read as that stream).
#[derive(Debug, Default)]
pub(super) struct ClaudeTranscript;

impl TranscriptEvents for ClaudeTranscript {
    fn event(&mut self, kind: &str, event: &Value, out: &mut Sink) {
        match kind {
            "system" => match str_of(event, "subtype") {
                Some("init") => start(out, "claude", event, ("permissionMode", "permission mode")),
                // A session file's bookkeeping (seen on claude 2.1.197): the turn's end, and
                // what the Stop hooks did (vnx's own).
                Some("turn_duration") => {
                    let ms = u64_of(event, "durationMs").unwrap_or(0);
                    out.push("end", &format!("turn done in {:.1} s", ms as f64 / 1000.0));
                }
                Some("stop_hook_summary") => {}
                Some(other) => {
                    let what = nonblank(event, "message")
                        .or_else(|| nonblank(event, "error"))
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default();
                    out.push("system", &format!("{other}{what}"));
                }
                None => {}
            },
            "assistant" => self.claude_assistant(out, event),
            "user" => self.claude_results(out, event),
            "result" => {
                let failed = result_failed(event, str_of(event, "subtype"));
                let cost = event.get("total_cost_usd").and_then(Value::as_f64);
                closing(out, event, failed, cost);
            }
            _ => {}
        }
    }
}

impl ClaudeTranscript {
    fn claude_assistant(&mut self, out: &mut Sink, event: &Value) {
        let Some(message) = event.get("message") else {
            return;
        };
        // A subagent's frames carry the id of the Task call that spawned it.
        let label = labels(event);
        match message.get("content") {
            Some(Value::Array(blocks)) => {
                for block in blocks {
                    match str_of(block, "type") {
                        Some("text") => {
                            if let Some(text) = nonblank(block, "text") {
                                out.push_lines(label[0], text, MAX_MESSAGE_LINES);
                            }
                        }
                        Some("tool_use" | "server_tool_use") => {
                            tool_use(out, block, label, "Bash");
                        }
                        _ => {}
                    }
                }
            }
            Some(Value::String(text)) if !text.trim().is_empty() => {
                out.push_lines(label[0], text, MAX_MESSAGE_LINES);
            }
            _ => {}
        }
    }

    /// The tool results a `user` event carries.
    fn claude_results(&mut self, out: &mut Sink, event: &Value) {
        let Some(Value::Array(blocks)) = event.get("message").and_then(|m| m.get("content")) else {
            return;
        };
        for block in blocks {
            if str_of(block, "type") != Some("tool_result") {
                continue;
            }
            let error = block.get("is_error").and_then(Value::as_bool) == Some(true);
            let text = content_text(block.get("content").unwrap_or(&Value::Null));
            out.push_result(!error, &text);
        }
    }
}
