//! One fake model turn: runs a prompt's directives in order as tool calls, each one gated by
//! the permission policy the personality derived from its flags.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use crate::policy::{Policy, Posture, RunRule};
use crate::script::{self, DEFAULT_FINAL, Directive, QUESTION};
use crate::sys;

#[derive(Clone, Debug)]
pub enum ToolKind {
    Write {
        path: String,
        abs: PathBuf,
        text: String,
    },
    Run {
        command: String,
        commit: bool,
        /// Asked to run outside the sandbox.
        escalated: bool,
    },
}

#[derive(Clone, Debug)]
pub struct ToolCall {
    /// 1-based number of the call within the session.
    pub n: usize,
    pub kind: ToolKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    Failed,
    Denied,
}

#[derive(Clone, Debug)]
pub struct ToolResult {
    pub status: Status,
    /// Command output, or the error text of a failed write.
    pub output: String,
    pub exit_code: Option<i32>,
    /// The written file existed before.
    pub existed: bool,
}

/// What a personality shows while a turn runs.
pub trait Observer {
    fn tool_started(&mut self, call: &ToolCall);
    /// Asks the user to approve `call`; only called when the policy allows prompts.
    fn approve(&mut self, call: &ToolCall) -> bool;
    fn tool_finished(&mut self, call: &ToolCall, result: &ToolResult);
    fn sleep(&mut self, secs: f64) {
        std::thread::sleep(Duration::from_secs_f64(secs));
    }
    /// A model call used `tokens` input tokens (`@fake spend`): recorded where the CLI
    /// records usage as it runs; nothing by default.
    fn spend(&mut self, _tokens: u64) {}
    /// Starts `command` as a background task (`@fake background`), for a personality whose
    /// CLI has them; others ignore the directive.
    fn background(&mut self, _command: &str, _ctx: &Ctx) {
        eprintln!("vnx-fake-cli: this personality has no background tasks; directive ignored");
    }
}

pub struct Ctx {
    pub cwd: PathBuf,
    pub policy: Policy,
    /// Extra environment for shell tool calls (the variables a CLI sets to tell its tools
    /// they run under it: its personality's).
    pub tool_env: Vec<(String, String)>,
    pub log_dir: Option<PathBuf>,
    /// Tool calls made so far this session (numbers continue across turns).
    pub calls_made: usize,
}

pub struct Turn {
    pub prompt: String,
    pub final_text: String,
    pub failed: bool,
    pub calls: Vec<(ToolCall, ToolResult)>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub duration: Duration,
}

impl Turn {
    pub fn denials(&self) -> impl Iterator<Item = &(ToolCall, ToolResult)> {
        self.calls
            .iter()
            .filter(|(_, r)| r.status == Status::Denied)
    }

    pub fn record(&self) -> serde_json::Value {
        let calls: Vec<_> = self
            .calls
            .iter()
            .map(|(call, result)| {
                let (kind, target) = match &call.kind {
                    ToolKind::Write { abs, .. } => ("write", abs.display().to_string()),
                    ToolKind::Run { command, .. } => ("run", command.clone()),
                };
                serde_json::json!({
                    "kind": kind,
                    "target": target,
                    "status": format!("{:?}", result.status).to_lowercase(),
                    "exit_code": result.exit_code,
                })
            })
            .collect();
        serde_json::json!({
            "prompt": self.prompt,
            "final": self.final_text,
            "failed": self.failed,
            "tool_calls": calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        })
    }
}

