//! What the ledger holds about issues taken as work (issue 72): every attested
//! `issue_taken`, `issue_declined`, `issue_commented` and `issue_released`, read in one pass.
//! The receipts, not the forge's labels (which anyone with triage rights can change), decide
//! whether an issue was taken, whether a thing was told on it, and which dispatch's pull
//! request closes it. Receipts no trusted key signed are not history.

use std::path::Path;

use crate::ids::DispatchId;
use crate::ledger::json::{self, Value};
use crate::ledger::{LedgerError, attest, tail};
use crate::receipts::{self, IssueCommented, IssueDeclined, IssueReleased, IssueTaken, Kind};

/// The attested issue receipts of a ledger, in ledger order.
#[derive(Clone, Debug, Default)]
pub struct Intakes {
    /// Every `issue_taken`.
    pub taken: Vec<IssueTaken>,
    /// Every `issue_declined`.
    pub declined: Vec<IssueDeclined>,
    /// Every `issue_commented`.
    pub commented: Vec<IssueCommented>,
    /// Every `issue_released`.
    pub released: Vec<IssueReleased>,
}

impl Intakes {
    /// Reads them from `ledger`.
    pub fn read(ledger: &Path, trusted: &[[u8; 32]]) -> Result<Intakes, LedgerError> {
        let mut all = Intakes::default();
        if !ledger.exists() {
            return Ok(all);
        }
        let (lines, _) = tail::last_lines(ledger, usize::MAX, |l| {
            memchr::memmem::find(l, b"\"issue_").is_some()
        })?;
        for raw in lines {
            let Some(fields) = json::object_of_line(&raw) else {
                continue;
            };
            if !attest::check(&fields, trusted).is_valid() {
                continue;
            }
            match fields.get("event_type").and_then(Value::as_str) {
                Some(IssueTaken::EVENT) => all.taken.extend(typed(&fields)),
                Some(IssueDeclined::EVENT) => all.declined.extend(typed(&fields)),
                Some(IssueCommented::EVENT) => all.commented.extend(typed(&fields)),
                Some(IssueReleased::EVENT) => all.released.extend(typed(&fields)),
                _ => {}
            }
        }
        Ok(all)
    }

    /// Whether issue `number` of `repo` was ever taken or declined: the watcher leaves it
    /// alone from then on.
    pub fn seen(&self, repo: &str, number: u64) -> bool {
        self.taken
            .iter()
            .any(|t| t.repo == repo && t.issue == number)
            || (self.declined.iter()).any(|d| d.repo == repo && d.issue == number)
    }

    /// The dispatches taken from issue `issue` (what its graph's spend starts from).
    pub fn dispatches_of(&self, issue: u64) -> Vec<DispatchId> {
        (self.taken.iter())
            .filter(|t| t.issue == issue)
            .map(|t| t.dispatch_id.clone())
            .collect()
    }

    /// The intake whose dispatch is `id`, if an issue was taken for it.
    pub fn for_dispatch(&self, id: &DispatchId) -> Option<&IssueTaken> {
        self.taken.iter().rev().find(|t| t.dispatch_id == *id)
    }

    /// The intakes vnx still follows: taken, and not released since.
    pub fn followed(&self) -> Vec<&IssueTaken> {
        self.taken
            .iter()
            .filter(|t| {
                !(self.released.iter()).any(|r| {
                    r.repo == t.repo && r.issue == t.issue && r.dispatch_id == t.dispatch_id
                })
            })
            .collect()
    }

    /// Whether `about` was told on intake `t`'s issue already.
    pub fn told(&self, t: &IssueTaken, about: &str) -> bool {
        self.commented.iter().any(|c| {
            c.repo == t.repo
                && c.issue == t.issue
                && c.dispatch_id == t.dispatch_id
                && c.about == about
        })
    }
}

/// A receipt of kind `K` from its line's fields; `None` when it does not read as one.
fn typed<K: Kind>(fields: &json::Object<'_>) -> Option<K> {
    receipts::read::<K>(fields).map(|r| r.receipt)
}
