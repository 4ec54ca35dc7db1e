//! What a wait is asked for (`Wait`, `UntilPr`: what is waited for on a pull request and
//! when it is over) and how it talks to the front end that runs it (`WaitEvent`, `Front`):
//! below the wait itself and the pull requests it follows.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::time::Duration;

use crate::dispatch::view::Waited;
use crate::forge::watch::PrStatus;
use crate::ids::DispatchId;
use crate::remote::{CatchUp, RemoteError};

/// How dispatches are waited for.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wait {
    /// Also settle when a dispatch is blocked.
    pub until_blocked: bool,
    /// Over once any of the dispatches settled (the others then read
    /// [`Waited::StillRunning`]), not once each did.
    pub any: bool,
    /// Then wait on each done dispatch's pull request (needs a forge).
    pub until_pr: Option<UntilPr>,
    /// Give up after this long (the dispatches still running then are
    /// [`Waited::StillRunning`], the pull requests still open heard as
    /// [`WaitEvent::PrStillWaiting`]).
    pub timeout: Option<Duration>,
}

/// What a wait tells its front end, as it happens.
pub enum WaitEvent<'a> {
    /// A dispatch settled (in the order they settle; a lost one only once the pending
    /// completions were appended), with its pull request when the project has a forge and
    /// it has one.
    Settled {
        /// The dispatch.
        id: &'a DispatchId,
        /// How it settled.
        waited: &'a Waited,
        /// Its pull request.
        pr: Option<&'a PrStatus>,
    },
    /// The ledger is quiet; these are still pending.
    Pending(&'a [DispatchId]),
    /// The link to a host of a dispatch waited for was lost (heard once per loss); its
    /// dispatches go on there, and the link is retried.
    HostLost {
        /// The host.
        host: &'a str,
        /// Why.
        error: RemoteError,
    },
    /// A host whose link was lost answers again, and was caught up with.
    HostBack {
        /// The host.
        host: &'a str,
    },
    /// A followed pull request, when it changed since it was last heard (here or as its
    /// dispatch settled).
    Pr {
        /// The dispatch.
        id: &'a DispatchId,
        /// Its pull request.
        pr: &'a PrStatus,
    },
    /// A done dispatch with no pull request to wait on (it ends badly).
    NoPr {
        /// The dispatch.
        id: &'a DispatchId,
    },
    /// The timeout came while still waiting on this dispatch's pull request.
    PrStillWaiting {
        /// The dispatch.
        id: &'a DispatchId,
        /// What was waited for.
        what: UntilPr,
    },
}

/// What a wait needs from the front end that runs it: it hears each [`WaitEvent`], and does
/// the duties that need what only the front end resolved. A duty left at its default is not
/// done (the MCP server's read-only wait does none of them).
pub trait Front {
    /// Hears what happened; [`ControlFlow::Break`] stops the wait (a front end that can no
    /// longer show anything). Settling dispatches are waited for to the end regardless.
    fn heard(&mut self, event: WaitEvent<'_>) -> ControlFlow<()>;

    /// Drains the dispatch queue, so a queued dispatch starts even if the supervisor that
    /// should start it died: at the start and whenever the ledger is quiet.
    fn drain(&mut self) {}

    /// Catches up with the hosts of those of `pending` that run remotely, a host holding
    /// the catch-up at most `wait` for its next line; each host's outcome.
    fn catch_up(
        &mut self,
        pending: &[DispatchId],
        wait: Duration,
    ) -> Vec<(String, Result<CatchUp, RemoteError>)> {
        let _ = (pending, wait);
        Vec::new()
    }

    /// Appends the completions supervisors left pending (before lost dispatches are read
    /// again).
    fn finish_pending(&mut self) {}

    /// The branch of each of `ids` the ledger started.
    fn branches(&mut self, ids: &[DispatchId]) -> Vec<(DispatchId, String)> {
        let _ = ids;
        Vec::new()
    }

    /// The pull requests of `dispatches` (id, branch), by dispatch, through the forge cache.
    fn pull_requests(
        &mut self,
        dispatches: &[(DispatchId, String)],
    ) -> BTreeMap<DispatchId, PrStatus> {
        let _ = dispatches;
        BTreeMap::new()
    }
}

/// What a wait on a done dispatch's pull request waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UntilPr {
    /// Every check done: passed (well) or any failed.
    Checks,
    /// Merged (well) or closed.
    Merged,
    /// A new review decision, review or comment: approved (well) or not.
    Review,
}

impl UntilPr {
    /// What is waited for, in words: "its pull request's checks".
    pub fn name(self) -> &'static str {
        match self {
            UntilPr::Checks => "its pull request's checks",
            UntilPr::Merged => "its pull request's merge",
            UntilPr::Review => "a review of its pull request",
        }
    }

    /// Whether the wait on a pull request first read as `first` and now read as `now` is
    /// over, and if so whether it ended well. A read that failed (`unknown`) decides nothing.
    pub fn decide(self, first: &PrStatus, now: &PrStatus) -> Option<bool> {
        let ended = match now.state.as_str() {
            "merged" => Some(true),
            "closed" => Some(false),
            _ => None,
        };
        match self {
            UntilPr::Checks => match now.checks_word.as_str() {
                "pass" => Some(true),
                "fail" => Some(false),
                _ => ended,
            },
            UntilPr::Merged => ended,
            UntilPr::Review => {
                let decided =
                    !now.review_decision.is_empty() && now.review_decision != first.review_decision;
                let said = now.new_comments > first.new_comments;
                if decided || said {
                    Some(now.review_decision == "APPROVED")
                } else {
                    ended
                }
            }
        }
    }
}
