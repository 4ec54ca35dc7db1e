//! Merge trailers: the `VNX-Receipt:` trailers merge commits carry, and the check that each
//! names a `merge` receipt the ledger still holds.

use std::path::Path;

/// Merge commits reachable from `HEAD` that carry a `VNX-Receipt:` trailer: (commit, the
/// entry hash of the `merge` receipt it names).
pub fn merge_trailers(repo_root: &Path) -> Vec<(String, String)> {
    let Ok(repo) = git2::Repository::open(repo_root) else {
        return Vec::new();
    };
    let Ok(mut walk) = repo.revwalk() else {
        return Vec::new();
    };
    if walk.push_head().is_err() {
        return Vec::new();
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

/// The trailers whose receipt the ledger at `ledger` no longer holds: no line names it as the
/// `merge_receipt` it completes, or links to it by `prev_hash`.
pub fn orphaned_trailers(
    ledger: &Path,
    trailers: &[(String, String)],
) -> Result<Vec<(String, String)>, crate::LedgerError> {
    if trailers.is_empty() {
        return Ok(Vec::new());
    }
    let mut seen = std::collections::BTreeSet::new();
    let (lines, _) = crate::tail::last_lines(ledger, usize::MAX, |l| {
        memchr::memmem::find(l, b"\"merge_receipt\":\"").is_some()
            || memchr::memmem::find(l, b"\"event_type\":\"merge_").is_some()
    })?;
    for line in &lines {
        let text = String::from_utf8_lossy(line);
        for (_, hash) in trailers {
            if text.contains(&format!("\"merge_receipt\":\"{hash}\""))
                || text.contains(&format!("\"prev_hash\":\"{hash}\""))
            {
                seen.insert(hash.clone());
            }
        }
    }
    Ok(trailers
        .iter()
        .filter(|(_, h)| !seen.contains(h))
        .cloned()
        .collect())
}
