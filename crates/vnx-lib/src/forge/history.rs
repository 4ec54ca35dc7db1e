//! What the ledger holds about the pull requests of one branch: every attested `pr_opened`,
//! `pr_merged` and `pr_closed` naming it, across a dispatch and its follow-ups (which share
//! their chain's first dispatch's branch). Receipts no trusted key signed are not history.

use std::path::Path;

use super::ForgeError;
use crate::evidence::Evidence;
use crate::ids::DispatchId;
use crate::ledger::LedgerError;
use crate::ledger::attest;
use crate::ledger::json::{self, Value};
use crate::ledger::tail;
use crate::receipts::{self, Kind, PrClosed, PrMerged, PrOpened};

/// Dispatch `id`'s evidence, its branch's history and the pull request last opened for it:
/// refused when the ledger never saw it start, or no pull request was opened for its branch.
pub(super) fn of_dispatch(
    ctx: &super::Context<'_>,
    id: &DispatchId,
) -> Result<(Evidence, History, PrOpened), ForgeError> {
    let ev = Evidence::read(ctx.reading.ledger, id, ctx.reading.trusted_keys)?;
    let Some(branch) = ev.started.as_ref().map(|s| s.receipt.branch.clone()) else {
        return Err(ForgeError::UnknownDispatch { id: id.clone() });
    };
    let history = History::read(ctx.reading.ledger, &branch, ctx.reading.trusted_keys)?;
    let Some(opened) = history.current().cloned() else {
        return Err(ForgeError::NoPullRequest {
            id: id.clone(),
            branch,
        });
    };
    Ok((ev, history, opened))
}

/// The attested pull-request receipts of one branch, in ledger order.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Every `pr_opened`.
    pub opened: Vec<PrOpened>,
    /// Every `pr_merged`.
    pub merged: Vec<PrMerged>,
    /// Every `pr_closed`.
    pub closed: Vec<PrClosed>,
}

impl History {
    /// Reads the history of `branch` from `ledger`.
    pub fn read(ledger: &Path, branch: &str, trusted: &[[u8; 32]]) -> Result<History, LedgerError> {
        let mut h = History::default();
        if !ledger.exists() {
            return Ok(h);
        }
        let needle = format!("\"{branch}\"");
        let (lines, _) = tail::last_lines(ledger, usize::MAX, |l| {
            memchr::memmem::find(l, b"\"pr_").is_some()
                && memchr::memmem::find(l, needle.as_bytes()).is_some()
        })?;
        for raw in lines {
            h.add(&raw, branch, trusted);
        }
        Ok(h)
    }

    /// Adds the receipt on line `raw` when it is a pull-request receipt of `branch` that a
    /// trusted key signed.
    fn add(&mut self, raw: &[u8], branch: &str, trusted: &[[u8; 32]]) {
        let Some(fields) = json::object_of_line(raw) else {
            return;
        };
        if fields.get("branch").and_then(Value::as_str) != Some(branch)
            || !attest::check(&fields, trusted).is_valid()
        {
            return;
        }
        match fields.get("event_type").and_then(Value::as_str) {
            Some(PrOpened::EVENT) => self.opened.extend(typed::<PrOpened>(&fields)),
            Some(PrMerged::EVENT) => self.merged.extend(typed::<PrMerged>(&fields)),
            Some(PrClosed::EVENT) => self.closed.extend(typed::<PrClosed>(&fields)),
            _ => {}
        }
    }

    /// The histories of `branches` from the records of the dispatches they are named for
    /// (`dispatch/<id>`), as the read index keeps them ([`PrFact`]): each receipt read back
    /// from its line and judged as [`History::read`] judges it, so the answer is the same
    /// without a pass over the whole ledger. `records` must hold the record of each branch's
    /// dispatch that has one (a partial read that wanted them). `None` when a branch is not
    /// named for a dispatch: its receipts are not kept in one record.
    ///
    /// [`PrFact`]: crate::dispatch::fold::PrFact
    pub fn from_records(
        ledger: &Path,
        records: &crate::dispatch::fold::Records,
        branches: &[&str],
        trusted: &[[u8; 32]],
    ) -> Result<Option<std::collections::HashMap<String, History>>, LedgerError> {
        use crate::dispatch::fold::{CiteReader, branch_owner};
        let mut all = std::collections::HashMap::new();
        let mut reader: Option<CiteReader> = None;
        for branch in branches {
            let Some(owner) = branch_owner(branch) else {
                return Ok(None);
            };
            let mut h = History::default();
            let facts = records.get(&owner).map(|r| &r.prs[..]);
            for fact in facts
                .unwrap_or_default()
                .iter()
                .filter(|f| f.branch == *branch)
            {
                let lines = match &reader {
                    Some(r) => r,
                    None => reader.insert(CiteReader::open(ledger)?),
                };
                h.add(&lines.read(fact.cite)?, branch, trusted);
            }
            if !h.opened.is_empty() || !h.merged.is_empty() || !h.closed.is_empty() {
                all.insert((*branch).to_owned(), h);
            }
        }
        Ok(Some(all))
    }

    /// The histories of every branch that has pull-request receipts, the ledger read once.
    pub fn read_all(
        ledger: &Path,
        trusted: &[[u8; 32]],
    ) -> Result<std::collections::HashMap<String, History>, LedgerError> {
        let mut all: std::collections::HashMap<String, History> = Default::default();
        if !ledger.exists() {
            return Ok(all);
        }
        let (lines, _) = tail::last_lines(ledger, usize::MAX, |l| {
            memchr::memmem::find(l, b"\"pr_").is_some()
        })?;
        for raw in lines {
            let Some(fields) = json::object_of_line(&raw) else {
                continue;
            };
            let Some(branch) = fields.get("branch").and_then(Value::as_str) else {
                continue;
            };
            if !attest::check(&fields, trusted).is_valid() {
                continue;
            }
            let h = all.entry(branch.to_owned()).or_default();
            match fields.get("event_type").and_then(Value::as_str) {
                Some(PrOpened::EVENT) => h.opened.extend(typed::<PrOpened>(&fields)),
                Some(PrMerged::EVENT) => h.merged.extend(typed::<PrMerged>(&fields)),
                Some(PrClosed::EVENT) => h.closed.extend(typed::<PrClosed>(&fields)),
                _ => {}
            }
        }
        Ok(all)
    }

    /// The newest `pr_opened`: the pull request the branch has now.
    pub fn current(&self) -> Option<&PrOpened> {
        self.opened.last()
    }

    /// The `pr_merged` of pull request `number`, if recorded.
    pub fn merged_as(&self, number: u64) -> Option<&PrMerged> {
        self.merged.iter().rev().find(|m| m.number == number)
    }

    /// Whether `pr_closed` is recorded for pull request `number` after its last `pr_opened`.
    pub fn closed_recorded(&self, number: u64) -> bool {
        self.closed.iter().any(|c| c.number == number)
    }
}

fn typed<K: Kind>(fields: &json::Object<'_>) -> Option<K> {
    receipts::read::<K>(fields).map(|r| r.receipt)
}
