//! The `codex` personality: config overrides, `exec` (stdin intake, `--json` events or
//! human text), the TUI with its detached daemon, and the `notify` program run after turns.

mod args;
mod exec;
mod notify;
mod rollout;
mod screen;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::engine::{Ctx, Policy, Posture};
use crate::log::{self, InvocationLog};
use crate::{Refusal, sys};
use args::{CodexArgs, Parsed};

/// Set (to the stage, "1" or "2") in the environment of the fake's own daemon processes.
pub const DAEMON_ENV: &str = "VNX_FAKE_DAEMON";

pub const DEFAULT_MODEL: &str = "gpt-5.1-codex";
pub const API_ERROR: &str = "unexpected status 400 Bad Request: scripted failure";

/// The daemon, like codex's: stage 1 leaves the session (`setsid`), starts stage 2, prints its
/// pid and exits, so stage 2 is reparented away; stage 2 just sleeps for an hour.
pub fn daemon_stage(stage: &str) -> i32 {
    if stage != "1" {
        std::thread::sleep(Duration::from_secs(3600));
        return 0;
    }
    let _ = rustix::process::setsid();
    let Ok(exe) = std::env::current_exe() else {
        return 1;
    };
    let child = Command::new(exe)
        .env(DAEMON_ENV, "2")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(child) => {
            println!("{}", child.id());
            0
        }
        Err(_) => 1,
    }
}

/// Starts the daemon and returns its pid (recorded as `daemon-<our pid>.pid` in the log dir).
fn start_daemon() -> Option<u32> {
    let out = Command::new(std::env::current_exe().ok()?)
        .env(DAEMON_ENV, "1")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    if let Some(dir) = log::log_dir() {
        let path = dir.join(format!("daemon-{}.pid", std::process::id()));
        let _ = sys::write_atomically(&path, format!("{pid}\n").as_bytes());
    }
    Some(pid)
}

/// Runs the `notify` program with the notification JSON as its last argument and waits.
pub fn fire_notify(program: &[String], payload: &Value, cwd: &Path) -> Value {
    let Some((exe, rest)) = program.split_first() else {
        return json!({"argv": program, "outcome": "empty notify"});
    };
    let mut cmd = Command::new(exe);
    cmd.args(rest).arg(payload.to_string()).current_dir(cwd);
    let outcome = sys::run_helper(cmd, None, Duration::from_secs(10));
    json!({"argv": program, "payload": payload, "outcome": outcome})
}

pub fn turn_complete(tid: &str, turn: usize, cwd: &Path, prompt: &str, last: &str) -> Value {
    json!({
        "type": "agent-turn-complete",
        "thread-id": tid,
        "turn-id": format!("turn-{turn}"),
        "cwd": cwd,
        "input-messages": [prompt],
        "last-assistant-message": last,
    })
}

/// The effective configuration after flags and `-c` overrides.
pub struct Setup {
    cwd: PathBuf,
    sandbox: String,
    approval: String,
    notify: Option<Vec<String>>,
    model: String,
    /// Commands run in a login shell (`bash -lc`), unless `allow_login_shell=false`.
    login_shell: bool,
    /// `sandbox_workspace_write.writable_roots` from `-c`.
    writable_roots: Vec<PathBuf>,
    /// Command hooks from `-c hooks.<Event>=…`.
    pub hooks: CodexHooks,
}

/// The hooks-engine hooks of the session's config layer (`-c hooks.*`), and whether each is
/// trusted (`hooks.state`): codex runs an untrusted hook only after a person trusts it in a
/// review dialog shown before the first turn (seen on codex 0.169).
#[derive(Clone, Debug, Default)]
pub struct CodexHooks {
    pub permission_request: Vec<crate::hooks::Hook>,
    pub post_tool_use: Vec<crate::hooks::Hook>,
    /// How many of them `hooks.state` does not trust.
    pub untrusted: usize,
    definitions: Vec<(String, Value)>,
    state: serde_json::Map<String, Value>,
}

impl CodexHooks {
    fn add(&mut self, event: &str, value: Value) {
        let settings = json!({ "hooks": { event: value.clone() } });
        let hooks = crate::hooks::command_hooks(&settings, event);
        match event {
            "PermissionRequest" => self.permission_request = hooks,
            "PostToolUse" => self.post_tool_use = hooks,
            _ => return,
        }
        self.definitions.push((event.to_owned(), value));
    }

    /// Counts the hooks `hooks.state` does not trust: a trusted hook's `trusted_hash` is
    /// SHA-256 of its identity as compact JSON with sorted keys (as codex records it).
    fn check_trust(&mut self) {
        use sha2::{Digest, Sha256};
        self.untrusted = 0;
        for (event, groups) in &self.definitions {
            let key = if event == "PermissionRequest" {
                "permission_request"
            } else {
                "post_tool_use"
            };
            for (g, group) in groups.as_array().into_iter().flatten().enumerate() {
                for (h, hook) in group["hooks"].as_array().into_iter().flatten().enumerate() {
                    let identity = json!({
                        "event_name": key,
                        "hooks": [{
                            "async": false,
                            "command": hook["command"],
                            "timeout": hook["timeout"].as_u64().unwrap_or(600),
                            "type": "command",
                        }],
                    });
                    let hash = format!(
                        "sha256:{}",
                        hex::encode(Sha256::digest(identity.to_string().as_bytes()))
                    );
                    let slot = format!("/<session-flags>/config.toml:{key}:{g}:{h}");
                    if self
                        .state
                        .get(&slot)
                        .and_then(|s| s["trusted_hash"].as_str())
                        != Some(hash.as_str())
                    {
                        self.untrusted += 1;
                    }
                }
            }
        }
    }

