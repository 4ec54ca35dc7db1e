//! Proofs that a branch's content is already in the base, read through libgit2: its tip is in
//! the base's history, or merging it into the base yields the base's own tree (every change
//! the branch made since the merge base is already there — a squash or rebase merge, a
//! cherry-pick). Neither proof is fuzzy: no patch-id, no whitespace folding.

use std::path::Path;

use git2::{Oid, Repository};

use super::Rule;

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
