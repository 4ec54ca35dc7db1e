//! The OpenAI chat-completions format, one JSON object a line, for a declared CLI that prints
//! what the API sends (`output: openai-chat`): streamed `chat.completion.chunk`s (a message's
//! text in `choices[0].delta.content`, its tool calls in `delta.tool_calls`, each new call
//! naming its `id`, the end in `finish_reason`, the usage in a last chunk's `usage`), whole
//! `chat.completion`s (`choices[0].message`), and an API error (`{"error": {"message": …}}`).
//! Parsed into the receipt's summary ([`ChatEvents`]) and drawn as a transcript
//! ([`ChatTranscript`]); no built-in CLI writes it, so it is no CLI's module.
//!
//! The verdict: an error object fails; a last choice that finished with `stop` or
//! `tool_calls` succeeds; one cut by the token limit (`length`) or filtered
//! (`content_filter`) is an error, as the API documents those reasons.

use serde_json::Value;

use super::cli::render::{Sink, TranscriptEvents, describe_input, tokens};
use super::cli::stream::{
    CappedText, StreamEvents, StreamSummary, Usage, Verdict, array, error_verdict, nonblank_field,
    set_capped, str_field, truncate_message, u64_field,
};
use super::cli::usage::sum;
use super::kinds::OutputFormat;

/// The format's name, as `output:` and receipts spell it.
pub const FORMAT: OutputFormat = OutputFormat::named("openai-chat");

/// A fresh parser for `format`, if it is this one.
pub fn stream_events(format: &OutputFormat) -> Option<Box<dyn StreamEvents>> {
    (*format == FORMAT).then(|| Box::new(ChatEvents::default()) as Box<dyn StreamEvents>)
}

/// Whether a log's event is one of this format's: a completion or chunk object, or an API
/// error object without a `type` (asked after every CLI's claim).
pub fn claims(kind: &str, event: &Value) -> bool {
    matches!(
        str_field(event, "object"),
        Some("chat.completion" | "chat.completion.chunk")
    ) || (kind.is_empty() && event.get("error").is_some_and(Value::is_object))
}

/// A fresh transcript renderer of this format.
pub fn transcript_events() -> Box<dyn TranscriptEvents> {
    Box::new(ChatTranscript::default())
}

/// The first choice of a completion or chunk.
fn first_choice(event: &Value) -> Option<&Value> {
    event.get("choices")?.as_array()?.first()
}

/// The usage a chunk or completion carries, if any.
fn usage_of(event: &Value) -> Option<Usage> {
    let u = event.get("usage").filter(|u| u.is_object())?;
    let input = u64_field(u, "prompt_tokens");
    let output = u64_field(u, "completion_tokens");
    if input.is_none() && output.is_none() {
        return None;
    }
    Some(Usage {
        input_tokens: input.unwrap_or(0),
        output_tokens: output.unwrap_or(0),
        cached_input_tokens: u
            .get("prompt_tokens_details")
            .and_then(|d| u64_field(d, "cached_tokens")),
        cache_creation_input_tokens: None,
        total_tokens: u64_field(u, "total_tokens"),
    })
}

/// The message of an API error object.
fn error_message(event: &Value) -> Option<String> {
    let error = event.get("error").filter(|e| e.is_object())?;
    Some(
        nonblank_field(error, "message")
            .or_else(|| nonblank_field(error, "type"))
            .unwrap_or("the API answered with an error")
            .to_owned(),
    )
}

/// What a finish reason means for the verdict.
fn verdict_of(reason: &str) -> Option<Verdict> {
    match reason {
        "stop" | "tool_calls" | "function_call" => Some(Verdict::Success),
        "length" => Some(error_verdict("the reply was cut at the token limit")),
        "content_filter" => Some(error_verdict("the reply was withheld by a content filter")),
        _ => None,
    }
}

/// The tool calls of a chunk's delta that start a call: each names its `id` (the pieces of
/// its arguments that follow do not).
fn new_calls(delta: &Value) -> impl Iterator<Item = &Value> {
    array(delta, "tool_calls")
        .iter()
        .filter(|c| c.get("id").is_some_and(|id| !id.is_null()))
}

/// The parser of one stream: the message being streamed, the last error.
#[derive(Debug, Default)]
pub struct ChatEvents {
    text: CappedText,
    error: Option<String>,
}

impl ChatEvents {
    /// The streamed message, if it has text, becomes the last message.
    fn end_message(&mut self, summary: &mut StreamSummary) {
        let text = std::mem::take(&mut self.text);
        if !text.text.trim().is_empty() {
            summary.last_message = Some(truncate_message(text.text.trim()));
        }
    }
}

