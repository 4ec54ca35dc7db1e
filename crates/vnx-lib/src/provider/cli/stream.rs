//! What a CLI's headless event parser is given: the [`HeadlessStream`] capability and the
//! [`StreamEvents`] trait its module implements, and the bounded reading of JSON fields the parsers share (`provider::events`
//! splits the stream and asks the registry for the parser).

use serde_json::Value;

use super::render::TranscriptEvents;
use crate::receipts::BackgroundTask;
use crate::receipts::kinds::OutputFormat;

pub use crate::receipts::cli_events::{ERROR_MESSAGE_MAX_CHARS, LAST_MESSAGE_MAX_CHARS};
pub use crate::receipts::{CliVerdict as Verdict, StreamSummary, Usage};

/// The longest session id or model name kept, in chars (the `…` included).
pub const ID_MAX_CHARS: usize = 256;

const ELLIPSIS: char = '…';

/// A CLI's headless event stream, when it writes one vnx parses: its format (recorded in the
/// invocation), a parser of its events for the receipt, which events of a log are its, and
/// its transcript. A capability a CLI's module gives as a value (what it has is data and
/// constructors), in its `events.rs`; `CodingCli::stream` hands it out. Every event is the
/// worker's CLI's: hostile.
pub struct HeadlessStream {
    /// The format of its headless event stream.
    pub format: OutputFormat,
    /// A fresh parser of its headless event stream (one per worker run).
    pub parser: fn() -> Box<dyn StreamEvents>,
    /// Whether an event of a worker's log (its `type` is `kind`) is this CLI's; the registry
    /// asks the CLIs in the order of [`HeadlessStream::claims_narrowly`], so a narrow claim
    /// wins.
    pub claims: fn(&str, &Value) -> bool,
    /// Whether its [`HeadlessStream::claims`] is asked before the others': a CLI whose stream
    /// is shaped like another's claims only what names it, and is asked first.
    pub claims_narrowly: bool,
    /// A fresh renderer of its headless event stream as a transcript, when it has one.
    pub transcript: Option<fn() -> Box<dyn TranscriptEvents>>,
    /// A real run of its headless event stream, one event a line, for the tests every
    /// stream's parser must pass (its own module's tests hold the rest; empty: none).
    #[cfg(test)]
    pub sample: &'static [&'static str],
}

/// What one CLI's headless events mean for the [`StreamSummary`]; one value per stream, so it
/// may keep what it needs between events (a message being streamed, the last error).
pub trait StreamEvents: std::fmt::Debug + Send {
    /// One event, a JSON object whose `type` is `kind` (empty when it has none).
    fn event(&mut self, kind: &str, event: &Value, summary: &mut StreamSummary);

    /// The stream ended: what is held back goes into the summary.
    fn finish(&mut self, _summary: &mut StreamSummary) {}

    /// Whether the stream is plain text read line by line ([`StreamEvents::text_line`]),
    /// not JSON events.
    fn reads_text(&self) -> bool {
        false
    }

    /// One line of a plain-text stream (without its line end, invalid UTF-8 replaced).
    fn text_line(&mut self, _line: &str, _summary: &mut StreamSummary) {}

    /// The background work its events show still running after the turn ended, which the
    /// CLI waits for before it exits (ADR 0096); empty (the default) when it says none.
    fn waiting_on(&self) -> Vec<BackgroundTask> {
        Vec::new()
    }
}

/// The most background tasks a stream's parser follows at once (a hostile stream could name
/// any number).
pub(crate) const MAX_FOLLOWED: usize = 256;

/// A background task's text as a receipt keeps it: trimmed, cut to
/// [`BackgroundTask::MAX_TEXT`] characters.
pub(crate) fn task_text(text: Option<&str>) -> String {
    truncate(text.unwrap_or_default().trim(), BackgroundTask::MAX_TEXT)
}

/// The first [`BackgroundTask::MAX_TASKS`] of some tasks, as a summary keeps them.
pub(crate) fn kept<'t>(tasks: impl Iterator<Item = &'t BackgroundTask>) -> Vec<BackgroundTask> {
    tasks.take(BackgroundTask::MAX_TASKS).cloned().collect()
}

/// Keeps the message of a top-level `error` event in `slot` (for a final verdict that is an
/// error without a message of its own).
pub(crate) fn remember_error(slot: &mut Option<String>, event: &Value) {
    if let Some(message) = nonblank_field(event, "message") {
        *slot = Some(truncate(message, ERROR_MESSAGE_MAX_CHARS));
    }
}

/// Text accumulated from deltas, keeping one char more than [`LAST_MESSAGE_MAX_CHARS`] so that
/// [`truncate`] still sees that it was too long.
#[derive(Debug, Default)]
pub(crate) struct CappedText {
    pub(crate) text: String,
    chars: usize,
}

impl CappedText {
    pub(crate) fn push(&mut self, s: &str) {
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
pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
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

/// A last message cut to [`LAST_MESSAGE_MAX_CHARS`].
pub(crate) fn truncate_message(text: &str) -> String {
    truncate(text, LAST_MESSAGE_MAX_CHARS)
}

pub(crate) fn error_verdict(message: &str) -> Verdict {
    Verdict::Error {
        message: truncate(message, ERROR_MESSAGE_MAX_CHARS),
    }
}

/// The array at `key`; empty when it is missing or not an array.
pub(crate) fn array<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(crate) fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key)?.as_str()
}

