//! The `qwen` personality (Qwen Code 0.15.10), headless lane: `qwen PROMPT -o stream-json`
//! (the prompt on stdin without one), `--approval-mode default|auto-edit|yolo|plan` (`plan`
//! refuses a write as `default` does headless, as the real qwen's plan mode did),
//! `--allowed-tools run_shell_command(PREFIX)`, `--resume=ID`; `system`/`assistant`/`user`/`result`
//! events whose failed request is a successful `result` reading `[API Error: 400 …]`, exit 0 either way;
//! the session file `<QWEN_HOME or ~/.qwen>/projects/<cwd>/chats/<id>.jsonl`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::engine::{
    self, Ctx, Observer, Policy, Posture, RunRule, Status, ToolCall, ToolKind, ToolResult,
};
use crate::log::{self, InvocationLog};
use crate::{Refusal, sys};

const VERSION: &str = "0.15.10";
const API_ERROR: &str = "[API Error: 400 scripted failure]";
const DECLINED: &str = "Qwen Code requires permission to use \"run_shell_command\", but that permission was declined (non-interactive mode cannot prompt for confirmation).";

#[derive(Default)]
struct Args {
    prompt: Option<String>,
    output: Option<String>,
    model: Option<String>,
    approval: Option<String>,
    allowed: Vec<String>,
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
                    message: format!("Not enough arguments following: {name}"),
                    code: 1,
                })
        };
        match flag {
            "--version" | "-v" => return Ok(None),
            "-o" | "--output-format" => a.output = Some(value(flag)?),
            "-m" | "--model" => a.model = Some(value(flag)?),
            "--approval-mode" => a.approval = Some(value(flag)?),
            "--allowed-tools" => a.allowed.push(value(flag)?),
            "-r" | "--resume" => a.resume = Some(value(flag)?),
            f if f.starts_with('-') => {
                return Err(Refusal {
                    message: format!("Unknown argument: {}", f.trim_start_matches('-')),
                    code: 1,
                });
            }
            _ => a.prompt = Some(arg.clone()),
        }
    }
    Ok(Some(a))
}

/// `QWEN_HOME`, else `~/.qwen`.
fn home() -> Option<PathBuf> {
    std::env::var_os("QWEN_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(std::env::var_os("HOME")?).join(".qwen")))
}

/// `projects/<cwd, every other character than a letter or digit as ->/chats/<id>.jsonl`.
fn session_file(cwd: &Path, sid: &str) -> Option<PathBuf> {
    let cwd = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_owned());
    let munged: String = cwd
        .display()
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    Some(
        home()?
            .join("projects")
            .join(munged)
            .join("chats")
            .join(format!("{sid}.jsonl")),
    )
}

fn policy(a: &Args, cwd: &Path) -> Policy {
    let posture = match a.approval.as_deref() {
        Some("yolo") => Posture::Full,
        Some("auto-edit") => Posture::Edits,
        _ => Posture::Ask,
    };
    let mut p = Policy::new(posture, vec![cwd.to_path_buf()]);
    for rule in &a.allowed {
        if let Some(prefix) = rule
            .strip_prefix("run_shell_command(")
            .and_then(|r| r.strip_suffix(')'))
        {
            p.run_rules.push(RunRule::Prefix(prefix.to_owned()));
        } else if rule == "run_shell_command" {
            p.run_rules.push(RunRule::Any);
        }
    }
    p
}

