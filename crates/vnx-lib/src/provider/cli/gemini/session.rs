//! gemini's own session file (`~/.gemini/tmp/<project>/chats/session-*.jsonl`, what its TUI
//! writes; seen on gemini 0.61) as a transcript: a first line naming the session, then one
//! line per message, written again under the same `id` as it grows (a `gemini` message gains
//! its `toolCalls`, each with its status and result, once they ran), and `$set` lines that
//! update the session's metadata. Each message and tool call is shown once; `user` messages
//! (the prompt, the tools' responses) are not shown, the calls' results are.

use serde_json::Value;

use crate::provider::cli::render::*;

/// A renderer of gemini's session file, what its TUI writes.
#[derive(Debug, Default)]
pub(super) struct SessionTranscript;

impl TranscriptEvents for SessionTranscript {
    fn event(&mut self, kind: &str, event: &Value, out: &mut Sink) {
        if let Some(session) = str_of(event, "sessionId")
            && event.get("projectHash").is_some()
        {
            out.push("start", &format!("gemini, session {session}"));
            return;
        }
        let id = str_of(event, "id").unwrap_or("");
        match kind {
            "gemini" => {
                let key = format!("message {id}");
                if out.tool_of(&key).is_none() {
                    let text = content_text(event.get("content").unwrap_or(&Value::Null));
                    if !text.trim().is_empty() {
                        out.remember(&key, "shown");
                        out.push_lines("says", &text, MAX_MESSAGE_LINES);
                    }
                }
                for call in array(event, "toolCalls") {
                    self.gemini_session_call(out, call);
                }
            }
            "error" | "warning" => {
                let text = content_text(event.get("content").unwrap_or(&Value::Null));
                out.push(kind, &one_line(&text));
            }
            _ => {}
        }
    }
}

impl SessionTranscript {
    /// A tool call, once: its command (or name and arguments) and its result.
    fn gemini_session_call(&mut self, out: &mut Sink, call: &Value) {
        let id = format!("call {}", str_of(call, "id").unwrap_or(""));
        if out.tool_of(&id).is_some() {
            return;
        }
        let name = str_of(call, "name").unwrap_or("tool");
        out.remember(&id, name);
        let args = call.get("args").unwrap_or(&Value::Null);
        let what = describe_input(args);
        show_call(out, SAYS, name, &what, name == "run_shell_command");
        let output = (array(call, "result").iter())
            .filter_map(|r| r.pointer("/functionResponse/response"))
            .map(|r| {
                str_of(r, "output")
                    .or_else(|| str_of(r, "error"))
                    .map_or_else(|| compact(r), shell_output)
            })
            .collect::<Vec<_>>()
            .join("\n");
        match str_of(call, "status") {
            Some("success") => out.push_result(true, &output),
            Some("cancelled") => out.push("denied", &describe_input(args)),
            _ => out.push_result(false, &output),
        }
    }
}

/// A shell tool's output without the wrapping gemini gives the model (`<untrusted_context>`,
/// `Output: `, the process group).
fn shell_output(text: &str) -> String {
    text.lines()
        .filter(|l| {
            !matches!(l.trim(), "<untrusted_context>" | "</untrusted_context>")
                && !l.starts_with("Process Group PGID:")
        })
        .map(|l| l.strip_prefix("Output: ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}
