//! What every part of `.vnx/config.yaml` is checked with, below the sections and the schema
//! that names them: `ConfigError` (whose messages point at a line and column of the file),
//! `Validator` and its basic checks, and `Entries`, a mapping in document order.

use std::fmt;
use std::marker::PhantomData;
use std::ops::RangeInclusive;
use std::path::Path;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_saphyr::{Location, Spanned};

pub(super) use crate::yaml::shown;
use crate::yaml::{Spot, YamlError, line_col};

/// The longest deadline a dispatch takes: 30 days.
pub const MAX_DEADLINE_SECS: u64 = 30 * 24 * 3600;

/// Providers vnx knows without a declaration; their names cannot be declared.
pub const BUILTIN_PROVIDERS: [&str; crate::provider::Provider::NAMES.len()] =
    crate::provider::Provider::NAMES;

/// Why `.vnx/config.yaml` could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read, or is not YAML of the config's shape (too large, not
    /// UTF-8, a syntax or type error, an unknown or duplicate key).
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// A value the file's shape allows but the config does not. `line` and `column` are
    /// 1-based (characters); 0 when unknown.
    #[error(transparent)]
    Invalid(crate::yaml::Spot),
}

impl ConfigError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            ConfigError::Yaml(YamlError::Io { .. }) => None,
            ConfigError::Yaml(_) | ConfigError::Invalid(_) => Some(
                "fix the file; the README sections \"Declaring providers\" and \"Gates, merge \
                 and the phantom guard\" describe the format"
                    .into(),
            ),
        }
    }
}

pub(super) struct Validator<'p> {
    pub(super) path: &'p Path,
}

pub(super) type Checked<T> = Result<T, ConfigError>;

impl Validator<'_> {
    pub(super) fn err<T>(&self, at: &Location, message: String) -> Checked<T> {
        let (line, column) = line_col(at);
        Err(ConfigError::Invalid(Spot::new(
            self.path, line, column, message,
        )))
    }

    /// Refuses `name` unless it is a valid name of a `what` (a provider, role or gate); `at`
    /// (e.g. `defaults.role: `, or nothing) opens the message.
    pub(super) fn name(&self, at: &str, name: &Spanned<String>, what: &str) -> Checked<()> {
        if is_name(&name.value, u8::is_ascii_lowercase, b"-_", 1..=32) {
            return Ok(());
        }
        let msg = format!(
            "{at}{} is not a valid {what} name: use 1-32 lowercase letters, digits, `-` or `_`, \
             starting with a letter",
            q(&name.value)
        );
        self.err(&name.referenced, msg)
    }

    /// Each item of `list` as `check` makes it, in order, each once; the first `check`
    /// refuses is an error at that item, worded as `check` says.
    pub(super) fn distinct<U, T: PartialEq>(
        &self,
        list: Option<Vec<Spanned<U>>>,
        check: impl Fn(U) -> Result<T, String>,
    ) -> Checked<Vec<T>> {
        let mut out = Vec::new();
        for item in list.unwrap_or_default() {
            match check(item.value) {
                Ok(v) if out.contains(&v) => {}
                Ok(v) => out.push(v),
                Err(msg) => return self.err(&item.referenced, msg),
            }
        }
        Ok(out)
    }

    /// The whole number `v` gives, when it lies in `range`; else "`what` must be between LO
    /// and HI, not V".
    pub(super) fn between<T>(
        &self,
        what: &str,
        v: &Spanned<i64>,
        range: RangeInclusive<T>,
    ) -> Checked<T>
    where
        T: TryFrom<i64> + PartialOrd + fmt::Display,
    {
        match T::try_from(v.value).ok().filter(|n| range.contains(n)) {
            Some(n) => Ok(n),
            None => {
                let (lo, hi) = (range.start(), range.end());
                let msg = format!("{what} must be between {lo} and {hi}, not {}", v.value);
                self.err(&v.referenced, msg)
            }
        }
    }
}

/// `^[first][a-z0-9{extra}]*$` with a length in `len`.
pub(crate) fn is_name(
    s: &str,
    first: fn(&u8) -> bool,
    extra: &[u8],
    len: std::ops::RangeInclusive<usize>,
) -> bool {
    let mut bytes = s.bytes();
    len.contains(&s.len())
        && bytes.next().is_some_and(|b| first(&b))
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
}

/// Whether `id` is a valid project id (`^[a-z][a-z0-9-]{1,31}$`, as VNX).
pub fn is_project_id(id: &str) -> bool {
    is_name(id, u8::is_ascii_lowercase, b"-", 2..=32)
}

/// A user-supplied value quoted for a message.
pub(super) fn q(s: &str) -> String {
    format!("`{}`", shown(s, 80))
}

/// A mapping kept in document order, with the location of each key.
pub(super) struct Entries<V>(pub(super) Vec<(Spanned<String>, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key()? {
                    entries.push((key, map.next_value()?));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}

/// Whether `s` is an environment variable's name (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_variable(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
