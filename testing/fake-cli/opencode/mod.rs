//! The `opencode` personality (1.18.33), headless lane: `opencode run --format json` with
//! the message from stdin (or its arguments), its permission rules from
//! `OPENCODE_PERMISSION` (`--auto` allows every ask), `--session=ID` to continue a session
//! (`Session not found`, exit 1, for one it does not hold); `step_start`/`tool_use`/`text`/
//! `step_finish` events (tokens in `step_finish`), an ask auto-rejected with exit 0, an HTTP
//! 400 as one `error` event and exit 1.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::engine::{
    self, Ctx, Observer, Policy, Posture, RunRule, Status, ToolCall, ToolKind, ToolResult,
};
use crate::log::{self, InvocationLog};
use crate::{Refusal, sys};

const VERSION: &str = "1.18.33";
const REJECTED: &str = "The user rejected permission to use this specific tool call.";

#[derive(Default)]
struct Args {
    run: bool,
    format: Option<String>,
    model: Option<String>,
    auto: bool,
    session: Option<String>,
    message: Vec<String>,
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
            "run" if !a.run && a.message.is_empty() => a.run = true,
            "--format" => a.format = Some(value(flag)?),
            "-m" | "--model" => a.model = Some(value(flag)?),
            "--auto" => a.auto = true,
            "-s" | "--session" => a.session = Some(value(flag)?),
            f if f.starts_with('-') => {
                return Err(Refusal {
                    message: format!("Unknown argument: {}", f.trim_start_matches('-')),
                    code: 1,
                });
            }
            _ => a.message.push(arg.clone()),
        }
    }
    Ok(Some(a))
}

/// Its data directory: `$XDG_DATA_HOME/opencode`, else `~/.local/share/opencode`. The
/// stand-in keeps its sessions there as one JSON file each (the real one uses SQLite).
fn sessions_dir() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(std::env::var_os("HOME")?).join(".local/share")))?;
    Some(data.join("opencode/vnx-fake-sessions"))
}

fn session_id() -> String {
    let letters: String = sys::uuid_v4().replace('-', "");
    format!("ses_{}", &letters[..26])
}

/// `OPENCODE_PERMISSION`: `{"*": "allow"}`, or `edit` and `bash` rules (`*` and prefixes
/// `P` / `P *`). Without rules every tool is allowed (its default).
fn policy(a: &Args, cwd: &Path) -> Policy {
    let rules: Value = std::env::var("OPENCODE_PERMISSION")
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let everything = rules.is_null() || rules["*"] == "allow" || a.auto;
    let posture = if everything {
        Posture::Full
    } else if rules["edit"] == "allow" {
        Posture::Edits
    } else {
        Posture::Ask
    };
    let mut p = Policy::new(posture, vec![cwd.to_path_buf()]);
    match &rules["bash"] {
        Value::String(s) if s == "allow" => p.run_rules.push(RunRule::Any),
        Value::Object(bash) => {
            for (pattern, decision) in bash {
                if decision != "allow" {
                    continue;
                }
                p.run_rules.push(match pattern.strip_suffix('*') {
                    Some("") => RunRule::Any,
                    Some(prefix) => RunRule::Prefix(prefix.to_owned()),
                    None => RunRule::Exact(pattern.clone()),
                });
            }
        }
        _ => {}
    }
    p
}