pub(crate) fn nonblank_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    str_field(value, key).filter(|s| !s.trim().is_empty())
}

/// Sets `slot` from a non-blank string field, capped at [`ID_MAX_CHARS`].
pub(crate) fn set_capped(slot: &mut Option<String>, value: &Value, key: &str) {
    if let Some(s) = nonblank_field(value, key) {
        *slot = Some(truncate(s, ID_MAX_CHARS));
    }
}

/// Sets an empty `slot` from a non-blank string field, capped at [`ID_MAX_CHARS`]: the first
/// one a stream names wins.
pub(crate) fn keep_first(slot: &mut Option<String>, value: &Value, key: &str) {
    if slot.is_none() {
        set_capped(slot, value, key);
    }
}

/// A stream's start event: the session and the model it names (`session_id`, `model`).
pub(crate) fn started(event: &Value, summary: &mut StreamSummary) {
    set_capped(&mut summary.session_id, event, "session_id");
    set_capped(&mut summary.model, event, "model");
}

/// Whether an event is a subagent's: it carries the id of the tool call that spawned it
/// (`parent_tool_use_id`), so its text is not the worker's answer.
pub(crate) fn subagent(event: &Value) -> bool {
    event
        .get("parent_tool_use_id")
        .is_some_and(Value::is_string)
}

/// The last non-blank `text` block of a message's content `blocks`, each block whose `type`
/// is one of `tools` counted as a tool call.
pub(crate) fn last_text<'e>(
    blocks: &'e [Value],
    tools: &[&str],
    summary: &mut StreamSummary,
) -> Option<&'e str> {
    let mut last = None;
    for block in blocks {
        match str_field(block, "type") {
            Some(kind) if tools.contains(&kind) => summary.tool_calls += 1,
            Some("text") => {
                if let Some(text) = nonblank_field(block, "text") {
                    last = Some(text);
                }
            }
            _ => {}
        }
    }
    last
}

/// Whether a closing `result` event says the run failed: `is_error`, or a `subtype` that
/// starts with `error`.
pub(crate) fn result_failed(event: &Value, subtype: Option<&str>) -> bool {
    event.get("is_error").and_then(Value::as_bool) == Some(true)
        || subtype.is_some_and(|s| s.starts_with("error"))
}

/// A closing `result` event (the shape two CLIs' streams share): its session, its turns and
/// its verdict: an error when it says so ([`result_failed`]) or `failed` (its `result`), the
/// message its `result`, else `also`, else its `subtype`; else a success, its `result` the
/// last message.
pub(crate) fn result_verdict(
    event: &Value,
    summary: &mut StreamSummary,
    failed: impl FnOnce(&str) -> bool,
    also: Option<&str>,
) {
    set_capped(&mut summary.session_id, event, "session_id");
    let subtype = str_field(event, "subtype");
    let text = nonblank_field(event, "result");
    summary.verdict = Some(
        if result_failed(event, subtype) || text.is_some_and(failed) {
            error_verdict(
                text.or(also)
                    .or(subtype.filter(|s| !s.is_empty()))
                    .unwrap_or("error"),
            )
        } else {
            if let Some(text) = text {
                summary.last_message = Some(truncate_message(text));
            }
            Verdict::Success
        },
    );
    summary.num_turns = u64_field(event, "num_turns").or(summary.num_turns);
}

/// The tokens a closing `result` event's `usage` records: `input_tokens`, `output_tokens`,
/// `cache_read_input_tokens`, and the members its CLI names for the cache writes (`writes`)
/// and the total (`total`), where it records them.
pub(crate) fn result_usage(
    event: &Value,
    writes: Option<&str>,
    total: Option<&str>,
) -> Option<Usage> {
    let usage = event.get("usage").filter(|u| u.is_object())?;
    Some(Usage {
        input_tokens: u64_field(usage, "input_tokens").unwrap_or(0),
        output_tokens: u64_field(usage, "output_tokens").unwrap_or(0),
        cached_input_tokens: u64_field(usage, "cache_read_input_tokens"),
        cache_creation_input_tokens: writes.and_then(|key| u64_field(usage, key)),
        total_tokens: total.and_then(|key| u64_field(usage, key)),
    })
}

/// A non-negative count; a float (as some JSON emitters write integers) is truncated.
pub(crate) fn u64_field(value: &Value, key: &str) -> Option<u64> {
    let number = value.get(key)?;
    number.as_u64().or_else(|| {
        let float = number.as_f64()?;
        // `as` saturates at u64::MAX.
        (float.is_finite() && float >= 0.0).then_some(float as u64)
    })
}

pub(crate) fn f64_field(value: &Value, key: &str) -> Option<f64> {
    value.get(key)?.as_f64().filter(|f| f.is_finite())
}

pub(crate) fn add(total: &mut u64, more: Option<u64>) {
    *total = total.saturating_add(more.unwrap_or(0));
}
