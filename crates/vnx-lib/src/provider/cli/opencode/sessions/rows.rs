//! What opencode's session rows, and the lines drawn from them, are read for, parsed in place:
//! only the members a read looks at are read out of a row's JSON (borrowed from it where the
//! text has no escapes), everything else skipped unbuilt (`serde::de::IgnoredAny`), and a
//! part given on as its own text, never as a parsed value. A worker writes the database, and
//! a value built of a row of many tiny members costs thirty times its text: a reader's
//! memory stays the row's text and the lines', whatever a row holds.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, Visitor};

use crate::provider::cli::usage::{Lenient, Text, absent};
use crate::receipts::Usage;

/// Whether a member is there, whatever it holds (`null` included).
#[derive(Clone, Copy, Default)]
pub(super) struct Present(pub(super) bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d).map(|_| Present(true))
    }
}

/// A number (an integer or a finite float); anything else reads as absent.
#[derive(Clone, Copy, Default)]
pub(super) struct Number(pub(super) Option<f64>, Option<u64>);

impl Number {
    /// As a count: an integer at least 0 as it is, a float at least 0 cut (saturating).
    pub(super) fn count(self) -> Option<u64> {
        self.1.or_else(|| {
            let f = self.0?;
            (f.is_finite() && f >= 0.0).then_some(f as u64)
        })
    }