pub fn main(argv: &[String]) -> i32 {
    let mut log = InvocationLog::start(
        "qwen",
        argv,
        &["QWEN_HOME", "QWEN_CODE_SYSTEM_SETTINGS_PATH"],
    );
    let a = match parse(&argv[1..]) {
        Ok(Some(a)) => a,
        Ok(None) => return crate::print_and_log(&mut log, &format!("{VERSION}\n"), "version"),
        Err(r) => return r.report(&mut log),
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    let (prompt, source) = match a.prompt.clone().filter(|p| !p.is_empty()) {
        Some(p) => (p, "argument"),
        None => (sys::read_stdin_to_end(), "stdin"),
    };
    if prompt.trim().is_empty() {
        return Refusal {
            message: "No input provided via stdin.".into(),
            code: 1,
        }
        .report(&mut log);
    }
    let sid = a.resume.clone().unwrap_or_else(sys::uuid_v4);
    let file = session_file(&cwd, &sid);
    let earlier: Vec<Value> = file
        .as_ref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["type"] == "user")
        .map(|r| r["message"]["parts"][0]["text"].clone())
        .collect();
    let model = a.model.clone().unwrap_or_else(|| "qwen3-coder-plus".into());
    log.set("mode", "headless")
        .set("session_id", sid.as_str())
        .set("approval_mode", a.approval.clone())
        .set("earlier_prompts", earlier)
        .set("prompt", prompt.as_str())
        .set("prompt_source", source)
        .set("phase", "running")
        .write();
    let mut ctx = Ctx {
        policy: policy(&a, &cwd),
        cwd: cwd.clone(),
        tool_env: Vec::new(),
        log_dir: log::log_dir(),
        calls_made: 0,
    };
    let stream = a.output.as_deref() == Some("stream-json");
    let mut obs = Events {
        stream,
        sid: sid.clone(),
        model: model.clone(),
        denials: Vec::new(),
    };
    obs.emit(
        json!({"type": "system", "subtype": "init", "uuid": sid, "session_id": sid,
        "cwd": cwd, "model": model, "permission_mode": a.approval.as_deref().unwrap_or("default"),
        "qwen_code_version": VERSION}),
    );
    let turn = engine::run_turn(&prompt, &mut ctx, &mut obs);
    let text = if turn.failed {
        API_ERROR
    } else {
        turn.final_text.as_str()
    };
    let (i, o) = if turn.failed {
        (0, 0)
    } else {
        (turn.input_tokens, turn.output_tokens)
    };
    obs.assistant(json!([{"type": "text", "text": text}]), i, o);
    obs.emit(json!({"type": "result", "subtype": "success", "uuid": sys::uuid_v4(),
        "session_id": sid, "is_error": false, "duration_ms": turn.duration.as_millis() as u64,
        "num_turns": turn.calls.len() + 1, "result": text,
        "usage": {"input_tokens": i, "output_tokens": o, "cache_read_input_tokens": 0, "total_tokens": i + o},
        "permission_denials": obs.denials}));
    if !stream {
        println!("{text}");
    }
    if let Some(file) = &file {
        let records = [
            json!({"uuid": sys::uuid_v4(), "sessionId": sid, "timestamp": sys::iso_now(), "type": "user",
                "cwd": cwd, "version": VERSION, "message": {"role": "user", "parts": [{"text": prompt}]}}),
            json!({"uuid": sys::uuid_v4(), "sessionId": sid, "timestamp": sys::iso_now(), "type": "assistant",
                "cwd": cwd, "version": VERSION, "model": model,
                "message": {"role": "model", "parts": [{"text": text}]},
                "usageMetadata": {"promptTokenCount": i, "candidatesTokenCount": o, "totalTokenCount": i + o}}),
        ];
        let mut all = std::fs::read_to_string(file).unwrap_or_default();
        for r in records {
            all.push_str(&format!("{r}\n"));
        }
        let _ = std::fs::create_dir_all(file.parent().unwrap_or(Path::new(".")));
        let _ = sys::write_atomically(file, all.as_bytes());
    }
    log.push_turn(turn.record());
    log.finish("exited", 0, None);
    0
}

/// The `-o stream-json` events of the tool calls.
struct Events {
    stream: bool,
    sid: String,
    model: String,
    denials: Vec<Value>,
}

impl Events {
    fn emit(&self, event: Value) {
        if self.stream {
            println!("{event}");
        }
    }

    fn assistant(&self, content: Value, i: u64, o: u64) {
        let uuid = sys::uuid_v4();
        self.emit(
            json!({"type": "assistant", "uuid": uuid, "session_id": self.sid,
            "parent_tool_use_id": null, "message": {"id": uuid, "type": "message",
            "role": "assistant", "model": self.model, "content": content,
            "usage": {"input_tokens": i, "output_tokens": o}}}),
        );
    }

    fn call_id(call: &ToolCall) -> String {
        format!("call_{:024}", call.n)
    }

    fn input(call: &ToolCall) -> (&'static str, Value) {
        match &call.kind {
            ToolKind::Write { abs, text, .. } => (
                "write_file",
                json!({"file_path": abs, "content": format!("{text}\n")}),
            ),
            ToolKind::Run { command, .. } => (
                "run_shell_command",
                json!({"command": command, "description": "Run scripted command"}),
            ),
        }
    }
}

impl Observer for Events {
    fn tool_started(&mut self, call: &ToolCall) {
        let (name, input) = Self::input(call);
        self.assistant(
            json!([{"type": "tool_use", "id": Self::call_id(call), "name": name, "input": input}]),
            0,
            0,
        );
    }

    fn approve(&mut self, _call: &ToolCall) -> bool {
        false
    }

    fn tool_finished(&mut self, call: &ToolCall, result: &ToolResult) {
        let (content, is_error) = match (&call.kind, result.status) {
            (_, Status::Denied) => {
                let (name, input) = Self::input(call);
                self.denials.push(json!({"tool_name": name, "tool_use_id": Self::call_id(call), "tool_input": input}));
                (DECLINED.to_owned(), true)
            }
            (ToolKind::Write { abs, .. }, Status::Ok) => (
                format!(
                    "Successfully created and wrote to new file: {}.",
                    abs.display()
                ),
                false,
            ),
            (_, _) => (result.output.clone(), result.status != Status::Ok),
        };
        self.emit(json!({"type": "user", "uuid": sys::uuid_v4(), "session_id": self.sid,
            "parent_tool_use_id": null, "message": {"role": "user", "content": [{"type": "tool_result",
            "tool_use_id": Self::call_id(call), "is_error": is_error, "content": content}]}}));
    }
}
