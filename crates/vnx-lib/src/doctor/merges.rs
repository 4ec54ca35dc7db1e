//! Merges interrupted between their `merge` receipt and their outcome: each named with the
//! command that records its outcome (`vnx merge ID`, which finishes it first).

use std::path::Path;

use super::Check;
use crate::merge::resume;
use crate::worktree::Repo;

/// `merges`: the interrupted merges on the ledger, if any.
pub(super) fn interrupted(root: &Path, ledger: &Path, key: Option<&Path>) -> Check {
    const NAME: &str = "merges";
    if !ledger.is_file() {
        return Check::pass(NAME, "no merge was interrupted");
    }
    let trusted = match super::reach::trusted(ledger, key) {
        Ok(t) => t,
        Err(e) => {
            return Check::warn(
                NAME,
                format!("cannot read the trusted keys to look for interrupted merges: {e}"),
                e.hint()
                    .unwrap_or_else(|| "check .vnx/checkpoint-keys".into()),
            );
        }
    };
    let found = match resume::all_interrupted(ledger, &trusted) {
        Ok(found) => found,
        Err(e) => {
            return Check::warn(
                NAME,
                format!("cannot read the ledger for interrupted merges: {e}"),
                "run `vnx audit-chain verify`",
            );
        }
    };
    if found.is_empty() {
        return Check::pass(NAME, "no merge was interrupted");
    }
    let repo = Repo::discover(root).ok();
    let described: Vec<String> = found
        .iter()
        .map(|i| {
            let landed = repo.as_ref().and_then(|r| resume::landed_commit(r, i));
            format!(
                "{} (merge receipt line {}: {})",
                i.planned.dispatch_id,
                i.seq,
                match landed {
                    Some(c) => format!(
                        "{} moved to {c}, merge_completed missing",
                        i.planned.base_ref
                    ),
                    None => format!("{} never moved to it", i.planned.base_ref),
                }
            )
        })
        .collect();
    let commands: Vec<String> = found
        .iter()
        .map(|i| i.planned.dispatch_id.to_string())
        .collect();
    Check::fail(
        NAME,
        format!("interrupted: {}", described.join("; ")),
        format!(
            "run `vnx merge {}`: it records each interrupted merge's outcome first",
            commands.join(" ")
        ),
    )
}
