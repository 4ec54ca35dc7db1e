//! A worker's output as a transcript a person reads: one line per assistant message, tool call
//! (with its command), short result, permission denial, error and final result with usage,
//! rendered from the events of claude `stream-json`, `codex exec --json` and gemini
//! `stream-json` (`claude`, `codex`, `gemini`), or from the session files an interactive
//! worker's TUI writes (claude's session transcript, read as its stream; codex's rollout,
//! `codex_rollout`; gemini's chat session, `gemini_session`; found by
//! [`crate::provider::session`]); anything else (ollama, declared CLIs, vnx's own notes in the
//! log) is shown as the text it is.
//!
//! Which CLI wrote an event is told from the event itself (the three vocabularies of `type`
//! differ), so the renderer needs nothing but the log. Workers are untrusted: every line is
//! made of printable characters only (control characters escaped as `\e`, `\u{7}`, …), a line
//! is at most [`MAX_LINE_CHARS`] chars, a message at most [`MAX_MESSAGE_LINES`] lines and a
//! tool's result at most [`MAX_RESULT_LINES`]; a pending partial line is capped like the
//! event parser's.

use std::fmt::Write as _;

use serde_json::Value;

use super::lines::{LineSplitter, MAX_LINE_BYTES, Piece};

/// The longest line rendered, in chars (a longer one ends in `…`).
pub const MAX_LINE_CHARS: usize = 240;
/// The most lines shown of one assistant message.
pub const MAX_MESSAGE_LINES: usize = 40;
/// The most lines shown of one tool result.
pub const MAX_RESULT_LINES: usize = 4;
/// The most chars of a worker's question shown on one line (status, notifications).
pub const QUESTION_CHARS: usize = 200;
/// Tool calls remembered by id (to name a result's tool); older ones are forgotten.
const REMEMBERED_CALLS: usize = 256;

/// The CLI whose events a log holds, as told from its first recognised event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cli {
    Claude,
    Codex,
    Gemini,
    /// codex's own session file (`rollout-*.jsonl`).
    CodexRollout,
    /// gemini's own session file (`chats/session-*.jsonl`).
    GeminiSession,
}

/// Incremental renderer of one worker's log: feed it the bytes as they come (split anywhere),
/// take the lines each chunk completed.
#[derive(Debug, Default)]
pub struct Transcript {
    cli: Option<Cli>,
    lines: LineSplitter,
    out: Vec<String>,
    /// Gemini: the assistant message being streamed in deltas.
    gemini_text: Option<String>,
    /// Tool calls by id and what was shown of them (codex: the commands shown as started;
    /// gemini's session: the messages and tool calls shown, as it writes them again).
    calls: Vec<(String, String)>,
    /// codex's rollout: the session's working directory (paths are shown relative to it) and
    /// the latest token totals (shown at the end of a turn).
    rollout_cwd: String,
    rollout_tokens: Option<(u64, u64, u64)>,
}

impl Transcript {
    /// A renderer that has seen nothing yet.
    pub fn new() -> Transcript {
        Transcript::default()
    }

    /// A renderer of a claude session transcript (see [`crate::provider::session`]), whose
    /// first entries are of types of its own rather than `system`.
    pub fn claude_session() -> Transcript {
        Transcript {
            cli: Some(Cli::Claude),
            ..Transcript::default()
        }
    }

    /// A renderer of codex's rollout file (see [`crate::provider::session`]).
    pub fn codex_rollout() -> Transcript {
        Transcript {
            cli: Some(Cli::CodexRollout),
            ..Transcript::default()
        }
    }

    /// A renderer of gemini's session file (see [`crate::provider::session`]).
    pub fn gemini_session() -> Transcript {
        Transcript {
            cli: Some(Cli::GeminiSession),
            ..Transcript::default()
        }
    }

    /// Feeds a chunk and returns the lines it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(chunk, |piece| match piece {
            Piece::Line(line) => self.line(line),
            Piece::TooLong => self.push("vnx", "(a line too long to show was left out)"),
        });
        self.lines = lines;
        std::mem::take(&mut self.out)
    }

    /// Lines held back for more: a streamed gemini message, a last line without its newline.
    pub fn finish(mut self) -> Vec<String> {
        let mut lines = std::mem::take(&mut self.lines);
        if let Some(Piece::Line(line)) = lines.finish() {
            self.line(line);
        }
        self.gemini_flush();
        self.out
    }

    /// One complete line of the log.
    fn line(&mut self, raw: &[u8]) {
        let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
        let text = String::from_utf8_lossy(raw);
        if text.trim().is_empty() {
            return;
        }
        let event = match serde_json::from_str::<Value>(text.trim()) {
            Ok(event @ Value::Object(_)) => event,
            _ => {
                self.gemini_flush();
                self.push("", text.trim_end());
                return;
            }
        };
        let kind = str_of(&event, "type").unwrap_or("");
        let cli = self.cli.or_else(|| detect(kind, &event));
        self.cli = cli;
        match cli {
            Some(Cli::Claude) => self.claude(kind, &event),
            Some(Cli::Codex) => self.codex(kind, &event),
            Some(Cli::Gemini) => self.gemini(kind, &event),
            Some(Cli::CodexRollout) => self.rollout_line(kind, &event),
            Some(Cli::GeminiSession) => self.gemini_session_line(kind, &event),
            None => self.push("event", &compact(&event)),
        }
    }

    /// Adds a rendered line: a label column, then the text (escaped, cut).
    fn push(&mut self, label: &str, text: &str) {
        let text = clean(text);
        self.out.push(if label.is_empty() {
            text
        } else {
            format!("{label:<7} {text}")
        });
    }

    /// Adds a multi-line text under one label, its lines bounded.
    fn push_lines(&mut self, label: &str, text: &str, max_lines: usize) {
        let lines: Vec<&str> = text.trim().lines().collect();
        for (i, line) in lines.iter().take(max_lines).enumerate() {
            self.push(if i == 0 { label } else { " " }, line);
        }
        if lines.len() > max_lines {
            self.push(" ", &format!("… ({} more lines)", lines.len() - max_lines));
        }
    }

    /// A tool's result: `↳` and its first lines, `failed` when it is an error.
    fn push_result(&mut self, ok: bool, text: &str) {
        let label = if ok { "  ↳" } else { "  ↳ err" };
        if text.trim().is_empty() {
            self.push(
                label,
                if ok {
                    "(no output)"
                } else {
                    "(failed, no output)"
                },
            );
        } else {
            self.push_lines(label, text, MAX_RESULT_LINES);
        }
    }

    fn remember(&mut self, id: &str, tool: &str) {
        if self.calls.len() >= REMEMBERED_CALLS {
            self.calls.remove(0);
        }
        self.calls.push((id.to_owned(), tool.to_owned()));
    }

    fn tool_of(&self, id: &str) -> Option<&str> {
        self.calls
            .iter()
            .rev()
            .find(|(i, _)| i == id)
            .map(|(_, t)| t.as_str())
    }
}

