//! What a CLI's transcript renderer is given: the [`TranscriptEvents`] trait its module
//! implements, the [`Sink`] it writes lines to (escaped, bounded), and the reading of JSON
//! fields the renderers share (`provider::transcript` splits the log and asks the registry
//! which CLI wrote it).

use std::fmt::Write as _;

use serde_json::Value;

/// The longest line rendered, in chars (a longer one ends in `…`).
pub const MAX_LINE_CHARS: usize = 240;
/// The most lines shown of one assistant message.
pub const MAX_MESSAGE_LINES: usize = 40;
/// The most lines shown of one tool result.
pub const MAX_RESULT_LINES: usize = 4;
/// Tool calls remembered by id (to name a result's tool); older ones are forgotten.
const REMEMBERED_CALLS: usize = 256;

/// What one CLI's events look like as a transcript; one value per log, so it may keep what
/// it needs between events (a message streamed in deltas, what was shown already).
pub trait TranscriptEvents: std::fmt::Debug + Send {
    /// One event, a JSON object whose `type` is `kind` (empty when it has none).
    fn event(&mut self, kind: &str, event: &Value, out: &mut Sink);

    /// Shows what is held back (a line that is not an event follows, or the log ended).
    fn flush(&mut self, _out: &mut Sink) {}
}

/// The lines rendered so far, and the tool calls shown.
#[derive(Debug, Default)]
pub struct Sink {
    pub(crate) out: Vec<String>,
    /// Tool calls by id and what was shown of them (commands shown as they started; the
    /// messages and calls of a session file that writes them again as they grow).
    calls: Vec<(String, String)>,
}

impl Sink {
    /// Adds a rendered line: a label column, then the text (escaped, cut).
    pub fn push(&mut self, label: &str, text: &str) {
        let text = clean(text);
        self.out.push(if label.is_empty() {
            text
        } else {
            format!("{label:<7} {text}")
        });
    }

    /// Adds a multi-line text under one label, its lines bounded.
    pub fn push_lines(&mut self, label: &str, text: &str, max_lines: usize) {
        let lines: Vec<&str> = text.trim().lines().collect();
        for (i, line) in lines.iter().take(max_lines).enumerate() {
            self.push(if i == 0 { label } else { " " }, line);
        }
        if lines.len() > max_lines {
            self.push(" ", &format!("… ({} more lines)", lines.len() - max_lines));
        }
    }

    /// A tool's result: `↳` and its first lines, `failed` when it is an error.
    pub fn push_result(&mut self, ok: bool, text: &str) {
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

    /// Remembers what was shown of a tool call (or message) by its id.
    pub fn remember(&mut self, id: &str, tool: &str) {
        if self.calls.len() >= REMEMBERED_CALLS {
            self.calls.remove(0);
        }
        self.calls.push((id.to_owned(), tool.to_owned()));
    }

    /// What was shown of the call `id`, if it is remembered.
    pub fn tool_of(&self, id: &str) -> Option<&str> {
        self.calls
            .iter()
            .rev()
            .find(|(i, _)| i == id)
            .map(|(_, t)| t.as_str())
    }
}

/// `text` on one line of printable characters: line breaks and tabs as spaces are not
/// expected here (callers split lines first); a colour or style (an SGR sequence, `ESC [ …
/// m`) left out, any other ESC as `\e`, other controls as `\u{…}`; cut at
/// [`MAX_LINE_CHARS`] with `…`.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_LINE_CHARS * 4));
    let mut rest = text;
    let mut chars = 0;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = without_sgr(rest) {
            rest = after;
            continue;
        }
        rest = &rest[c.len_utf8()..];
        if chars >= MAX_LINE_CHARS {
            out.push('…');
            return out;
        }
        chars += 1;
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

/// `text` after the SGR sequence it starts with (`ESC [`, digits and `;`, `m`), if it starts
/// with one.
fn without_sgr(text: &str) -> Option<&str> {
    let params = text.strip_prefix("\u{1b}[")?;
    let end = params.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
    params[end..].strip_prefix('m')
}

/// An event as compact JSON (for an event of no CLI vnx knows).
pub(crate) fn compact(event: &Value) -> String {
    serde_json::to_string(event).unwrap_or_default()
}

/// A string field, and a non-blank one: the event parsers' readers.
pub(crate) use super::stream::{array, nonblank_field as nonblank, str_field as str_of};

pub(crate) fn u64_of(value: &Value, key: &str) -> Option<u64> {
    value.get(key)?.as_u64()
}

/// What a tool call does, in a few words: its command, path, pattern, URL or query, else its
/// arguments as compact JSON.
pub(crate) fn describe_input(input: &Value) -> String {
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

/// A message's or a result's content: a string, or parts with `text` (one a line).
pub(crate) fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| str_of(p, "text"))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// An error event's line: its `message` (else `error`) on one line.
pub(crate) fn error_line(out: &mut Sink, event: &Value) {
    out.push(
        "error",
        &one_line(nonblank(event, "message").unwrap_or("error")),
    );
}

/// A possibly multi-line text on one line (a command's lines joined with ` ⏎ `).
pub(crate) fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    lines.join(" ⏎ ")
}

