//! opencode's `run --format json` stream as a transcript: its session, the assistant's text,
//! each finished tool call with its output (a refused one as a denial), and each turn's end
//! (`stop`) with the steps and tokens so far; a failed model request as an error. How the
//! stream words a refusal and an error is here, and its event parser reads them from here.

use serde_json::Value;

use crate::provider::cli::render::*;
use crate::provider::cli::stream::{add, nonblank_field, str_field, truncate, u64_field};

/// How opencode words a tool call a permission rule or an ask refused.
const REFUSALS: [&str; 2] = [
    "The user rejected permission to use this specific tool call",
    "The user has specified a rule which prevents you from using this specific tool call",
];

/// Whether a finished tool call was refused by a permission rule or a rejected ask.
pub(super) fn refused(part: &Value) -> bool {
    let state = part.get("state").unwrap_or(&Value::Null);
    str_field(state, "status") == Some("error")
        && str_field(state, "error").is_some_and(|e| REFUSALS.iter().any(|r| e.starts_with(r)))
}

/// An `error` event in a few words: `APIError (HTTP 400): scripted failure`.
pub(super) fn error_message(event: &Value) -> String {
    let error = event.get("error").unwrap_or(&Value::Null);
    let name = nonblank_field(error, "name").unwrap_or("error");
    let data = error.get("data").unwrap_or(&Value::Null);
    let message = nonblank_field(data, "message")
        .or_else(|| nonblank_field(error, "message"))
        .unwrap_or("");
    let status = u64_field(data, "statusCode")
        .map(|code| format!(" (HTTP {code})"))
        .unwrap_or_default();
    let text = if message.is_empty() {
        format!("{name}{status}")
    } else {
        format!("{name}{status}: {message}")
    };
    truncate(&text, 500)
}

/// A renderer of opencode's headless stream.
#[derive(Debug, Default)]
pub(crate) struct OpencodeTranscript {
    started: bool,
    steps: u64,
    input: u64,
    output: u64,
    cached: u64,
    denials: u64,
}

/// Whether an event is opencode's: one of its kinds, naming its session as `sessionID`.
pub(crate) fn claims(kind: &str, event: &Value) -> bool {
    matches!(
        kind,
        "step_start" | "step_finish" | "tool_use" | "text" | "error"
    ) && str_of(event, "sessionID").is_some()
}

impl TranscriptEvents for OpencodeTranscript {
    fn event(&mut self, kind: &str, event: &Value, out: &mut Sink) {
        if !self.started {
            self.started = true;
            let session = str_of(event, "sessionID").unwrap_or("-");
            out.push("start", &format!("opencode, session {session}"));
        }
        let part = event.get("part").unwrap_or(&Value::Null);
        match kind {
            "text" => {
                if let Some(text) = nonblank(part, "text") {
                    out.push_lines("says", text, MAX_MESSAGE_LINES);
                }
            }
            "tool_use" => self.tool(part, out),
            "step_finish" => self.step_finish(part, out),
            // Its session records the message under way as aborted when its TUI is closed
            // (vnx closes it once the turn ended): no failure of the worker's.
            "error" if aborted(event) => out.push("end", "aborted: its session was closed"),
            "error" => {
                let message = error_message(event);
                out.push("end", &format!("error: {message}"));
            }
            _ => {}
        }
    }
}

impl OpencodeTranscript {
    fn tool(&mut self, part: &Value, out: &mut Sink) {
        let name = str_of(part, "tool").unwrap_or("tool");
        let state = part.get("state").unwrap_or(&Value::Null);
        let what = describe_input(state.get("input").unwrap_or(&Value::Null));
        if refused(part) {
            self.denials += 1;
            out.push("denied", &format!("{name} {what}"));
            return;
        }
        show_call(out, SAYS, name, &what, name == "bash");
        match str_of(state, "status") {
            Some("error") => out.push_result(false, str_of(state, "error").unwrap_or("")),
            _ => out.push_result(true, str_of(state, "output").unwrap_or("")),
        }
    }

    fn step_finish(&mut self, part: &Value, out: &mut Sink) {
        self.steps += 1;
        if let Some(tokens) = part.get("tokens") {
            add(&mut self.input, u64_of(tokens, "input"));
            add(&mut self.output, u64_of(tokens, "output"));
            add(
                &mut self.cached,
                tokens.get("cache").and_then(|c| u64_of(c, "read")),
            );
        }
        if str_of(part, "reason") == Some("tool-calls") {
            return;
        }
        let mut parts = vec!["success".to_owned(), format!("{} step(s)", self.steps)];
        parts.extend(tokens(
            Some(self.input),
            Some(self.output),
            Some(self.cached),
        ));
        if self.denials > 0 {
            parts.push(format!("{} permission denial(s)", self.denials));
        }
        out.push("end", &parts.join(" · "));
    }
}

/// Whether an `error` is its `MessageAbortedError`: a message stopped by closing the TUI.
fn aborted(event: &Value) -> bool {
    event
        .get("error")
        .and_then(|e| e.get("name"))
        .and_then(Value::as_str)
        == Some("MessageAbortedError")
}

#[cfg(test)]
mod tests {
    use crate::provider::events::testing::fixture;
    use crate::provider::transcript::render;

    #[test]
    fn a_worker_log_of_opencode_is_drawn_as_opencode() {
        let lines = render(fixture("opencode", "headless-shell.jsonl").as_bytes());
        let text = lines.join("\n");
        assert!(
            lines[0].starts_with("start   opencode, session ses_"),
            "{text}"
        );
        assert!(lines.iter().any(|l| l.starts_with("$ ")), "{text}");
        let end = lines.last().unwrap();
        assert!(end.starts_with("end     success · "), "{text}");
        assert!(end.contains(" in, "), "{end}");
    }

    #[test]
    fn a_denial_and_an_api_error_are_drawn() {
        let lines = render(fixture("opencode", "headless-denied.jsonl").as_bytes());
        assert!(
            lines.iter().any(|l| l == "denied  bash echo hi > ran.txt"),
            "{lines:?}"
        );
        let lines = render(fixture("opencode", "api-error.jsonl").as_bytes());
        assert_eq!(
            lines.last().unwrap(),
            "end     error: APIError (HTTP 400): scripted failure"
        );
    }

    #[test]
    fn a_message_aborted_by_closing_its_tui_is_no_error() {
        let line = br#"{"type":"error","timestamp":1,"sessionID":"ses_1","error":{"name":"MessageAbortedError","data":{"message":"Aborted"}}}"#;
        let lines = render(line);
        assert_eq!(
            lines.last().unwrap(),
            "end     aborted: its session was closed"
        );
    }
}
