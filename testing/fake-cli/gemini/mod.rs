//! The `gemini` personality: settings and folder trust, mode choice, prompt intake
//! (stdin first, then the prompt), headless output (text, json, stream-json), the chat file
//! and the `AfterAgent` hooks fired after every turn.

mod args;
mod headless;
mod screen;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::engine::{Ctx, Policy, Posture, RunRule, Turn};
use crate::hooks::{self, Hook};
use crate::log::{self, InvocationLog};
use crate::{Refusal, sys};
use args::{GeminiArgs, Parsed};

pub const DEFAULT_MODEL: &str = "gemini-2.5-pro";

/// The variable naming its system settings file (recorded in the invocation log too).
const SYSTEM_SETTINGS_VAR: &str = "GEMINI_CLI_SYSTEM_SETTINGS_PATH";

pub const API_ERROR: &str = "[API Error: scripted failure (status 400)]";

pub struct Session {
    pub sid: String,
    pub model: String,
    pub cwd: PathBuf,
    pub hooks: Vec<Hook>,
    /// `Notification` command hooks.
    pub notification_hooks: Vec<Hook>,
    /// `AfterTool` command hooks.
    pub after_tool_hooks: Vec<Hook>,
    pub chat: Option<PathBuf>,
    pub messages: Vec<Value>,
    pub log_hooks: Vec<Value>,
}

impl Session {
    /// As the confirmation dialog shows (seen on gemini 0.61): `Notification` of type
    /// `ToolPermission`, naming the command (`details`), once for every dialog.
    pub fn permission_asked(&mut self, call: &crate::engine::ToolCall) {
        let details = match &call.kind {
            crate::engine::ToolKind::Run { command, .. } => json!({
                "type": "exec", "title": "Confirm Shell Command", "command": command,
                "rootCommand": command.split_whitespace().next().unwrap_or_default(),
            }),
            crate::engine::ToolKind::Write { path, .. } => json!({
                "type": "edit", "title": "Confirm Edit", "fileName": path,
            }),
        };
        let payload = json!({
            "hook_event_name": "Notification",
            "notification_type": "ToolPermission",
            "message": "Tool Confirm Shell Command requires execution",
            "details": details,
        });
        let hooks = self.notification_hooks.clone();
        self.fire(&hooks, payload);
    }

    /// After a tool ran (seen on gemini 0.61): `AfterTool`, naming the tool and its input.
    pub fn tool_ran(&mut self, call: &crate::engine::ToolCall) {
        let (name, input) = match &call.kind {
            crate::engine::ToolKind::Run { command, .. } => {
                ("run_shell_command", json!({ "command": command }))
            }
            crate::engine::ToolKind::Write { path, text, .. } => {
                ("write_file", json!({ "file_path": path, "content": text }))
            }
        };
        let payload = json!({
            "hook_event_name": "AfterTool", "tool_name": name, "tool_input": input,
        });
        let hooks = self.after_tool_hooks.clone();
        self.fire(&hooks, payload);
    }

