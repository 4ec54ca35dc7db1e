//! The `claude` personality: startup checks, prompt intake, `-p` output (text, json,
//! stream-json events), the transcript file and the `Stop` hooks fired after every turn.

mod args;
mod background;
mod bypass;
mod headless;
mod screen;
mod trust;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::engine::{Ctx, Policy, Posture, Turn};
use crate::hooks::{self, Hook};
use crate::log::{self, InvocationLog};
use crate::{Refusal, sys};
use args::{ClaudeArgs, OutputFormat, Parsed};
pub use headless::API_ERROR;
use headless::{final_text, tool_result, tool_use};

pub const DEFAULT_MODEL: &str = "claude-sonnet-4-5";

/// Everything a Claude session keeps between turns.
pub struct Session {
    pub sid: String,
    pub model: String,
    pub cwd: PathBuf,
    pub transcript: Option<PathBuf>,
    pub stop_hooks: Vec<Hook>,
    /// `PermissionRequest`, `Notification` and `PostToolUse` command hooks.
    pub permission_hooks: Vec<Hook>,
    pub notification_hooks: Vec<Hook>,
    pub post_tool_hooks: Vec<Hook>,
    pub permission_mode: String,
    pub log_hooks: Vec<Value>,
    /// The decision the running `PermissionRequest` hooks return, once they return.
    pub hook_decision: Option<std::sync::mpsc::Receiver<Option<bool>>>,
    /// Whether the open dialog's `Notification` fired.
    pub notified: bool,
    /// Its background shells (`@fake background`).
    pub background: Vec<background::Task>,
    /// Whether it runs as `-p` (headless).
    pub print: bool,
}

impl Session {
    fn transcript_line(&self, kind: &str, message: Value) -> String {
        let line = json!({
            "type": kind,
            "message": message,
            "uuid": sys::uuid_v4(),
            "sessionId": self.sid,
            "cwd": self.cwd,
            "timestamp": sys::iso_now(),
        });
        format!("{line}\n")
    }

    /// Appends the user's prompt to the JSONL transcript as the turn starts (the real CLI
    /// writes each message as it happens, so a session stopped mid-turn can be resumed).
    pub fn record_prompt(&self, prompt: &str) {
        let line = self.transcript_line("user", json!({"role": "user", "content": prompt}));
        self.append(&line);
    }

    /// Appends the rest of the turn's messages to the JSONL transcript.
    pub fn record(&self, turn: &Turn) {
        let mut text = String::new();
        for (call, result) in &turn.calls {
            let content = json!([tool_use(call)]);
            text += &self.transcript_line(
                "assistant",
                json!({"role": "assistant", "content": content}),
            );
            let content = json!([tool_result(call, result)]);
            text += &self.transcript_line("user", json!({"role": "user", "content": content}));
        }
        let content = json!([{"type": "text", "text": final_text(turn)}]);
        text += &self.transcript_line(
            "assistant",
            json!({"role": "assistant", "model": self.model, "content": content}),
        );
        self.append(&text);
    }

