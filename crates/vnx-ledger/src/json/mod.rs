//! Python-compatible JSON values: a parser (strict for new receipts, lenient for ledgers that
//! Python VNX wrote) and the canonical serializer whose bytes the VNX entry hash covers.
//!
//! Canonical form is exactly what CPython prints for
//! `json.dumps(obj, sort_keys=True, separators=(",", ":"))`: keys sorted by code point,
//! everything outside printable ASCII escaped as lowercase `\uXXXX` (surrogate pairs above
//! U+FFFF), floats in Python `repr` form and integers of any size, exactly.
//!
//! Strings are held as WTF-8 (UTF-8 that may also encode lone surrogates), because Python
//! accepts `"\ud800"` and VNX ledgers may contain it. Byte order of WTF-8 is code-point order,
//! which is Python's key order.
//!
//! The values are here; reading a text into them is in `parser`, writing them in canonical
//! form (and Python's string and float forms) in `canonical`.

mod canonical;
mod parser;

pub use canonical::{
    push_wtf8, to_canonical, write_canonical, write_float, write_object, write_string,
};
pub use parser::parse;

use std::borrow::Cow;
use std::fmt;

/// How forgiving the parser is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// RFC 8259 JSON as vnx accepts it for new receipts: no `NaN`/`Infinity`, no lone
    /// surrogates, no duplicate keys.
    Strict,
    /// What CPython's `json.loads` accepts: `NaN`, `Infinity`, `-Infinity`, lone surrogates,
    /// duplicate keys (the last one wins).
    Python,
}