    /// Runs `hooks` with the session's fields added to `payload`. A hook that fails (a
    /// status other than 0, or still running at its timeout) is shown as gemini 0.61 does.
    fn fire(&mut self, hooks: &[Hook], mut payload: Value) {
        let event = payload["hook_event_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        payload["session_id"] = json!(self.sid);
        payload["transcript_path"] = json!(
            self.chat
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
        payload["cwd"] = json!(self.cwd);
        payload["timestamp"] = json!(sys::iso_now());
        // The real gemini also sets the project directory under the name another CLI's hooks
        // read it by, for hooks written for that CLI; no hook vnx installs reads either, so
        // the stand-in sets only its own.
        let env = [
            (
                "GEMINI_PROJECT_DIR".to_string(),
                self.cwd.display().to_string(),
            ),
            ("GEMINI_SESSION_ID".to_string(), self.sid.clone()),
        ];
        let fired = hooks::fire(hooks, &payload, &self.cwd, &env);
        let failed: Vec<&str> = fired
            .iter()
            .filter(|f| f["outcome"] != "exit 0")
            .filter_map(|f| f["command"].as_str())
            .collect();
        if !failed.is_empty() {
            eprintln!(
                "⚠  Hook(s) [{}] failed for event {event}. Press F12 to see the debug drawer for more details.",
                failed.join(", ")
            );
        }
        self.log_hooks.extend(fired);
    }

    /// Rewrites the chat file and, unless the API call failed, fires `AfterAgent` hooks.
    pub fn end_turn(&mut self, turn: &Turn) {
        let reply = if turn.failed {
            API_ERROR
        } else {
            turn.final_text.as_str()
        };
        for (kind, content) in [("user", turn.prompt.as_str()), ("gemini", reply)] {
            self.messages.push(json!({
                "id": sys::uuid_v4(), "timestamp": sys::iso_now(), "type": kind, "content": content,
            }));
        }
        if let Some(chat) = &self.chat {
            let doc = json!({"sessionId": self.sid, "lastUpdated": sys::iso_now(), "messages": self.messages});
            let _ = sys::write_atomically(chat, format!("{doc:#}\n").as_bytes());
        }
        if turn.failed {
            return;
        }
        let payload = json!({
            "hook_event_name": "AfterAgent",
            "prompt": turn.prompt,
            "prompt_response": turn.final_text,
            "stop_hook_active": false,
        });
        let hooks = self.hooks.clone();
        self.fire(&hooks, payload);
    }
}

/// The command hooks for `event` in every settings layer; gemini reads `timeout` in
/// milliseconds (seen on 0.61: a hook given `"timeout": 30` is killed and shown as failed).
fn gemini_hooks(settings: &[Value], event: &str) -> Vec<Hook> {
    settings
        .iter()
        .flat_map(|s| hooks::command_hooks_per(s, event, 0.001))
        .collect()
}

/// System settings (`GEMINI_CLI_SYSTEM_SETTINGS_PATH`), user settings, then the workspace's
/// `.gemini/settings.json` when the folder is trusted (`--skip-trust`); unreadable ones are
/// reported and skipped, as gemini does. Like the real gemini, a system settings file is
/// ignored with a security warning unless it and every directory above it are owned by root
/// and writable by no one else.
fn settings(cwd: &Path, skip_trust: bool) -> Vec<Value> {
    let mut paths = Vec::new();
    if let Some(p) = std::env::var_os(SYSTEM_SETTINGS_VAR).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if root_owned_chain(&p) {
            paths.push(p);
        } else {
            eprintln!(
                "Security Warning: system settings file {} is not owned by root or is writable \
                 by others; ignoring it.",
                p.display()
            );
        }
    }
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        paths.push(PathBuf::from(home).join(".gemini/settings.json"));
    }
    if skip_trust {
        paths.push(cwd.join(".gemini/settings.json"));
    }
    paths
        .iter()
        .filter_map(|p| match hooks::read_settings(p) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("Error in settings file {e}. Please fix the file and try again.");
                None
            }
        })
        .collect()
}

/// The project's (`.gemini/settings.json`) command hooks that `trusted_hooks.json` in the
/// gemini home (`GEMINI_CLI_HOME`, else `HOME`) does not list for `cwd` as `name:command`
/// (seen on gemini 0.61, which then warns about them and records them there as trusted).
fn untrusted_project_hooks(cwd: &Path) -> Vec<String> {
    let Ok(Some(project)) = hooks::read_settings(&cwd.join(".gemini/settings.json")) else {
        return Vec::new();
    };
    let Some(home) = std::env::var_os("GEMINI_CLI_HOME")
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var_os("HOME"))
    else {
        return Vec::new();
    };
    let file = PathBuf::from(home).join(".gemini/trusted_hooks.json");
    let mut all = match hooks::read_settings(&file) {
        Ok(Some(Value::Object(all))) => all,
        _ => serde_json::Map::new(),
    };
    let key = cwd.display().to_string();
    let trusted: Vec<String> = all
        .get(&key)
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let events = project.get("hooks").and_then(Value::as_object);
    let commands: Vec<String> = events
        .into_iter()
        .flat_map(|events| events.keys())
        .flat_map(|event| hooks::command_hooks(&project, event))
        .map(|h| h.command)
        .collect();
    let untrusted: Vec<String> = commands
        .into_iter()
        .filter(|c| !trusted.contains(&format!(":{c}")))
        .collect();
    if !untrusted.is_empty() {
        let mut keys = trusted;
        keys.extend(untrusted.iter().map(|c| format!(":{c}")));
        all.insert(key, json!(keys));
        let _ = sys::write_atomically(&file, Value::Object(all).to_string().as_bytes());
    }
    untrusted
}

/// The file and each directory above it: owned by root, not group- or other-writable.
fn root_owned_chain(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    path.ancestors().all(|p| {
        p.as_os_str().is_empty()
            || std::fs::metadata(p).is_ok_and(|m| m.uid() == 0 && m.mode() & 0o022 == 0)
    })
}