pub fn run_turn(prompt: &str, ctx: &mut Ctx, obs: &mut dyn Observer) -> Turn {
    let started = Instant::now();
    let (directives, warnings) = script::parse(prompt);
    for w in warnings {
        eprintln!("vnx-fake-cli: {w}");
    }
    let failed = directives.contains(&Directive::Fail);
    let mut final_text = DEFAULT_FINAL.to_string();
    let mut calls = Vec::new();
    let mut spent = 0u64;
    for directive in directives {
        let kind = match directive {
            Directive::Say(text) => {
                final_text = text;
                continue;
            }
            Directive::Ask => {
                final_text = QUESTION.to_string();
                continue;
            }
            Directive::Fail => continue,
            Directive::Sleep(secs) => {
                obs.sleep(secs);
                continue;
            }
            Directive::Spend(tokens) => {
                spent = spent.saturating_add(tokens);
                obs.spend(tokens);
                continue;
            }
            Directive::IgnoreTerm => {
                sys::ignore_sigterm();
                continue;
            }
            Directive::SpawnChild => {
                spawn_child(ctx);
                continue;
            }
            Directive::Background { command } if !failed => {
                obs.background(&command, ctx);
                continue;
            }
            _ if failed => continue,
            Directive::Background { .. } => continue,
            Directive::Write { path, text } => ToolKind::Write {
                abs: sys::absolutize(&ctx.cwd, Path::new(&path)),
                path,
                text,
            },
            Directive::Commit { message } => ToolKind::Run {
                command: Directive::commit_command(&message),
                commit: true,
                escalated: false,
            },
            Directive::Run { command } => ToolKind::Run {
                command,
                commit: false,
                escalated: false,
            },
            Directive::Escalate { command } => ToolKind::Run {
                command,
                commit: false,
                escalated: ctx.policy.escalation,
            },
        };
        ctx.calls_made += 1;
        let call = ToolCall {
            n: ctx.calls_made,
            kind,
        };
        obs.tool_started(&call);
        // An escalated command always asks (it would leave the sandbox).
        let allowed = match &call.kind {
            ToolKind::Run {
                escalated: true, ..
            } => obs.approve(&call),
            kind => ctx.policy.allows(kind) || (ctx.policy.prompts && obs.approve(&call)),
        };
        let result = if allowed {
            execute(&call.kind, ctx)
        } else {
            ToolResult {
                status: Status::Denied,
                output: String::new(),
                exit_code: None,
                existed: false,
            }
        };
        obs.tool_finished(&call, &result);
        calls.push((call, result));
    }
    Turn {
        prompt: prompt.to_string(),
        final_text,
        failed,
        input_tokens: (prompt.len() as u64 / 4 + 100).saturating_add(spent),
        output_tokens: 20 + 10 * calls.len() as u64,
        calls,
        duration: started.elapsed(),
    }
}

fn execute(kind: &ToolKind, ctx: &Ctx) -> ToolResult {
    match kind {
        ToolKind::Write { abs, text, .. } => {
            let existed = abs.exists();
            let written = abs
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(abs, format!("{text}\n")));
            ToolResult {
                status: if written.is_ok() {
                    Status::Ok
                } else {
                    Status::Failed
                },
                output: written.err().map(|e| e.to_string()).unwrap_or_default(),
                exit_code: None,
                existed,
            }
        }
        ToolKind::Run {
            command,
            commit,
            escalated,
        } => {
            if ctx.policy.read_only_git
                && !escalated
                && (*commit || writes_git(command))
                && let Some(git_dir) = git_dir(&ctx.cwd)
            {
                return ToolResult {
                    status: Status::Failed,
                    output: format!(
                        "fatal: Unable to create '{}': Read-only file system\n",
                        git_dir.join("index.lock").display()
                    ),
                    exit_code: Some(128),
                    existed: false,
                };
            }
            let (output, code) = sys::run_shell(command, &ctx.cwd, &ctx.tool_env);
            ToolResult {
                status: if code == 0 {
                    Status::Ok
                } else {
                    Status::Failed
                },
                output,
                exit_code: Some(code),
                existed: false,
            }
        }
    }
}

/// Whether a command writes to the repository (`git add`, `git commit`, …) in any part.
fn writes_git(command: &str) -> bool {
    crate::policy::split_compound(command).iter().any(|part| {
        let mut words = part.split_whitespace();
        words.next() == Some("git")
            && words.next().is_some_and(|sub| {
                [
                    "add", "commit", "stash", "reset", "checkout", "switch", "merge",
                ]
                .contains(&sub)
            })
    })
}

/// The git dir of the repository `cwd` is in: `.git` itself, or for a linked worktree (`.git`
/// is a file) the directory it names.
fn git_dir(cwd: &Path) -> Option<PathBuf> {
    let dot_git = cwd
        .ancestors()
        .map(|d| d.join(".git"))
        .find(|p| p.exists())?;
    if !dot_git.is_file() {
        return Some(dot_git);
    }
    let text = std::fs::read_to_string(&dot_git).ok()?;
    let gitdir = text.lines().find_map(|l| l.strip_prefix("gitdir:"))?.trim();
    Some(sys::absolutize(dot_git.parent()?, Path::new(gitdir)))
}

fn spawn_child(ctx: &Ctx) {
    let child = std::process::Command::new("sleep")
        .arg("3600")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match child {
        Ok(child) => {
            if let Some(dir) = &ctx.log_dir {
                let path = dir.join(format!("child-{}.pid", std::process::id()));
                let mut pids = std::fs::read_to_string(&path).unwrap_or_default();
                pids.push_str(&format!("{}\n", child.id()));
                let _ = sys::write_atomically(&path, pids.as_bytes());
            }
        }
        Err(e) => eprintln!("vnx-fake-cli: spawn-child: {e}"),
    }
}
