//! codex's own session file (`sessions/YYYY/MM/DD/rollout-*.jsonl`, what its TUI writes; seen
//! on codex 0.169) as a transcript: `session_meta` (the session), the model's shell calls as
//! it asks for them (`response_item`/`function_call`, so a command waiting for approval shows),
//! then codex's `event_msg`/`item_completed` items (the command's result, file changes, the
//! assistant's messages), `token_count` (totals, shown when the turn ends at
//! `task_complete`), `turn_aborted` and `error`.

use serde_json::Value;

use crate::provider::cli::render::*;

/// A renderer of codex's rollout file, what its TUI writes.
#[derive(Debug, Default)]
pub(super) struct RolloutTranscript {
    /// The session's working directory (paths are shown relative to it).
    rollout_cwd: String,
    /// The latest token totals (shown at the end of a turn).
    rollout_tokens: Option<(u64, u64, u64)>,
}

impl TranscriptEvents for RolloutTranscript {
    fn event(&mut self, kind: &str, event: &Value, out: &mut Sink) {
        let payload = event.get("payload").unwrap_or(&Value::Null);
        match kind {
            "session_meta" => {
                self.rollout_cwd = str_of(payload, "cwd").unwrap_or("").to_owned();
                let id = str_of(payload, "id").unwrap_or("-");
                let version = str_of(payload, "cli_version")
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default();
                out.push("start", &format!("codex{version}, session {id}"));
            }
            "response_item" => self.rollout_response_item(out, payload),
            "event_msg" => self.rollout_event(out, payload),
            _ => {}
        }
    }
}

impl RolloutTranscript {
    /// What the model asked for: a command (shown at once, before it runs or waits for
    /// approval) or another tool; its messages are shown from their `item_completed`.
    fn rollout_response_item(&mut self, out: &mut Sink, payload: &Value) {
        let call = str_of(payload, "call_id").unwrap_or("");
        match str_of(payload, "type") {
            Some("function_call") => {
                let name = str_of(payload, "name").unwrap_or("-");
                let args = str_of(payload, "arguments")
                    .and_then(|a| serde_json::from_str::<Value>(a).ok())
                    .unwrap_or(Value::Null);
                let shell = matches!(name, "exec_command" | "shell" | "local_shell");
                out.remember(call, if shell { "command" } else { name });
                show_call(out, SAYS, name, &describe_input(&args), shell);
            }
            Some("local_shell_call") => {
                let action = payload.get("action").unwrap_or(&Value::Null);
                out.remember(call, "command");
                out.push("$", &describe_input(action));
            }
            _ => {}
        }
    }

    fn rollout_event(&mut self, out: &mut Sink, payload: &Value) {
        match str_of(payload, "type") {
            Some("item_completed") => {
                if let Some(item) = payload.get("item") {
                    self.rollout_item(out, item);
                }
            }
            Some("token_count") => {
                let total = payload
                    .get("info")
                    .and_then(|i| i.get("total_token_usage"))
                    .unwrap_or(&Value::Null);
                if let (Some(i), Some(o)) = (
                    u64_of(total, "input_tokens"),
                    u64_of(total, "output_tokens"),
                ) {
                    let cached = u64_of(total, "cached_input_tokens").unwrap_or(0);
                    self.rollout_tokens = Some((i, o, cached));
                }
            }
            Some("task_complete") => {
                let mut parts = vec!["turn done".to_owned()];
                if let Some((i, o, c)) = self.rollout_tokens {
                    parts.extend(tokens(Some(i), Some(o), Some(c)));
                }
                out.push("end", &parts.join(" · "));
            }
            Some("turn_aborted") => {
                let why = nonblank(payload, "reason").unwrap_or("aborted");
                out.push("end", &format!("turn aborted ({why})"));
            }
            Some("error") => error_line(out, payload),
            _ => {}
        }
    }

    fn rollout_item(&mut self, out: &mut Sink, item: &Value) {
        let id = str_of(item, "id").unwrap_or("");
        match str_of(item, "type") {
            Some("AgentMessage") => {
                let text: Vec<&str> = (array(item, "content").iter())
                    .filter_map(|c| str_of(c, "text"))
                    .collect();
                let text = text.join("\n");
                if !text.trim().is_empty() {
                    out.push_lines("says", &text, MAX_MESSAGE_LINES);
                }
            }
            Some("CommandExecution") => {
                super::transcript::command_done(out, item, id, &rollout_command(item));
            }
            Some("FileChange") => {
                if let Some(Value::Object(changes)) = item.get("changes") {
                    for (path, change) in changes {
                        let kind = str_of(change, "type").unwrap_or("change");
                        let shown = path
                            .strip_prefix(self.rollout_cwd.as_str())
                            .and_then(|p| p.strip_prefix('/'))
                            .filter(|_| !self.rollout_cwd.is_empty())
                            .unwrap_or(path);
                        out.push("▸", &format!("{kind} {shown}"));
                    }
                }
                if str_of(item, "status") == Some("failed") {
                    out.push_result(false, str_of(item, "stderr").unwrap_or(""));
                }
            }
            Some("McpToolCall") => {
                let server = str_of(item, "server").unwrap_or("-");
                let tool = str_of(item, "tool").unwrap_or("-");
                out.push("▸", &format!("{server}.{tool}"));
            }
            Some("Error") => error_line(out, item),
            _ => {}
        }
    }
}

/// The command of a `CommandExecution`: its parsed form, else its argv without the
/// `bash -c` codex wraps it in.
fn rollout_command(item: &Value) -> String {
    let parsed: Vec<&str> = (array(item, "parsed_cmd").iter())
        .filter_map(|p| str_of(p, "cmd"))
        .collect();
    if !parsed.is_empty() {
        return one_line(&parsed.join(" && "));
    }
    let argv: Vec<&str> = (array(item, "command").iter())
        .filter_map(Value::as_str)
        .collect();
    match argv.as_slice() {
        [shell, flag, script] if shell.ends_with("sh") && flag.starts_with('-') => one_line(script),
        _ => one_line(&argv.join(" ")),
    }
}
