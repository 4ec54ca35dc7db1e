//! Merge trailers: the `VNX-Receipt:` trailers merge commits carry, and the check that each
//! names a `merge` receipt the ledger still holds, found by its entry hash.

use std::path::Path;

/// Merge commits reachable from `HEAD` that carry a `VNX-Receipt:` trailer: (commit, the
/// entry hash of the `merge` receipt it names).
pub fn merge_trailers(repo_root: &Path) -> Vec<(String, String)> {
    merge_trailers_since(repo_root, None)
}

/// [`merge_trailers`] of the merge commits reachable from `HEAD` but not from commit
/// `since` (`None`, or a commit the repository no longer has: all of them).
pub fn merge_trailers_since(repo_root: &Path, since: Option<[u8; 20]>) -> Vec<(String, String)> {
    let Ok(repo) = git2::Repository::open(repo_root) else {
        return Vec::new();
    };
    let Ok(mut walk) = repo.revwalk() else {
        return Vec::new();
    };
    if walk.push_head().is_err() {
        return Vec::new();
    }
    if let Some(oid) = since.and_then(|s| git2::Oid::from_bytes(&s).ok())
        && repo.find_commit(oid).is_ok()
    {
        let _ = walk.hide(oid);
    }
    let mut out = Vec::new();
    for oid in walk.flatten() {
        let Ok(commit) = repo.find_commit(oid) else {
            continue;
        };
        if commit.parent_count() < 2 {
            continue;
        }
        let message = String::from_utf8_lossy(commit.message_bytes()).into_owned();
        for line in message.lines() {
            if let Some(hash) = line.strip_prefix("VNX-Receipt:") {
                out.push((oid.to_string(), hash.trim().to_owned()));
            }
        }
    }
    out
}

/// The trailers whose receipt the ledger at `ledger` no longer holds: no line of it has the
/// entry hash the trailer names. A `merge` receipt whose merge was interrupted before its
/// `merge_completed` still counts: it is on the ledger, and the next `vnx merge` of the
/// dispatch records the outcome.
pub fn orphaned_trailers(
    ledger: &Path,
    trailers: &[(String, String)],
) -> Result<Vec<(String, String)>, crate::LedgerError> {
    if trailers.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: std::collections::BTreeSet<&str> =
        trailers.iter().map(|(_, h)| h.as_str()).collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut scratch = crate::line::Scratch::default();
    crate::tail::last_lines(ledger, usize::MAX, |l| {
        if let Some(hash) = merge_entry_hash(l, &mut scratch)
            && wanted.contains(hash.as_str())
        {
            seen.insert(hash);
        }
        false
    })?;
    Ok(trailers
        .iter()
        .filter(|(_, h)| !seen.contains(h))
        .cloned()
        .collect())
}

/// Whether the ledger at `ledger` holds a line with each of the entry hashes `hashes` (hex),
/// looked for from its end, where a new merge's receipt is, and no further than the last
/// of them.
pub fn all_on_ledger(ledger: &Path, hashes: &[String]) -> Result<bool, crate::LedgerError> {
    let wanted: std::collections::BTreeSet<&str> = hashes.iter().map(String::as_str).collect();
    if wanted.is_empty() {
        return Ok(true);
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut scratch = crate::line::Scratch::default();
    crate::tail::last_lines(ledger, wanted.len(), |l| {
        merge_entry_hash(l, &mut scratch)
            .is_some_and(|hash| wanted.contains(hash.as_str()) && seen.insert(hash))
    })?;
    Ok(seen.len() == wanted.len())
}

/// The entry hash (hex) of a ledger line, if it says `merge`: every receipt a trailer can
/// name is a `merge` receipt, so only those lines are hashed.
fn merge_entry_hash(line: &[u8], scratch: &mut crate::line::Scratch) -> Option<String> {
    memchr::memmem::find(line, b"merge")?;
    let entry = crate::line::analyze(line, scratch).entry.ok()?;
    Some(hex::encode(entry.entry_hash))
}