/// A parsed JSON value. Borrowed from the input where no unescaping was needed.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer, as its canonical decimal text (any size).
    Int(Cow<'a, str>),
    /// A number with a fraction or an exponent.
    Float(f64),
    /// A string as WTF-8 bytes.
    Str(Cow<'a, [u8]>),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object.
    Object(Object<'a>),
}

/// An object with unique keys sorted by code point.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Object<'a> {
    members: Vec<(Cow<'a, [u8]>, Value<'a>)>,
}

impl<'a> Object<'a> {
    /// Builds an object from members in any order; with duplicate keys the last one wins.
    pub fn from_members(members: Vec<(Cow<'a, [u8]>, Value<'a>)>) -> Self {
        Object::sorted(members).0
    }

    /// Sorts members by key, keeping the last of any duplicates; also returns the first
    /// duplicated key, if any.
    fn sorted(mut members: Vec<(Cow<'a, [u8]>, Value<'a>)>) -> (Self, Option<Vec<u8>>) {
        // A stable sort keeps duplicates in input order, so the last of a run is the winner.
        members.sort_by(|a, b| a.0.cmp(&b.0));
        let mut duplicate = None;
        members.dedup_by(|later, earlier| {
            if later.0 != earlier.0 {
                return false;
            }
            duplicate.get_or_insert_with(|| earlier.0.to_vec());
            std::mem::swap(later, earlier);
            true
        });
        (Object { members }, duplicate)
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.members
            .binary_search_by(|(k, _)| k.as_ref().cmp(key.as_bytes()))
            .ok()
            .map(|i| &self.members[i].1)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`, replacing any existing value.
    pub fn insert(&mut self, key: &str, value: Value<'a>) {
        match self
            .members
            .binary_search_by(|(k, _)| k.as_ref().cmp(key.as_bytes()))
        {
            Ok(i) => self.members[i].1 = value,
            Err(i) => self
                .members
                .insert(i, (Cow::Owned(key.as_bytes().to_vec()), value)),
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value<'a>> {
        self.members
            .binary_search_by(|(k, _)| k.as_ref().cmp(key.as_bytes()))
            .ok()
            .map(|i| self.members.remove(i).1)
    }

    /// Members in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Value<'a>)> {
        self.members.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// How many members it has.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether it has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Copies every borrowed part so the object outlives its input.
    pub fn into_owned(self) -> Object<'static> {
        Object {
            members: self
                .members
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                .collect(),
        }
    }
}

impl<'a> Value<'a> {
    /// A string value from Rust text.
    pub fn string(s: impl Into<String>) -> Value<'static> {
        Value::Str(Cow::Owned(s.into().into_bytes()))
    }

    /// An integer value.
    pub fn int(n: impl Into<i128>) -> Value<'static> {
        Value::Int(Cow::Owned(n.into().to_string()))
    }

    /// The string as UTF-8 text, when it is a string without lone surrogates.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => std::str::from_utf8(s).ok(),
            _ => None,
        }
    }

    /// The integer, when it is one that fits in a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Int(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// The object, when it is one.
    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// A short name of the value's JSON type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }

    /// Copies every borrowed part so the value outlives its input.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(s) => Value::Int(Cow::Owned(s.into_owned())),
            Value::Float(f) => Value::Float(f),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Array(a) => Value::Array(a.into_iter().map(Value::into_owned).collect()),
            Value::Object(o) => Value::Object(o.into_owned()),
        }
    }
}

/// Why a text is not JSON (of the accepted kind).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset of the problem in the input.
    pub offset: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

impl std::error::Error for ParseError {}

/// The deepest nesting accepted.
pub const MAX_DEPTH: usize = 512;

/// One ledger line as a JSON object (Python's reading of numbers, as the ledger's own), or
/// `None` for a line that is not UTF-8 or not an object.
pub fn object_of_line(line: &[u8]) -> Option<Object<'static>> {
    match parse(std::str::from_utf8(line).ok()?.trim(), Mode::Python).ok()? {
        Value::Object(o) => Some(o.into_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        String::from_utf8(to_canonical(&parse(s, Mode::Python).unwrap())).unwrap()
    }

    #[test]
    fn floats_match_python_repr() {
        for (input, want) in [
            ("1e16", "1e+16"),
            ("1.5e-5", "1.5e-05"),
            ("100.0", "100.0"),
            ("-0.0", "-0.0"),
            ("0.0001", "0.0001"),
            ("0.00001", "1e-05"),
            ("1e15", "1000000000000000.0"),
            ("5e-324", "5e-324"),
            ("1e400", "Infinity"),
            ("42.94", "42.94"),
            ("1e22", "1e+22"),
            ("123456789012345678.0", "1.2345678901234568e+17"),
            // A tie between two shortest candidates: CPython rounds half to even.
            ("1504153640873121.25", "1504153640873121.2"),
        ] {
            assert_eq!(canon(input), want, "{input}");
        }
    }

    #[test]
    fn strings_escape_as_python() {
        assert_eq!(canon(r#""café ✓""#), r#""caf\u00e9 \u2713""#);
        assert_eq!(canon("\"\u{1F600}\""), r#""\ud83d\ude00""#);
        assert_eq!(canon(r#""\ud800""#), r#""\ud800""#);
        assert_eq!(canon("\"\u{7f}\""), r#""\u007f""#);
        assert_eq!(canon(r#""\u0001\n\/""#), r#""\u0001\n/""#);
    }

    #[test]
    fn keys_sort_by_code_point_and_last_duplicate_wins() {
        assert_eq!(
            canon("{\"\u{1F600}\":1,\"\u{E000}\":2,\"a\":1,\"a\":3}"),
            r#"{"a":3,"\ue000":2,"\ud83d\ude00":1}"#
        );
    }

    #[test]
    fn strict_mode_rejects_what_python_tolerates() {
        for bad in [
            "NaN",
            "[Infinity]",
            r#"{"a":1,"a":2}"#,
            r#""\udc00""#,
            "1e999",
        ] {
            assert!(parse(bad, Mode::Strict).is_err(), "{bad}");
        }
        assert_eq!(canon("-0"), "0");
        assert_eq!(
            canon("123456789012345678901234567890"),
            "123456789012345678901234567890"
        );
    }
}
