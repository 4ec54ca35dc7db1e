//! Claude's `-p` output: the `system`/`assistant`/`user`/`result` stream-json events, the
//! single json result, plain text, and the tool_use/tool_result payloads they carry.

use serde_json::{Value, json};

use super::Session;
use super::args::{ClaudeArgs, OutputFormat};
use crate::engine::{self, Ctx, Observer, Status, ToolCall, ToolKind, ToolResult, Turn};
use crate::log::InvocationLog;
use crate::{Refusal, sys};

pub const API_ERROR: &str = "API Error: 400 {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"scripted failure\"}}";

pub fn final_text(turn: &Turn) -> &str {
    if turn.failed {
        API_ERROR
    } else {
        &turn.final_text
    }
}

pub fn tool_use(call: &ToolCall) -> Value {
    let (name, input) = match &call.kind {
        ToolKind::Write { abs, text, .. } => (
            "Write",
            json!({"file_path": abs, "content": format!("{text}\n")}),
        ),
        ToolKind::Run {
            command, commit, ..
        } => (
            "Bash",
            json!({"command": command, "description": if *commit { "Commit changes" } else { "Run shell command" }}),
        ),
    };
    json!({"type": "tool_use", "id": format!("toolu_{}", call.n), "name": name, "input": input})
}

pub fn tool_result(call: &ToolCall, result: &ToolResult) -> Value {
    let content = match (&call.kind, result.status) {
        (ToolKind::Write { abs, .. }, Status::Denied) => format!(
            "Claude requested permissions to write to {}, but you haven't granted it yet.",
            abs.display()
        ),
        (ToolKind::Run { .. }, Status::Denied) => {
            "Claude requested permissions to use Bash, but you haven't granted it yet.".to_string()
        }
        (ToolKind::Write { abs, .. }, Status::Ok) if result.existed => {
            format!("The file {} has been updated successfully.", abs.display())
        }
        (ToolKind::Write { abs, .. }, Status::Ok) => {
            format!("File created successfully at: {}", abs.display())
        }
        (ToolKind::Write { .. }, Status::Failed) => format!("Error: {}", result.output),
        (ToolKind::Run { .. }, Status::Ok) => result.output.trim_end().to_string(),
        (ToolKind::Run { .. }, Status::Failed) => format!(
            "Exit code {}\n{}",
            result.exit_code.unwrap_or(-1),
            result.output.trim_end()
        ),
    };
    json!({
        "tool_use_id": format!("toolu_{}", call.n),
        "type": "tool_result",
        "content": content,
        "is_error": result.status != Status::Ok,
    })
}

pub fn headless(
    a: &ClaudeArgs,
    mode: &str,
    session: &mut Session,
    ctx: &mut Ctx,
    log: &mut InvocationLog,
) -> Result<i32, Refusal> {
    let (prompt, source) = if sys::stdin_is_tty() {
        (a.prompt.clone().unwrap_or_default(), "argument")
    } else {
        log.set("phase", "reading-stdin").write();
        let input = sys::read_stdin_to_end();
        match &a.prompt {
            Some(p) if input.is_empty() => (p.clone(), "argument"),
            Some(p) => (format!("{p}\n{input}"), "argument+stdin"),
            None => (input, "stdin"),
        }
    };
    if prompt.trim().is_empty() {
        return Err(Refusal {
            message: "Error: Input must be provided either through stdin or as a prompt argument when using --print"
                .into(),
            code: 1,
        });
    }
    log.set("prompt", prompt.as_str())
        .set("prompt_source", source)
        .set("phase", "running")
        .write();
    let stream = a.output_format == OutputFormat::StreamJson;
    if stream {
        emit(&json!({
            "type": "system", "subtype": "init", "cwd": session.cwd, "session_id": session.sid,
            "tools": ["Bash", "Edit", "Read", "Write"], "mcp_servers": [], "model": session.model,
            "permissionMode": mode, "apiKeySource": "none",
        }));
    }
    let input_tokens = prompt.len() as u64 / 4 + 100;
    let mut obs = StreamObserver {
        session,
        stream,
        messages: 0,
        input_tokens,
    };
    obs.session.record_prompt(&prompt);
    let turn = engine::run_turn(&prompt, ctx, &mut obs);
    let messages = obs.messages;
    session.end_turn(&turn);
    log.push_turn(turn.record());
    if stream && !turn.failed {
        let content = json!([{"type": "text", "text": turn.final_text}]);
        emit(&assistant(session, messages + 1, content, input_tokens));
    }
    let result = result_event(session, &turn);
    match a.output_format {
        OutputFormat::StreamJson | OutputFormat::Json => emit(&result),
        OutputFormat::Text => println!("{}", final_text(&turn)),
    }
    if !session.background.is_empty() {
        after_turn(session, stream, &turn, &result);
    }
    Ok(if turn.failed { 1 } else { 0 })
}

