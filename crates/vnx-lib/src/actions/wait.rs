//! Waiting for dispatches to settle, as `vnx wait`, a foreground dispatch, a dispatch queued
//! for a host and the MCP server's `wait` wait: each dispatch heard the moment it settles (with
//! its pull request, when the project has a forge), the queue drained and remote hosts caught
//! up with meanwhile, a lost one held back until the completions supervisors left pending are
//! appended, then, when asked, each done dispatch's pull request followed (`prs`). The front
//! end hears it all through a [`Front`] and renders it; the duties that need what only the
//! front end resolved (the queue's drain, a host's link, the forge) are the [`Front`]'s.

mod front;
mod prs;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

pub use front::{Front, UntilPr, Wait, WaitEvent};

use super::ActionError;
use crate::dispatch::view::{self, Waited};
use crate::forge::watch::PrStatus;
use crate::ids::DispatchId;
use crate::project::Project;
use crate::tmux::Tmux;

/// How a wait ended.
#[derive(Debug)]
pub struct Outcome {
    /// How each dispatch settled.
    pub waited: BTreeMap<DispatchId, Waited>,
    /// Whether every followed pull request ended well (`None`: none followed).
    pub prs_ok: Option<bool>,
    /// The front end stopped the wait ([`ControlFlow::Break`]).
    pub stopped: bool,
}

impl Outcome {
    /// The ids the ledger never started (no pull request is followed when there is one).
    pub fn unknown(&self) -> Vec<&DispatchId> {
        self.waited
            .iter()
            .filter(|(_, w)| matches!(w, Waited::Unknown))
            .map(|(id, _)| id)
            .collect()
    }

    /// Whether every dispatch succeeded ([`Waited::succeeded`]) and, when they were
    /// followed, every pull request ended well.
    pub fn succeeded(&self) -> bool {
        self.prs_ok != Some(false) && self.waited.values().all(Waited::succeeded)
    }
}

/// How often the project's pull requests may be read from the forge
/// (`forge.refresh_seconds`, at least 1); `None` when the project has no `forge:` section
/// (or its config does not load).
pub fn forge_refresh(project: &Project) -> Option<u64> {
    crate::forge::watch::refresh_seconds(&project.load_config().ok()?)
}

/// Waits for the dispatches `ids` of `project` (on `tmux`, for those that record no socket)
/// as `how` says, telling `front` as it goes. [`ActionError::PrNeedsForge`] for
/// [`Wait::until_pr`] in a project without a forge.
pub fn wait(
    project: &Project,
    ids: &[DispatchId],
    tmux: &Tmux,
    how: &Wait,
    front: &mut dyn Front,
) -> Result<Outcome, ActionError> {
    let refresh = forge_refresh(project);
    if how.until_pr.is_some() && refresh.is_none() {
        return Err(ActionError::PrNeedsForge);
    }
    front.drain();
    let deadline = how.timeout.map(|t| Instant::now() + t);
    let ledger = project.ledger();
    let mut hosts = Hosts::default();
    let mut stopped = false;
    // The pull request line heard with each dispatch, not heard again while following.
    let mut shown: BTreeMap<DispatchId, crate::forge::watch::PrStatus> = BTreeMap::new();
    // A lost one is held back: a supervisor that could not append its completion left it
    // pending (appended below).
    let mut waited = view::wait_with(
        &ledger,
        ids,
        tmux,
        how.until_blocked,
        how.any,
        deadline,
        &mut |event| match event {
            view::WaitEvent::Settled(_, Waited::Lost) => {}
            view::WaitEvent::Settled(id, w) => {
                let pr = refresh.and_then(|_| pr_of(front, id));
                if let Some(pr) = &pr {
                    shown.insert(id.clone(), pr.clone());
                }
                let heard = front.heard(WaitEvent::Settled {
                    id,
                    waited: w,
                    pr: pr.as_ref(),
                });
                stopped |= heard.is_break();
            }
            view::WaitEvent::Quiet(pending) => {
                stopped |= front.heard(WaitEvent::Pending(pending)).is_break();
                stopped |= hosts.tick(front, pending).is_break();
                front.drain();
            }
        },
    )?;
    let stop = |waited| {
        Ok(Outcome {
            waited,
            prs_ok: None,
            stopped: true,
        })
    };
    if stopped {
        return stop(waited);
    }
    let lost: Vec<DispatchId> = waited
        .iter()
        .filter(|(_, w)| matches!(w, Waited::Lost))
        .map(|(id, _)| id.clone())
        .collect();
    if !lost.is_empty() {
        front.finish_pending();
        let again = view::wait(&ledger, &lost, tmux, how.until_blocked)?;
        for (id, w) in again {
            let pr = refresh.and_then(|_| pr_of(front, &id));
            if let Some(pr) = &pr {
                shown.insert(id.clone(), pr.clone());
            }
            let heard = front.heard(WaitEvent::Settled {
                id: &id,
                waited: &w,
                pr: pr.as_ref(),
            });
            waited.insert(id, w);
            if heard.is_break() {
                return stop(waited);
            }
        }
    }
    let mut outcome = Outcome {
        waited,
        prs_ok: None,
        stopped: false,
    };
    let (Some(what), Some(refresh)) = (how.until_pr, refresh) else {
        return Ok(outcome);
    };
    if !outcome.unknown().is_empty() {
        return Ok(outcome);
    }
    let done: Vec<DispatchId> = (outcome.waited.iter())
        .filter(|(_, w)| w.succeeded())
        .map(|(id, _)| id.clone())
        .collect();
    let following = prs::Following {
        project,
        what,
        refresh: Duration::from_secs(refresh),
        deadline,
    };
    match following.follow(front, &done, &shown) {
        ControlFlow::Continue(ok) => outcome.prs_ok = Some(ok),
        ControlFlow::Break(()) => outcome.stopped = true,
    }
    Ok(outcome)
}

/// Dispatch `id`'s pull request through the front end's forge, when it has one.
fn pr_of(front: &mut dyn Front, id: &DispatchId) -> Option<PrStatus> {
    let branches = front.branches(std::slice::from_ref(id));
    front.pull_requests(&branches).remove(id)
}

/// Catching up with the hosts of remote dispatches while waiting for them: at most once a
/// second, a lost link heard once and its return once.
#[derive(Default)]
struct Hosts {
    last: Option<Instant>,
    down: BTreeSet<String>,
}

impl Hosts {
    /// How long a host may hold a catch-up waiting for its next line.
    const LONG_POLL: Duration = Duration::from_millis(1000);

    /// Catches up with the hosts of those of `pending` that run remotely, unless it did less
    /// than a second ago.
    fn tick(&mut self, front: &mut dyn Front, pending: &[DispatchId]) -> ControlFlow<()> {
        if self
            .last
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return ControlFlow::Continue(());
        }
        self.last = Some(Instant::now());
        for (host, result) in front.catch_up(pending, Self::LONG_POLL) {
            match result {
                Ok(_) if self.down.remove(&host) => {
                    front.heard(WaitEvent::HostBack { host: &host })?;
                }
                Ok(_) => {}
                Err(error) => {
                    if self.down.insert(host.clone()) {
                        front.heard(WaitEvent::HostLost { host: &host, error })?;
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests;
