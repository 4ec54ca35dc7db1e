//! What the fake Claude Code TUI draws: welcome banner, `⏺` tool lines, the `✶ Baking…`
//! busy line, permission dialogs, the `❯` input prompt, and `/exit`.

use crate::engine::{Status, ToolCall, ToolKind, ToolResult, Turn};
use crate::tui::Agent;

use super::Session;

pub struct ClaudeTui<'a> {
    pub session: &'a mut Session,
    /// Whether it runs in the Bypass Permissions mode (its disclaimer may ask first).
    pub bypass: bool,
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

impl Agent for ClaudeTui<'_> {
    fn banner(&self) -> Vec<String> {
        vec![
            "✻ Welcome to Claude Code!".into(),
            String::new(),
            format!("  cwd: {}", self.session.cwd.display()),
            String::new(),
        ]
    }

    /// Its trust of the folder first, then its Bypass Permissions disclaimer.
    fn startup_dialog(&self) -> Option<Vec<String>> {
        if super::trust::asks(&self.session.cwd) {
            return Some(super::trust::dialog(&self.session.cwd));
        }
        (self.bypass && super::bypass::asks()).then(super::bypass::dialog)
    }

    fn startup_answer(&mut self, key: Option<u8>) {
        if super::trust::asks(&self.session.cwd) {
            super::trust::answer(&self.session.cwd, key);
        } else {
            super::bypass::answer(key);
        }
    }

    fn turn_started(&mut self, prompt: &str) {
        self.session.record_prompt(prompt);
    }

    fn user_lines(&self, prompt: &str) -> Vec<String> {
        vec![format!("> {}", first_line(prompt)), String::new()]
    }

    fn tool_line(&self, call: &ToolCall) -> String {
        match &call.kind {
            ToolKind::Write { path, .. } => format!("⏺ Write({path})"),
            ToolKind::Run { command, .. } => format!("⏺ Bash({command})"),
        }
    }

    fn result_line(&self, call: &ToolCall, result: &ToolResult) -> String {
        let text = match (&call.kind, result.status) {
            (ToolKind::Write { path, .. }, Status::Ok) => format!("Wrote 1 lines to {path}"),
            (ToolKind::Run { .. }, Status::Ok) => match first_line(&result.output) {
                "" => "(No content)".into(),
                line => line.to_string(),
            },
            (ToolKind::Write { .. }, Status::Failed) => format!("Error: {}", result.output),
            (ToolKind::Run { .. }, Status::Failed) => format!(
                "Error: Exit code {} {}",
                result.exit_code.unwrap_or(-1),
                first_line(&result.output)
            ),
            (ToolKind::Write { path, .. }, Status::Denied) => {
                format!("User rejected write to {path}")
            }
            (ToolKind::Run { .. }, Status::Denied) => "User rejected Bash command".into(),
        };
        format!("  ⎿  {text}")
    }

    fn busy(&self, _secs: u64) -> String {
        "✶ Baking… (esc to interrupt)".into()
    }

    fn idle(&self) -> (Vec<String>, usize, usize) {
        (vec!["❯ ".into(), "  ? for shortcuts".into()], 0, 2)
    }

    fn approval(&self, call: &ToolCall) -> Vec<String> {
        let question = match &call.kind {
            ToolKind::Write { path, abs, .. } if abs.exists() => {
                format!("Do you want to make this edit to {path}?")
            }
            ToolKind::Write { path, .. } => format!("Do you want to create {path}?"),
            ToolKind::Run { command, .. } => format!("Do you want to run {command}?"),
        };
        vec![
            question,
            "❯ 1. Yes".into(),
            "  2. Yes, allow all edits during this session (shift+tab)".into(),
            "  3. No, and tell Claude what to do differently (esc)".into(),
        ]
    }

    fn end_lines(&self, turn: &Turn, secs: u64) -> Vec<String> {
        if turn.failed {
            return vec![format!("⏺ {}", super::API_ERROR), String::new()];
        }
        vec![
            format!("⏺ {}", turn.final_text),
            String::new(),
            format!("✻ Brewed for {secs}s"),
            String::new(),
        ]
    }

    fn end_of_turn(&mut self, turn: &Turn) {
        self.session.end_turn(turn);
    }

    fn background(&mut self, command: &str, ctx: &crate::engine::Ctx) {
        self.session.start_background(command, ctx);
    }

    fn permission_asked(&mut self, call: &ToolCall) {
        self.session.permission_asked(call);
    }

    fn hook_decision(&mut self) -> Option<bool> {
        self.session.decided_by_hook()
    }

    fn still_asking(&mut self, waited: std::time::Duration) {
        self.session.still_asking(waited);
    }

    fn tool_ran(&mut self, call: &ToolCall, result: &ToolResult) {
        self.session.tool_ran(call, result);
    }

    fn is_exit(&self, line: &str) -> bool {
        matches!(line, "/exit" | "/quit")
    }

    fn goodbye(&self) -> Vec<String> {
        vec![
            "Resume this session with:".into(),
            format!("claude --resume {}", self.session.sid),
        ]
    }
}
