//! `codex exec`: prompt intake (stdin read whenever it is not a terminal), the git-repo
//! check, and the run's output: `--json` thread/turn/item events or the human transcript.
//! A background command (`@fake background`, a command `exec_command` stopped waiting for, as
//! codex 0.169.0 showed it: tests/support/fixtures/codex-headless-background-*.jsonl) gets
//! its `item.started` at once and its `item.completed` only if it ended before the turn did;
//! one still running as the turn completes is stopped as the CLI exits, never completed.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::args::CodexArgs;
use super::{API_ERROR, fire_notify, policy, setup, turn_complete};
use crate::engine::{self, Ctx, Observer, Status, ToolCall, ToolKind, ToolResult};
use crate::log::{self, InvocationLog};
use crate::{Refusal, sys};

/// The prompt `codex exec` works on, reading stdin whenever it is not a terminal.
fn exec_prompt(a: &CodexArgs, log: &mut InvocationLog) -> Result<(String, &'static str), Refusal> {
    let fail = |m: &str| Refusal {
        message: m.to_string(),
        code: 1,
    };
    let from_stdin = matches!(a.prompt.as_deref(), None | Some("-"));
    if sys::stdin_is_tty() {
        return match &a.prompt {
            Some(p) if !from_stdin => Ok((p.clone(), "argument")),
            _ => Err(fail(
                "No prompt provided. Either specify one as an argument or pipe the prompt into stdin.",
            )),
        };
    }
    log.set("phase", "reading-stdin").write();
    if from_stdin {
        eprintln!("Reading prompt from stdin...");
        let input = sys::read_stdin_to_end();
        if input.trim().is_empty() {
            return Err(fail("No prompt provided via stdin."));
        }
        return Ok((input, "stdin"));
    }
    eprintln!("Reading additional input from stdin...");
    let input = sys::read_stdin_to_end();
    let p = a.prompt.clone().unwrap_or_default();
    Ok(if input.is_empty() {
        (p, "argument")
    } else {
        (
            format!("{p}\n\n<stdin>\n{input}\n</stdin>"),
            "argument+stdin",
        )
    })
}

pub fn exec(a: &CodexArgs, log: &mut InvocationLog) -> Result<i32, Refusal> {
    let s = setup(a)?;
    log.set("mode", "headless");
    let (prompt, source) = exec_prompt(a, log)?;
    let in_repo = s.cwd.ancestors().any(|d| d.join(".git").exists());
    if !a.skip_git_repo_check && !in_repo {
        return Err(Refusal {
            message: "Not inside a trusted directory and --skip-git-repo-check was not specified."
                .into(),
            code: 1,
        });
    }
    let (tid, earlier) = super::thread(a)?;
    super::save_turn(&tid, &prompt);
    log.set("session_id", tid.as_str())
        .set("earlier_prompts", earlier)
        .set("prompt", prompt.as_str())
        .set("prompt_source", source)
        .set("workdir", s.cwd.display().to_string())
        .set("sandbox", s.sandbox.as_str())
        .set("approval", s.approval.as_str())
        .set("phase", "running")
        .write();
    let mut ctx = Ctx {
        policy: policy(a, &s),
        cwd: s.cwd.clone(),
        tool_env: s.tool_env(),
        log_dir: log::log_dir(),
        calls_made: 0,
    };
    if a.json {
        emit(&json!({"type": "thread.started", "thread_id": tid}));
        emit(&json!({"type": "turn.started"}));
    } else {
        eprintln!(
            "OpenAI Codex v0.169.0 (research preview)\n--------\nworkdir: {}\nmodel: {}\nprovider: openai\n\
             approval: {}\nsandbox: {}\nreasoning effort: medium\nreasoning summaries: auto\n\
             session id: {tid}\n--------\nuser\n{prompt}\n",
            s.cwd.display(),
            s.model,
            s.approval,
            s.sandbox
        );
    }
    let mut obs = ExecObserver {
        json: a.json,
        cwd: s.cwd.clone(),
        items: 0,
        background: Vec::new(),
    };
    let turn = engine::run_turn(&prompt, &mut ctx, &mut obs);
    log.push_turn(turn.record());
    obs.background_ended();
    if turn.failed {
        obs.stop_background();
        if a.json {
            emit(&json!({"type": "error", "message": API_ERROR}));
            emit(&json!({"type": "turn.failed", "error": {"message": API_ERROR}}));
        } else {
            eprintln!("ERROR: {API_ERROR}");
        }
        return Ok(1);
    }
    if let Some(program) = &s.notify {
        let payload = turn_complete(&tid, 1, &s.cwd, &prompt, &turn.final_text);
        log.set(
            "notifications",
            vec![fire_notify(program, &payload, &s.cwd)],
        );
    }
    if a.json {
        let id = format!("item_{}", obs.items);
        emit(
            &json!({"type": "item.completed", "item": {"id": id, "type": "agent_message", "text": turn.final_text}}),
        );
        emit(&json!({"type": "turn.completed", "usage": {
            "input_tokens": turn.input_tokens, "cached_input_tokens": 0, "output_tokens": turn.output_tokens}}));
        obs.stop_background();
    } else {
        eprintln!(
            "codex\n{}\ntokens used\n{}",
            turn.final_text,
            turn.input_tokens + turn.output_tokens
        );
        println!("{}", turn.final_text);
    }
    obs.stop_background();
    Ok(0)
}

