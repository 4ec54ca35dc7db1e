//! A receipt a caller hands to the ledger: one JSON object, validated before anything is
//! written. The ledger adds `seq`, both hash links, `schema_version` and (if absent)
//! `timestamp`; the caller may not supply the chain fields.

use std::borrow::Cow;

use super::json::{self, Mode, Object, Value};
use super::line::{EPOCH_MARKER, PREV_HASH, PREV_LINE};

/// The receipt schema version vnx writes (VNX schema v2).
pub const SCHEMA_VERSION: u64 = 2;

/// Event types only the ledger itself writes.
pub const RESERVED_EVENTS: &[&str] = &[EPOCH_MARKER, REPAIR_EVENT];
/// The event type of a torn-tail repair record.
pub const REPAIR_EVENT: &str = "ledger_repair";

/// Why a receipt was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// Not JSON.
    #[error("not valid JSON: {0}")]
    Json(json::ParseError),
    /// Not UTF-8.
    #[error("not valid UTF-8 (after byte {valid_up_to})")]
    NotUtf8 {
        /// How many bytes are valid.
        valid_up_to: usize,
    },
    /// JSON, but not an object; the name of what it is.
    #[error("a receipt must be a JSON object, not {0}")]
    NotObject(&'static str),
    /// No `event_type`.
    #[error("`event_type` is missing")]
    MissingEventType,
    /// An `event_type` that breaks VNX's format rule (shown as given).
    #[error("`event_type` {0:?} does not match ^[a-z][a-z0-9_]*$")]
    BadEventType(String),
    /// An `event_type` only the ledger itself writes.
    #[error("`event_type` {0:?} is reserved for records the ledger writes itself")]
    ReservedEventType(String),
    /// A chain member (`seq`, `prev_hash`, `prev_line_sha256`) the caller supplied.
    #[error("`{0}` is set by the ledger and may not be supplied")]
    ReservedField(&'static str),
    /// A `schema_version` other than 2 (shown as given).
    #[error("`schema_version` must be {SCHEMA_VERSION}, not {0}")]
    BadSchemaVersion(String),
    /// A `timestamp` that is not a non-empty string.
    #[error("`timestamp` must be a non-empty string")]
    BadTimestamp,
    /// A `dispatch_id` that could not name a branch or a directory (shown as given).
    #[error("`dispatch_id` {0:?} does not match ^[A-Za-z0-9][A-Za-z0-9_-]{{0,63}}$")]
    BadDispatchId(String),
}

/// A receipt at a given line of an NDJSON stream was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {source}")]
pub struct StreamError {
    /// The 1-based line of the stream.
    pub line: usize,
    /// Why the receipt there was refused.
    #[source]
    pub source: ReceiptError,
}

/// A validated receipt, ready to be chained.
#[derive(Clone, Debug, PartialEq)]
pub struct Receipt {
    object: Object<'static>,
}

fn is_event_type(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(b'a'..=b'z'))
        && b.all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

pub use vnx_core::ids::is_dispatch_id;

impl Receipt {
    /// Parses and validates one receipt from JSON bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Receipt, ReceiptError> {
        let text = std::str::from_utf8(bytes).map_err(|e| ReceiptError::NotUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        let value = json::parse(text, Mode::Strict).map_err(ReceiptError::Json)?;
        match value {
            Value::Object(o) => Receipt::from_object(o.into_owned()),
            other => Err(ReceiptError::NotObject(other.type_name())),
        }
    }

    /// Validates a receipt object.
    pub fn from_object(object: Object<'static>) -> Result<Receipt, ReceiptError> {
        for field in [PREV_HASH, PREV_LINE, "seq"] {
            if object.contains_key(field) {
                return Err(ReceiptError::ReservedField(field));
            }
        }
        let event = match object.get("event_type") {
            None => return Err(ReceiptError::MissingEventType),
            Some(v) => v
                .as_str()
                .ok_or_else(|| ReceiptError::BadEventType(display(v)))?,
        };
        if !is_event_type(event) {
            return Err(ReceiptError::BadEventType(event.to_owned()));
        }
        if RESERVED_EVENTS.contains(&event) {
            return Err(ReceiptError::ReservedEventType(event.to_owned()));
        }
        if object.get("type").and_then(Value::as_str) == Some(EPOCH_MARKER) {
            return Err(ReceiptError::ReservedEventType(EPOCH_MARKER.to_owned()));
        }
        if let Some(v) = object.get("schema_version")
            && v.as_u64() != Some(SCHEMA_VERSION)
        {
            return Err(ReceiptError::BadSchemaVersion(display(v)));
        }
        if let Some(v) = object.get("timestamp")
            && v.as_str().is_none_or(str::is_empty)
        {
            return Err(ReceiptError::BadTimestamp);
        }
        if let Some(v) = object.get("dispatch_id") {
            let id = v.as_str().unwrap_or_default();
            if !is_dispatch_id(id) {
                return Err(ReceiptError::BadDispatchId(display(v)));
            }
        }
        Ok(Receipt { object })
    }

    /// Parses an NDJSON stream; blank lines are skipped. Any invalid receipt refuses the
    /// whole stream.
    pub fn from_ndjson(bytes: &[u8]) -> Result<Vec<Receipt>, StreamError> {
        let mut out = Vec::new();
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            out.push(Receipt::from_json(line).map_err(|source| StreamError {
                line: i + 1,
                source,
            })?);
        }
        Ok(out)
    }

    /// The receipt's event type.
    pub fn event_type(&self) -> &str {
        self.object
            .get("event_type")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The receipt's fields, as they will be written (before the ledger stamps its own).
    pub fn object(&self) -> &Object<'static> {
        &self.object
    }

    /// A receipt built from a typed kind (by the typed receipts' one write path), whose types
    /// keep it well-formed: the event type is a kind's constant, and the chain members are never
    /// among its members.
    pub(crate) fn typed(object: Object<'static>) -> Receipt {
        debug_assert!(
            Receipt::from_object(object.clone()).is_ok(),
            "a typed receipt is well-formed"
        );
        Receipt { object }
    }

    /// Builds a receipt the ledger itself writes (a marker or a repair record).
    pub(crate) fn internal(object: Object<'static>) -> Receipt {
        Receipt { object }
    }

    /// The object with the ledger's fields filled in, as it will be written.
    pub(crate) fn stamped(
        &self,
        seq: u64,
        prev_hash: &str,
        prev_line: &str,
        now: &dyn Fn() -> String,
    ) -> Object<'static> {
        let mut o = self.object.clone();
        o.insert("seq", Value::Int(Cow::Owned(seq.to_string())));
        o.insert(PREV_HASH, Value::string(prev_hash));
        o.insert(PREV_LINE, Value::string(prev_line));
        if !o.contains_key("schema_version") {
            o.insert("schema_version", Value::int(SCHEMA_VERSION));
        }
        if !o.contains_key("timestamp") {
            o.insert("timestamp", Value::string(now()));
        }
        o
    }
}

