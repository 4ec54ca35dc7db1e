//! The token usage a session file records, counted as the headless lane counts the CLI's
//! own totals (seen on claude 2.1.197, codex 0.169, gemini 0.61):
//!
//! - claude: the sum over the session's assistant messages of their `usage` (input, output,
//!   cache reads and writes), each message counted once by its `message.id` (claude writes a
//!   message's usage again on each line of its content blocks);
//! - codex: the last `token_count` event's `total_token_usage`;
//! - gemini: the sum over its `gemini` messages of their `tokens` (input, output, cached,
//!   total), each message counted once by its `id` (it writes a message again as it grows).
//!
//! Only what was recorded since the dispatch started counts (a follow-up resumes its
//! session, whose file holds the earlier dispatch's turns too): lines whose `timestamp` is
//! older are left out, and codex's totals are counted from the last one before the start.
//!
//! Informational, like the headless lane's usage: a worker can write the file. So the read is
//! bounded in memory whatever the file holds: it is streamed, a line longer than
//! [`MAX_USAGE_LINE`] is skipped unread, each line is parsed into the few members usage
//! needs (everything else is skipped, never built), and at most [`MAX_MESSAGES`] message ids
//! are remembered at once.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::time::SystemTime;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Cli;
use crate::provider::lines::{LineSplitter, Piece};
use crate::receipts::Usage;

/// The longest session-file line read for its usage, in bytes; a longer one is skipped
/// without being kept or parsed. claude writes a message's usage on the line of each content
/// block, and a block can carry a whole file a tool wrote: generous, but far below what a
/// supervisor may hold.
pub const MAX_USAGE_LINE: usize = 8 << 20;
/// The most message ids remembered at once to count each message once; past it the counted
/// messages are settled and forgotten (only a file no CLI writes has that many).
const MAX_MESSAGES: usize = 1 << 16;

/// The usage the session file at `path` records since `since`; `None` when it records none
/// (or cannot be read).
pub fn usage(cli: Cli, path: &Path, since: SystemTime) -> Option<Usage> {
    let mut counter = Counter::new(cli, since);
    super::stream(path, |chunk| counter.feed(chunk)).ok()?;
    counter.finish()
}

/// The usage recorded in a session file's bytes since `since`.
#[cfg(test)]
pub(super) fn of_bytes(cli: Cli, data: &[u8], since: SystemTime) -> Option<Usage> {
    let mut counter = Counter::new(cli, since);
    counter.feed(data);
    counter.finish()
}

/// Counts usage from a session file fed in chunks cut anywhere.
struct Counter {
    cli: Cli,
    since: Option<jiff::Timestamp>,
    lines: LineSplitter,
    /// claude, gemini: the usage of each message by its id's hash (the last line wins).
    by_id: HashMap<u64, Usage>,
    /// claude, gemini: messages already counted and forgotten, and those without an id.
    settled: Option<Usage>,
    /// codex: the last totals before the start, and the last since.
    earlier: Option<Usage>,
    last: Option<Usage>,
}

impl Counter {
    fn new(cli: Cli, since: SystemTime) -> Counter {
        Counter {
            cli,
            since: jiff::Timestamp::try_from(since).ok(),
            lines: LineSplitter::with_max(MAX_USAGE_LINE),
            by_id: HashMap::new(),
            settled: None,
            earlier: None,
            last: None,
        }
    }

    fn feed(&mut self, chunk: &[u8]) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(chunk, |piece| {
            if let Piece::Line(line) = piece {
                self.line(line);
            }
        });
        self.lines = lines;
    }

    fn finish(mut self) -> Option<Usage> {
        let mut lines = std::mem::take(&mut self.lines);
        if let Some(Piece::Line(line)) = lines.finish() {
            self.line(line);
        }
        if self.cli == Cli::Codex {
            return codex_since(self.last?, self.earlier.unwrap_or_default());
        }
        let counted = std::mem::take(&mut self.by_id).into_values();
        sum(self.settled.into_iter().chain(counted))
    }

    /// One line: only the members usage reads are parsed.
    fn line(&mut self, raw: &[u8]) {
        let Ok(line) = serde_json::from_slice::<Line<'_>>(raw) else {
            return;
        };
        let before = match (line.timestamp.parsed(), self.since) {
            (Some(at), Some(since)) => at < since,
            _ => false,
        };
        let kind = line.kind.0.as_deref();
        match self.cli {
            Cli::Codex => {
                let Some(payload) = line.payload.0 else {
                    return;
                };
                if kind != Some("event_msg") || payload.kind.0.as_deref() != Some("token_count") {
                    return;
                }
                let Some(t) = payload.info.0.and_then(|i| i.total_token_usage.0) else {
                    return;
                };
                let total = Usage {
                    input_tokens: t.input_tokens.or0(),
                    output_tokens: t.output_tokens.or0(),
                    cached_input_tokens: Some(t.cached_input_tokens.or0()),
                    cache_creation_input_tokens: None,
                    total_tokens: t.total_tokens.0,
                };
                if before {
                    self.earlier = Some(total);
                } else {
                    self.last = Some(total);
                }
            }
            _ if before => {}
            Cli::Claude if kind == Some("assistant") => {
                let Some(message) = line.message.0 else {
                    return;
                };
                let Some(u) = message.usage.0 else {
                    return;
                };
                let usage = Usage {
                    input_tokens: u.input_tokens.or0(),
                    output_tokens: u.output_tokens.or0(),
                    cached_input_tokens: Some(u.cache_read_input_tokens.or0()),
                    cache_creation_input_tokens: Some(u.cache_creation_input_tokens.or0()),
                    total_tokens: None,
                };
                self.message(message.id.0.as_deref(), usage);
            }
            Cli::Gemini if kind == Some("gemini") => {
                let Some(t) = line.tokens.0 else {
                    return;
                };
                let usage = Usage {
                    input_tokens: t.input.or0(),
                    output_tokens: t.output.or0(),
                    cached_input_tokens: Some(t.cached.or0()),
                    cache_creation_input_tokens: None,
                    total_tokens: Some(t.total.or0()),
                };
                self.message(line.id.0.as_deref(), usage);
            }
            _ => {}
        }
    }

    /// A message's usage as one of its lines records it: the last line of a message wins; a
    /// line without an id is a message of its own.
    fn message(&mut self, id: Option<&str>, usage: Usage) {
        let Some(id) = id else {
            self.settled = sum(self.settled.take().into_iter().chain([usage]));
            return;
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut hasher);
        let key = hasher.finish();
        if self.by_id.len() >= MAX_MESSAGES && !self.by_id.contains_key(&key) {
            let counted = std::mem::take(&mut self.by_id).into_values();
            self.settled = sum(self.settled.take().into_iter().chain(counted));
        }
        self.by_id.insert(key, usage);
    }
}

