//! The fake codex TUI's background commands (`@fake background COMMAND`) as codex 0.169.0's
//! TUI showed a command `exec_command` stopped waiting for
//! (tests/support/fixtures/codex-interactive-background-rollout.jsonl): the turn goes on and
//! ends (its `notify` says nothing of the command), and only its rollout file, dated as the
//! real one's (`$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<thread>.jsonl`, its first
//! line a `session_meta`), records it: the call (`function_call`), its output ("Process
//! running with session ID N") and, whenever the command ends, an `item_completed`
//! `CommandExecution` of that call id. The file is written only once a command was started
//! in the background (the stand-in keeps its threads elsewhere, `super::rollout_path`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::engine::Ctx;
use crate::sys;

/// The rollout file of one thread, once written.
#[derive(Default)]
pub struct Rollout {
    path: Option<PathBuf>,
    /// Commands started so far.
    started: usize,
}

impl Rollout {
    /// Starts `command` in the background, records its call and the output that says it runs
    /// on, and appends its end once it ended.
    pub fn background(&mut self, tid: &str, cwd: &Path, command: &str, ctx: &Ctx) {
        let Some(path) = self.file(tid, cwd) else {
            return;
        };
        self.started += 1;
        let call = format!("call_{}", sys::uuid_v4().replace('-', ""));
        let args = json!({"cmd": command, "yield_time_ms": 500}).to_string();
        append(
            &path,
            "response_item",
            json!({"type": "function_call", "status": "completed", "name": "exec_command",
                "arguments": args, "call_id": call}),
        );
        let Some(mut shell) = sys::BackgroundShell::start(command, &ctx.cwd, &ctx.tool_env) else {
            return;
        };
        let session = 21_000 + self.started;
        append(
            &path,
            "response_item",
            json!({"type": "function_call_output", "call_id": call, "output": format!(
                "Chunk ID: 0\nWall time: 0.5 seconds\nProcess running with session ID {session}\n\
                 Original token count: 0\nOutput:\n")}),
        );
        let cwd = cwd.to_owned();
        let command = command.to_owned();
        std::thread::spawn(move || {
            while shell.running() {
                std::thread::sleep(Duration::from_millis(50));
            }
            append(
                &path,
                "event_msg",
                json!({"type": "item_completed", "item": {"type": "CommandExecution",
                    "id": call, "process_id": session.to_string(),
                    "command": ["/bin/bash", "-c", command], "cwd": cwd,
                    "source": "unified_exec_startup", "status": "completed",
                    "aggregated_output": "", "exit_code": shell.code()}}),
            );
        });
    }

    /// The turn ended (`task_complete`), when the file is written.
    pub fn turn_complete(&self, final_text: &str) {
        if let Some(path) = &self.path {
            append(
                path,
                "event_msg",
                json!({"type": "task_complete", "last_agent_message": final_text}),
            );
        }
    }

    /// The file, written with its `session_meta` the first time.
    fn file(&mut self, tid: &str, cwd: &Path) -> Option<PathBuf> {
        if let Some(path) = &self.path {
            return Some(path.clone());
        }
        let home = std::env::var_os("CODEX_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".codex")))?;
        let now = jiff::Zoned::now();
        let day = home
            .join("sessions")
            .join(now.strftime("%Y/%m/%d").to_string());
        std::fs::create_dir_all(&day).ok()?;
        let path = day.join(format!(
            "rollout-{}-{tid}.jsonl",
            now.strftime("%Y-%m-%dT%H-%M-%S")
        ));
        append(
            &path,
            "session_meta",
            json!({"session_id": tid, "id": tid, "timestamp": sys::iso_now(), "cwd": cwd,
                "originator": "codex-tui", "cli_version": "0.169.0"}),
        );
        self.path = Some(path.clone());
        Some(path)
    }
}

/// Appends one record (`type`, `payload`, stamped now) to the rollout at `path`.
fn append(path: &Path, kind: &str, payload: Value) {
    let line = json!({"timestamp": sys::iso_now(), "type": kind, "payload": payload});
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
}