/// Folder trust: `--skip-trust`, trust turned off in settings, or an entry in
/// `~/.gemini/trustedFolders.json` covering the cwd.
fn trusted(a: &GeminiArgs, settings: &[Value], cwd: &Path) -> bool {
    if a.skip_trust
        || settings
            .iter()
            .any(|s| s.pointer("/security/folderTrust/enabled") == Some(&json!(false)))
    {
        return true;
    }
    let Some(home) = std::env::var_os("HOME") else {
        return false;
    };
    let file = PathBuf::from(home).join(".gemini/trustedFolders.json");
    let Ok(Some(Value::Object(folders))) = hooks::read_settings(&file) else {
        return false;
    };
    folders.iter().any(|(path, level)| {
        let path = Path::new(path);
        match level.as_str() {
            Some("TRUST_FOLDER") => cwd.starts_with(path),
            Some("TRUST_PARENT") => path.parent().is_some_and(|p| cwd.starts_with(p)),
            _ => false,
        }
    })
}

fn policy(
    a: &GeminiArgs,
    approval: &str,
    settings: &[Value],
    cwd: &Path,
    interactive: bool,
) -> Policy {
    let posture = match approval {
        "yolo" => Posture::Full,
        "auto_edit" => Posture::Edits,
        _ => Posture::Ask,
    };
    let mut roots = vec![cwd.to_path_buf()];
    roots.extend(
        a.include_directories
            .iter()
            .map(|d| sys::absolutize(cwd, Path::new(d))),
    );
    let mut p = Policy::new(posture, roots);
    let from_settings = settings
        .iter()
        .filter_map(|s| s.pointer("/tools/allowed").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from);
    for rule in a.allowed_tools.iter().cloned().chain(from_settings) {
        let (tool, spec) = match rule.split_once('(') {
            Some((tool, rest)) => (tool.to_string(), rest.strip_suffix(')').map(String::from)),
            None => (rule.clone(), None),
        };
        match (tool.as_str(), spec) {
            ("run_shell_command" | "ShellTool", None) => p.run_rules.push(RunRule::Any),
            ("run_shell_command" | "ShellTool", Some(prefix)) => {
                p.run_rules.push(RunRule::Prefix(prefix))
            }
            ("write_file" | "replace" | "WriteFileTool" | "EditTool", _) => p.writes_allowed = true,
            _ => {}
        }
    }
    // With any allow rule (flag or `tools.allowed`), everything else is denied by policy
    // without a prompt, in the TUI too (seen on gemini 0.61: "Tool execution denied by
    // policy.").
    p.prompts = interactive && approval != "plan" && p.run_rules.is_empty();
    // A policy file's allow rules do not: the rest still asks (seen on gemini 0.61).
    for file in &a.policies {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        p.run_rules
            .extend(policy_allows(&text).into_iter().map(RunRule::Prefix));
    }
    p
}

/// The `commandPrefix` of each `[[rule]]` of a policy file that allows `run_shell_command`
/// (the subset of gemini's TOML policy format vnx writes).
fn policy_allows(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for rule in text.split("[[rule]]").skip(1) {
        let field = |key: &str| {
            rule.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
            })
        };
        if field("toolName").as_deref() == Some("run_shell_command")
            && field("decision").as_deref() == Some("allow")
            && let Some(prefix) = field("commandPrefix")
        {
            out.push(prefix);
        }
    }
    out
}

fn chat_path(cwd: &Path, sid: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    let slug: String = cwd
        .display()
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name = format!("session-{}.json", &sid[..8.min(sid.len())]);
    Some(
        PathBuf::from(home)
            .join(".gemini/tmp")
            .join(slug)
            .join("chats")
            .join(name),
    )
}

/// The session `--resume` names (its UUID; the fake does not number sessions) and its
/// messages, from this project's chats, as gemini 0.61 finds them.
fn resumed(cwd: &Path, wanted: &str) -> Result<(String, Vec<Value>), Refusal> {
    let chats = chat_path(cwd, wanted);
    let messages = chats
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .filter(|doc| doc["sessionId"] == wanted)
        .and_then(|doc| doc["messages"].as_array().cloned());
    match messages {
        Some(m) => Ok((wanted.to_owned(), m)),
        None => {
            let dir = chats
                .as_ref()
                .and_then(|p| p.parent())
                .map(|d| format!(" in {}", d.display()))
                .unwrap_or_default();
            Err(Refusal {
                message: format!(
                    "Invalid session identifier \"{wanted}\".\n  Searched for sessions{dir}.\n  Use --list-sessions to see available sessions, then use --resume {{number}}, --resume {{uuid}}, or --resume latest."
                ),
                code: 1,
            })
        }
    }
}