fn display(v: &Value<'_>) -> String {
    String::from_utf8_lossy(&json::to_canonical(v)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let ok = Receipt::from_json(br#"{"event_type":"task_complete","dispatch_id":"D-1"}"#);
        assert!(ok.is_ok());
        for (input, want) in [
            (&br#"[1]"#[..], "must be a JSON object"),
            (br#"{"status":"done"}"#, "`event_type` is missing"),
            (br#"{"event_type":"Task"}"#, "does not match"),
            (br#"{"event_type":7}"#, "does not match"),
            (
                br#"{"event_type":"x","prev_hash":"0"}"#,
                "`prev_hash` is set by the ledger",
            ),
            (
                br#"{"event_type":"x","seq":1}"#,
                "`seq` is set by the ledger",
            ),
            (br#"{"event_type":"ledger_repair"}"#, "reserved"),
            (br#"{"event_type":"x","schema_version":1}"#, "must be 2"),
            (br#"{"event_type":"x","timestamp":5}"#, "non-empty string"),
            (br#"{"event_type":"x","dispatch_id":"../x"}"#, "dispatch_id"),
            (br#"{"event_type":"x","v":NaN}"#, "not valid JSON"),
            (b"{\"event_type\":\"x\",\"v\":\"\xff\"}", "UTF-8"),
        ] {
            let err = Receipt::from_json(input).unwrap_err().to_string();
            assert!(err.contains(want), "{err} should contain {want}");
        }
    }

    #[test]
    fn stream_errors_name_the_line() {
        let err = Receipt::from_ndjson(b"{\"event_type\":\"a\"}\n\n{\"event_type\":\"B\"}\n")
            .unwrap_err();
        assert_eq!(err.line, 3);
    }
}
