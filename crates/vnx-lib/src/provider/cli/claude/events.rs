//! Claude Code `--output-format stream-json` events: `system/init`, `assistant`, `result`.

use serde_json::Value;

use crate::provider::cli::stream::{
    LAST_MESSAGE_MAX_CHARS, StreamEvents, StreamSummary, Usage, Verdict, error_verdict, f64_field,
    nonblank_field, set_capped, str_field, truncate, u64_field,
};

/// Claude Code's headless stream: nothing is kept between events.
#[derive(Debug, Default)]
pub(super) struct ClaudeEvents;

impl StreamEvents for ClaudeEvents {
    fn event(&mut self, kind: &str, event: &Value, summary: &mut StreamSummary) {
        match kind {
            "system" if str_field(event, "subtype") == Some("init") => {
                set_capped(&mut summary.session_id, event, "session_id");
                set_capped(&mut summary.model, event, "model");
            }
            "assistant" => assistant(event, summary),
            "result" => result(event, summary),
            _ => {}
        }
        if summary.session_id.is_none() {
            set_capped(&mut summary.session_id, event, "session_id");
        }
    }
}

fn assistant(event: &Value, summary: &mut StreamSummary) {
    let Some(message) = event.get("message") else {
        return;
    };
    if summary.model.is_none() {
        set_capped(&mut summary.model, message, "model");
    }
    // A subagent's frames carry the id of the Task tool call that spawned it; its text is
    // not the worker's answer, but its tool calls are still tool calls.
    let subagent = event
        .get("parent_tool_use_id")
        .is_some_and(Value::is_string);
    let mut last_text = None;
    match message.get("content") {
        Some(Value::Array(blocks)) => {
            for block in blocks {
                match str_field(block, "type") {
                    Some("tool_use" | "server_tool_use") => summary.tool_calls += 1,
                    Some("text") => {
                        if let Some(text) = nonblank_field(block, "text") {
                            last_text = Some(text);
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(Value::String(text)) if !text.trim().is_empty() => last_text = Some(text),
        _ => {}
    }
    if let Some(text) = last_text
        && !subagent
    {
        summary.last_message = Some(truncate(text, LAST_MESSAGE_MAX_CHARS));
    }
}

fn result(event: &Value, summary: &mut StreamSummary) {
    set_capped(&mut summary.session_id, event, "session_id");
    let subtype = str_field(event, "subtype");
    let is_error = event.get("is_error").and_then(Value::as_bool) == Some(true)
        || subtype.is_some_and(|s| s.starts_with("error"));
    let text = nonblank_field(event, "result");
    summary.verdict = Some(if is_error {
        let errors = event.get("errors").and_then(Value::as_array).map(|errors| {
            let texts: Vec<&str> = errors
                .iter()
                .filter_map(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .collect();
            texts.join("; ")
        });
        let message = text
            .or(errors.as_deref().filter(|s| !s.is_empty()))
            .or(subtype.filter(|s| !s.is_empty()))
            .unwrap_or("error");
        error_verdict(message)
    } else {
        if let Some(text) = text {
            summary.last_message = Some(truncate(text, LAST_MESSAGE_MAX_CHARS));
        }
        Verdict::Success
    });
    if let Some(turns) = u64_field(event, "num_turns") {
        summary.num_turns = Some(turns);
    }
    if let Some(cost) = f64_field(event, "total_cost_usd").or(f64_field(event, "cost_usd")) {
        summary.cost_usd = Some(cost);
    }
    if let Some(usage) = event.get("usage").filter(|u| u.is_object()) {
        summary.usage = Some(Usage {
            input_tokens: u64_field(usage, "input_tokens").unwrap_or(0),
            output_tokens: u64_field(usage, "output_tokens").unwrap_or(0),
            cached_input_tokens: u64_field(usage, "cache_read_input_tokens"),
            cache_creation_input_tokens: u64_field(usage, "cache_creation_input_tokens"),
            total_tokens: None,
        });
    }
    if let Some(denials) = event.get("permission_denials").and_then(Value::as_array) {
        summary.permission_denials = denials.len() as u64;
    }
}
