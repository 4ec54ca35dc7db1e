//! Claude's background shells (`Bash` with `run_in_background`, `@fake background COMMAND`),
//! as claude 2.1.197 showed them (tests/support/fixtures/claude-*background*): `-p` says
//! `system/task_started`, waits up to 5 s after its `result` for them, and stops one still
//! running then (`task_updated` `killed`, `task_notification` `stopped`); one that ended in
//! time is `completed`, and starts another turn. The TUI's `Stop` hook names those still
//! running in `background_tasks`; when they end, it runs another turn and `Stop` comes again
//! with none (the stand-in fires that `Stop` without the model turn between).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long `claude -p` waits after its turn's `result` before it stops background shells.
pub const PRINT_WAIT: Duration = Duration::from_secs(5);

/// One background shell.
pub struct Task {
    pub id: String,
    pub command: String,
    shell: crate::sys::BackgroundShell,
    /// Its end's status, once seen: `completed` or `killed`.
    pub ended: Option<&'static str>,
}

impl Task {
    /// Starts `sh -c COMMAND` in `cwd` with `env` (`sys::BackgroundShell`).
    pub fn start(
        n: usize,
        command: &str,
        cwd: &std::path::Path,
        env: &[(String, String)],
    ) -> Option<Task> {
        Some(Task {
            id: format!("b{n:08x}"),
            command: command.to_owned(),
            shell: crate::sys::BackgroundShell::start(command, cwd, env)?,
            ended: None,
        })
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        if self.ended.is_none() && !self.shell.running() {
            self.ended = Some("completed");
        }
        self.ended.is_none()
    }

    /// Stops it and what it started.
    pub fn stop(&mut self) {
        if self.running() {
            self.shell.stop();
            self.ended = Some("killed");
        }
    }

    /// Its `task_started` event.
    pub fn started_event(&self, sid: &str) -> Value {
        json!({"type": "system", "subtype": "task_started", "task_id": self.id,
               "tool_use_id": format!("toolu_{}", self.id), "description": self.command,
               "task_type": "local_bash", "session_id": sid})
    }

    /// Its `task_updated` and `task_notification` events, once it ended.
    pub fn ended_events(&self, sid: &str) -> Vec<Value> {
        let Some(status) = self.ended else {
            return Vec::new();
        };
        let notified = if status == "killed" {
            "stopped"
        } else {
            status
        };
        vec![
            json!({"type": "system", "subtype": "task_updated", "task_id": self.id,
                   "patch": {"status": status}, "session_id": sid}),
            json!({"type": "system", "subtype": "task_notification", "task_id": self.id,
                   "tool_use_id": format!("toolu_{}", self.id), "status": notified,
                   "summary": self.command, "session_id": sid}),
        ]
    }

    /// Its entry in a `Stop` hook's `background_tasks`, while it runs.
    pub fn hook_entry(&self) -> Value {
        json!({"id": self.id, "type": "shell", "status": "running",
               "description": self.command, "command": self.command})
    }
}

/// Waits until every task ended or `until` passed.
pub fn wait(tasks: &mut [Task], until: Option<Instant>) {
    while tasks.iter_mut().any(Task::running) && until.is_none_or(|u| Instant::now() < u) {
        std::thread::sleep(Duration::from_millis(50));
    }
}
