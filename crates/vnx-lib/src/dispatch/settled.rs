//! How a waited-for dispatch settled, as `vnx wait --json` and `vnx mcp` report it: its
//! status and the receipts that settled it, each embedded byte for byte.

use crate::dispatch::view::Waited;
use crate::ids::DispatchId;

/// How one dispatch settled, for `--json`: its id, its status, and the receipts that settled
/// it, each embedded byte for byte as the ledger holds it.
#[derive(serde::Serialize)]
pub struct Settled<'a> {
    /// The dispatch.
    pub dispatch_id: &'a DispatchId,
    /// How it settled (see docs/json.md).
    pub status: &'a str,
    /// Its `dispatch_completed`, as the ledger holds it.
    pub completion: Option<Embedded>,
    /// The phantom guard's `dispatch_corrected`.
    pub correction: Option<Embedded>,
    /// The `dispatch_blocked` that stopped an until-blocked wait.
    pub blocked: Option<Embedded>,
    /// The `queue_decision` that closed the wait of one that never started.
    pub queue: Option<Embedded>,
}

/// How dispatch `id` settled, given what waiting found.
pub fn settled<'a>(id: &'a DispatchId, w: &'a Waited) -> Settled<'a> {
    let mut s = Settled {
        dispatch_id: id,
        status: "",
        completion: None,
        correction: None,
        blocked: None,
        queue: None,
    };
    match w {
        Waited::Completed(c) => {
            s.status = c.receipt.status.name();
            s.completion = Some(Embedded::of(&c.line));
        }
        Waited::Corrected {
            completion,
            correction,
        } => {
            s.status = correction
                .receipt
                .as_ref()
                .map_or("failed", |c| c.status.name());
            s.completion = Some(Embedded::of(&completion.line));
            s.correction = Some(Embedded::of(&correction.line));
        }
        Waited::Blocked(line) => {
            s.status = "blocked";
            s.blocked = Some(Embedded::of(line));
        }
        Waited::Closed(line) => {
            s.status = w.closed().map_or("failed", |(v, _)| v.name());
            s.queue = Some(Embedded::of(line));
        }
        Waited::Lost => s.status = "lost",
        Waited::Unknown => s.status = "unknown",
        Waited::StillRunning => s.status = "running",
    }
    s
}

/// A ledger line inside a JSON document: verbatim when it is JSON serde reads (every line vnx
/// writes), else as a string, so nothing is ever re-encoded silently.
pub enum Embedded {
    /// The line verbatim.
    Raw(Box<serde_json::value::RawValue>),
    /// The line as a JSON string.
    Text(String),
}

impl Embedded {
    /// The line as JSON when serde reads it, else as text.
    pub fn of(line: &[u8]) -> Embedded {
        let text = String::from_utf8_lossy(line).trim_end().to_owned();
        match serde_json::value::RawValue::from_string(text.clone()) {
            Ok(raw) => Embedded::Raw(raw),
            Err(_) => Embedded::Text(text),
        }
    }
}

impl serde::Serialize for Embedded {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Embedded::Raw(raw) => raw.serialize(s),
            Embedded::Text(text) => text.serialize(s),
        }
    }
}