    /// A model call's assistant message with its usage, appended to the JSONL transcript
    /// as it arrives (the real CLI writes each message with its `usage` as it happens: what
    /// vnx's session usage reads, `provider/cli/claude/sessions.rs`).
    pub fn record_spend(&self, n: usize, tokens: u64) {
        let message = json!({
            "id": format!("msg_spend_{n:03}"), "type": "message", "role": "assistant",
            "model": self.model, "content": [{"type": "text", "text": "…"}],
            "usage": {"input_tokens": tokens, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": 0},
        });
        let line = self.transcript_line("assistant", message);
        self.append(&line);
    }

    fn append(&self, text: &str) {
        let Some(path) = &self.transcript else {
            return;
        };
        let result =
            std::fs::create_dir_all(path.parent().unwrap_or(Path::new("/"))).and_then(|()| {
                use std::io::Write;
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?
                    .write_all(text.as_bytes())
            });
        if let Err(e) = result {
            eprintln!("vnx-fake-cli: transcript {}: {e}", path.display());
        }
    }

    fn fire(&mut self, event: &str, extra: Value) {
        let hooks = match event {
            "PermissionRequest" => &self.permission_hooks,
            "Notification" => &self.notification_hooks,
            "PostToolUse" => &self.post_tool_hooks,
            _ => return,
        };
        let mut payload = json!({
            "session_id": self.sid,
            "transcript_path": self.transcript.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            "cwd": self.cwd,
            "permission_mode": self.permission_mode,
            "hook_event_name": event,
        });
        if let (Some(p), Value::Object(extra)) = (payload.as_object_mut(), extra) {
            p.extend(extra);
        }
        let env = [(
            "CLAUDE_PROJECT_DIR".to_string(),
            self.cwd.display().to_string(),
        )];
        let fired = hooks::fire(hooks, &payload, &self.cwd, &env);
        self.log_hooks.extend(fired);
    }

    /// Starts the `PermissionRequest` hooks without waiting for them: the dialog shows and
    /// takes keys while they run, and a hook that prints a decision
    /// (`hookSpecificOutput.decision.behavior`: `allow` or `deny`) answers the dialog (seen
    /// on claude 2.1.197: "Allowed by PermissionRequest hook").
    fn permission_request(&mut self, extra: Value) {
        let mut payload = json!({
            "session_id": self.sid,
            "transcript_path": self.transcript.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            "cwd": self.cwd,
            "permission_mode": self.permission_mode,
            "hook_event_name": "PermissionRequest",
        });
        if let (Some(p), Value::Object(extra)) = (payload.as_object_mut(), extra) {
            p.extend(extra);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let hooks = self.permission_hooks.clone();
        let cwd = self.cwd.clone();
        self.log_hooks.extend(
            hooks
                .iter()
                .map(|h| json!({"command": h.command, "outcome": "started"})),
        );
        std::thread::spawn(move || {
            let mut decision = None;
            for hook in hooks {
                let out = hooks::run_for_output(&hook, &payload, &cwd);
                let said: Value = serde_json::from_str(out.trim()).unwrap_or(Value::Null);
                match said
                    .pointer("/hookSpecificOutput/decision/behavior")
                    .and_then(Value::as_str)
                {
                    Some("allow") => decision = Some(true),
                    Some("deny") => decision = Some(false),
                    _ => {}
                }
            }
            let _ = tx.send(decision);
        });
        self.hook_decision = Some(rx);
        self.notified = false;
    }

    /// The decision a `PermissionRequest` hook returned, if one has.
    pub fn decided_by_hook(&mut self) -> Option<bool> {
        let decided = self.hook_decision.as_ref()?.try_recv().ok().flatten();
        if decided.is_some() {
            self.hook_decision = None;
        }
        decided
    }

    /// As the approval dialog shows (seen on claude 2.1.197): `PermissionRequest` with the
    /// tool and its input (`Notification` follows while it still shows: `still_asking`).
    pub fn permission_asked(&mut self, call: &crate::engine::ToolCall) {
        let tool = tool_use(call);
        self.permission_request(
            json!({"tool_name": tool["name"], "tool_input": tool["input"],
                   "permission_suggestions": []}),
        );
    }

    /// The dialog still shows: about 6 s after it appeared, `Notification` of type
    /// `permission_prompt` (seen on claude 2.1.197), once.
    pub fn still_asking(&mut self, waited: std::time::Duration) {
        if waited >= std::time::Duration::from_secs(6) && !self.notified {
            self.notified = true;
            self.fire(
                "Notification",
                json!({"message": "Claude needs your permission", "notification_type": "permission_prompt"}),
            );
        }
    }

    /// After a tool ran: `PostToolUse`.
    pub fn tool_ran(&mut self, call: &crate::engine::ToolCall, result: &crate::engine::ToolResult) {
        let tool = tool_use(call);
        self.fire(
            "PostToolUse",
            json!({"tool_name": tool["name"], "tool_input": tool["input"],
                   "tool_response": tool_result(call, result)}),
        );
    }

    /// Records the turn and, unless the API call failed, fires the `Stop` hooks.
    pub fn end_turn(&mut self, turn: &Turn) {
        self.record(turn);
        if turn.failed {
            return;
        }
        let payload = json!({
            "session_id": self.sid,
            "transcript_path": self.transcript.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            "cwd": self.cwd,
            "hook_event_name": "Stop",
            "stop_hook_active": false,
            // As claude 2.1.197 sends it (tests/support/fixtures/claude-hook-payload.json).
            "last_assistant_message": turn.final_text,
        });
        self.stop(payload);
    }

    /// Fires the `Stop` hooks with `payload` and the background shells still running; in
    /// the TUI, once they end, `Stop` again with none (its own turn after them, unmodelled).
    fn stop(&mut self, mut payload: Value) {
        let env = [(
            "CLAUDE_PROJECT_DIR".to_string(),
            self.cwd.display().to_string(),
        )];
        let running: Vec<Value> = (self.background.iter_mut())
            .filter_map(|t| t.running().then(|| t.hook_entry()))
            .collect();
        let waits = !running.is_empty() && !self.print;
        payload["background_tasks"] = Value::Array(running);
        let fired = hooks::fire(&self.stop_hooks, &payload, &self.cwd, &env);
        self.log_hooks.extend(fired);
        if waits {
            background::wait(&mut self.background, None);
            payload["background_tasks"] = json!([]);
            let fired = hooks::fire(&self.stop_hooks, &payload, &self.cwd, &env);
            self.log_hooks.extend(fired);
        }
    }

    /// Starts a background shell (`@fake background`).
    pub fn start_background(&mut self, command: &str, ctx: &Ctx) -> Option<usize> {
        let n = self.background.len() + 1;
        let task = background::Task::start(n, command, &ctx.cwd, &ctx.tool_env)?;
        self.background.push(task);
        Some(n - 1)
    }
}

fn transcript_path(cwd: &Path, sid: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    let slug: String = cwd
        .display()
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    Some(
        PathBuf::from(home)
            .join(".claude/projects")
            .join(slug)
            .join(format!("{sid}.jsonl")),
    )
}

fn load_settings(spec: &str, cwd: &Path) -> Result<Value, String> {
    if spec.trim_start().starts_with('{') {
        return serde_json::from_str(spec)
            .map_err(|e| format!("Error: Invalid JSON provided to --settings: {e}"));
    }
    let path = sys::absolutize(cwd, Path::new(spec));
    match hooks::read_settings(&path) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(format!(
            "Error: Settings file not found: {}",
            path.display()
        )),
        Err(e) => Err(format!("Error: Invalid settings file {e}")),
    }
}

/// The permission mode the session runs in, as `init` reports it.
fn permission_mode(a: &ClaudeArgs, settings: &Value) -> String {
    if a.skip_permissions {
        return "bypassPermissions".into();
    }
    a.permission_mode
        .clone()
        .or_else(|| {
            settings
                .pointer("/permissions/defaultMode")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .unwrap_or_else(|| "default".into())
}

fn policy(a: &ClaudeArgs, mode: &str, settings: &Value, cwd: &Path, interactive: bool) -> Policy {
    let posture = match mode {
        "bypassPermissions" => Posture::Full,
        "acceptEdits" => Posture::Edits,
        _ => Posture::Ask,
    };
    let mut roots = vec![cwd.to_path_buf()];
    roots.extend(
        a.add_dirs
            .iter()
            .map(|d| sys::absolutize(cwd, Path::new(d))),
    );
    let mut p = Policy::new(posture, roots);
    args::apply_rules(&a.allowed_tools, &mut p);
    if let Some(allow) = settings
        .pointer("/permissions/allow")
        .and_then(Value::as_array)
    {
        let rules: Vec<String> = allow
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect();
        args::apply_rules(&rules, &mut p);
    }
    p.prompts = interactive && !matches!(mode, "dontAsk" | "plan");
    p
}

pub fn main(argv: &[String]) -> i32 {
    let mut log = InvocationLog::start("claude", argv, &[]);
    let a = match args::parse(&argv[1..]) {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Help) => return crate::print_and_log(&mut log, args::HELP, "help"),
        Ok(Parsed::Version) => {
            return crate::print_and_log(&mut log, &format!("{}\n", args::VERSION), "version");
        }
        Err(r) => return r.report(&mut log),
    };
    match run(&a, &mut log) {
        Ok(code) => {
            log.finish("exited", code, None);
            code
        }
        Err(r) => r.report(&mut log),
    }
}

fn run(a: &ClaudeArgs, log: &mut InvocationLog) -> Result<i32, Refusal> {
    let refuse = |message: &str| Refusal {
        message: message.to_string(),
        code: 1,
    };
    let cwd = std::env::current_dir().map_err(|e| refuse(&format!("Error: {e}")))?;
    let settings = match &a.settings {
        Some(spec) => load_settings(spec, &cwd).map_err(|m| refuse(&m))?,
        None => json!({}),
    };
    let mode = permission_mode(a, &settings);
    if mode == "bypassPermissions"
        && rustix::process::geteuid().is_root()
        && std::env::var("IS_SANDBOX").as_deref() != Ok("1")
    {
        return Err(refuse(
            "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons",
        ));
    }
    if let Some(sid) = &a.session_id {
        if !sys::is_uuid(sid) {
            return Err(refuse("Error: Invalid session ID. Must be a valid UUID."));
        }
        if a.resume.is_some() {
            return Err(refuse(
                "Error: --session-id can only be used with --continue or --resume if --fork-session is also specified.",
            ));
        }
    }
    let sid = a
        .resume
        .clone()
        .or_else(|| a.session_id.clone())
        .unwrap_or_else(sys::uuid_v4);
    let transcript = transcript_path(&cwd, &sid);
    if a.resume.is_some() && !transcript.as_ref().is_some_and(|t| t.exists()) {
        return Err(refuse(&format!(
            "No conversation found with session ID: {sid}"
        )));
    }
    if a.print && a.output_format == OutputFormat::StreamJson && !a.verbose {
        return Err(refuse(
            "Error: When using --print, --output-format=stream-json requires --verbose",
        ));
    }
    if !a.print && !sys::stdin_is_tty() {
        return Err(refuse(
            "Error: Raw mode is not supported on the current process.stdin, which Ink uses as input stream by default.\nRead about how to prevent this error on https://github.com/vadimdemedes/ink/#israwmodesupported",
        ));
    }
    let mut session = Session {
        sid: sid.clone(),
        model: a.model.clone().unwrap_or_else(|| DEFAULT_MODEL.to_string()),
        cwd: cwd.clone(),
        transcript,
        stop_hooks: hooks::command_hooks(&settings, "Stop"),
        permission_hooks: hooks::command_hooks(&settings, "PermissionRequest"),
        notification_hooks: hooks::command_hooks(&settings, "Notification"),
        post_tool_hooks: hooks::command_hooks(&settings, "PostToolUse"),
        permission_mode: a
            .permission_mode
            .clone()
            .unwrap_or_else(|| "default".into()),
        log_hooks: Vec::new(),
        hook_decision: None,
        notified: false,
        background: Vec::new(),
        print: a.print,
    };
    let mut ctx = Ctx {
        policy: policy(a, &mode, &settings, &cwd, !a.print),
        cwd,
        tool_env: vec![("CLAUDECODE".into(), "1".into())],
        log_dir: log::log_dir(),
        calls_made: 0,
    };
    // What a resumed session holds: the user prompts of its transcript.
    let earlier: Vec<Value> = session
        .transcript
        .as_ref()
        .filter(|_| a.resume.is_some())
        .and_then(|t| std::fs::read_to_string(t).ok())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["type"] == "user" && l["message"]["content"].is_string())
        .map(|l| l["message"]["content"].clone())
        .collect();
    log.set("mode", if a.print { "headless" } else { "interactive" })
        .set("earlier_prompts", earlier)
        .set("session_id", sid.as_str())
        .set("permission_mode", mode.as_str());
    let code = if a.print {
        headless::headless(a, &mode, &mut session, &mut ctx, log)?
    } else {
        log.set("prompt", a.prompt.clone())
            .set("prompt_source", a.prompt.as_ref().map(|_| "argument"))
            .set("phase", "running")
            .write();
        let mut agent = screen::ClaudeTui {
            session: &mut session,
            bypass: mode == "bypassPermissions",
        };
        crate::tui::run_session(&mut agent, &mut ctx, a.prompt.clone(), log)
    };
    log.set("hooks_fired", session.log_hooks.clone());
    Ok(code)
}
