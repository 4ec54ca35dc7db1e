//! The few fields a person reads in a receipt (time, seq, event, dispatch, status, hash),
//! pulled from one line for `receipts tail` and `audit-chain walk`.

use sha2::{Digest, Sha256};

use super::json::{self, Value};

/// What a listing shows of one line.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// When it was written.
    pub timestamp: Option<String>,
    /// Its line number, as the line records it.
    pub seq: Option<u64>,
    /// `event_type`, or `type` on lines that only have that (VNX markers).
    pub event: Option<String>,
    /// The dispatch it is about.
    pub dispatch_id: Option<String>,
    /// Its `status`, for a person to read.
    pub status: Option<String>,
    /// SHA-256 of the line's bytes.
    pub line_sha256: String,
    /// Whether the line is a JSON object at all.
    pub readable: bool,
}

impl Summary {
    /// Reads what a listing shows from one raw line (any tool's format).
    pub fn of(line: &[u8]) -> Summary {
        let mut s = Summary {
            line_sha256: hex::encode(Sha256::digest(line)),
            ..Summary::default()
        };
        let Some(o) = json::object_of_line(line) else {
            return s;
        };
        let text_of = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
        s.readable = true;
        s.timestamp = text_of("timestamp").or_else(|| text_of("epoch_ts"));
        s.seq = o.get("seq").and_then(Value::as_u64);
        s.event = text_of("event_type").or_else(|| text_of("type"));
        s.dispatch_id = text_of("dispatch_id");
        s.status = text_of("status");
        s
    }

    /// Whether the receipt matches the `--dispatch` and `--event` filters.
    pub fn matches(&self, dispatch: Option<&str>, event: Option<&str>) -> bool {
        dispatch.is_none_or(|d| self.dispatch_id.as_deref() == Some(d))
            && event.is_none_or(|e| self.event.as_deref() == Some(e))
    }
}
