//! What the fake Codex TUI draws (`› Ask Codex to do anything`, `• Working (…)`, approval
//! dialogs, `Worked for Ns`) and its end of turn: the title sub-thread's and the turn's
//! `notify` calls.

use std::path::PathBuf;

use serde_json::Value;

use crate::engine::{Status, ToolCall, ToolKind, ToolResult, Turn};
use crate::sys;
use crate::tui::Agent;

pub struct CodexTui {
    pub tid: String,
    pub model: String,
    pub cwd: PathBuf,
    pub notify: Option<Vec<String>>,
    pub turns: usize,
    pub tokens: (u64, u64),
    pub notifications: Vec<Value>,
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
        self.turns += 1;
        self.tokens.0 += turn.input_tokens;
        self.tokens.1 += turn.output_tokens;
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
        let main = super::turn_complete(
            &self.tid,
            self.turns,
            &self.cwd,
            &turn.prompt,
            &turn.final_text,
        );
        for payload in [title, main] {
            let fired = super::fire_notify(&program, &payload, &self.cwd);
            self.notifications.push(fired);
        }
    }

    fn is_exit(&self, line: &str) -> bool {
        matches!(line, "/quit" | "/exit")
    }

    fn goodbye(&self) -> Vec<String> {
        let (i, o) = self.tokens;
        vec![
            format!("Token usage: total={} input={i} output={o}", i + o),
            format!("To continue this session, run codex resume {}", self.tid),
        ]
    }
}
