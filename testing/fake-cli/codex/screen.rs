//! What the fake Codex TUI draws (`› Ask Codex to do anything`, `• Working (…)`, approval
//! dialogs, `Worked for Ns`) and its `notify` calls: the title sub-thread's once (at the first
//! approval prompt, as codex 0.169 was seen to, else at the turn's end) and the turn's; its
//! background commands, which only its rollout records (`rollout`).

use std::path::PathBuf;

use serde_json::Value;

use crate::engine::{Status, ToolCall, ToolKind, ToolResult, Turn};
use crate::sys;
use crate::tui::Agent;

pub struct CodexTui {
    /// The hooks-engine hooks (`-c hooks.*`).
    pub hooks: super::CodexHooks,
    /// What the hooks did, for the invocation log.
    pub hook_log: Vec<Value>,
    pub tid: String,
    pub model: String,
    pub cwd: PathBuf,
    pub notify: Option<Vec<String>>,
    pub turns: usize,
    pub tokens: (u64, u64),
    pub notifications: Vec<Value>,
    /// Whether the title sub-thread's turn ended (its `notify` fired).
    pub titled: bool,
    /// Its rollout's records of commands left running in the background.
    pub rollout: super::rollout::Rollout,
}

impl CodexTui {
    /// The title sub-thread's `notify`, once: codex names the conversation in a thread of its
    /// own whose turn ends whenever its model answers, seen 1–19 ms after the permission
    /// hook of the first prompt while the approval dialog stood.
    fn title_notify(&mut self) {
        if self.titled {
            return;
        }
        self.titled = true;
        let Some(program) = self.notify.clone() else {
            return;
        };
        let title = super::turn_complete(
            &sys::uuid_v7(),
            1,
            &self.cwd,
            "Generate a short title for this conversation.",
            "Fake title",
        );
        let fired = super::fire_notify(&program, &title, &self.cwd);
        self.notifications.push(fired);
    }

