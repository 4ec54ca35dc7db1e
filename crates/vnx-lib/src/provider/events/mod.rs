//! Parsing a headless worker CLI's stdout (Claude Code `stream-json`, `codex exec --json`,
//! gemini-cli `stream-json`) into the [`StreamSummary`] recorded in a `dispatch_completed`
//! receipt: session id, model, token usage, the CLI's own verdict, the last assistant message,
//! tool calls and permission denials.
//!
//! The parser is fed raw bytes as they stream, split anywhere. It never fails and never panics:
//! a line that is not a JSON object is counted in [`StreamSummary::unparsed_lines`], an object
//! of an unknown type or with missing or mistyped fields contributes what it can. Memory is
//! bounded: a pending partial line is capped at [`MAX_LINE_BYTES`] (a longer line is dropped and
//! counted), and stored strings are capped ([`LAST_MESSAGE_MAX_CHARS`],
//! [`ERROR_MESSAGE_MAX_CHARS`], [`ID_MAX_CHARS`]) with a trailing `…`.

use serde_json::Value;

use super::kinds::OutputFormat;

pub use crate::receipts::cli_events::{ERROR_MESSAGE_MAX_CHARS, LAST_MESSAGE_MAX_CHARS};
pub use crate::receipts::{CliVerdict as Verdict, StreamSummary, Usage};

/// The longest line kept, in bytes (without its `\n`); a longer one is dropped and counted as
/// unparsed.
pub use super::lines::MAX_LINE_BYTES;
use super::lines::{LineSplitter, Piece};
/// The longest session id or model name kept, in chars (the `…` included).
pub const ID_MAX_CHARS: usize = 256;

const BOM: &[u8] = b"\xEF\xBB\xBF";
const ELLIPSIS: char = '…';

/// Incremental parser of one worker's stdout.
///
/// Feed it every chunk in order with [`EventParser::feed`], then call [`EventParser::finish`].
/// The summary depends only on the bytes, never on how they were split into chunks.
#[derive(Debug)]
pub struct EventParser {
    format: OutputFormat,
    /// The lines fed so far.
    lines: LineSplitter,
    summary: StreamSummary,
    /// Codex and gemini: the message of the last top-level `error` event, used when the final
    /// verdict is an error without a message of its own.
    remembered_error: Option<String>,
    /// Gemini: the assistant message being streamed (deltas are appended to it).
    gemini_current: Option<CappedText>,
}

impl EventParser {
    /// A parser for stdout in `format`. [`OutputFormat::Text`] is not parsed at all: its
    /// summary is always empty.
    pub fn new(format: OutputFormat) -> EventParser {
        EventParser {
            format,
            lines: LineSplitter::default(),
            summary: StreamSummary::default(),
            remembered_error: None,
            gemini_current: None,
        }
    }

    /// Feeds a chunk of stdout (any split, may cut lines and UTF-8 sequences).
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.format == OutputFormat::Text {
            return;
        }
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(chunk, |piece| self.piece(piece));
        self.lines = lines;
    }

    fn piece(&mut self, piece: Piece<'_>) {
        match piece {
            Piece::Line(line) => self.line(line),
            Piece::TooLong => self.summary.unparsed_lines += 1,
        }
    }

    /// Ends the stream (a final line without newline counts) and returns the summary.
    #[must_use]
    pub fn finish(mut self) -> StreamSummary {
        if self.format == OutputFormat::Text {
            return StreamSummary::default();
        }
        let mut lines = std::mem::take(&mut self.lines);
        if let Some(piece) = lines.finish() {
            self.piece(piece);
        }
        self.gemini_close_message();
        self.summary
    }

    /// One complete line, without its `\n`.
    fn line(&mut self, line: &[u8]) {
        let line = line.strip_prefix(BOM).unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        // `\r` before `\n` is JSON whitespace, so the parser ignores it.
        let event = match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(map)) => Value::Object(map),
            _ => {
                self.summary.unparsed_lines += 1;
                return;
            }
        };
        self.summary.events += 1;
        let kind = str_field(&event, "type").unwrap_or("");
        match self.format {
            OutputFormat::Text => {}
            OutputFormat::ClaudeStreamJson => self.claude(kind, &event),
            OutputFormat::CodexJson => self.codex(kind, &event),
            OutputFormat::GeminiStreamJson => self.gemini(kind, &event),
        }
    }

    // Claude Code: `claude -p --output-format stream-json --verbose`.

    fn remember_error(&mut self, event: &Value) {
        if let Some(message) = nonblank_field(event, "message") {
            self.remembered_error = Some(truncate(message, ERROR_MESSAGE_MAX_CHARS));
        }
    }
}

/// Text accumulated from deltas, keeping one char more than [`LAST_MESSAGE_MAX_CHARS`] so that
/// [`truncate`] still sees that it was too long.
#[derive(Debug, Default)]
struct CappedText {
    text: String,
    chars: usize,
}

impl CappedText {
    fn push(&mut self, s: &str) {
        let room = (LAST_MESSAGE_MAX_CHARS + 1).saturating_sub(self.chars);
        match s.char_indices().nth(room) {
            Some((cut, _)) => {
                self.text.push_str(&s[..cut]);
                self.chars += room;
            }
            None => {
                self.text.push_str(s);
                self.chars += s.chars().count();
            }
        }
    }
}

/// `s` cut to at most `max_chars` chars on a char boundary, ending in `…` when cut.
fn truncate(s: &str, max_chars: usize) -> String {
    if max_chars == 0 {
        return String::new();
    }
    if s.char_indices().nth(max_chars).is_none() {
        return s.to_owned();
    }
    let cut = s
        .char_indices()
        .nth(max_chars - 1)
        .map_or(s.len(), |(at, _)| at);
    let mut out = String::with_capacity(cut + ELLIPSIS.len_utf8());
    out.push_str(&s[..cut]);
    out.push(ELLIPSIS);
    out
}

fn error_verdict(message: &str) -> Verdict {
    Verdict::Error {
        message: truncate(message, ERROR_MESSAGE_MAX_CHARS),
    }
}

/// Whether a gemini tool error type or message reads as a refused permission or approval.
fn mentions_denial(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    ["permission", "approval", "denied", "policy"]
        .iter()
        .any(|word| text.contains(word))
}

fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key)?.as_str()
}

fn nonblank_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    str_field(value, key).filter(|s| !s.trim().is_empty())
}

/// Sets `slot` from a non-blank string field, capped at [`ID_MAX_CHARS`].
fn set_capped(slot: &mut Option<String>, value: &Value, key: &str) {
    if let Some(s) = nonblank_field(value, key) {
        *slot = Some(truncate(s, ID_MAX_CHARS));
    }
}

/// A non-negative count; a float (as some JSON emitters write integers) is truncated.
fn u64_field(value: &Value, key: &str) -> Option<u64> {
    let number = value.get(key)?;
    number.as_u64().or_else(|| {
        let float = number.as_f64()?;
        // `as` saturates at u64::MAX.
        (float.is_finite() && float >= 0.0).then_some(float as u64)
    })
}

fn f64_field(value: &Value, key: &str) -> Option<f64> {
    value.get(key)?.as_f64().filter(|f| f.is_finite())
}

fn add(total: &mut u64, more: Option<u64>) {
    *total = total.saturating_add(more.unwrap_or(0));
}

mod claude;
mod codex;
mod gemini;

#[cfg(test)]
mod tests;