/// codex's last totals less the last ones recorded before the start.
fn codex_since(last: Usage, earlier: Usage) -> Option<Usage> {
    let less = |a: Option<u64>, b: Option<u64>| a.map(|a| a.saturating_sub(b.unwrap_or(0)));
    Some(Usage {
        input_tokens: last.input_tokens.saturating_sub(earlier.input_tokens),
        output_tokens: last.output_tokens.saturating_sub(earlier.output_tokens),
        cached_input_tokens: less(last.cached_input_tokens, earlier.cached_input_tokens),
        cache_creation_input_tokens: None,
        total_tokens: less(last.total_tokens, earlier.total_tokens),
    })
}

/// The sum of some usages (saturating: the numbers are a worker's); `None` for none.
fn sum(all: impl Iterator<Item = Usage>) -> Option<Usage> {
    let add = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    };
    all.reduce(|a, b| Usage {
        input_tokens: a.input_tokens.saturating_add(b.input_tokens),
        output_tokens: a.output_tokens.saturating_add(b.output_tokens),
        cached_input_tokens: add(a.cached_input_tokens, b.cached_input_tokens),
        cache_creation_input_tokens: add(
            a.cache_creation_input_tokens,
            b.cache_creation_input_tokens,
        ),
        total_tokens: add(a.total_tokens, b.total_tokens),
    })
}

/// The members of one session-file line usage reads; every other member is skipped by the
/// parser without being built. Each is lenient: a member of another JSON type than expected
/// reads as absent, as it did when lines were read as values.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Line<'a> {
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
    #[serde(borrow)]
    timestamp: Text<'a>,
    /// gemini: the message's id.
    #[serde(borrow)]
    id: Text<'a>,
    /// claude: the assistant message.
    #[serde(borrow)]
    message: Lenient<Message<'a>>,
    /// gemini: the message's tokens.
    tokens: Lenient<GeminiTokens>,
    /// codex: the event.
    #[serde(borrow)]
    payload: Lenient<Payload<'a>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Message<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    usage: Lenient<ClaudeUsage>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ClaudeUsage {
    input_tokens: Count,
    output_tokens: Count,
    cache_read_input_tokens: Count,
    cache_creation_input_tokens: Count,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct GeminiTokens {
    input: Count,
    output: Count,
    cached: Count,
    total: Count,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Payload<'a> {
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
    info: Lenient<Info>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Info {
    total_token_usage: Lenient<CodexTotals>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct CodexTotals {
    input_tokens: Count,
    output_tokens: Count,
    cached_input_tokens: Count,
    total_tokens: Count,
}

/// The scalar visits (numbers, booleans, null) that read as absent.
macro_rules! other_scalars_are_absent {
    ($absent:expr) => {
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($absent)
        }
    };
}

/// A string member, borrowed from the line when it has no escapes; anything else reads as
/// absent.
#[derive(Default)]
struct Text<'a>(Option<Cow<'a, str>>);

impl Text<'_> {
    fn parsed(&self) -> Option<jiff::Timestamp> {
        self.0.as_deref()?.parse().ok()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text<'de>, A::Error> {
                skip_map(map).map(|()| Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text<'de>, A::Error> {
                skip_seq(seq).map(|()| Text(None))
            }
            other_scalars_are_absent!(Text(None));
        }
        d.deserialize_any(V)
    }
}

/// A token count: a non-negative integer; anything else reads as absent.
#[derive(Clone, Copy, Default)]
struct Count(Option<u64>);

impl Count {
    fn or0(self) -> u64 {
        self.0.unwrap_or(0)
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Count, E> {
                Ok(Count(Some(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Count, E> {
                Ok(Count(u64::try_from(v).ok()))
            }
            fn visit_str<E>(self, _: &str) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Count, A::Error> {
                skip_map(map).map(|()| Count(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Count, A::Error> {
                skip_seq(seq).map(|()| Count(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_unit<E>(self) -> Result<Count, E> {
                Ok(Count(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// An object member; a member of any other JSON type reads as absent.
struct Lenient<T>(Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Lenient<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Lenient<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Lenient(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Lenient<T>, A::Error> {
                skip_seq(seq).map(|()| Lenient(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Lenient<T>, E> {
                Ok(Lenient(None))
            }
            other_scalars_are_absent!(Lenient(None));
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Skips an object's members without building them.
fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Skips an array's elements without building them.
fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}