pub fn main(argv: &[String]) -> i32 {
    let mut log = InvocationLog::start("gemini", argv, &[SYSTEM_SETTINGS_VAR]);
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

fn run(a: &GeminiArgs, log: &mut InvocationLog) -> Result<i32, Refusal> {
    let fail = |m: &str| Refusal {
        message: m.to_string(),
        code: 1,
    };
    let cwd = std::env::current_dir().map_err(|e| fail(&format!("Error: {e}")))?;
    let settings = settings(&cwd, a.skip_trust);
    if a.skip_trust {
        let untrusted = untrusted_project_hooks(&cwd);
        if !untrusted.is_empty() {
            eprintln!(
                "WARNING: The following project-level hooks have been detected in this workspace:\n{}",
                untrusted
                    .iter()
                    .map(|h| format!("  - {h}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        log.set("untrusted_project_hooks", untrusted);
    }
    let mut approval = match (a.yolo, &a.approval_mode) {
        (true, _) => "yolo".to_string(),
        (false, Some(m)) if !m.is_empty() => m.clone(),
        _ => "default".to_string(),
    };
    if approval != "default" && !trusted(a, &settings, &cwd) {
        eprintln!(
            "Approval mode overridden to \"default\" because the current folder is not trusted."
        );
        approval = "default".into();
    }
    let tty = sys::stdin_is_tty();
    let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let interactive_prompt =
        nonempty(&a.prompt_interactive).map(|p| nonempty(&a.query).unwrap_or(p));
    let (prompt, source) = match (nonempty(&a.prompt), nonempty(&a.query)) {
        (Some(p), _) => (Some(p), "flag"),
        (None, Some(q)) => (Some(q), "argument"),
        (None, None) => (None, "stdin"),
    };
    let interactive = interactive_prompt.is_some() || (tty && prompt.is_none());
    if interactive_prompt.is_some() && !tty {
        return Err(fail(
            "Error: The --prompt-interactive flag cannot be used when input is piped from stdin.",
        ));
    }
    let (sid, messages) = match &a.resume {
        None => (sys::uuid_v4(), Vec::new()),
        Some(wanted) => resumed(&cwd, wanted)?,
    };
    let mut session = Session {
        sid: sid.clone(),
        model: a
            .model
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| DEFAULT_MODEL.into()),
        chat: chat_path(&cwd, &sid),
        cwd: cwd.clone(),
        hooks: gemini_hooks(&settings, "AfterAgent"),
        notification_hooks: gemini_hooks(&settings, "Notification"),
        after_tool_hooks: gemini_hooks(&settings, "AfterTool"),
        messages,
        log_hooks: Vec::new(),
    };
    log.set(
        "earlier_prompts",
        session
            .messages
            .iter()
            .filter(|m| m["type"] == "user")
            .map(|m| m["content"].clone())
            .collect::<Vec<_>>(),
    );
    let mut ctx = Ctx {
        policy: policy(a, &approval, &settings, &cwd, interactive),
        cwd,
        tool_env: vec![("GEMINI_CLI".into(), "1".into())],
        log_dir: log::log_dir(),
        calls_made: 0,
    };
    log.set(
        "mode",
        if interactive {
            "interactive"
        } else {
            "headless"
        },
    )
    .set("session_id", sid.as_str())
    .set("approval_mode", approval.as_str());
    let code = if interactive {
        log.set("prompt", interactive_prompt.clone())
            .set("prompt_source", interactive_prompt.as_ref().map(|_| "flag"))
            .set("phase", "running")
            .write();
        let mut agent = screen::GeminiTui {
            session: &mut session,
        };
        crate::tui::run_session(&mut agent, &mut ctx, interactive_prompt, log)
    } else {
        let (prompt, source) = if tty {
            (prompt.unwrap_or_default(), source)
        } else {
            log.set("phase", "reading-stdin").write();
            // gemini-cli's `readStdin`: a stdin that is neither a TTY nor ever written is not
            // waited on.
            let input = sys::read_stdin_unless_silent(std::time::Duration::from_millis(500));
            match prompt {
                Some(p) if input.is_empty() => (p, source),
                Some(p) => (
                    format!("{input}\n\n{p}"),
                    if source == "flag" {
                        "flag+stdin"
                    } else {
                        "argument+stdin"
                    },
                ),
                None => (input, "stdin"),
            }
        };
        if prompt.trim().is_empty() {
            return Err(fail(
                "No input provided via stdin. Input can be provided by piping data into gemini or using the --prompt option.",
            ));
        }
        log.set("prompt", prompt.as_str())
            .set("prompt_source", source)
            .set("phase", "running")
            .write();
        headless::headless(a, &prompt, &mut session, &mut ctx, log)
    };
    log.set("hooks_fired", session.log_hooks.clone());
    Ok(code)
}
