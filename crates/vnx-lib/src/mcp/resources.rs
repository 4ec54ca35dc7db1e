//! The resources `vnx mcp` serves: `vnx://ledger` (the ledger, byte for byte, up to a bound),
//! `vnx://dispatches` (every dispatch as `list_dispatches` shows it) and
//! `vnx://dispatch/<id>` (one dispatch whole, as `show_dispatch` shows it).

use super::read::{self, Filter, LIMITS};
use super::{McpError, Settings};

/// The ledger's URI.
pub const LEDGER: &str = "vnx://ledger";
/// The dispatch list's URI.
pub const DISPATCHES: &str = "vnx://dispatches";
/// One dispatch's URI, before its id.
pub const DISPATCH: &str = "vnx://dispatch/";
/// The template of a dispatch's URI.
pub const DISPATCH_TEMPLATE: &str = "vnx://dispatch/{dispatch_id}";

/// How many dispatches [`list`] names one by one (the newest).
const LISTED: u64 = 100;

/// A resource's URI, name, description and MIME type.
pub struct Listed {
    /// Its URI.
    pub uri: String,
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Its MIME type.
    pub mime: &'static str,
}

/// The ledger, the dispatch list, and the newest dispatches one by one.
pub fn list(s: &Settings) -> Result<Vec<Listed>, McpError> {
    let mut out = vec![
        Listed {
            uri: LEDGER.into(),
            name: "ledger".into(),
            description: "The receipt ledger (NDJSON, hash-chained), byte for byte".into(),
            mime: "application/x-ndjson",
        },
        Listed {
            uri: DISPATCHES.into(),
            name: "dispatches".into(),
            description: "Every dispatch as `vnx status --json` shows it, with its evidence".into(),
            mime: "application/json",
        },
    ];
    let listed = read::list(
        s,
        &Filter {
            limit: Some(LISTED),
            ..Filter::default()
        },
    )?;
    for d in listed["dispatches"].as_array().into_iter().flatten() {
        let Some(id) = d["dispatch_id"].as_str() else {
            continue;
        };
        out.push(Listed {
            uri: format!("{DISPATCH}{id}"),
            name: id.to_owned(),
            description: format!(
                "Dispatch {id} ({}) whole, with its receipts",
                d["status"].as_str().unwrap_or("?")
            ),
            mime: "application/json",
        });
    }
    Ok(out)
}

/// The resource at `uri`: its MIME type and text.
pub fn read(s: &Settings, uri: &str) -> Result<(&'static str, String), McpError> {
    if uri == LEDGER {
        return ledger(s).map(|text| ("application/x-ndjson", text));
    }
    let value = if uri == DISPATCHES {
        read::list(
            s,
            &Filter {
                limit: Some(LIMITS.dispatches),
                ..Filter::default()
            },
        )?
    } else if let Some(id) = uri.strip_prefix(DISPATCH) {
        read::show(s, id)?
    } else {
        return Err(McpError::UnknownResource {
            uri: uri.chars().take(200).collect(),
        });
    };
    let text = serde_json::to_string_pretty(&value).map_err(|e| McpError::Session {
        what: format!("could not render {uri}: {e}"),
    })?;
    Ok(("application/json", text))
}

/// The ledger's bytes, when it is not over the bound.
fn ledger(s: &Settings) -> Result<String, McpError> {
    use std::io::Read;
    let io = |source| McpError::Io {
        path: s.ledger.clone(),
        source,
    };
    let file = match crate::files::open_untrusted(&s.ledger, 1) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(io(e)),
    };
    let size = file.metadata().map_err(io)?.len();
    if size > LIMITS.ledger_bytes {
        return Err(McpError::bad(format!(
            "the ledger is {size} bytes, over the {} this resource serves whole: read it with \
             the tail_receipts tool",
            LIMITS.ledger_bytes
        )));
    }
    let mut bytes = Vec::new();
    file.take(LIMITS.ledger_bytes)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