    /// No hook runs (the review was skipped).
    pub fn disable(&mut self) {
        self.permission_request.clear();
        self.post_tool_use.clear();
    }
}

/// The PATH a login shell's profile sets (Debian's `/etc/profile`), whatever PATH codex had:
/// a directory vnx put first is gone (seen on codex 0.169: "vnx: command not found").
pub const LOGIN_SHELL_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games";

impl Setup {
    /// The environment the model's shell commands get on top of codex's own.
    pub fn tool_env(&self) -> Vec<(String, String)> {
        if self.login_shell {
            vec![("PATH".to_string(), LOGIN_SHELL_PATH.to_string())]
        } else {
            Vec::new()
        }
    }
}

pub fn setup(a: &CodexArgs) -> Result<Setup, Refusal> {
    let fail = |message: String| Refusal { message, code: 1 };
    let (mut notify, mut sandbox, mut approval) = (None, None, None);
    let mut login_shell = true;
    let mut writable_roots = Vec::new();
    let mut hooks = CodexHooks::default();
    for c in &a.configs {
        let Some((key, value)) = c.split_once('=') else {
            return Err(fail(format!(
                "Error parsing -c overrides: Invalid override (missing '='): {c}"
            )));
        };
        match key.trim() {
            "notify" => {
                let program = notify::parse_string_array(value).map_err(|e| {
                    fail(format!(
                        "Error loading config.toml: invalid type for `notify` ({e}): {value}"
                    ))
                })?;
                notify = Some(program);
            }
            "sandbox_mode" => sandbox = Some(notify::parse_scalar(value)),
            "approval_policy" => approval = Some(notify::parse_scalar(value)),
            "allow_login_shell" => login_shell = notify::parse_scalar(value) != "false",
            k @ ("hooks.PermissionRequest" | "hooks.PostToolUse" | "hooks.state") => {
                let v = notify::parse_value(value)
                    .map_err(|e| fail(format!("Error parsing -c overrides: {k}: {e}")))?;
                match k.strip_prefix("hooks.").unwrap_or_default() {
                    "state" => hooks.state = v.as_object().cloned().unwrap_or_default(),
                    event => hooks.add(event, v),
                }
            }
            "sandbox_workspace_write.writable_roots" => {
                let roots = notify::parse_string_array(value).map_err(|e| {
                    fail(format!(
                        "Error loading config.toml: invalid type for `writable_roots` ({e}): {value}"
                    ))
                })?;
                writable_roots.extend(roots.into_iter().map(PathBuf::from));
            }
            _ => {}
        }
    }
    if let Some(s) = sandbox
        .as_deref()
        .filter(|s| !args::SANDBOX_MODES.contains(s))
    {
        return Err(fail(format!(
            "Error loading config.toml: unknown variant `{s}` for `sandbox_mode`"
        )));
    }
    if let Some(dir) = &a.cd {
        std::env::set_current_dir(dir).map_err(|e| fail(format!("Error: {dir}: {e}")))?;
    }
    let cwd = std::env::current_dir().map_err(|e| fail(format!("Error: {e}")))?;
    let sandbox = match a.bypass {
        true => "danger-full-access".to_string(),
        false => a
            .sandbox
            .clone()
            .or(sandbox)
            .unwrap_or_else(|| "read-only".into()),
    };
    let approval = match a.bypass {
        true => "never".to_string(),
        false => a
            .approval
            .clone()
            .or(approval)
            .unwrap_or_else(|| if a.exec { "never" } else { "on-request" }.to_string()),
    };
    let model = a.model.clone().unwrap_or_else(|| DEFAULT_MODEL.into());
    Ok(Setup {
        cwd,
        sandbox,
        approval,
        notify,
        model,
        login_shell,
        writable_roots,
        hooks: {
            hooks.check_trust();
            hooks
        },
    })
}