fn emit(event: &Value) {
    println!("{event}");
}

/// `exec`: `item.*` events with `--json`, codex's human transcript on stderr without.
struct ExecObserver {
    json: bool,
    cwd: PathBuf,
    items: usize,
    /// Background commands not yet seen ended: their item id and command.
    background: Vec<(String, String, sys::BackgroundShell)>,
}

impl ExecObserver {
    /// The `item.completed` of each background command that ended by now.
    fn background_ended(&mut self) {
        let json = self.json;
        self.background.retain_mut(|(id, command, shell)| {
            if shell.running() {
                return true;
            }
            if json {
                emit(&json!({"type": "item.completed", "item": {
                    "id": id, "type": "command_execution", "command": command,
                    "aggregated_output": "", "exit_code": shell.code(), "status": "completed"}}));
            }
            false
        });
    }

    /// Stops the background commands still running, as the CLI exits (no event says so).
    fn stop_background(&mut self) {
        for (_, _, shell) in &mut self.background {
            shell.stop();
        }
        self.background.clear();
    }
}

impl Observer for ExecObserver {
    fn background(&mut self, command: &str, ctx: &Ctx) {
        let id = format!("item_{}", self.items);
        self.items += 1;
        if self.json {
            emit(&json!({"type": "item.started", "item": {
                "id": id, "type": "command_execution", "command": command,
                "aggregated_output": "", "exit_code": null, "status": "in_progress"}}));
        }
        if let Some(shell) = sys::BackgroundShell::start(command, &ctx.cwd, &ctx.tool_env) {
            self.background.push((id, command.to_owned(), shell));
        }
    }

    fn tool_started(&mut self, call: &ToolCall) {
        if let (true, ToolKind::Run { command, .. }) = (self.json, &call.kind) {
            emit(&json!({"type": "item.started", "item": {
                "id": format!("item_{}", self.items), "type": "command_execution", "command": command,
                "aggregated_output": "", "exit_code": null, "status": "in_progress"}}));
        }
    }

    fn approve(&mut self, _call: &ToolCall) -> bool {
        false
    }

    fn tool_finished(&mut self, call: &ToolCall, result: &ToolResult) {
        let id = format!("item_{}", self.items);
        self.items += 1;
        match &call.kind {
            ToolKind::Run { command, .. } => {
                let status = match result.status {
                    Status::Ok => "completed",
                    Status::Failed => "failed",
                    Status::Denied => "declined",
                };
                if self.json {
                    emit(&json!({"type": "item.completed", "item": {
                        "id": id, "type": "command_execution", "command": command,
                        "aggregated_output": result.output, "exit_code": result.exit_code, "status": status}}));
                } else {
                    eprintln!(
                        "exec\n{command} in {}\n {status}:\n{}",
                        self.cwd.display(),
                        result.output
                    );
                }
            }
            ToolKind::Write { abs, .. } => {
                let status = if result.status == Status::Ok {
                    "completed"
                } else {
                    "failed"
                };
                let kind = if result.existed { "update" } else { "add" };
                if self.json {
                    emit(&json!({"type": "item.completed", "item": {
                        "id": id, "type": "file_change", "changes": [{"path": abs, "kind": kind}],
                        "status": status}}));
                } else {
                    eprintln!(
                        "file update ({status})\n{} {}",
                        &kind[..1].to_uppercase(),
                        abs.display()
                    );
                }
            }
        }
    }
}