pub fn main(argv: &[String]) -> i32 {
    let mut log = InvocationLog::start(
        "opencode",
        argv,
        &[
            "OPENCODE_PERMISSION",
            "OPENCODE_CONFIG_CONTENT",
            "OPENCODE_DISABLE_PROJECT_CONFIG",
        ],
    );
    let a = match parse(&argv[1..]) {
        Ok(Some(a)) => a,
        Ok(None) => return crate::print_and_log(&mut log, &format!("{VERSION}\n"), "version"),
        Err(r) => return r.report(&mut log),
    };
    if !a.run {
        return Refusal {
            message: "vnx-fake-cli: the opencode stand-in has no TUI; use `opencode run`".into(),
            code: 1,
        }
        .report(&mut log);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let (prompt, source) = if a.message.is_empty() {
        (sys::read_stdin_to_end(), "stdin")
    } else {
        // Joined and wrapped in double quotes, as the real one sends it.
        (format!("\"{}\"", a.message.join(" ")), "argument")
    };
    let dir = sessions_dir();
    let (sid, mut earlier) = match &a.session {
        None => (session_id(), Vec::new()),
        Some(id) => {
            let held = dir
                .as_ref()
                .and_then(|d| std::fs::read_to_string(d.join(format!("{id}.json"))).ok())
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .filter(|s| s["directory"] == json!(cwd));
            match held {
                Some(s) => (
                    id.clone(),
                    s["prompts"].as_array().cloned().unwrap_or_default(),
                ),
                None => {
                    return Refusal {
                        message: format!("Error: Session not found: {id}"),
                        code: 1,
                    }
                    .report(&mut log);
                }
            }
        }
    };
    log.set("mode", "headless")
        .set("session_id", sid.as_str())
        .set("earlier_prompts", earlier.clone())
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
    let json_out = a.format.as_deref() == Some("json");
    let mut obs = Events {
        json: json_out,
        sid: sid.clone(),
        message: String::new(),
    };
    let turn = engine::run_turn(&prompt, &mut ctx, &mut obs);
    earlier.push(json!(prompt));
    if let Some(dir) = &dir {
        let _ = std::fs::create_dir_all(dir);
        let record = json!({"id": sid, "directory": cwd, "prompts": earlier});
        let _ = sys::write_atomically(
            &dir.join(format!("{sid}.json")),
            record.to_string().as_bytes(),
        );
    }
    let code = if turn.failed {
        obs.emit(
            json!({"type": "error", "timestamp": sys::millis_now(), "sessionID": sid,
            "error": {"name": "APIError", "data": {"message": "scripted failure",
            "statusCode": 400, "isRetryable": false}}}),
        );
        if !json_out {
            eprintln!("Error: scripted failure");
        }
        1
    } else {
        obs.step_start();
        obs.emit(
            json!({"type": "text", "timestamp": sys::millis_now(), "sessionID": sid,
            "part": {"id": part_id(), "messageID": obs.message, "sessionID": sid, "type": "text",
            "text": turn.final_text}}),
        );
        obs.step_finish("stop", turn.input_tokens, turn.output_tokens);
        if !json_out {
            println!("{}", turn.final_text);
        }
        0
    };
    log.push_turn(turn.record());
    log.finish("exited", code, None);
    code
}

fn part_id() -> String {
    format!("prt_{}", &sys::uuid_v4().replace('-', "")[..26])
}

struct Events {
    json: bool,
    sid: String,
    message: String,
}

impl Events {
    fn emit(&self, event: Value) {
        if self.json {
            println!("{event}");
        }
    }

    fn step_start(&mut self) {
        self.message = format!("msg_{}", &sys::uuid_v4().replace('-', "")[..26]);
        self.emit(json!({"type": "step_start", "timestamp": sys::millis_now(), "sessionID": self.sid,
            "part": {"id": part_id(), "messageID": self.message, "sessionID": self.sid, "type": "step-start"}}));
    }

    /// The tokens of a step: the stand-in counts the turn's all in its last step.
    fn step_finish(&self, reason: &str, input: u64, output: u64) {
        self.emit(json!({"type": "step_finish", "timestamp": sys::millis_now(), "sessionID": self.sid,
            "part": {"id": part_id(), "reason": reason, "messageID": self.message, "sessionID": self.sid,
            "type": "step-finish", "tokens": {"total": input + output, "input": input, "output": output,
            "reasoning": 0, "cache": {"write": 0, "read": 0}}, "cost": 0}}));
    }
}

impl Observer for Events {
    fn tool_started(&mut self, _call: &ToolCall) {
        self.step_start();
    }

    fn approve(&mut self, _call: &ToolCall) -> bool {
        false
    }

    fn tool_finished(&mut self, call: &ToolCall, result: &ToolResult) {
        let (tool, input) = match &call.kind {
            ToolKind::Write { abs, text, .. } => (
                "write",
                json!({"filePath": abs, "content": format!("{text}\n")}),
            ),
            ToolKind::Run { command, .. } => ("bash", json!({"command": command})),
        };
        let state = match result.status {
            Status::Denied => {
                let what = input["command"]
                    .as_str()
                    .or(input["filePath"].as_str())
                    .unwrap_or_default();
                eprintln!("! permission requested: {tool} ({what}); auto-rejecting");
                json!({"status": "error", "input": input, "error": REJECTED})
            }
            Status::Ok if tool == "write" => {
                json!({"status": "completed", "input": input, "output": "Wrote file successfully."})
            }
            _ => json!({"status": "completed", "input": input,
                "output": if result.output.is_empty() { "(no output)".to_owned() } else { result.output.clone() },
                "metadata": {"exit": result.exit_code}}),
        };
        self.emit(
            json!({"type": "tool_use", "timestamp": sys::millis_now(), "sessionID": self.sid,
            "part": {"type": "tool", "tool": tool, "callID": format!("call_{:024}", call.n),
            "state": state, "id": part_id(), "sessionID": self.sid, "messageID": self.message}}),
        );
        self.step_finish("tool-calls", 0, 0);
    }
}
