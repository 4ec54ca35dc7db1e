//! Proofs that a branch's content is already in the base, read through libgit2: its tip is in
//! the base's history, or merging it into the base yields the base's own tree (every change
//! the branch made since the merge base is already there — a squash or rebase merge, a
//! cherry-pick). Neither proof is fuzzy: no patch-id, no whitespace folding. A third proof
//! is the forge's word, as vnx recorded it: an attested `pr_merged` of the branch whose head is
//! exactly the tip (a squash merge on the forge is in no local history until it is fetched).

use std::path::Path;

use git2::{Oid, Repository};

use super::Rule;
use crate::ledger::json::{self, Value};
use crate::ledger::{LedgerError, attest, tail};
use crate::receipts::{self, Kind, PrMerged};

/// A proof and what it rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// Which proof holds.
    pub rule: Rule,
    /// The merge base of tip and base (`contained` only).
    pub merge_base: Option<String>,
}

/// Whether `tip` has landed in `base`: `Ok(None)` when neither proof holds.
pub fn landed(root: &Path, tip: &str, base: &str) -> Result<Option<Proof>, git2::Error> {
    let repo = Repository::open(root)?;
    let (tip, base) = (Oid::from_str(tip)?, Oid::from_str(base)?);
    if tip == base || repo.graph_descendant_of(base, tip)? {
        return Ok(Some(Proof {
            rule: Rule::Ancestor,
            merge_base: None,
        }));
    }
    let Ok(merge_base) = repo.merge_base(tip, base) else {
        // Unrelated histories: nothing to measure the branch's changes from.
        return Ok(None);
    };
    let (tip_c, base_c) = (repo.find_commit(tip)?, repo.find_commit(base)?);
    let mut index = repo.merge_commits(&base_c, &tip_c, None)?;
    if index.has_conflicts() {
        return Ok(None);
    }
    let merged = index.write_tree_to(&repo)?;
    Ok((merged == base_c.tree_id()).then(|| Proof {
        rule: Rule::Contained,
        merge_base: Some(merge_base.to_string()),
    }))
}

/// The attested `pr_merged` of `branch` whose merged head is exactly `tip`, if the ledger at
/// `ledger` holds one: the pull request landed that very commit on the forge. Receipts no
/// `trusted` key signed prove nothing.
pub fn pr_merged(
    ledger: &Path,
    branch: &str,
    tip: &str,
    trusted: &[[u8; 32]],
) -> Result<Option<PrMerged>, LedgerError> {
    if !ledger.exists() || trusted.is_empty() {
        return Ok(None);
    }
    let (event, needle) = (format!("\"{}\"", PrMerged::EVENT), format!("\"{branch}\""));
    let (lines, _) = tail::last_lines(ledger, usize::MAX, |l| {
        memchr::memmem::find(l, event.as_bytes()).is_some()
            && memchr::memmem::find(l, needle.as_bytes()).is_some()
    })?;
    Ok(lines.iter().rev().find_map(|raw| {
        let fields = json::object_of_line(raw)?;
        let ours = fields.get("event_type").and_then(Value::as_str) == Some(PrMerged::EVENT)
            && fields.get("branch").and_then(Value::as_str) == Some(branch)
            && fields.get("head_commit").and_then(Value::as_str) == Some(tip);
        if !ours || !attest::check(&fields, trusted).is_valid() {
            return None;
        }
        receipts::read::<PrMerged>(&fields).map(|r| r.receipt)
    }))
}