    /// As milliseconds since the epoch.
    pub(super) fn millis(self) -> Option<i64> {
        match (self.1, self.0) {
            (Some(n), _) => i64::try_from(n).ok(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Number, E> {
                Ok(Number(Some(v as f64), Some(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Number, E> {
                Ok(Number(Some(v as f64), u64::try_from(v).ok()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Number, E> {
                Ok(Number(Some(v).filter(|f| f.is_finite()), None))
            }
            absent!(Number::default(); str, bool, unit, map, seq);
        }
        d.deserialize_any(V)
    }
}

/// What a read looks at of a message's JSON: its role, whether and how it completed, and its
/// error (an object, kept as its text: drawn as a line, so bounded by the lines' bound).
#[derive(Default, Deserialize)]
#[serde(default)]
struct MessageJson<'a> {
    #[serde(borrow)]
    role: Text<'a>,
    time: Lenient<MessageTime>,
    #[serde(borrow)]
    finish: Text<'a>,
    #[serde(borrow)]
    error: Option<&'a serde_json::value::RawValue>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct MessageTime {
    completed: Number,
}

/// A message's row as a read keeps it (small whatever the row held, but its error).
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct MessageInfo {
    /// `role`, when it is a short text.
    pub(super) role: Option<String>,
    /// Whether `time.completed` is a number.
    pub(super) completed: bool,
    /// `finish`, when it is a short text.
    pub(super) finish: Option<String>,
    /// `error`, when it is an object: its JSON text, on one line.
    pub(super) error: Option<String>,
}

impl MessageInfo {
    /// What a message's JSON says; all absent when it is not a JSON object.
    pub(super) fn of(data: &str) -> MessageInfo {
        if !data.trim_start().starts_with('{') {
            return MessageInfo::default();
        }
        let Ok(m) = serde_json::from_str::<MessageJson<'_>>(data) else {
            return MessageInfo::default();
        };
        let short = |t: Text<'_>| t.0.filter(|s| s.len() <= 64).map(|s| s.into_owned());
        MessageInfo {
            role: short(m.role),
            completed: m.time.0.is_some_and(|t| t.completed.0.is_some()),
            finish: short(m.finish),
            error: m
                .error
                .map(|e| e.get())
                .filter(|e| e.starts_with('{'))
                .map(one_line),
        }
    }

    /// Whether it is the assistant's.
    pub(super) fn is_assistant(&self) -> bool {
        self.role.as_deref() == Some("assistant")
    }

    /// Whether it completed its turn: completed, with an error or for a reason other than
    /// calling tools (opencode then writes the next step's message).
    pub(super) fn ends_turn(&self) -> bool {
        self.completed
            && (self.error.is_some() || self.finish.as_deref().is_some_and(|f| f != "tool-calls"))
    }
}

/// What a read looks at of a part's JSON to tell which line it is.
#[derive(Default, Deserialize)]
#[serde(default)]
struct PartJson<'a> {
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
    time: Lenient<PartTime>,
    #[serde(borrow)]
    state: Lenient<PartState<'a>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct PartTime {
    end: Present,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct PartState<'a> {
    #[serde(borrow)]
    status: Text<'a>,
}

/// What a part is, for the lines drawn from a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    /// The line of this kind, the part given whole.
    Line(&'static str),
    /// Still streamed or running: nothing after it is given yet.
    Unfinished,
    /// Nothing drawn.
    Skipped,
}

impl Part {
    /// What the part whose JSON is `data` is.
    pub(super) fn of(data: &str) -> Part {
        if !data.trim_start().starts_with('{') {
            return Part::Skipped;
        }
        let Ok(p) = serde_json::from_str::<PartJson<'_>>(data) else {
            return Part::Skipped;
        };
        let finished = p.time.0.is_some_and(|t| t.end.0);
        let status = p.state.0.and_then(|s| s.status.0);
        match p.kind.0.as_deref() {
            Some("step-start") => Part::Line("step_start"),
            Some("step-finish") => Part::Line("step_finish"),
            Some("text") if finished => Part::Line("text"),
            Some("tool") if matches!(status.as_deref(), Some("completed" | "error")) => {
                Part::Line("tool_use")
            }
            Some("text" | "tool") => Part::Unfinished,
            Some("reasoning") if !finished => Part::Unfinished,
            _ => Part::Skipped,
        }
    }
}

/// JSON text on one line: outside its strings (which hold no raw line breaks) a line break is
/// only spacing.
pub(super) fn one_line(json: &str) -> String {
    json.replace(['\n', '\r'], " ")
}

/// What a drawn line says, as usage, cost and the last message read it.
#[derive(Default, Deserialize)]
#[serde(default)]
struct LineJson<'a> {
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
    timestamp: Number,
    #[serde(borrow)]
    part: Lenient<LinePart<'a>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct LinePart<'a> {
    #[serde(borrow)]
    text: Text<'a>,
    tokens: Lenient<Tokens>,
    cost: Number,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Tokens {
    input: Number,
    output: Number,
    total: Number,
    cache: Lenient<Cache>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Cache {
    read: Number,
    write: Number,
}

/// One drawn line, read for what usage, cost and the last message need.
pub(super) struct Line<'a> {
    json: LineJson<'a>,
}

impl<'a> Line<'a> {
    /// The line `raw`, when it is a JSON object.
    pub(super) fn of(raw: &'a [u8]) -> Option<Line<'a>> {
        serde_json::from_slice::<LineJson<'a>>(raw)
            .ok()
            .map(|json| Line { json })
    }

    /// Whether it is of type `kind`.
    pub(super) fn is(&self, kind: &str) -> bool {
        self.json.kind.0.as_deref() == Some(kind)
    }

    /// When it was written, in milliseconds since the epoch.
    pub(super) fn at(&self) -> Option<i64> {
        self.json.timestamp.millis()
    }

    /// Its part's text, trimmed, when not blank.
    pub(super) fn text(&self) -> Option<&str> {
        let text = self.json.part.0.as_ref()?.text.0.as_deref()?.trim();
        (!text.is_empty()).then_some(text)
    }

    /// Its part's cost, a finite number at least 0.
    pub(super) fn cost(&self) -> Option<f64> {
        let cost = self.json.part.0.as_ref()?.cost.0?;
        (cost.is_finite() && cost >= 0.0).then_some(cost)
    }

    /// The tokens its part records (input, output, cache reads and writes, total), when it
    /// records them, as opencode's stream parser adds them up.
    pub(super) fn tokens(&self) -> Option<Usage> {
        let t = self.json.part.0.as_ref()?.tokens.0.as_ref()?;
        let cache = t.cache.0.as_ref();
        Some(Usage {
            input_tokens: t.input.count().unwrap_or(0),
            output_tokens: t.output.count().unwrap_or(0),
            cached_input_tokens: Some(cache.and_then(|c| c.read.count()).unwrap_or(0)),
            cache_creation_input_tokens: Some(cache.and_then(|c| c.write.count()).unwrap_or(0)),
            total_tokens: Some(t.total.count().unwrap_or(0)),
        })
    }
}
