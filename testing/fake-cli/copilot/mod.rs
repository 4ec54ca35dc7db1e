//! The `copilot` personality (GitHub Copilot CLI 1.0.102), headless lane: `copilot -p PROMPT
//! --output-format json` (the prompt on stdin without `-p`), `--allow-tool=write`,
//! `--allow-tool=shell(CMD)`, `--allow-all-tools`, `--session-id=UUID` for a new session and
//! `--resume=UUID` to continue one; its events (`user.message`, `assistant.*`, `tool.*`,
//! `result` without tokens; `session.error` and exit 1 on an HTTP 400; a refused tool exits
//! 0) and the session's `events.jsonl` under `$COPILOT_HOME` (else `~/.copilot`)
//! `/session-state/ID/`, whose `session.usage_record` events hold the tokens.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::engine::{
    self, Ctx, Observer, Policy, Posture, RunRule, Status, ToolCall, ToolKind, ToolResult,
};
use crate::log::{self, InvocationLog};
use crate::{Refusal, sys};

const VERSION: &str = "GitHub Copilot CLI 1.0.102.\nRun 'copilot update' to check for updates.\n";
const DENIED: &str = "Permission denied because no interactive user response was available. Retry in an interactive session so the user can approve it, or try an alternative that does not require this permission.";
/// The tools whose first subcommand a `shell(TOOL SUB)` rule can name (seen: git, cargo).
const KNOWN_TOOLS: [&str; 2] = ["git", "cargo"];

#[derive(Default)]
struct Args {
    prompt: Option<String>,
    interactive: Option<String>,
    format: Option<String>,
    model: Option<String>,
    allow_all: bool,
    allow: Vec<String>,
    session_id: Option<String>,
    resume: Option<String>,
}

fn parse(argv: &[String]) -> Result<Option<Args>, Refusal> {
    let mut a = Args::default();
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or(Refusal {
                    message: format!("error: option '{name}' argument missing"),
                    code: 1,
                })
        };
        match flag {
            "--version" | "-v" => return Ok(None),
            "-p" | "--prompt" => a.prompt = Some(value(flag)?),
            "-i" | "--interactive" => a.interactive = Some(value(flag)?),
            "--output-format" => a.format = Some(value(flag)?),
            "--model" => a.model = Some(value(flag)?),
            "--allow-all-tools" => a.allow_all = true,
            "--allow-tool" => a.allow.push(value(flag)?),
            "--session-id" => a.session_id = Some(value(flag)?),
            "--resume" => a.resume = Some(value(flag)?),
            _ => {
                return Err(Refusal {
                    message: format!("error: unknown option '{arg}'"),
                    code: 1,
                });
            }
        }
    }
    Ok(Some(a))
}