    /// Runs hooks-engine hooks with the payload seen on codex 0.169 (`tool_name: Bash` for a
    /// shell command, `tool_input.command` and the model's justification).
    fn fire(&mut self, hooks: &[crate::hooks::Hook], event: &str, call: &ToolCall) {
        if hooks.is_empty() {
            return;
        }
        let (tool, input) = match &call.kind {
            ToolKind::Run { command, .. } => (
                "Bash",
                serde_json::json!({"command": command, "description": "Run outside the sandbox?"}),
            ),
            ToolKind::Write { path, .. } => ("apply_patch", serde_json::json!({"path": path})),
        };
        let payload = serde_json::json!({
            "session_id": self.tid, "turn_id": sys::uuid_v7(), "transcript_path": null,
            "cwd": self.cwd, "hook_event_name": event, "model": self.model,
            "permission_mode": "default", "tool_name": tool, "tool_input": input,
        });
        let fired = crate::hooks::fire(hooks, &payload, &self.cwd, &[]);
        self.hook_log.extend(fired);
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

impl Agent for CodexTui {
    fn banner(&self) -> Vec<String> {
        vec![
            ">_ OpenAI Codex (v0.169.0)".into(),
            String::new(),
            format!("model:     {}   /model to change", self.model),
            format!("directory: {}", self.cwd.display()),
            String::new(),
        ]
    }

    fn user_lines(&self, prompt: &str) -> Vec<String> {
        vec![format!("› {}", first_line(prompt)), String::new()]
    }

    fn tool_line(&self, call: &ToolCall) -> String {
        match &call.kind {
            ToolKind::Write { path, abs, .. } if abs.exists() => format!("• Edited {path}"),
            ToolKind::Write { path, .. } => format!("• Added {path}"),
            ToolKind::Run { command, .. } => format!("• Ran {command}"),
        }
    }

    fn result_line(&self, call: &ToolCall, result: &ToolResult) -> String {
        let text = match (result.status, &call.kind) {
            (Status::Ok, ToolKind::Write { .. }) => "(+1 -0)".to_string(),
            (Status::Ok, ToolKind::Run { .. }) => match first_line(&result.output) {
                "" => "(no output)".into(),
                line => line.to_string(),
            },
            (Status::Failed, _) => format!(
                "exit {}: {}",
                result.exit_code.unwrap_or(1),
                first_line(&result.output)
            ),
            (Status::Denied, _) => "✗ declined".into(),
        };
        format!("  └ {text}")
    }

    fn busy(&self, secs: u64) -> String {
        format!("• Working ({secs}s • esc to interrupt)")
    }

    fn idle(&self) -> (Vec<String>, usize, usize) {
        (
            vec![
                "› Ask Codex to do anything".into(),
                String::new(),
                "  100% context left · ? for shortcuts".into(),
            ],
            0,
            2,
        )
    }

    fn approval(&self, call: &ToolCall) -> Vec<String> {
        let (question, what, again) = match &call.kind {
            ToolKind::Write { path, .. } => (
                "Would you like to make the following edits?",
                format!("  {path} (+1 -0)"),
                "  2. Yes, and don't ask again for these files (a)",
            ),
            ToolKind::Run { command, .. } => (
                "Would you like to run the following command?",
                format!("  $ {command}"),
                "  2. Yes, and don't ask again for this command (a)",
            ),
        };
        vec![
            question.into(),
            String::new(),
            what,
            String::new(),
            "› 1. Yes, proceed (y)".into(),
            again.into(),
            "  3. No, and tell Codex what to do differently (esc)".into(),
        ]
    }

    fn approves(&self, key: u8) -> bool {
        matches!(key, b'1' | b'y')
    }

    fn end_lines(&self, turn: &Turn, secs: u64) -> Vec<String> {
        if turn.failed {
            return vec![format!("■ {}", super::API_ERROR), String::new()];
        }
        vec![
            format!("─ Worked for {secs}s ─"),
            String::new(),
            format!("• {}", turn.final_text),
            String::new(),
        ]
    }

    fn end_of_turn(&mut self, turn: &Turn) {
        if turn.failed {
            return;
        }
        super::save_turn(&self.tid, &turn.prompt);
        self.rollout.turn_complete(&turn.final_text);
        self.turns += 1;
        self.tokens.0 += turn.input_tokens;
        self.tokens.1 += turn.output_tokens;
        self.title_notify();
        let Some(program) = self.notify.clone() else {
            return;
        };
        let main = super::turn_complete(
            &self.tid,
            self.turns,
            &self.cwd,
            &turn.prompt,
            &turn.final_text,
        );
        let fired = super::fire_notify(&program, &main, &self.cwd);
        self.notifications.push(fired);
    }

    /// A command `exec_command` stopped waiting for: it runs on after the turn, and only the
    /// rollout says so (`super::rollout`).
    fn background(&mut self, command: &str, ctx: &crate::engine::Ctx) {
        let (tid, cwd) = (self.tid.clone(), self.cwd.clone());
        self.rollout.background(&tid, &cwd, command, ctx);
    }

    fn is_exit(&self, line: &str) -> bool {
        matches!(line, "/quit" | "/exit")
    }

    fn startup_dialog(&self) -> Option<Vec<String>> {
        (self.hooks.untrusted > 0).then(|| {
            vec![
                "  Hooks need review".into(),
                format!("  {} hook is new or changed.", self.hooks.untrusted),
                "  Hooks can run outside the sandbox after you trust them.".into(),
                "› 1. Review hooks".into(),
                "  2. Trust all and continue".into(),
                "  3. Continue without trusting (hooks won't run)".into(),
                "  enter confirm · esc skip".into(),
            ]
        })
    }

    /// `2` trusts them all (they run); any other key goes on without them. Either way the
    /// review is over.
    fn startup_answer(&mut self, key: Option<u8>) {
        if key != Some(b'2') {
            self.hooks.disable();
        }
        self.hooks.untrusted = 0;
    }

    fn permission_asked(&mut self, call: &ToolCall) {
        let hooks = self.hooks.permission_request.clone();
        self.fire(&hooks, "PermissionRequest", call);
        self.title_notify();
    }

    fn tool_ran(&mut self, call: &ToolCall, _result: &ToolResult) {
        let hooks = self.hooks.post_tool_use.clone();
        self.fire(&hooks, "PostToolUse", call);
    }

    fn goodbye(&self) -> Vec<String> {
        let (i, o) = self.tokens;
        vec![
            format!("Token usage: total={} input={i} output={o}", i + o),
            format!("To continue this session, run codex resume {}", self.tid),
        ]
    }
}
