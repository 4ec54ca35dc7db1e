//! Waiting for dispatches to settle: following the ledger until each has completed, was
//! corrected, was lost, left the queue without starting or (when asked) is blocked.

use std::collections::BTreeMap;
use std::path::Path;

use crate::ledger::LedgerError;
use crate::ledger::tail::{self, Followed};
use crate::receipts::{self, DispatchStatus, QueueDecision, QueueVerdict};
use crate::tmux::Tmux;

use super::lookup::{
    Completion, Correction, alive_without_session, completion, correction, is_completion_of,
    is_event_of, remote_lost, remote_of, session_of, started, worktree_of,
};

/// How waiting for one dispatch ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Waited {
    /// Its completion receipt.
    Completed(Completion),
    /// Its completion receipt said `done`, and the phantom guard corrected it.
    Corrected {
        /// The completion that said `done`.
        completion: Completion,
        /// The guard's correction.
        correction: Correction,
    },
    /// Its session is gone, nothing of it runs any more, and no completion was written: the
    /// supervisor died.
    Lost,
    /// It is running and its worker waits for a person (asked for with `until_blocked`):
    /// the `dispatch_blocked` line.
    Blocked(Vec<u8>),
    /// It left the queue without starting (expired, cancelled, or failed to start; rejected
    /// at dispatch time): its closing `queue_decision` line.
    Closed(Vec<u8>),
    /// The ledger has no `dispatch_started` for this id: it was never dispatched here.
    Unknown,
    /// It was still running when the wait's deadline passed.
    StillRunning,
}

/// What [`wait_with`] reports as it goes.
#[derive(Debug)]
pub enum WaitEvent<'a> {
    /// A dispatch settled (in the order they settle).
    Settled(&'a str, &'a Waited),
    /// The ledger is quiet; these are still pending.
    Quiet(&'a [String]),
}

impl Waited {
    /// The verdict on a dispatch: it succeeded only if its completion says `done` and the
    /// phantom guard did not correct it. Anything else (failed, needs input, timed out,
    /// cancelled, lost, or a status vnx does not know) is not a success.
    pub fn succeeded(&self) -> bool {
        matches!(self, Waited::Completed(c) if c.receipt.status == DispatchStatus::Done)
    }

    /// A closed wait's decision (`expired`, `cancelled`, `failed`, `rejected`) and reason.
    pub fn closed(&self) -> Option<(QueueVerdict, String)> {
        match self {
            Waited::Closed(line) => receipts::read_line::<QueueDecision>(line)
                .map(|r| (r.receipt.decision, r.receipt.reason)),
            _ => None,
        }
    }
}

/// What waiting reports for a completion line: with its correction, when a `done` has one.
fn settled(ledger: &Path, id: &str, line: Vec<u8>) -> Result<Waited, LedgerError> {
    let completion = Completion::of(id, line);
    let done = completion.receipt.status == DispatchStatus::Done;
    Ok(
        match done.then(|| correction(ledger, id)).transpose()?.flatten() {
            Some(correction) => Waited::Corrected {
                completion,
                correction,
            },
            None => Waited::Completed(completion),
        },
    )
}

/// The last line that says whether dispatch `id` is blocked: its `dispatch_blocked` when it
/// is blocked now, `None` when a later resume or completion (or none at all) says not.
fn blocked_now(ledger: &Path, id: &str) -> Result<Option<Vec<u8>>, LedgerError> {
    let (found, _) = tail::last_lines(ledger, 1, |l| {
        [
            "dispatch_blocked",
            "dispatch_resumed",
            "dispatch_stalled",
            "dispatch_completed",
        ]
        .iter()
        .any(|e| is_event_of(l, id, e))
    })?;
    Ok(found
        .into_iter()
        .next()
        .filter(|l| is_event_of(l, id, "dispatch_blocked")))
}

/// The last `queue_decision` of dispatch `id` that is not `admitted`, if the ledger has one:
/// `queued` while it waits, or the line that closed its wait.
fn queue_state(ledger: &Path, id: &str) -> Result<Option<(QueueVerdict, Vec<u8>)>, LedgerError> {
    let (found, _) = tail::last_lines(ledger, 1, |l| {
        is_event_of(l, id, <QueueDecision as receipts::Kind>::EVENT)
            && verdict_of(l) != Some(QueueVerdict::Admitted)
    })?;
    Ok(found
        .into_iter()
        .next()
        .and_then(|l| verdict_of(&l).map(|v| (v, l))))
}

fn verdict_of(line: &[u8]) -> Option<QueueVerdict> {
    receipts::read_line::<QueueDecision>(line).map(|r| r.receipt.decision)
}

/// Waits until every dispatch in `ids` has a completion receipt, or has lost its session
/// (looked for on the socket its start records), or, with `until_blocked`, is blocked. An id
/// the ledger never saw start is [`Waited::Unknown`] at once. Follows the ledger with a
/// filesystem watcher; checks sessions when the ledger is quiet.
pub fn wait(
    ledger: &Path,
    ids: &[String],
    tmux: &Tmux,
    until_blocked: bool,
) -> Result<BTreeMap<String, Waited>, LedgerError> {
    wait_with(ledger, ids, tmux, until_blocked, None, &mut |_| {})
}