/// A thread's rollout: `$CODEX_HOME/sessions/<id>.jsonl` (the real one files them by date),
/// one prompt per line.
fn rollout_path(tid: &str) -> Option<PathBuf> {
    let home = std::env::var_os("CODEX_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".codex")))?;
    Some(home.join("sessions").join(format!("{tid}.jsonl")))
}

/// The thread a run works in: the one `resume` names (its earlier prompts must be on disk,
/// as the real codex refuses a thread it has no rollout of), else a new one (its id a version
/// 7 UUID, as codex's thread ids are).
pub fn thread(a: &CodexArgs) -> Result<(String, Vec<String>), Refusal> {
    let Some(tid) = a.session.clone().filter(|_| a.resume) else {
        return Ok((sys::uuid_v7(), Vec::new()));
    };
    let earlier = rollout_path(&tid)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .ok_or_else(|| Refusal {
            message: format!(
                "Error: thread/resume: thread/resume failed: no rollout found for thread id {tid} (code -32600)"
            ),
            code: 1,
        })?;
    let prompts = earlier
        .lines()
        .filter_map(|l| serde_json::from_str::<String>(l).ok())
        .collect();
    Ok((tid, prompts))
}

/// Adds a turn's prompt to the thread's rollout.
pub fn save_turn(tid: &str, prompt: &str) {
    let Some(path) = rollout_path(tid) else {
        return;
    };
    let line = format!("{}\n", Value::String(prompt.to_owned()));
    let _ = std::fs::create_dir_all(path.parent().unwrap_or(Path::new("/"))).and_then(|()| {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?
            .write_all(line.as_bytes())
    });
}

pub fn policy(a: &CodexArgs, s: &Setup) -> Policy {
    let posture = match s.sandbox.as_str() {
        "danger-full-access" => Posture::Full,
        "workspace-write" => Posture::Edits,
        _ => Posture::Ask,
    };
    let mut roots = vec![s.cwd.clone()];
    roots.extend(
        a.add_dirs
            .iter()
            .map(|d| sys::absolutize(&s.cwd, Path::new(d))),
    );
    roots.extend(s.writable_roots.iter().cloned());
    let mut p = Policy::new(posture, roots);
    // `workspace-write`: shell commands run without asking; every `.git` is read-only inside
    // the sandbox, even one named with `--add-dir` (seen on codex 0.169). Its TUI with
    // approvals on asks a person about a command the model wants run outside the sandbox
    // (`require_escalated`) and, approved, runs it unsandboxed (seen on codex 0.169).
    p.edits_allow_run = s.approval != "untrusted";
    p.read_only_git = posture == Posture::Edits;
    p.prompts = !a.exec && s.approval != "never";
    p.escalation = p.prompts && posture != Posture::Full;
    p
}

pub fn main(argv: &[String]) -> i32 {
    let mut log = InvocationLog::start("codex", argv, &[]);
    let a = match args::parse(&argv[1..]) {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Help { exec, resume }) => {
            return crate::print_and_log(&mut log, &args::help(exec, resume), "help");
        }
        Ok(Parsed::Version) => {
            return crate::print_and_log(&mut log, &format!("{}\n", args::VERSION), "version");
        }
        Err(r) => return r.report(&mut log),
    };
    let result = if a.exec {
        exec::exec(&a, &mut log)
    } else {
        tui(&a, &mut log)
    };
    match result {
        Ok(code) => {
            log.finish("exited", code, None);
            code
        }
        Err(r) => r.report(&mut log),
    }
}

fn tui(a: &CodexArgs, log: &mut InvocationLog) -> Result<i32, Refusal> {
    let s = setup(a)?;
    // Seen on codex 0.169: its TUI refuses a writable root its sandbox cannot give.
    if let Some(dir) = a.add_dirs.first().filter(|_| s.sandbox == "read-only") {
        return Err(Refusal {
            message: format!(
                "Error adding directories: Ignoring --add-dir ({dir}) because the effective \
                 permissions do not allow additional writable roots. Switch to \
                 workspace-write or danger-full-access to allow them."
            ),
            code: 1,
        });
    }
    if !sys::stdin_is_tty() {
        return Err(Refusal {
            message: "Error: stdin is not a terminal".into(),
            code: 1,
        });
    }
    let (tid, earlier) = thread(a)?;
    log.set("mode", "interactive")
        .set("session_id", tid.as_str())
        .set("earlier_prompts", earlier)
        .set("prompt", a.prompt.clone())
        .set("prompt_source", a.prompt.as_ref().map(|_| "argument"))
        .set("workdir", s.cwd.display().to_string())
        .set("sandbox", s.sandbox.as_str())
        .set("approval", s.approval.as_str());
    if !a.no_daemon {
        log.set("daemon_pid", start_daemon());
    }
    log.set("phase", "running").write();
    let mut ctx = Ctx {
        policy: policy(a, &s),
        cwd: s.cwd.clone(),
        tool_env: s.tool_env(),
        log_dir: log::log_dir(),
        calls_made: 0,
    };
    let mut agent = screen::CodexTui {
        hooks: s.hooks.clone(),
        hook_log: Vec::new(),
        tid,
        model: s.model.clone(),
        cwd: s.cwd.clone(),
        notify: s.notify.clone(),
        turns: 0,
        tokens: (0, 0),
        notifications: Vec::new(),
        titled: false,
        rollout: rollout::Rollout::default(),
    };
    let code = crate::tui::run_session(&mut agent, &mut ctx, a.prompt.clone(), log);
    log.set("notifications", agent.notifications.clone())
        .set("hooks_fired", agent.hook_log.clone());
    Ok(code)
}
