//! qwen's own session file (`<home>/projects/<cwd>/chats/<id>.jsonl`, what its TUI writes;
//! seen on qwen 0.15.10) as a transcript: one line per entry, each written once: `user` (the
//! prompt, not shown), `assistant` (`message.parts`: `text`, `functionCall`), `tool_result`
//! (`functionResponse` with its `output` or `error`, and `toolCallResult.status`; a refusal is
//! `errorType: execution_denied`), and `system` lines of its telemetry (not shown). A
//! resumed session appends to the same file, so a follow-up's transcript starts with the
//! earlier turns.

use serde_json::Value;

use crate::provider::cli::render::*;

/// A renderer of qwen's session file.
#[derive(Debug, Default)]
pub(super) struct SessionTranscript {
    /// Whether its start was drawn.
    started: bool,
}

impl TranscriptEvents for SessionTranscript {
    fn event(&mut self, kind: &str, event: &Value, out: &mut Sink) {
        if !self.started
            && let Some(session) = str_of(event, "sessionId")
        {
            self.started = true;
            let version = str_of(event, "version").unwrap_or("-");
            out.push("start", &format!("qwen {version}, session {session}"));
        }
        match kind {
            "assistant" => assistant(out, event),
            "tool_result" => tool_result(out, event),
            _ => {}
        }
    }
}

/// An entry's `message.parts`.
fn parts(event: &Value) -> &[Value] {
    event.get("message").map_or(&[], |m| array(m, "parts"))
}

fn assistant(out: &mut Sink, event: &Value) {
    for part in parts(event) {
        if let Some(text) = nonblank(part, "text") {
            if part.get("thought").and_then(Value::as_bool) != Some(true) {
                out.push_lines("says", text, MAX_MESSAGE_LINES);
            }
        } else if let Some(call) = part.get("functionCall") {
            let name = str_of(call, "name").unwrap_or("tool");
            if let Some(id) = str_of(call, "id") {
                out.remember(id, name);
            }
            let args = describe_input(call.get("args").unwrap_or(&Value::Null));
            show_call(out, SAYS, name, &args, name == "run_shell_command");
        }
    }
}

fn tool_result(out: &mut Sink, event: &Value) {
    let result = event.get("toolCallResult").unwrap_or(&Value::Null);
    let denied = str_of(result, "errorType") == Some("execution_denied");
    for part in parts(event) {
        let Some(response) = part.get("functionResponse") else {
            continue;
        };
        let body = response.get("response").unwrap_or(&Value::Null);
        let text = str_of(body, "output")
            .or_else(|| str_of(body, "error"))
            .map_or_else(|| compact(body), str::to_owned);
        if denied {
            let tool = str_of(response, "name").unwrap_or("tool");
            out.push("denied", &format!("{tool}: {}", one_line(&text)));
        } else {
            out.push_result(str_of(result, "status") == Some("success"), &text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SessionTranscript;
    use crate::provider::transcript::Transcript;

    #[test]
    fn its_tuis_session_is_drawn_with_the_denied_command() {
        let mut t = Transcript::of(Box::<SessionTranscript>::default());
        let mut lines = t.feed(
            include_str!("../../../../../../tests/support/fixtures/qwen/tui-session.jsonl")
                .as_bytes(),
        );
        lines.extend(t.finish());
        let text = lines.join("\n");
        assert!(
            lines[0].contains("qwen 0.15.10, session 6bc11514-dff2-4fcf-8b46-c3df871bdb56"),
            "{text}"
        );
        let drawn = |label: &str, end: &str| {
            lines
                .iter()
                .any(|l| l.starts_with(label) && l.ends_with(end))
        };
        assert!(drawn("$", "echo hi > ran.txt"), "{text}");
        assert!(
            drawn("denied", "run_shell_command: A person said no."),
            "{text}"
        );
        assert!(drawn("says", "Ran it."), "{text}");
        assert!(!text.contains("ui_telemetry"), "{text}");
    }
}