/// [`wait`], reporting each dispatch the moment it settles and the pending ones whenever the
/// ledger is quiet, and giving up at `deadline` (the pending ones are then
/// [`Waited::StillRunning`]).
pub fn wait_with(
    ledger: &Path,
    ids: &[String],
    tmux: &Tmux,
    until_blocked: bool,
    deadline: Option<std::time::Instant>,
    on: &mut dyn for<'e> FnMut(WaitEvent<'e>),
) -> Result<BTreeMap<String, Waited>, LedgerError> {
    let mut done = Settled {
        map: BTreeMap::new(),
        on,
    };
    for id in ids {
        if let Some(line) = completion(ledger, id)? {
            done.insert(id.clone(), settled(ledger, id, line)?);
        } else if !started(ledger, id)? {
            // A queued dispatch is waited for through its start; one whose wait closed
            // settles with the line that closed it.
            match queue_state(ledger, id)? {
                Some((v, line)) if v.closes() => done.insert(id.clone(), Waited::Closed(line)),
                Some((QueueVerdict::Queued, _)) => {}
                _ => done.insert(id.clone(), Waited::Unknown),
            }
        } else if remote_lost(ledger, id)? {
            // Its host was given up on: nothing here will end it.
            done.insert(id.clone(), Waited::Lost);
        } else if until_blocked && let Some(line) = blocked_now(ledger, id)? {
            done.insert(id.clone(), Waited::Blocked(line));
        }
    }
    // Sessions of started dispatches; a queued one's once it starts.
    let mut sessions: BTreeMap<&String, (Tmux, String)> = BTreeMap::new();
    let mut session_for = |id: &String| -> Option<(Tmux, String)> {
        if let Some(s) = sessions.get(id) {
            return Some(s.clone());
        }
        if !started(ledger, id).unwrap_or(false) || remote_of(ledger, id).is_some() {
            return None;
        }
        let found = session_of(ledger, id, tmux);
        let key = ids.iter().find(|i| *i == id)?;
        sessions.insert(key, found.clone());
        Some(found)
    };
    if done.map.len() == ids.len() {
        return Ok(done.map);
    }
    let (_, end) = tail::last_lines(ledger, 0, |_| true)?;
    let mut failed = None;
    tail::follow(ledger, end, |event| {
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            for id in ids {
                if !done.map.contains_key(id) {
                    done.insert(id.clone(), Waited::StillRunning);
                }
            }
            return false;
        }
        let pending: Vec<&String> = ids
            .iter()
            .filter(|id| !done.map.contains_key(*id))
            .collect();
        match event {
            Followed::Line(line) => {
                for id in pending {
                    if is_completion_of(line, id) {
                        match settled(ledger, id, line.to_vec()) {
                            Ok(w) => done.insert(id.clone(), w),
                            Err(e) => {
                                failed = Some(e);
                                return false;
                            }
                        };
                    } else if is_event_of(line, id, "remote_lost") {
                        done.insert(id.clone(), Waited::Lost);
                    } else if until_blocked && is_event_of(line, id, "dispatch_blocked") {
                        done.insert(id.clone(), Waited::Blocked(line.to_vec()));
                    } else if is_event_of(line, id, <QueueDecision as receipts::Kind>::EVENT)
                        && verdict_of(line).is_some_and(QueueVerdict::closes)
                    {
                        done.insert(id.clone(), Waited::Closed(line.to_vec()));
                    }
                }
            }
            Followed::Idle => {
                let quiet: Vec<String> = pending.iter().map(|id| (*id).clone()).collect();
                (done.on)(WaitEvent::Quiet(&quiet));
                for id in pending {
                    // Still queued: nothing of it can be lost yet.
                    let Some((tmux, session)) = session_for(id) else {
                        continue;
                    };
                    let worktree = worktree_of(ledger, id);
                    let alive_session = tmux.has_session(&session);
                    if !alive_session && !alive_without_session(id, worktree.as_deref()) {
                        // The completion may have landed just before the session ended.
                        let last = completion(ledger, id).ok().flatten();
                        let w = match last.map(|line| settled(ledger, id, line)) {
                            Some(Ok(w)) => w,
                            Some(Err(e)) => {
                                failed = Some(e);
                                return false;
                            }
                            None => Waited::Lost,
                        };
                        done.insert(id.clone(), w);
                    }
                }
            }
            Followed::Restarted => {}
        }
        done.map.len() < ids.len()
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(done.map),
    }
}

/// The settled dispatches, each reported as it is added.
struct Settled<'a> {
    map: BTreeMap<String, Waited>,
    on: &'a mut dyn for<'e> FnMut(WaitEvent<'e>),
}

impl Settled<'_> {
    fn insert(&mut self, id: String, w: Waited) {
        (self.on)(WaitEvent::Settled(&id, &w));
        self.map.insert(id, w);
    }
}
