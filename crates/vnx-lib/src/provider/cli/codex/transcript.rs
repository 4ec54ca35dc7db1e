//! `codex exec --json` as a transcript: `thread.started`, `item.started`/`item.completed`
//! (messages, commands and their output, file changes, tool calls, declined commands),
//! `turn.completed` (tokens), `turn.failed` and `error`.

use serde_json::Value;

use crate::provider::cli::render::*;

/// A renderer of `codex exec --json`.
#[derive(Debug, Default)]
pub(super) struct CodexTranscript;

impl TranscriptEvents for CodexTranscript {
    fn event(&mut self, kind: &str, event: &Value, out: &mut Sink) {
        match kind {
            "thread.started" => {
                let id = str_of(event, "thread_id").unwrap_or("-");
                out.push("start", &format!("codex, thread {id}"));
            }
            "item.started" => {
                if let Some(item) = event.get("item")
                    && str_of(item, "type") == Some("command_execution")
                {
                    let id = str_of(item, "id").unwrap_or("");
                    out.remember(id, "command_execution");
                    out.push("$", &codex_command(item));
                }
            }
            "item.completed" => {
                if let Some(item) = event.get("item") {
                    self.codex_item(out, item);
                }
            }
            "turn.completed" => {
                let usage = event.get("usage").unwrap_or(&Value::Null);
                let mut parts = vec!["turn done".to_owned()];
                parts.extend(tokens(
                    u64_of(usage, "input_tokens"),
                    u64_of(usage, "output_tokens"),
                    u64_of(usage, "cached_input_tokens"),
                ));
                out.push("end", &parts.join(" · "));
            }
            "turn.failed" => {
                let why = event
                    .get("error")
                    .and_then(|e| nonblank(e, "message"))
                    .unwrap_or("turn failed");
                out.push("end", &format!("error: {}", one_line(why)));
            }
            "error" => error_line(out, event),
            _ => {}
        }
    }
}

impl CodexTranscript {
    fn codex_item(&mut self, out: &mut Sink, item: &Value) {
        let id = str_of(item, "id").unwrap_or("");
        match str_of(item, "type") {
            Some("agent_message") => {
                if let Some(text) = nonblank(item, "text") {
                    out.push_lines("says", text, MAX_MESSAGE_LINES);
                }
            }
            Some("command_execution") => command_done(out, item, id, &codex_command(item)),
            Some("file_change") => {
                for change in array(item, "changes") {
                    let kind = str_of(change, "kind").unwrap_or("change");
                    let path = str_of(change, "path").unwrap_or("-");
                    out.push("▸", &format!("{kind} {path}"));
                }
                if str_of(item, "status") == Some("failed") {
                    out.push_result(false, "");
                }
            }
            Some("mcp_tool_call") => {
                let server = str_of(item, "server").unwrap_or("-");
                let tool = str_of(item, "tool").unwrap_or("-");
                let args = describe_input(item.get("arguments").unwrap_or(&Value::Null));
                out.push("▸", &format!("{server}.{tool} {args}"));
                if str_of(item, "status") == Some("failed") {
                    let why = item.get("error").and_then(|e| nonblank(e, "message"));
                    out.push_result(false, why.unwrap_or(""));
                }
            }
            Some("web_search") => {
                let query = str_of(item, "query").unwrap_or("");
                out.push("▸", &format!("web search {query}"));
            }
            Some("error") => error_line(out, item),
            _ => {}
        }
    }
}

/// A finished command (in both its stream and its rollout): the command, unless it was
/// shown as it started (remembered by its `id`), then its result: `denied` when declined,
/// else its output and a failing exit code.
pub(super) fn command_done(out: &mut Sink, item: &Value, id: &str, command: &str) {
    if out.tool_of(id).is_none() {
        out.push("$", command);
    }
    let output = str_of(item, "aggregated_output").unwrap_or("");
    match (
        str_of(item, "status"),
        item.get("exit_code").and_then(Value::as_i64),
    ) {
        (Some("declined"), _) => out.push("denied", command),
        (_, Some(0)) => out.push_result(true, output),
        (_, Some(code)) => out.push_result(false, &format!("exit {code}\n{output}")),
        (_, None) => out.push_result(false, output),
    }
}

/// The command codex ran, without the `bash -lc '…'` (`bash -c '…'` when it runs no login
/// shell) it wraps commands in.
pub(super) fn codex_command(item: &Value) -> String {
    let command = describe_input(item);
    for shell in [
        "/bin/bash -lc ",
        "bash -lc ",
        "/bin/bash -c ",
        "bash -c ",
        "/bin/sh -c ",
        "sh -c ",
        "/bin/zsh -lc ",
    ] {
        if let Some(rest) = command.strip_prefix(shell)
            && let Some(inner) = rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\''))
            && !inner.contains('\'')
        {
            return inner.to_owned();
        }
    }
    command
}

#[cfg(test)]
mod tests {
    use crate::provider::transcript::render;

    #[test]
    fn a_failed_command_shows_its_exit_and_output() {
        let stream = concat!(
            r#"{"type":"thread.started","thread_id":"t-1"}"#,
            "\n",
            r#"{"type":"item.started","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc 'cargo test'","status":"in_progress"}}"#,
            "\n",
            r#"{"type":"item.completed","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc 'cargo test'","aggregated_output":"error: no\n","exit_code":101,"status":"failed"}}"#,
            "\n",
        );
        assert_eq!(
            render(stream.as_bytes()),
            [
                "start   codex, thread t-1",
                "$       cargo test",
                "  ↳ err exit 101",
                "        error: no",
            ]
        );
    }
}
