//! What the fake Gemini CLI TUI draws: tips banner, tool boxes, the `⠸ Thinking...` busy
//! line, `Apply this change?`/`Allow execution?` dialogs, the `>   Type your message` prompt.

use crate::engine::{Status, ToolCall, ToolKind, ToolResult, Turn};
use crate::tui::Agent;

use super::Session;

pub struct GeminiTui<'a> {
    pub session: &'a mut Session,
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

impl Agent for GeminiTui<'_> {
    fn banner(&self) -> Vec<String> {
        vec![
            format!("✦ Gemini CLI v{}", super::args::VERSION),
            String::new(),
            "Tips for getting started:".into(),
            "1. Ask questions, edit files, or run commands.".into(),
            "2. Be specific for the best results.".into(),
            String::new(),
        ]
    }

    fn user_lines(&self, prompt: &str) -> Vec<String> {
        vec![format!("> {}", first_line(prompt)), String::new()]
    }

    fn tool_line(&self, call: &ToolCall) -> String {
        match &call.kind {
            ToolKind::Write { path, .. } => format!("  ⊷  WriteFile Writing to {path}"),
            ToolKind::Run { command, .. } => format!("  ⊷  Shell {command}"),
        }
    }

    fn result_line(&self, _call: &ToolCall, result: &ToolResult) -> String {
        match result.status {
            Status::Ok => format!("  ✓  {}", first_line(&result.output)),
            Status::Failed => format!(
                "  x  Error (exit {}): {}",
                result.exit_code.unwrap_or(-1),
                first_line(&result.output)
            ),
            Status::Denied => "  -  Cancelled".into(),
        }
    }

    fn busy(&self, secs: u64) -> String {
        format!("⠸ Thinking... (esc to cancel, {secs}s)")
    }

    fn idle(&self) -> (Vec<String>, usize, usize) {
        let dir = self.session.cwd.display();
        (
            vec![
                ">   Type your message or @path/to/file".into(),
                String::new(),
                format!("{dir}   no sandbox   {}", self.session.model),
            ],
            0,
            4,
        )
    }

    fn permission_asked(&mut self, call: &ToolCall) {
        self.session.permission_asked(call);
    }

    fn tool_ran(&mut self, call: &ToolCall, _result: &ToolResult) {
        self.session.tool_ran(call);
    }

    fn approval(&self, call: &ToolCall) -> Vec<String> {
        // As gemini 0.61.0 draws them: an edit's dialog offers the external editor third.
        let (what, question, editor) = match &call.kind {
            ToolKind::Write { path, .. } => (
                format!("  WriteFile {path}"),
                "Apply this change?",
                Some("  3. Modify with external editor"),
            ),
            ToolKind::Run { command, .. } => {
                (format!("  Shell {command}"), "Allow execution?", None)
            }
        };
        let mut lines = vec![
            what,
            question.into(),
            "● 1. Allow once".into(),
            "  2. Allow for this session".into(),
        ];
        lines.extend(editor.map(String::from));
        let refuse = if editor.is_some() { 4 } else { 3 };
        lines.push(format!("  {refuse}. No, suggest changes (esc)"));
        lines
    }

    fn end_lines(&self, turn: &Turn, _secs: u64) -> Vec<String> {
        if turn.failed {
            return vec![format!("✕ {}", super::API_ERROR), String::new()];
        }
        vec![format!("✦ {}", turn.final_text), String::new()]
    }

    fn end_of_turn(&mut self, turn: &Turn) {
        self.session.end_turn(turn);
    }

    fn is_exit(&self, line: &str) -> bool {
        matches!(line, "/quit" | "/exit")
    }

    fn goodbye(&self) -> Vec<String> {
        vec![
            "Agent powering down. Goodbye!".into(),
            format!(
                "To resume this session: gemini --resume {}",
                self.session.sid
            ),
        ]
    }
}
