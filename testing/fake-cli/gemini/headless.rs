//! Gemini's headless output: `-o stream-json` events (init, messages, tool_use/tool_result,
//! error, result), the `-o json` document, or plain text.

use serde_json::{Value, json};

use super::args::GeminiArgs;
use super::{API_ERROR, Session};
use crate::engine::{self, Ctx, Observer, Status, ToolCall, ToolKind, ToolResult};
use crate::log::InvocationLog;
use crate::sys;

pub fn headless(
    a: &GeminiArgs,
    prompt: &str,
    session: &mut Session,
    ctx: &mut Ctx,
    log: &mut InvocationLog,
) -> i32 {
    eprintln!("Ripgrep is not available. Falling back to GrepTool.");
    let format = a.output_format.as_deref().unwrap_or("text");
    let stream = format == "stream-json";
    if stream {
        emit(
            &json!({"type": "init", "timestamp": sys::iso_now(), "session_id": session.sid, "model": session.model}),
        );
        emit(
            &json!({"type": "message", "timestamp": sys::iso_now(), "role": "user", "content": prompt}),
        );
    }
    let mut obs = StreamObserver {
        stream,
        tool_id: String::new(),
    };
    let turn = engine::run_turn(prompt, ctx, &mut obs);
    session.end_turn(&turn);
    log.push_turn(turn.record());
    let (i, o) = if turn.failed {
        (0, 0)
    } else {
        (turn.input_tokens, turn.output_tokens)
    };
    let stats = json!({
        "total_tokens": i + o, "input_tokens": i, "output_tokens": o,
        "duration_ms": turn.duration.as_millis() as u64, "tool_calls": turn.calls.len(),
    });
    let error = json!({"type": "ApiError", "message": API_ERROR});
    match (format, turn.failed) {
        ("stream-json", true) => {
            emit(
                &json!({"type": "error", "timestamp": sys::iso_now(), "severity": "error", "message": API_ERROR}),
            );
            emit(
                &json!({"type": "result", "timestamp": sys::iso_now(), "status": "error", "error": error, "stats": stats}),
            );
        }
        ("stream-json", false) => {
            emit(
                &json!({"type": "message", "timestamp": sys::iso_now(), "role": "assistant",
                         "content": turn.final_text, "delta": true}),
            );
            emit(
                &json!({"type": "result", "timestamp": sys::iso_now(), "status": "success", "stats": stats}),
            );
        }
        ("json", true) => emit(&json!({"session_id": session.sid, "error": {
            "type": "ApiError", "message": API_ERROR, "code": 400}})),
        ("json", false) => {
            emit(&json!({"session_id": session.sid, "response": turn.final_text, "stats": stats}))
        }
        (_, true) => eprintln!("{API_ERROR}"),
        (_, false) => println!("{}", turn.final_text),
    }
    if turn.failed { 1 } else { 0 }
}

fn emit(event: &Value) {
    println!("{event}");
}

pub fn tool_name(call: &ToolCall) -> &'static str {
    match call.kind {
        ToolKind::Write { .. } => "write_file",
        ToolKind::Run { .. } => "run_shell_command",
    }
}

/// `-o stream-json`: `tool_use`/`tool_result` events.
struct StreamObserver {
    stream: bool,
    /// The id of the call in flight (`run_shell_command-<millis>-<n>`).
    tool_id: String,
}

impl Observer for StreamObserver {
    fn tool_started(&mut self, call: &ToolCall) {
        if !self.stream {
            return;
        }
        let parameters = match &call.kind {
            ToolKind::Write { abs, text, .. } => {
                json!({"file_path": abs, "content": format!("{text}\n")})
            }
            ToolKind::Run { command, .. } => json!({"command": command}),
        };
        self.tool_id = format!("{}-{}-{}", tool_name(call), sys::millis_now(), call.n);
        emit(
            &json!({"type": "tool_use", "timestamp": sys::iso_now(), "tool_name": tool_name(call),
                     "tool_id": self.tool_id, "parameters": parameters}),
        );
    }

    fn approve(&mut self, _call: &ToolCall) -> bool {
        false
    }

    fn tool_finished(&mut self, call: &ToolCall, result: &ToolResult) {
        if !self.stream {
            return;
        }
        let mut event =
            json!({"type": "tool_result", "timestamp": sys::iso_now(), "tool_id": self.tool_id});
        let (output, error) = match (&call.kind, result.status) {
            (ToolKind::Write { abs, .. }, Status::Ok) if result.existed => (
                format!("Successfully overwrote file: {}.", abs.display()),
                None,
            ),
            (ToolKind::Write { abs, .. }, Status::Ok) => (
                format!(
                    "Successfully created and wrote to new file: {}.",
                    abs.display()
                ),
                None,
            ),
            (ToolKind::Run { .. }, Status::Ok) => (result.output.clone(), None),
            (ToolKind::Write { .. }, Status::Failed) => (
                String::new(),
                Some(("execution_failed", result.output.clone())),
            ),
            (ToolKind::Run { .. }, Status::Failed) => (
                result.output.clone(),
                Some((
                    "shell_execute_error",
                    format!(
                        "Command exited with code {}",
                        result.exit_code.unwrap_or(-1)
                    ),
                )),
            ),
            (_, Status::Denied) => (
                String::new(),
                Some((
                    "execution_denied",
                    format!(
                        "Tool execution for \"{}\" requires user confirmation, which is not supported in non-interactive mode.",
                        tool_name(call)
                    ),
                )),
            ),
        };
        event["status"] = json!(if error.is_none() { "success" } else { "error" });
        event["output"] = json!(output);
        if let Some((kind, message)) = error {
            event["error"] = json!({"type": kind, "message": message});
        }
        emit(&event);
    }
}
