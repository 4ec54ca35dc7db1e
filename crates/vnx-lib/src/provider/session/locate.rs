//! Which session file is a dispatch's: among the files its CLI keeps for the dispatch's
//! worktree as working directory, those written since the dispatch started (the session id,
//! when known, picks one), the newest of them. Where a CLI keeps them and how a file is
//! matched to the worktree and the id is the CLI's module's (`SessionStore::find`), or
//! for a declared TUI its `interactive.session:`'s (`super::declared`),
//! walking its directories with the bounded, link-refusing helpers of
//! `provider::cli::session`.
//!
//! A sandboxed dispatch's sessions are in its own place ([`super::Homes::sessions`]), which
//! its sandbox shows where the CLI keeps them (`SessionStore::dir`): looked through the
//! same way, but what is there only that dispatch's chain could write.

use std::path::PathBuf;
use std::time::Duration;

use super::Wanted;
use crate::provider::cli::session::Sought;

/// Slack for clocks and file times of a coarser grain.
const SLACK: Duration = Duration::from_secs(2);

/// The dispatch's session file, if there is one yet.
pub(super) fn find(w: &Wanted) -> Option<PathBuf> {
    let sought = Sought {
        cwd: &w.cwd,
        since: w.since.checked_sub(SLACK).unwrap_or(w.since),
        session_id: w.session_id.as_deref(),
    };
    let sessions = w.homes.sessions_of(&w.cli)?;
    w.cli
        .store()
        .find(&sessions, &sought)
        .into_iter()
        .max_by_key(|(_, modified)| *modified)
        .map(|(p, _)| p)
}