/// `$COPILOT_HOME`, else `~/.copilot`.
fn home() -> Option<PathBuf> {
    std::env::var_os("COPILOT_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(std::env::var_os("HOME")?).join(".copilot")))
}

/// Its allow rules: `write` its file tools; `shell(CMD)` a command by its name, and by its
/// first subcommand only for the tools it knows (`shell(vnx report)` matches nothing).
fn policy(a: &Args, cwd: &Path) -> Policy {
    let posture = if a.allow_all {
        Posture::Full
    } else {
        Posture::Ask
    };
    let mut p = Policy::new(posture, vec![cwd.to_path_buf()]);
    for rule in &a.allow {
        if rule == "write" {
            p.writes_allowed = true;
        } else if let Some(cmd) = rule
            .strip_prefix("shell(")
            .and_then(|r| r.strip_suffix(')'))
        {
            let words: Vec<&str> = cmd.split_whitespace().collect();
            match words.as_slice() {
                [name] => {
                    p.run_rules.push(RunRule::Exact((*name).to_owned()));
                    p.run_rules.push(RunRule::Prefix(format!("{name} ")));
                }
                [name, sub] if KNOWN_TOOLS.contains(name) => {
                    p.run_rules.push(RunRule::Exact(format!("{name} {sub}")));
                    p.run_rules.push(RunRule::Prefix(format!("{name} {sub} ")));
                }
                _ => {}
            }
        }
    }
    p
}

pub fn main(argv: &[String]) -> i32 {
    let mut log = InvocationLog::start("copilot", argv, &["COPILOT_HOME", "COPILOT_MODEL"]);
    let a = match parse(&argv[1..]) {
        Ok(Some(a)) => a,
        Ok(None) => return crate::print_and_log(&mut log, VERSION, "version"),
        Err(r) => return r.report(&mut log),
    };
    if a.interactive.is_some() {
        return Refusal {
            message: "vnx-fake-cli: the copilot stand-in has no TUI".into(),
            code: 1,
        }
        .report(&mut log);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let (prompt, source) = match a.prompt.clone() {
        Some(p) => (p, "argument"),
        None => (sys::read_stdin_to_end(), "stdin"),
    };
    let sid = a
        .resume
        .clone()
        .or_else(|| a.session_id.clone())
        .unwrap_or_else(sys::uuid_v4);
    let file = home().map(|h| h.join("session-state").join(&sid).join("events.jsonl"));
    let before = file
        .as_ref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .unwrap_or_default();
    let earlier: Vec<Value> = before
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "user.message")
        .map(|e| e["data"]["content"].clone())
        .collect();
    log.set("mode", "headless")
        .set("session_id", sid.as_str())
        .set("earlier_prompts", earlier)
        .set("prompt", prompt.as_str())
        .set("prompt_source", source)
        .set("phase", "running")
        .write();
    // `--model`, else `COPILOT_MODEL` (how the real-CLI tier runs it), else the model that
    // tier seeds.
    let model = a
        .model
        .clone()
        .or_else(|| {
            std::env::var("COPILOT_MODEL")
                .ok()
                .filter(|m| !m.is_empty())
        })
        .unwrap_or_else(|| "mock-model".into());
    let mut obs = Events {
        json: a.format.as_deref() == Some("json"),
        model: model.clone(),
        session: Vec::new(),
        turn: 0,
        parent: None,
    };
    if before.is_empty() {
        obs.record(
            json!({"type": "session.start", "data": {"sessionId": sid, "version": 1,
            "producer": "copilot-agent", "copilotVersion": "1.0.102", "startTime": sys::iso_now(),
            "selectedModel": model, "context": {"cwd": cwd}}}),
        );
    } else {
        obs.record(json!({"type": "session.resume", "data": {"resumeTime": sys::iso_now()}}));
    }
    obs.both(json!({"type": "user.message", "data": {"content": prompt}}));
    obs.turn_start();
    let mut ctx = Ctx {
        policy: policy(&a, &cwd),
        cwd: cwd.clone(),
        tool_env: Vec::new(),
        log_dir: log::log_dir(),
        calls_made: 0,
    };
    let turn = engine::run_turn(&prompt, &mut ctx, &mut obs);
    let code = if turn.failed {
        obs.both(json!({"type": "assistant.turn_end", "data": {"turnId": obs.turn.to_string()}}));
        obs.both(
            json!({"type": "session.error", "data": {"errorType": "query",
            "message": "400 scripted failure", "statusCode": 400}}),
        );
        1
    } else {
        obs.both(
            json!({"type": "assistant.message", "data": {"messageId": sys::uuid_v4(),
            "model": model, "content": turn.final_text, "toolRequests": []}}),
        );
        obs.both(json!({"type": "assistant.turn_end", "data": {"turnId": obs.turn.to_string()}}));
        obs.record(
            json!({"type": "session.usage_record", "data": {"usage": {"model": model,
            "inputTokens": turn.input_tokens, "outputTokens": turn.output_tokens,
            "cacheReadTokens": 0, "cacheWriteTokens": 0, "reasoningTokens": 0, "cost": 0.0}}}),
        );
        0
    };
    obs.record(json!({"type": "session.shutdown", "data": {}}));
    if obs.json {
        println!(
            "{}",
            json!({"type": "result", "timestamp": sys::iso_now(), "sessionId": sid, "exitCode": code,
                "usage": {"premiumRequests": 0, "totalApiDurationMs": 0,
                "sessionDurationMs": turn.duration.as_millis() as u64}})
        );
    } else if turn.failed {
        eprintln!("Error: 400 scripted failure");
    } else {
        println!("{}", turn.final_text);
    }
    if let Some(file) = &file {
        let mut all = before;
        for e in &obs.session {
            all.push_str(&format!("{e}\n"));
        }
        let _ = std::fs::create_dir_all(file.parent().unwrap_or(Path::new(".")));
        let _ = sys::write_atomically(file, all.as_bytes());
    }
    log.push_turn(turn.record());
    log.finish("exited", code, None);
    code
}

struct Events {
    json: bool,
    model: String,
    /// What goes into the session's `events.jsonl`.
    session: Vec<Value>,
    turn: u64,
    parent: Option<String>,
}

impl Events {
    /// Gives `event` its id, timestamp and parent and adds it to the session file.
    fn record(&mut self, mut event: Value) -> Value {
        let id = sys::uuid_v4();
        event["id"] = json!(id);
        event["timestamp"] = json!(sys::iso_now());
        event["parentId"] = json!(self.parent);
        self.parent = Some(id);
        self.session.push(event.clone());
        event
    }

    /// Adds `event` to the session file and prints it.
    fn both(&mut self, event: Value) {
        let event = self.record(event);
        if self.json {
            println!("{event}");
        }
    }

    fn turn_start(&mut self) {
        self.both(
            json!({"type": "assistant.turn_start", "data": {"turnId": self.turn.to_string()}}),
        );
    }
}

impl Observer for Events {
    fn tool_started(&mut self, call: &ToolCall) {
        let (name, arguments) = match &call.kind {
            ToolKind::Write { abs, text, .. } => (
                "create",
                json!({"path": abs, "file_text": format!("{text}\n")}),
            ),
            ToolKind::Run { command, .. } => (
                "bash",
                json!({"command": command, "description": "Run scripted command"}),
            ),
        };
        let id = format!("call_{:024}", call.n);
        self.both(
            json!({"type": "assistant.message", "data": {"messageId": sys::uuid_v4(),
            "model": self.model, "content": "", "toolRequests": [{"toolCallId": id, "name": name,
            "arguments": arguments, "type": "function"}], "turnId": self.turn.to_string()}}),
        );
        self.both(
            json!({"type": "tool.execution_start", "data": {"toolCallId": id,
            "toolName": name, "arguments": arguments, "turnId": self.turn.to_string()}}),
        );
    }

    fn approve(&mut self, _call: &ToolCall) -> bool {
        false
    }

    fn tool_finished(&mut self, call: &ToolCall, result: &ToolResult) {
        let id = format!("call_{:024}", call.n);
        let mut data = json!({"toolCallId": id, "model": self.model, "turnId": self.turn.to_string(),
            "success": result.status == Status::Ok});
        match result.status {
            Status::Denied => data["error"] = json!({"message": DENIED, "code": "denied"}),
            Status::Failed => data["error"] = json!({"message": result.output, "code": "failure"}),
            Status::Ok => data["result"] = json!({"content": result.output}),
        }
        self.both(json!({"type": "tool.execution_complete", "data": data}));
        self.both(json!({"type": "assistant.turn_end", "data": {"turnId": self.turn.to_string()}}));
        self.turn += 1;
        self.turn_start();
    }
}
