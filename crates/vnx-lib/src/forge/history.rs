//! What the ledger holds about the pull requests of one branch: every attested `pr_opened`,
//! `pr_merged` and `pr_closed` naming it, across a dispatch and its follow-ups (which share
//! their chain's first dispatch's branch). Receipts no trusted key signed are not history.

use std::path::Path;

use crate::ledger::LedgerError;
use crate::ledger::attest;
use crate::ledger::json::{self, Value};
use crate::ledger::tail;
use crate::receipts::{self, Kind, PrClosed, PrMerged, PrOpened};

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
            let Some(fields) = json::object_of_line(&raw) else {
                continue;
            };
            if fields.get("branch").and_then(Value::as_str) != Some(branch)
                || !attest::check(&fields, trusted).is_valid()
            {
                continue;
            }
            let event = fields.get("event_type").and_then(Value::as_str);
            match event {
                Some(PrOpened::EVENT) => h.opened.extend(typed::<PrOpened>(&fields)),
                Some(PrMerged::EVENT) => h.merged.extend(typed::<PrMerged>(&fields)),
                Some(PrClosed::EVENT) => h.closed.extend(typed::<PrClosed>(&fields)),
                _ => {}
            }
        }
        Ok(h)
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
