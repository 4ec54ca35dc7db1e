//! Resumes interrupted between their close and their follow-up: each dispatch `vnx resume`
//! closed that no follow-up continues, named with the command that starts it (`vnx resume ID`).

use std::path::Path;

use super::Check;
use crate::dispatch::{resume, view};
use crate::tmux::Tmux;

/// `resumes`: the dispatches a resume closed and never continued; shown only when there are
/// some (or they cannot be looked for), as the other leftovers.
pub(super) fn unfollowed(ledger: &Path, key: Option<&Path>, tmux: &Tmux) -> Option<Check> {
    const NAME: &str = "resumes";
    if !ledger.is_file() {
        return None;
    }
    let found = super::reach::trusted(ledger, key)
        .map_err(|e| e.to_string())
        .and_then(|trusted| {
            let states = view::list(ledger, tmux).map_err(|e| e.to_string())?;
            resume::closed_for_resume(ledger, &states, &trusted).map_err(|e| e.to_string())
        });
    let found = match found {
        Ok(found) => found,
        Err(e) => {
            return Some(Check::warn(
                NAME,
                format!("cannot look for interrupted resumes: {e}"),
                "run `vnx audit-chain verify`",
            ));
        }
    };
    let ids: Vec<String> = found
        .iter()
        .filter(|(_, next)| next.is_none())
        .map(|(id, _)| id.to_string())
        .collect();
    if ids.is_empty() {
        return None;
    }
    Some(Check::fail(
        NAME,
        format!(
            "closed by `vnx resume`, never continued (the resume stopped before its follow-up \
             started): {}",
            ids.join(", ")
        ),
        format!(
            "`vnx resume {}` starts the follow-up in its worktree and CLI session",
            ids.join(" ")
        ),
    ))
}
