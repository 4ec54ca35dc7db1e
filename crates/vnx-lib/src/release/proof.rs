//! Proofs that a branch's content is already in the base, read through libgit2: its tip is in
//! the base's history, or merging it into the base yields the base's own tree (every change
//! the branch made since the merge base is already there — a squash or rebase merge, a
//! cherry-pick). Neither proof is fuzzy: no patch-id, no whitespace folding. The same merge
//! says, of a branch that has not landed, whether it conflicts with the base. A third proof
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

/// How a branch's tip stands against the base.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Measured {
    /// It landed, and this proof says so.
    Landed(Proof),
    /// It did not, and merging it into the base conflicts in these paths (sorted, at most
    /// [`MOST_CONFLICTS`]; a worker's file names, escaped wherever shown).
    Conflicts(Vec<String>),
    /// It did not, and it merges into the base without a conflict (or the histories are
    /// unrelated).
    Apart,
}

/// The most conflicting paths [`measure`] names.
pub const MOST_CONFLICTS: usize = 20;

/// Whether `tip` has landed in `base`: `Ok(None)` when neither proof holds.
pub fn landed(root: &Path, tip: &str, base: &str) -> Result<Option<Proof>, git2::Error> {
    Ok(match measure(root, tip, base)? {
        Measured::Landed(p) => Some(p),
        Measured::Conflicts(_) | Measured::Apart => None,
    })
}

/// Whether `tip` has landed in `base` (a proof, as [`landed`] gives it), and when not, whether
/// merging it into `base` conflicts: the same in-memory merge answers both.
pub fn measure(root: &Path, tip: &str, base: &str) -> Result<Measured, git2::Error> {
    let repo = Repository::open(root)?;
    let (tip, base) = (Oid::from_str(tip)?, Oid::from_str(base)?);
    if tip == base || repo.graph_descendant_of(base, tip)? {
        return Ok(Measured::Landed(Proof {
            rule: Rule::Ancestor,
            merge_base: None,
        }));
    }
    let Ok(merge_base) = repo.merge_base(tip, base) else {
        // Unrelated histories: nothing to measure the branch's changes from.
        return Ok(Measured::Apart);
    };
    let (tip_c, base_c) = (repo.find_commit(tip)?, repo.find_commit(base)?);
    let mut index = repo.merge_commits(&base_c, &tip_c, None)?;
    if index.has_conflicts() {
        return Ok(Measured::Conflicts(conflicting_paths(&index)?));
    }
    let merged = index.write_tree_to(&repo)?;
    Ok(if merged == base_c.tree_id() {
        Measured::Landed(Proof {
            rule: Rule::Contained,
            merge_base: Some(merge_base.to_string()),
        })
    } else {
        Measured::Apart
    })
}

/// The paths an in-memory merge's index holds conflicts in, sorted, at most
/// [`MOST_CONFLICTS`].
fn conflicting_paths(index: &git2::Index) -> Result<Vec<String>, git2::Error> {
    let mut paths = std::collections::BTreeSet::new();
    for conflict in index.conflicts()? {
        let conflict = conflict?;
        let entry = [conflict.their, conflict.our, conflict.ancestor]
            .into_iter()
            .flatten()
            .next();
        if let Some(e) = entry {
            paths.insert(String::from_utf8_lossy(&e.path).into_owned());
        }
        if paths.len() >= MOST_CONFLICTS {
            break;
        }
    }
    Ok(paths.into_iter().collect())
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
