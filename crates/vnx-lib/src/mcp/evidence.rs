//! The evidence `vnx mcp` attaches to every answer: the receipts it was derived from (line,
//! seq, event, dispatch, SHA-256 of the line's bytes) and the ledger's head when it was read;
//! and what it judges evidence with (the ledger's verification and the keys it trusts), read
//! without creating a key or writing a witness.

use std::path::Path;

use serde::Serialize;

use super::{McpError, Settings};
use crate::ids::DispatchId;
use crate::ledger::checkpoint::{self, Anchor, CheckpointError, CheckpointKey};
use crate::ledger::summary::Summary;
use crate::ledger::tail;
use crate::ledger::{LedgerError, VerifyOptions, VerifyReport};

/// A receipt an answer rests on.
#[derive(Clone, Debug, Serialize)]
pub(super) struct Cited {
    /// Its 1-based line on the ledger, when known.
    pub(super) line: Option<u64>,
    /// Its `seq`.
    pub(super) seq: Option<u64>,
    /// Its kind.
    pub(super) event_type: Option<String>,
    /// The dispatch it is about.
    pub(super) dispatch_id: Option<String>,
    /// SHA-256 of the line's bytes: on a vnx ledger, a commitment to every line before it.
    pub line_sha256: String,
}

impl Cited {
    /// Cites one ledger line (`line`: its number, when known).
    pub(super) fn of(line: Option<u64>, bytes: &[u8]) -> Cited {
        let s = Summary::of(bytes);
        Cited {
            line,
            seq: s.seq,
            event_type: s.event,
            dispatch_id: s.dispatch_id,
            line_sha256: s.line_sha256,
        }
    }
}

/// What every answer carries: the receipts it was derived from and the ledger's head.
#[derive(Clone, Debug, Default, Serialize)]
pub(super) struct Evidence {
    /// The ledger's last complete line when the answer was made (null without a ledger).
    pub(super) ledger_head: Option<Cited>,
    /// The receipts the answer was derived from, in ledger order.
    pub(super) receipts: Vec<Cited>,
}

impl Evidence {
    /// The ledger's head, and the given receipts.
    pub(super) fn new(ledger: &Path, receipts: Vec<Cited>) -> Result<Evidence, McpError> {
        let (lines, _) = or_none(tail::last_lines(ledger, 1, |_| true))?;
        Ok(Evidence {
            ledger_head: lines.last().map(|l| Cited::of(None, l)),
            receipts,
        })
    }

    /// The ledger's head, and every receipt about dispatch `id`.
    pub(super) fn of_dispatch(ledger: &Path, id: &DispatchId) -> Result<Evidence, McpError> {
        Evidence::new(ledger, about(ledger, std::slice::from_ref(id))?)
    }
}

/// Every receipt about one of `ids` (its `dispatch_id`), in ledger order.
pub(super) fn about(ledger: &Path, ids: &[DispatchId]) -> Result<Vec<Cited>, McpError> {
    let lines = or_none(tail::numbered_lines(ledger, |l| {
        ids.iter()
            .any(|id| memchr::memmem::find(l, id.as_str().as_bytes()).is_some())
    }))?;
    Ok(lines
        .iter()
        .map(|(n, l)| Cited::of(Some(*n), l))
        .filter(|c| {
            c.dispatch_id
                .as_deref()
                .is_some_and(|d| ids.iter().any(|id| id == d))
        })
        .collect())
}

/// What a read of the ledger gave, or nothing (the default) when there is no ledger.
pub(super) fn or_none<T: Default>(read: Result<T, LedgerError>) -> Result<T, McpError> {
    match read {
        Err(LedgerError::NotFound { .. }) => Ok(T::default()),
        read => Ok(read?),
    }
}

/// Puts `evidence` into the answer `value` (an object) as its `evidence` member.
pub(super) fn answer(
    value: impl Serialize,
    evidence: Evidence,
) -> Result<serde_json::Value, McpError> {
    let mut value = serde_json::to_value(value).map_err(|e| McpError::Session {
        what: format!("could not render the answer: {e}"),
    })?;
    let evidence = serde_json::to_value(evidence).map_err(|e| McpError::Session {
        what: format!("could not render the evidence: {e}"),
    })?;
    match &mut value {
        serde_json::Value::Object(o) => {
            o.insert("evidence".into(), evidence);
        }
        other => {
            *other = serde_json::json!({ "value": other.take(), "evidence": evidence });
        }
    }
    Ok(value)
}

/// The keys whose signatures count for the ledger: those `.vnx/checkpoint-keys` lists and the
/// local key, if it exists (read, never created: without one, only the listed keys count).
pub(super) fn trusted_keys(s: &Settings) -> Result<Vec<[u8; 32]>, McpError> {
    match Anchor::discover(&s.ledger) {
        Ok(anchor) => Ok(checkpoint::trusted_keys(&anchor, s.key.as_deref())?),
        Err(CheckpointError::NotInRepo { .. }) => Ok(match &s.key {
            Some(path) => CheckpointKey::load(path)?
                .map(|k| vec![k.public_key()])
                .unwrap_or_default(),
            None => Vec::new(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// The ledger verified as `audit-chain verify` verifies it (chain, anchored checkpoints,
/// witness, merge trailers), reading only.
pub(super) fn verify(
    s: &Settings,
    max_violations: usize,
) -> Result<(VerifyReport, bool), McpError> {
    let options = VerifyOptions {
        threads: s.threads,
        max_violations,
        ..VerifyOptions::default()
    };
    Ok(crate::audit::verify_anchored(
        &s.ledger,
        options,
        s.key.as_deref(),
        s.witness_dir.as_deref(),
    )?)
}
