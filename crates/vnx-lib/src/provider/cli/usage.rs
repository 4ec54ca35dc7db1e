//! What a CLI's module is handed to count the token usage its session file records
//! (`SessionStore::usage`, ADR 0054): the counter a CLI's module gives per file
//! ([`SessionUsage`], fed one line at a time by `provider::session::usage`), and the lenient
//! pieces its line types are made of ([`Text`], [`Count`], [`Lenient`]: a member of another
//! JSON type than expected reads as absent, everything not named is skipped without being
//! built), what every line says of itself ([`Stamp`]), a message's usage counted once by its
//! id ([`Messages`], [`PerMessage`]) from its counts ([`counted`]), and [`sum`].
//!
//! The usage is informational: a worker can write the file. So memory stays bounded whatever
//! it holds: at most `MAX_MESSAGES` message ids are remembered at once. A line whose claim no
//! dispatch can have used (`Usage::implausible`) is skipped and counted
//! ([`SessionUsage::skipped`]), not summed: the rest of the file still counts; a sum of
//! plausible lines past the bound is held at it ([`capped`]), never read as none.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::receipts::Usage;

/// The most message ids remembered at once to count each message once; past it the counted
/// messages are settled and forgotten (only a file no CLI writes has that many).
const MAX_MESSAGES: usize = 1 << 16;

/// Counts the usage of one session file, fed its lines in order.
pub trait SessionUsage {
    /// One line (without its newline); `since` is when the dispatch started: a line whose
    /// `timestamp` is older is an earlier dispatch's (a follow-up resumes its session).
    fn line(&mut self, raw: &[u8], since: Option<jiff::Timestamp>);

    /// The usage counted; `None` when the file recorded none.
    fn total(self: Box<Self>) -> Option<Usage>;

    /// The usage counted so far, while the file still grows (a running worker's budget,
    /// ADR 0094); `None` when nothing was counted yet, or when this counter can tell its
    /// count only at the end (the default: its CLI has no live usage).
    fn so_far(&self) -> Option<Usage> {
        None
    }

    /// How many lines claimed a usage no dispatch can have used (`Usage::implausible`) and
    /// were skipped, the rest counted (ADR 0094).
    fn skipped(&self) -> u64 {
        0
    }
}

/// `usage` held to what one dispatch can plausibly have used: each count at most
/// `MAX_PLAUSIBLE_TOKENS`, input and output together too. A sum of lines each plausible can
/// pass the bound only when a worker wrote them; held at it, it fills every budget it counts
/// against, as the claim would, and is never refused as none.
pub fn capped(usage: Usage) -> Usage {
    use crate::receipts::MAX_PLAUSIBLE_TOKENS as MAX;
    if usage.implausible().is_none() {
        return usage;
    }
    let input = usage.input_tokens.min(MAX);
    Usage {
        input_tokens: input,
        output_tokens: usage.output_tokens.min(MAX - input),
        cached_input_tokens: usage.cached_input_tokens.map(|n| n.min(MAX)),
        cache_creation_input_tokens: usage.cache_creation_input_tokens.map(|n| n.min(MAX)),
        total_tokens: usage.total_tokens.map(|n| n.min(MAX)),
    }
}

/// What a session file's line says of itself: its `type` and when it was written, read
/// before the members its CLI reads of a line of that type.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct Stamp<'a> {
    /// The line's `type`.
    #[serde(borrow, rename = "type")]
    pub kind: Text<'a>,
    /// When it was written (`timestamp`).
    #[serde(borrow)]
    pub timestamp: Text<'a>,
}