impl StreamEvents for ChatEvents {
    fn event(&mut self, _kind: &str, event: &Value, summary: &mut StreamSummary) {
        if let Some(message) = error_message(event) {
            self.error = Some(message.clone());
            summary.verdict = Some(error_verdict(&message));
            return;
        }
        set_capped(&mut summary.model, event, "model");
        if let Some(usage) = usage_of(event) {
            // A CLI may make several requests in one run.
            summary.usage = sum(summary.usage.take().into_iter().chain([usage]));
        }
        let Some(choice) = first_choice(event) else {
            return;
        };
        if let Some(message) = choice.get("message") {
            // A whole completion.
            let calls = array(message, "tool_calls").len() as u64;
            summary.tool_calls = summary.tool_calls.saturating_add(calls);
            if let Some(text) = nonblank_field(message, "content") {
                summary.last_message = Some(truncate_message(text.trim()));
            }
        } else if let Some(delta) = choice.get("delta") {
            if str_field(delta, "role").is_some() {
                // A new message starts.
                self.text = CappedText::default();
            }
            if let Some(text) = str_field(delta, "content") {
                self.text.push(text);
            }
            summary.tool_calls = summary
                .tool_calls
                .saturating_add(new_calls(delta).count() as u64);
        }
        if let Some(reason) = str_field(choice, "finish_reason") {
            self.end_message(summary);
            if self.error.is_none() {
                summary.verdict = verdict_of(reason).or(summary.verdict.take());
            }
        }
    }

    fn finish(&mut self, summary: &mut StreamSummary) {
        // A stream cut before its finish reason: its text is still the last message.
        self.end_message(summary);
    }
}

/// A renderer of the format: each message once it ends, each tool call as it starts (with
/// its arguments once they are whole), each request's usage, an error.
#[derive(Debug, Default)]
pub struct ChatTranscript {
    text: String,
    /// The calls being streamed: their index, name and arguments so far.
    calls: Vec<(u64, String, String)>,
    started: bool,
}

/// The most bytes of one message or call's arguments kept while it streams.
const MAX_HELD: usize = 64 * 1024;

fn push_bounded(into: &mut String, more: &str) {
    let room = MAX_HELD.saturating_sub(into.len());
    let mut cut = more.len().min(room);
    while !more.is_char_boundary(cut) {
        cut -= 1;
    }
    into.push_str(&more[..cut]);
}

impl ChatTranscript {
    fn show_calls(&mut self, out: &mut Sink) {
        for (_, name, args) in std::mem::take(&mut self.calls) {
            let input: Value = serde_json::from_str(&args).unwrap_or(Value::String(args));
            let what = describe_input(&input);
            out.push("▸", format!("{name} {what}").trim_end());
        }
    }
}

impl TranscriptEvents for ChatTranscript {
    fn event(&mut self, _kind: &str, event: &Value, out: &mut Sink) {
        if let Some(message) = error_message(event) {
            self.flush(out);
            out.push("end", &format!("error: {message}"));
            return;
        }
        if !self.started {
            self.started = true;
            let model = str_field(event, "model").unwrap_or("-");
            out.push("start", &format!("chat completions, model {model}"));
        }
        if let Some(choice) = first_choice(event) {
            if let Some(message) = choice.get("message") {
                if let Some(text) = nonblank_field(message, "content") {
                    push_bounded(&mut self.text, text);
                }
                for call in array(message, "tool_calls").iter().take(64) {
                    let f = call.get("function").unwrap_or(&Value::Null);
                    self.calls.push((
                        self.calls.len() as u64,
                        str_field(f, "name").unwrap_or("tool").to_owned(),
                        str_field(f, "arguments").unwrap_or("").to_owned(),
                    ));
                }
            } else if let Some(delta) = choice.get("delta") {
                if let Some(text) = str_field(delta, "content") {
                    push_bounded(&mut self.text, text);
                }
                for call in array(delta, "tool_calls") {
                    let f = call.get("function").unwrap_or(&Value::Null);
                    let args = str_field(f, "arguments").unwrap_or("");
                    let index = u64_field(call, "index").unwrap_or(0);
                    if call.get("id").is_some_and(|id| !id.is_null()) && self.calls.len() < 64 {
                        let name = str_field(f, "name").unwrap_or("tool").to_owned();
                        self.calls.push((index, name, String::new()));
                    }
                    if let Some((_, _, held)) =
                        self.calls.iter_mut().rev().find(|(i, _, _)| *i == index)
                    {
                        push_bounded(held, args);
                    }
                }
            }
            if str_field(choice, "finish_reason").is_some() {
                self.flush(out);
            }
        }
        if let Some(u) = usage_of(event) {
            self.flush(out);
            let mut parts = vec!["request".to_owned()];
            parts.extend(tokens(
                Some(u.input_tokens),
                Some(u.output_tokens),
                u.cached_input_tokens,
            ));
            out.push("end", &parts.join(" · "));
        }
    }

    fn flush(&mut self, out: &mut Sink) {
        let text = std::mem::take(&mut self.text);
        if !text.trim().is_empty() {
            out.push_lines("says", &text, super::cli::render::MAX_MESSAGE_LINES);
        }
        self.show_calls(out);
    }
}

#[cfg(test)]
mod tests;
