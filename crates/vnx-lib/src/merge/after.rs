//! The merge condition of a dispatch of `--after`, `dependencies_merged`: the work of each
//! dispatch it started after (the head its signed start records) is already on the branch
//! it merges into, so merging it never brings in a dependency's work that did not pass its
//! own merge. Dispatches that waited for none have no such condition.

use crate::evidence::Evidence;
use crate::ids::CommitId;
use crate::ledger::LedgerError;
use crate::process::{self, Cmd};
use crate::receipts::Dependencies;
use crate::worktree::Repo;

/// The condition's name.
pub const NAME: &str = "dependencies_merged";

/// What the first dispatch of `ev`'s chain (itself, or the one its follow-ups continue)
/// started after, as its attested start records it.
pub fn recorded(
    ledger: &std::path::Path,
    trusted: &[[u8; 32]],
    ev: &Evidence,
) -> Result<Option<Dependencies>, LedgerError> {
    let Some(started) = &ev.started else {
        return Ok(None);
    };
    match &started.receipt.continues {
        None => Ok(started.receipt.after.clone()),
        Some(c) => {
            let first = Evidence::read(ledger, &c.first, trusted)?;
            Ok(first.started.and_then(|s| s.receipt.after))
        }
    }
}

/// `dependencies_merged` for the dispatch whose evidence is `ev`, merging into `base_ref`:
/// `None` when it waited for no dispatch, else whether `base_ref` holds each head.
pub fn check(
    ledger: &std::path::Path,
    trusted: &[[u8; 32]],
    repo: &Repo,
    ev: &Evidence,
    base_ref: Option<&str>,
) -> Result<Option<Result<String, String>>, LedgerError> {
    let Some(deps) = recorded(ledger, trusted, ev)? else {
        return Ok(None);
    };
    let Some(base_ref) = base_ref else {
        return Ok(Some(Err("it records no base to merge into".into())));
    };
    let missing: Vec<String> = (deps.on.iter())
        .filter(|d| !holds(&repo.root, base_ref, &d.head_commit))
        .map(|d| format!("{} (head {})", d.dispatch_id, short(&d.head_commit)))
        .collect();
    let ids: Vec<&str> = deps.on.iter().map(|d| d.dispatch_id.as_str()).collect();
    Ok(Some(match missing.is_empty() {
        true => Ok(format!("{base_ref} holds the work of {}", ids.join(", "))),
        false => Err(format!(
            "{base_ref} does not hold the work of {} yet: merge {} first (`vnx merge` takes \
             ids in order)",
            missing.join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        )),
    }))
}

/// Whether `base_ref`'s tip in the repository at `root` is `head` or descends from it.
pub fn holds(root: &std::path::Path, base_ref: &str, head: &CommitId) -> bool {
    let cmd = Cmd::git().arg("-C").arg(root).args([
        "merge-base",
        "--is-ancestor",
        head.as_str(),
        base_ref,
    ]);
    process::run(&cmd).is_ok_and(|o| o.status.success())
}

fn short(c: &CommitId) -> &str {
    c.as_str().get(..12).unwrap_or(c.as_str())
}
