//! The GitHub Copilot CLI's events as a transcript: its headless `--output-format json`
//! stream and the `events.jsonl` its sessions keep (headless and TUI) share one vocabulary.
//! Its start (`session.start`: version, model, session), the assistant's text and tool
//! calls, the tool results (a refused one as `denied`), a failed model request, the tokens a
//! session records (`session.usage_record`, summed), and the end (`result`, or the
//! session's `session.shutdown`). Ephemeral events (deltas, model calls) are not drawn. What
//! a refused tool call looks like is here, and its event parser reads it from here.

use serde_json::Value;

use crate::provider::cli::render::*;

/// Whether a finished tool call was refused: by the posture headless ("no interactive user
/// response was available"), a rule, a hook or a person (`error.code` `denied`).
pub(super) fn is_denied(data: &Value) -> bool {
    data.get("success").and_then(Value::as_bool) == Some(false)
        && data
            .get("error")
            .is_some_and(|e| str_of(e, "code") == Some("denied"))
}

/// Whether an event is copilot's: its vocabulary of dotted types (`session.…`, `user.…`,
/// `assistant.…`, `tool.…`, `model.…`, `system.…`, `hook.…`, `subagent.…`), or its `result`,
/// which names `sessionId` and `exitCode`. Other CLIs' dotted types (`thread.`, `turn.`,
/// `item.`) are not among them.
pub(super) fn claims(kind: &str, event: &Value) -> bool {
    const PREFIXES: [&str; 8] = [
        "session.",
        "user.",
        "assistant.",
        "tool.",
        "model.",
        "system.",
        "hook.",
        "subagent.",
    ];
    PREFIXES.iter().any(|p| kind.starts_with(p))
        || (kind == "result" && event.get("sessionId").is_some() && event.get("exitCode").is_some())
}

/// A renderer of copilot's events.
#[derive(Debug, Default)]
pub(super) struct CopilotTranscript {
    /// Turns that ended.
    turns: u64,
    /// Tokens its session recorded: input, output, cached.
    tokens: Option<(u64, u64, u64)>,
    /// Tool calls refused.
    denied: u64,
}

impl TranscriptEvents for CopilotTranscript {
    fn event(&mut self, kind: &str, event: &Value, out: &mut Sink) {
        if event.get("ephemeral").and_then(Value::as_bool) == Some(true) {
            return;
        }
        let data = event.get("data").unwrap_or(&Value::Null);
        match kind {
            "session.start" => {
                let version = str_of(data, "copilotVersion").unwrap_or("-");
                let model = str_of(data, "selectedModel").unwrap_or("-");
                let session = str_of(data, "sessionId").unwrap_or("-");
                out.push(
                    "start",
                    &format!("copilot {version}, model {model}, session {session}"),
                );
            }
            "session.resume" => out.push("resume", "the session goes on"),
            "assistant.message" => assistant(out, data),
            "tool.execution_complete" => {
                if is_denied(data) {
                    self.denied = self.denied.saturating_add(1);
                    let id = str_of(data, "toolCallId").unwrap_or("");
                    let what = out.tool_of(id).unwrap_or("tool").to_owned();
                    out.push("denied", &what);
                } else {
                    let ok = data.get("success").and_then(Value::as_bool) != Some(false);
                    let text = data
                        .get("result")
                        .and_then(|r| str_of(r, "content"))
                        .or_else(|| data.get("error").and_then(|e| str_of(e, "message")))
                        .unwrap_or("");
                    out.push_result(ok, text);
                }
            }
            "assistant.turn_end" => self.turns = self.turns.saturating_add(1),
            "session.usage_record" => {
                if let Some(u) = data.get("usage") {
                    let (i, o, c) = self.tokens.unwrap_or_default();
                    self.tokens = Some((
                        i.saturating_add(u64_of(u, "inputTokens").unwrap_or(0)),
                        o.saturating_add(u64_of(u, "outputTokens").unwrap_or(0)),
                        c.saturating_add(u64_of(u, "cacheReadTokens").unwrap_or(0)),
                    ));
                }
            }
            "session.error" => error_line(out, data),
            "result" => {
                let failed = event
                    .get("exitCode")
                    .and_then(Value::as_i64)
                    .is_some_and(|c| c != 0);
                self.end(out, failed);
            }
            "session.shutdown" => self.end(out, false),
            _ => {}
        }
    }
}

impl CopilotTranscript {
    fn end(&mut self, out: &mut Sink, failed: bool) {
        let mut parts = vec![if failed { "error" } else { "success" }.to_owned()];
        if self.turns > 0 {
            parts.push(format!("{} turn(s)", self.turns));
        }
        if let Some((i, o, c)) = self.tokens {
            parts.extend(tokens(Some(i), Some(o), Some(c)));
        }
        if self.denied > 0 {
            parts.push(format!("{} permission denial(s)", self.denied));
        }
        out.push("end", &parts.join(" · "));
        // A resumed session's next part counts afresh.
        *self = CopilotTranscript::default();
    }
}

fn assistant(out: &mut Sink, data: &Value) {
    let label = if data.get("parentToolCallId").is_some() {
        AGENT
    } else {
        SAYS
    };
    if let Some(text) = nonblank(data, "content") {
        out.push_lines(label[0], text, MAX_MESSAGE_LINES);
    }
    for call in array(data, "toolRequests") {
        let name = str_of(call, "name").unwrap_or("tool");
        let what = describe_input(call.get("arguments").unwrap_or(&Value::Null));
        show_call(out, label, name, &what, name == "bash");
        if let Some(id) = str_of(call, "toolCallId") {
            out.remember(id, &format!("{name} {what}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::provider::events::testing::fixture;
    use crate::provider::transcript::render;

    #[test]
    fn a_worker_log_of_copilot_is_drawn_as_copilot() {
        let lines = render(fixture("copilot", "headless-denied.jsonl").as_bytes());
        let text = lines.join("\n");
        let drawn = |label: &str, end: &str| {
            lines
                .iter()
                .any(|l| l.starts_with(label) && l.ends_with(end))
        };
        assert!(drawn("$", "echo hi > ran.txt"), "{text}");
        assert!(drawn("denied", "bash echo hi > ran.txt"), "{text}");
        assert!(drawn("says", "Ran it."), "{text}");
        let end = lines.last().unwrap();
        assert!(end.contains("success · 2 turn(s)"), "{end}");
        assert!(end.contains("1 permission denial(s)"), "{end}");
        assert!(
            !text.contains("tool_call_delta"),
            "ephemeral events: {text}"
        );
    }

    #[test]
    fn its_session_file_names_its_start_and_tokens() {
        let lines = render(fixture("copilot", "session-events.jsonl").as_bytes());
        let text = lines.join("\n");
        assert!(
            lines[0].starts_with("start")
                && lines[0].contains("copilot 1.0.102, model mock-model, session 9ac4954f"),
            "{text}"
        );
        assert!(text.contains("▸       create /"), "{text}");
        let end = lines.last().unwrap();
        assert!(end.contains("in,") && end.contains("out tokens"), "{end}");
    }

    #[test]
    fn an_api_error_ends_the_transcript_as_an_error() {
        let lines = render(fixture("copilot", "api-error.jsonl").as_bytes());
        let text = lines.join("\n");
        assert!(text.contains("error   400 scripted failure"), "{text}");
        assert!(lines.last().unwrap().starts_with("end     error"), "{text}");
    }
}