/// After its `result`: background shells waited for up to [`background::PRINT_WAIT`], then
/// stopped; each one's end said, and one that ended in time starts another turn (as claude
/// 2.1.197 did: `init`, its answer, `result` again).
fn after_turn(session: &mut Session, stream: bool, turn: &Turn, result: &Value) {
    let until = std::time::Instant::now() + super::background::PRINT_WAIT;
    super::background::wait(&mut session.background, Some(until));
    let mut completed = false;
    for task in &mut session.background {
        task.stop();
        completed |= task.ended == Some("completed");
        if stream {
            for event in task.ended_events(&session.sid) {
                emit(&event);
            }
        }
    }
    if stream && completed {
        emit(
            &json!({"type": "system", "subtype": "init", "cwd": session.cwd,
                     "session_id": session.sid, "model": session.model}),
        );
        let content = json!([{"type": "text", "text": turn.final_text}]);
        emit(&assistant(session, 1, content, 100));
        emit(result);
    }
}

fn emit(event: &Value) {
    println!("{event}");
}

fn assistant(session: &Session, n: usize, content: Value, input_tokens: u64) -> Value {
    json!({
        "type": "assistant",
        "message": {
            "id": format!("msg_{n:03}"), "type": "message", "role": "assistant", "model": session.model,
            "content": content, "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": input_tokens, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": 10},
        },
        "parent_tool_use_id": null,
        "session_id": session.sid,
    })
}

fn result_event(session: &Session, turn: &Turn) -> Value {
    let denials: Vec<Value> = turn
        .denials()
        .map(|(call, _)| {
            let use_ = tool_use(call);
            json!({"tool_name": use_["name"], "tool_use_id": use_["id"], "tool_input": use_["input"]})
        })
        .collect();
    let ms = turn.duration.as_millis() as u64;
    let (input, output) = if turn.failed {
        (0, 0)
    } else {
        (turn.input_tokens, turn.output_tokens)
    };
    json!({
        "type": "result", "subtype": "success", "is_error": turn.failed,
        "duration_ms": ms, "duration_api_ms": if turn.failed { 0 } else { ms },
        "num_turns": 1 + turn.calls.len(), "result": final_text(turn), "session_id": session.sid,
        "total_cost_usd": if turn.failed { 0.0 } else { 0.0123 },
        "usage": {"input_tokens": input, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0, "output_tokens": output},
        "permission_denials": denials,
    })
}

/// `-p`: tool calls as `assistant`/`user` stream-json events (nothing for text and json).
struct StreamObserver<'a> {
    session: &'a mut Session,
    stream: bool,
    messages: usize,
    input_tokens: u64,
}

impl Observer for StreamObserver<'_> {
    fn background(&mut self, command: &str, ctx: &crate::engine::Ctx) {
        let Some(i) = self.session.start_background(command, ctx) else {
            return;
        };
        if self.stream {
            emit(&self.session.background[i].started_event(&self.session.sid));
        }
    }

    fn tool_started(&mut self, call: &ToolCall) {
        self.messages += 1;
        if self.stream {
            let content = json!([tool_use(call)]);
            let mut event = assistant(self.session, self.messages, content, self.input_tokens);
            event["message"]["stop_reason"] = json!("tool_use");
            emit(&event);
        }
    }

    fn approve(&mut self, _call: &ToolCall) -> bool {
        false
    }

    fn spend(&mut self, tokens: u64) {
        self.messages += 1;
        self.session.record_spend(self.messages, tokens);
    }

    fn tool_finished(&mut self, call: &ToolCall, result: &ToolResult) {
        if self.stream {
            emit(&json!({
                "type": "user",
                "message": {"role": "user", "content": [tool_result(call, result)]},
                "parent_tool_use_id": null,
                "session_id": self.session.sid,
            }));
        }
    }
}