/// Renders a whole log.
pub fn render(bytes: &[u8]) -> Vec<String> {
    let mut t = Transcript::new();
    let mut lines = t.feed(bytes);
    lines.extend(t.finish());
    lines
}

/// The last rendered line of a log's end (for a one-line "last activity"); `tail` may start
/// mid-line when it is the end of a longer log, so its first partial line is skipped then.
pub fn last_line(tail: &[u8], starts_mid_line: bool) -> Option<String> {
    let tail = if starts_mid_line {
        tail.iter()
            .position(|&b| b == b'\n')
            .map_or(&[][..], |at| &tail[at + 1..])
    } else {
        tail
    };
    render(tail)
        .into_iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// What a worker asked (the last message of a dispatch that needs input), made safe to show
/// on one line: its lines joined, control characters escaped, cut at `max_chars` with `…`.
pub fn question(text: &str, max_chars: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = clean(&joined);
    if let Some((cut, _)) = out.char_indices().nth(max_chars) {
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// Which CLI an event comes from, by its `type` (and, for `result`, its fields).
fn detect(kind: &str, event: &Value) -> Option<Cli> {
    match kind {
        "system" | "assistant" | "user" | "stream_event" => Some(Cli::Claude),
        "result" if event.get("subtype").is_some() => Some(Cli::Claude),
        "result" | "init" | "message" | "tool_use" | "tool_result" => Some(Cli::Gemini),
        k if k.starts_with("thread.") || k.starts_with("turn.") || k.starts_with("item.") => {
            Some(Cli::Codex)
        }
        _ => None,
    }
}

/// `text` on one line of printable characters: line breaks and tabs as spaces are not
/// expected here (callers split lines first); ESC as `\e`, other controls as `\u{…}`; cut at
/// [`MAX_LINE_CHARS`] with `…`.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_LINE_CHARS * 4));
    for (chars, c) in text.chars().enumerate() {
        if chars >= MAX_LINE_CHARS {
            out.push('…');
            return out;
        }
        match c {
            '\t' => out.push(' '),
            '\u{1b}' => out.push_str("\\e"),
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// An event as compact JSON (for an event of no CLI vnx knows).
fn compact(event: &Value) -> String {
    serde_json::to_string(event).unwrap_or_default()
}

fn str_of<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key)?.as_str()
}

fn nonblank<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    str_of(value, key).filter(|s| !s.trim().is_empty())
}

fn u64_of(value: &Value, key: &str) -> Option<u64> {
    value.get(key)?.as_u64()
}

/// What a tool call does, in a few words: its command, path, pattern, URL or query, else its
/// arguments as compact JSON.
fn describe_input(input: &Value) -> String {
    for key in [
        "command",
        "cmd",
        "file_path",
        "path",
        "absolute_path",
        "pattern",
        "url",
        "query",
        "prompt",
        "description",
    ] {
        match input.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => return one_line(s),
            Some(Value::Array(parts)) if key == "command" || key == "cmd" => {
                let words: Vec<&str> = parts.iter().filter_map(Value::as_str).collect();
                if !words.is_empty() {
                    return one_line(&words.join(" "));
                }
            }
            _ => {}
        }
    }
    match input {
        Value::Object(o) if o.is_empty() => String::new(),
        Value::Null => String::new(),
        other => compact(other),
    }
}

/// A possibly multi-line text on one line (a command's lines joined with ` ⏎ `).
fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    lines.join(" ⏎ ")
}

/// A usage line: `N in, M out tokens` (and what was cached).
fn tokens(input: Option<u64>, output: Option<u64>, cached: Option<u64>) -> Option<String> {
    if input.is_none() && output.is_none() {
        return None;
    }
    let mut text = format!(
        "{} in, {} out tokens",
        input.unwrap_or(0),
        output.unwrap_or(0)
    );
    if let Some(c) = cached.filter(|c| *c > 0) {
        let _ = write!(text, " ({c} cached)");
    }
    Some(text)
}

mod claude;
mod codex;
mod codex_rollout;
mod gemini;
mod gemini_session;

#[cfg(test)]
mod tests;
