//! What `vnx resume` would do: each dispatch a resume closed between its close and its
//! follow-up, named with the command that starts it (`vnx resume ID`), each a person's move to
//! another CLI ended and no follow-up continues (`vnx resume ID --to`), and the pauses that
//! hold launches (`vnx resume` lifts them, ADR 0119).

use std::path::Path;

use super::Check;
use crate::dispatch::{resume, view};
use crate::tmux::Tmux;

/// `resumes`: the dispatches a resume closed and never continued; shown only when there are
/// some (or they cannot be looked for), as the other leftovers.
pub(super) fn unfollowed(ledger: &Path, key: Option<&Path>, tmux: &Tmux) -> Option<Check> {
    const NAME: &str = "resumes";
    let found = find((NAME, "resumes"), ledger, key, tmux, |states, trusted| {
        resume::closed_for_resume(ledger, states, trusted)
    });
    let found = match found? {
        Ok(found) => found,
        Err(warn) => return Some(warn),
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

/// `moves`: the dispatches a person moved to another CLI (`vnx resume --to`) whose wait ended
/// and that no follow-up continues (the move stopped before its follow-up started); shown
/// only when there are some (or they cannot be looked for).
pub(super) fn unmoved(ledger: &Path, key: Option<&Path>, tmux: &Tmux) -> Option<Check> {
    const NAME: &str = "moves";
    let found = find((NAME, "moves"), ledger, key, tmux, |states, trusted| {
        crate::actions::limit_move::unfinished(ledger, states, trusted)
    });
    let found = match found? {
        Ok(found) => found,
        Err(warn) => return Some(warn),
    };
    let first = found.first()?;
    let said: Vec<String> = (found.iter())
        .map(|(id, to)| format!("{id} (to {to})"))
        .collect();
    Some(Check::fail(
        NAME,
        format!(
            "moved to another CLI by `vnx resume --to`, never continued (the move stopped \
             before its follow-up started): {}",
            said.join(", ")
        ),
        format!(
            "`vnx resume {} --to` starts the follow-up on the CLI it recorded",
            first.0
        ),
    ))
}

/// What `look` finds among the ledger's dispatches with the keys it trusts, or check
/// `name`'s warning that it could not look for interrupted `what`; `None` without a ledger.
fn find<T, E: std::fmt::Display>(
    (name, what): (&str, &str),
    ledger: &Path,
    key: Option<&Path>,
    tmux: &Tmux,
    look: impl FnOnce(&[view::DispatchState], &[[u8; 32]]) -> Result<T, E>,
) -> Option<Result<T, Check>> {
    if !ledger.is_file() {
        return None;
    }
    let found = match super::reach::trusted(ledger, key) {
        Ok(trusted) => view::list(ledger, tmux)
            .map_err(|e| e.to_string())
            .and_then(|states| look(&states, &trusted).map_err(|e| e.to_string())),
        Err(e) => Err(e.to_string()),
    };
    Some(found.map_err(|e| {
        Check::warn(
            name,
            format!("cannot look for interrupted {what}: {e}"),
            "run `vnx audit-chain verify`",
        )
    }))
}

/// `pauses`: the pauses `vnx pause` set that still hold launches; shown only when one does.
pub(super) fn pauses(data_dir: &Path) -> Option<Check> {
    let pauses = crate::dispatch::queue::paused::all(data_dir);
    if pauses.is_empty() {
        return None;
    }
    let said: Vec<String> = pauses.iter().map(|p| p.describe()).collect();
    Some(Check::warn(
        "pauses",
        format!(
            "{}: nothing they cover launches, and workers they stopped wait",
            said.join("; ")
        ),
        "`vnx resume` lifts every pause and continues what each held",
    ))
}
