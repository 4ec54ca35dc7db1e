//! A worker's output as a transcript a person reads: one line per assistant message, tool call
//! (with its command), short result, permission denial, error and final result with usage,
//! rendered from the events of a CLI's headless stream or from the session files an
//! interactive worker's TUI writes (found by [`crate::provider::session`]); anything else
//! (a CLI that writes text, declared CLIs, vnx's own notes in the log) is shown as the text it is. What one
//! CLI's events look like is its [`TranscriptEvents`], in its module under `provider/cli/`.
//!
//! Which CLI wrote an event is told from the event itself (the CLIs' vocabularies of `type`
//! differ; the registry asks each, `provider::cli::transcript_for`), so the renderer needs
//! nothing but the log. Workers are untrusted: every line is
//! made of printable characters only (control characters escaped as `\e`, `\u{7}`, …), a line
//! is at most [`MAX_LINE_CHARS`] chars, a message at most [`MAX_MESSAGE_LINES`] lines and a
//! tool's result at most [`MAX_RESULT_LINES`]; a pending partial line is capped like the
//! event parser's.

use serde_json::Value;

pub use super::cli::render::{
    MAX_LINE_CHARS, MAX_MESSAGE_LINES, MAX_RESULT_LINES, Sink, TranscriptEvents, clean,
};
use super::cli::render::{compact, str_of};
use super::lines::{LineSplitter, Piece};

/// The most chars of a worker's question shown on one line (status, notifications).
pub const QUESTION_CHARS: usize = 200;
/// Incremental renderer of one worker's log: feed it the bytes as they come (split anywhere),
/// take the lines each chunk completed.
#[derive(Debug, Default)]
pub struct Transcript {
    /// The renderer of the CLI whose events the log holds, as told from its first recognised
    /// event (or given, for a session file).
    cli: Option<Box<dyn TranscriptEvents>>,
    lines: LineSplitter,
    out: Sink,
}

impl Transcript {
    /// A renderer that has seen nothing yet.
    pub fn new() -> Transcript {
        Transcript::default()
    }

    /// A renderer of what `cli` renders (a session file a built-in CLI's TUI writes).
    pub fn of(cli: Box<dyn super::cli::render::TranscriptEvents>) -> Transcript {
        Transcript {
            cli: Some(cli),
            ..Transcript::default()
        }
    }

    /// Feeds a chunk and returns the lines it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(chunk, |piece| match piece {
            Piece::Line(line) => self.line(line),
            Piece::TooLong => self
                .out
                .push("vnx", "(a line too long to show was left out)"),
        });
        self.lines = lines;
        std::mem::take(&mut self.out.out)
    }

    /// Lines held back for more: a streamed message, a last line without its newline.
    pub fn finish(mut self) -> Vec<String> {
        let mut lines = std::mem::take(&mut self.lines);
        if let Some(Piece::Line(line)) = lines.finish() {
            self.line(line);
        }
        self.flush();
        self.out.out
    }

    fn flush(&mut self) {
        if let Some(cli) = &mut self.cli {
            cli.flush(&mut self.out);
        }
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
                self.flush();
                self.out.push("", text.trim_end());
                return;
            }
        };
        let kind = str_of(&event, "type").unwrap_or("");
        if self.cli.is_none() {
            self.cli = super::cli::transcript_for(kind, &event).or_else(|| {
                super::openai_chat::claims(kind, &event).then(super::openai_chat::transcript_events)
            });
        }
        match &mut self.cli {
            Some(cli) => cli.event(kind, &event, &mut self.out),
            None => self.out.push("event", &compact(&event)),
        }
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

/// How a list labels a needs-input dispatch's last message: `asks` when it asks something
/// ([`asks`]), else `said` (a worker that finished and forgot to report).
pub fn label(text: &str) -> &'static str {
    if asks(text) { "asks" } else { "said" }
}

/// Words that, after `please` (or `kindly`), open a request for an answer: "Please answer.",
/// "Please confirm which file.", "Please let me know what you prefer."
const ANSWER_VERBS: [&str; 16] = [
    "answer", "reply", "respond", "confirm", "clarify", "choose", "pick", "select", "decide",
    "advise", "specify", "approve", "tell", "let", "say", "indicate",
];

/// What "let me know" must be followed by to ask something: "let me know which…" asks, "let
/// me know if you need anything else" is a farewell.
const ASKED_WHAT: [&str; 7] = ["which", "what", "whether", "how", "where", "when", "who"];

/// Whether a worker's last message asks the person something: it ends with a question mark
/// (markdown emphasis, quotes and brackets after it aside), or its last sentence is a
/// request to answer ("Please answer.", "Please confirm the port:", "Let me know which one
/// you want.", "I am waiting for your answer."). A statement, a farewell ("Let me know if
/// you need anything else.") or a request to do something else ("Please review the diff.")
/// asks nothing.
pub fn asks(text: &str) -> bool {
    let decoration =
        |c: char| c.is_whitespace() || matches!(c, '*' | '_' | '"' | '\'' | ')' | ']' | '`');
    let text = text.trim_end_matches(decoration);
    if text.ends_with('?') {
        return true;
    }
    let text = text.trim_end_matches(|c: char| decoration(c) || matches!(c, '.' | '!' | ':' | '…'));
    let sentence = text
        .rsplit(['.', '!', '?', '\n', ';'])
        .next()
        .unwrap_or_default()
        .to_lowercase();
    let words: Vec<&str> = sentence
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect();
    let let_me_know = |rest: &[&str]| matches!(rest, ["let", "me", "know", next, ..] if ASKED_WHAT.contains(next));
    match words.as_slice() {
        ["please" | "kindly", verb, rest @ ..] if ANSWER_VERBS.contains(verb) => {
            *verb != "let" || matches!(rest, ["me", "know", ..])
        }
        rest if let_me_know(rest) => true,
        // "I need your decision", "awaiting your reply", "waiting for your answer".
        _ => (1..words.len().saturating_sub(1)).any(|i| {
            let before = &words[..i];
            words[i] == "your"
                && matches!(
                    words[i + 1],
                    "answer"
                        | "reply"
                        | "response"
                        | "input"
                        | "decision"
                        | "confirmation"
                        | "choice"
                )
                && matches!(
                    before,
                    [.., "need" | "await" | "awaiting"] | [.., "waiting" | "wait", "for"]
                )
        }),
    }
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

#[cfg(test)]
mod tests;
