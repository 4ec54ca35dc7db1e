//! Which dispatch an id or the start of one names: what a person types (`D-3f2a`, `3f2a`)
//! resolved against the dispatches the ledger records.

use std::path::Path;

use crate::dispatch::fold::Records;
use crate::ids::DispatchId;
use crate::ledger::LedgerError;
use crate::ledger::attest::Attestor;

/// The most matches an ambiguous prefix's error lists.
const SHOWN: usize = 8;

/// Why what was given names no single dispatch.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Neither an id nor the start of one the ledger records.
    #[error("{given:?} is not a dispatch id, and no dispatch id starts with it")]
    Malformed {
        /// What was given.
        given: String,
    },
    /// The start of more than one recorded id.
    #[error("{given:?} is the start of {} dispatch ids: {}{}", .matches.len(),
        .matches.iter().take(SHOWN).map(DispatchId::as_str).collect::<Vec<_>>().join(", "),
        if .matches.len() > SHOWN { ", …" } else { "" })]
    Ambiguous {
        /// What was given.
        given: String,
        /// Every id it starts, in order.
        matches: Vec<DispatchId>,
    },
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// The dispatch `given` names on `ledger`: the id itself when the ledger records it, else the
/// one recorded id it is the start of (with or without the `D-`). A well-formed id the ledger
/// does not record is returned as it is (the command then says what it knows of it); the
/// start of several ids, or of none when it is no id either, is an error.
pub fn resolve(ledger: &Path, given: &str) -> Result<DispatchId, ResolveError> {
    resolve_with(ledger, given, None)
}

/// [`resolve`], the recorded ids taken from the read index at `index` (authenticated with
/// its key) when the ledger is unchanged since it was written, instead of from a pass over
/// the ledger.
pub fn resolve_with(
    ledger: &Path,
    given: &str,
    index: Option<(&Path, &Attestor)>,
) -> Result<DispatchId, ResolveError> {
    let parsed = DispatchId::parse(given).ok();
    let indexed = || {
        let (path, attestor) = index?;
        let opened = crate::dispatch::fold::index::current(path, attestor, ledger)?;
        Some(opened.ids_starting(given))
    };
    let candidates = if given.is_empty() || !ledger.exists() {
        Vec::new()
    } else if let Some(ids) = indexed() {
        ids
    } else {
        // Only the lines that mention it are folded: an id it starts contains it.
        let records = Records::read_only(ledger, &[given])?;
        let with_d = format!("D-{given}");
        records
            .by_id
            .into_keys()
            .filter(|id| id.as_str().starts_with(given) || id.as_str().starts_with(&with_d))
            .collect::<Vec<DispatchId>>()
    };
    if let Some(exact) = parsed.as_ref().filter(|p| candidates.contains(p)) {
        return Ok(exact.clone());
    }
    match (candidates.len(), parsed) {
        (1, _) => Ok(candidates.into_iter().next().expect("one candidate")),
        (0, Some(id)) => Ok(id),
        (0, None) => Err(ResolveError::Malformed {
            given: given.to_owned(),
        }),
        _ => Err(ResolveError::Ambiguous {
            given: given.to_owned(),
            matches: candidates,
        }),
    }
}