/// The start of a stream whose start event names its `model`, its posture (in the member
/// `mode` its CLI calls a `posture`) and its `session_id`: `WHO, model M, POSTURE P, session
/// S`, `-` for what it leaves out.
pub(crate) fn start(out: &mut Sink, who: &str, event: &Value, (mode, posture): (&str, &str)) {
    let of = |key| str_of(event, key).unwrap_or("-");
    let (model, session) = (of("model"), of("session_id"));
    let text = format!(
        "{who}, model {model}, {posture} {}, session {session}",
        of(mode)
    );
    out.push("start", &text);
}

/// The labels of a message's text, its shell commands and its other tool calls: the
/// worker's, and a subagent's.
pub(crate) const SAYS: [&str; 3] = ["says", "$", "▸"];
pub(crate) const AGENT: [&str; 3] = ["agent", "agent $", "agent ▸"];

/// The labels of an event's message ([`SAYS`]), a subagent's apart ([`AGENT`]: its event
/// carries the id of the tool call that spawned it).
pub(crate) fn labels(event: &Value) -> [&'static str; 3] {
    if crate::provider::cli::stream::subagent(event) {
        AGENT
    } else {
        SAYS
    }
}

/// Shows a tool call `name` that does `what` ([`describe_input`]) with `labels`: as a
/// command when it is the `shell` tool, else as the tool and what it does; the text shown.
pub(crate) fn show_call(
    out: &mut Sink,
    labels: [&str; 3],
    name: &str,
    what: &str,
    shell: bool,
) -> String {
    let (label, shown) = if shell {
        (labels[1], what.to_owned())
    } else {
        (labels[2], format!("{name} {what}"))
    };
    out.push(label, &shown);
    shown
}

/// A `tool_use` block: its call remembered by its id, shown as a command when its tool is
/// `shell`, else as the tool and what it does.
pub(crate) fn tool_use(out: &mut Sink, block: &Value, labels: [&str; 3], shell: &str) {
    let name = str_of(block, "name").unwrap_or("tool");
    if let Some(id) = str_of(block, "id") {
        out.remember(id, name);
    }
    let what = describe_input(block.get("input").unwrap_or(&Value::Null));
    show_call(out, labels, name, &what, name == shell);
}

/// A closing `result` event: the tool calls it lists as denied (`permission_denials`), each
/// shown, then its end line: its verdict (`failed`: an error, why being its `result`, else
/// its `subtype`), its turns, its tokens, its `cost` where known, and how many were denied.
pub(crate) fn closing(out: &mut Sink, event: &Value, failed: bool, cost: Option<f64>) {
    let denials = array(event, "permission_denials");
    for d in denials {
        let tool = str_of(d, "tool_name").unwrap_or("tool");
        let what = describe_input(d.get("tool_input").unwrap_or(&Value::Null));
        out.push("denied", &format!("{tool} {what}"));
    }
    let mut parts = vec![if failed {
        let why = nonblank(event, "result")
            .or_else(|| str_of(event, "subtype"))
            .unwrap_or("error");
        format!("error: {}", one_line(why))
    } else {
        "success".to_owned()
    }];
    if let Some(turns) = u64_of(event, "num_turns") {
        parts.push(format!("{turns} turn(s)"));
    }
    if let Some(usage) = event.get("usage") {
        parts.extend(tokens(
            u64_of(usage, "input_tokens"),
            u64_of(usage, "output_tokens"),
            u64_of(usage, "cache_read_input_tokens"),
        ));
    }
    parts.extend(cost.map(|cost| format!("${cost:.4}")));
    if !denials.is_empty() {
        parts.push(format!("{} permission denial(s)", denials.len()));
    }
    out.push("end", &parts.join(" · "));
}

/// A usage line: `N in, M out tokens` (and what was cached).
pub(crate) fn tokens(
    input: Option<u64>,
    output: Option<u64>,
    cached: Option<u64>,
) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{MAX_LINE_CHARS, clean};

    #[test]
    fn colours_are_left_out_and_other_controls_shown() {
        assert_eq!(
            clean("\u{1b}[91mMessageAbortedError\u{1b}[0m: Aborted"),
            "MessageAbortedError: Aborted"
        );
        assert_eq!(clean("a\u{1b}[1;31mb\u{1b}[m"), "ab");
        // Not a colour: shown, never obeyed.
        assert_eq!(clean("\u{1b}[2Jgone"), "\\e[2Jgone");
        assert_eq!(clean("\u{1b}]0;title\u{7}x"), "\\e]0;title\\u{7}x");
        assert_eq!(clean("tab\there"), "tab here");
    }

    proptest! {
        #[test]
        fn a_cleaned_line_holds_no_control_and_is_bounded(text in "\\PC{0,40}[\u{0}-\u{1f}\u{1b}\\[;0-9m]{0,40}") {
            let out = clean(&text);
            prop_assert!(!out.chars().any(char::is_control), "{out:?}");
            prop_assert!(out.chars().count() <= MAX_LINE_CHARS * 8 + 1);
        }
    }
}