impl<'a> Stamp<'a> {
    /// What a line says of itself, when it is JSON.
    pub fn of(raw: &'a [u8]) -> Option<Stamp<'a>> {
        serde_json::from_slice(raw).ok()
    }

    /// Whether the line is of type `kind`.
    pub fn is(&self, kind: &str) -> bool {
        self.kind.0.as_deref() == Some(kind)
    }
}

/// Reads a line of the type a [`PerMessage`] counts: the id of the message it records and the
/// message's usage, when it records one.
pub type MessageOf = for<'a> fn(&'a [u8]) -> Option<(Text<'a>, Usage)>;

/// The counter of a session file whose lines of one type each may record a message's usage
/// (read by its CLI's [`MessageOf`]), each message counted once by its id ([`Messages`]).
pub struct PerMessage {
    messages: Messages,
    /// The type of the lines that record a message.
    kind: &'static str,
    message: MessageOf,
}

impl PerMessage {
    /// A fresh counter of the messages that lines of type `kind` record, read by `message`.
    pub fn boxed(kind: &'static str, message: MessageOf) -> Box<dyn SessionUsage> {
        Box::new(PerMessage {
            messages: Messages::default(),
            kind,
            message,
        })
    }
}

impl SessionUsage for PerMessage {
    fn line(&mut self, raw: &[u8], since: Option<jiff::Timestamp>) {
        let Some(stamp) = Stamp::of(raw) else {
            return;
        };
        if before(&stamp.timestamp, since) || !stamp.is(self.kind) {
            return;
        }
        if let Some((id, usage)) = (self.message)(raw) {
            self.messages.message(id.0.as_deref(), usage);
        }
    }

    fn total(self: Box<Self>) -> Option<Usage> {
        self.messages.total()
    }

    fn so_far(&self) -> Option<Usage> {
        self.messages.so_far()
    }

    fn skipped(&self) -> u64 {
        self.messages.skipped
    }
}

/// Whether a line's `timestamp` is before the dispatch started (unknown: not before).
pub fn before(timestamp: &Text<'_>, since: Option<jiff::Timestamp>) -> bool {
    match (timestamp.parsed(), since) {
        (Some(at), Some(since)) => at < since,
        _ => false,
    }
}

/// The usage of messages each written on several lines, counted once by the message's id
/// (the last line of a message wins; a line without an id is a message of its own). A line
/// whose claim no dispatch can have used is skipped and counted.
#[derive(Default)]
pub struct Messages {
    /// The usage of each message by its id's hash.
    by_id: HashMap<u64, Usage>,
    /// Messages already counted and forgotten, and those without an id.
    settled: Option<Usage>,
    /// Lines skipped for an implausible claim.
    pub skipped: u64,
}

impl Messages {
    /// A message's usage as one of its lines records it.
    pub fn message(&mut self, id: Option<&str>, usage: Usage) {
        if usage.implausible().is_some() {
            self.skipped = self.skipped.saturating_add(1);
            return;
        }
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

    /// The sum of every message's usage so far ([`capped`]); `None` for none.
    pub fn so_far(&self) -> Option<Usage> {
        sum(self.settled.iter().chain(self.by_id.values()).cloned()).map(capped)
    }

    /// The sum of every message's usage ([`capped`]); `None` for none.
    pub fn total(self) -> Option<Usage> {
        sum(self.settled.into_iter().chain(self.by_id.into_values())).map(capped)
    }
}

/// A message's usage from the counts its line records (an absent one 0): input, output and
/// cache reads, and the cache writes and the total where its CLI records them.
pub fn counted(
    input: Count,
    output: Count,
    cached: Count,
    writes: Option<Count>,
    total: Option<Count>,
) -> Usage {
    Usage {
        input_tokens: input.or0(),
        output_tokens: output.or0(),
        cached_input_tokens: Some(cached.or0()),
        cache_creation_input_tokens: writes.map(Count::or0),
        total_tokens: total.map(Count::or0),
    }
}

/// The sum of some usages (saturating: the numbers are a worker's); `None` for none.
pub fn sum(all: impl Iterator<Item = Usage>) -> Option<Usage> {
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

/// The visits of the JSON types listed (`ints`, `float`, `bool`, `unit`, `str`, `map`,
/// `seq`) that read as absent (`$absent`), what a map or sequence holds skipped unbuilt.
macro_rules! absent {
    ($absent:expr; $($kind:ident),*) => {
        $(absent!(@$kind $absent);)*
    };
    (@ints $absent:expr) => {
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($absent)
        }
    };
    (@float $absent:expr) => {
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($absent)
        }
    };
    (@bool $absent:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($absent)
        }
    };
    (@unit $absent:expr) => {
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($absent)
        }
    };
    (@str $absent:expr) => {
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($absent)
        }
    };
    (@map $absent:expr) => {
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            serde::de::Visitor::visit_map(serde::de::IgnoredAny, map).map(|_| $absent)
        }
    };
    (@seq $absent:expr) => {
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            serde::de::Visitor::visit_seq(serde::de::IgnoredAny, seq).map(|_| $absent)
        }
    };
}
pub(crate) use absent;

/// A string member, borrowed from the line when it has no escapes; anything else reads as
/// absent.
#[derive(Default)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl Text<'_> {
    /// The text as a timestamp, if it is one.
    pub fn parsed(&self) -> Option<jiff::Timestamp> {
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
            absent!(Text(None); ints, float, bool, unit, map, seq);
        }
        d.deserialize_any(V)
    }
}

/// A token count: a non-negative integer; anything else reads as absent.
#[derive(Clone, Copy, Default)]
pub struct Count(pub Option<u64>);

impl Count {
    /// The count, 0 when absent.
    pub fn or0(self) -> u64 {
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
            absent!(Count(None); float, bool, unit, str, map, seq);
        }
        d.deserialize_any(V)
    }
}

/// An object member; a member of any other JSON type reads as absent.
pub struct Lenient<T>(pub Option<T>);

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
            absent!(Lenient(None); ints, float, bool, unit, str, seq);
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}
