//! Waiting for dispatches to settle: their records read once, then the ledger followed
//! (each new line about them folded in) until each has completed, was corrected, was lost,
//! left the queue without starting or (when asked) is blocked; or, waiting for any of them,
//! until the first of them does.

use crate::ids::DispatchId;
use std::collections::BTreeMap;
use std::path::Path;

use crate::dispatch::fold::{CiteReader, DispatchRecord, LineAt, Records, Seen};
use crate::ledger::LedgerError;
use crate::ledger::tail::{self, Followed};
use crate::receipts::{self, DispatchStatus, QueueDecision, QueueVerdict};
use crate::tmux::Tmux;

use crate::dispatch::view::lookup::{
    Completion, Correction, alive_without_session, completion, correction, correction_after,
    session_in, under_append_lock,
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
    Settled(&'a DispatchId, &'a Waited),
    /// The ledger is quiet; these are still pending.
    Quiet(&'a [DispatchId]),
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
fn settled(completion: Completion, correction: Option<Correction>) -> Waited {
    let done = completion.receipt.status == DispatchStatus::Done;
    match correction.filter(|_| done) {
        Some(correction) => Waited::Corrected {
            completion,
            correction,
        },
        None => Waited::Completed(completion),
    }
}

/// A completion line just appended, settled with the correction the ledger has for it: the
/// one after it, when the follower says where it ends (`lines` lines, `offset` bytes), else
/// the dispatch's last.
fn settled_now(
    ledger: &Path,
    id: &DispatchId,
    line: Vec<u8>,
    ends: Option<(u64, u64)>,
) -> Result<Waited, LedgerError> {
    let completion = Completion::of(id, line);
    let correction = match ends {
        _ if completion.receipt.status != DispatchStatus::Done => None,
        Some((lines, offset)) => correction_after(ledger, id, lines, offset)?,
        None => correction(ledger, id)?,
    };
    Ok(settled(completion, correction))
}

/// How a dispatch stands on its record, when that settles a wait.
fn settled_by(
    reader: &CiteReader,
    r: Option<&DispatchRecord>,
    id: &DispatchId,
    until_blocked: bool,
) -> Result<Option<Waited>, LedgerError> {
    if let Some(cite) = r.and_then(|r| r.completion) {
        let completion = Completion::of(id, reader.read(cite)?);
        let correction = r.and_then(|r| r.correction).map(|c| reader.read(c));
        let correction = correction.transpose()?.map(Correction::of);
        return Ok(Some(settled(completion, correction)));
    }
    let Some(r) = r.filter(|r| r.started()) else {
        // A queued dispatch is waited for through its start; one whose wait closed settles
        // with the line that closed it.
        return Ok(match r.and_then(DispatchRecord::queue_state) {
            Some((v, cite)) if v.closes() => Some(Waited::Closed(reader.read(cite)?)),
            Some((QueueVerdict::Queued | QueueVerdict::Held, _)) => None,
            _ => Some(Waited::Unknown),
        });
    };
    if r.remote_lost.is_some() {
        // Its host was given up on: nothing here will end it.
        return Ok(Some(Waited::Lost));
    }
    match r.blocked_now() {
        Some(cite) if until_blocked => Ok(Some(Waited::Blocked(reader.read(cite)?))),
        _ => Ok(None),
    }
}

/// Waits until every dispatch in `ids` has a completion receipt, or has lost its session
/// (looked for on the socket its start records), or, with `until_blocked`, is blocked. An id
/// the ledger never saw start is [`Waited::Unknown`] at once. Follows the ledger with a
/// filesystem watcher; checks sessions when the ledger is quiet.
pub fn wait(
    ledger: &Path,
    ids: &[DispatchId],
    tmux: &Tmux,
    until_blocked: bool,
) -> Result<BTreeMap<DispatchId, Waited>, LedgerError> {
    wait_with(ledger, ids, tmux, until_blocked, false, None, &mut |_| {})
}

/// [`wait`], reporting each dispatch the moment it settles and the pending ones whenever the
/// ledger is quiet, and giving up at `deadline` (the pending ones are then
/// [`Waited::StillRunning`]). With `any`, the wait is over once any of `ids` settled (those
/// that settled in the same look count too); the others are then [`Waited::StillRunning`].
pub fn wait_with(
    ledger: &Path,
    ids: &[DispatchId],
    tmux: &Tmux,
    until_blocked: bool,
    any: bool,
    deadline: Option<std::time::Instant>,
    on: &mut dyn for<'e> FnMut(WaitEvent<'e>),
) -> Result<BTreeMap<DispatchId, Waited>, LedgerError> {
    let mut done = SettledSoFar {
        map: BTreeMap::new(),
        on,
    };
    let over = |settled: usize| settled == ids.len() || (any && settled > 0);
    let wanted: Vec<&str> = ids.iter().map(DispatchId::as_str).collect();
    let mut records = under_append_lock(ledger, || Records::read_only(ledger, &wanted))?;
    {
        let reader = CiteReader::open(ledger)?;
        for id in ids {
            if let Some(w) = settled_by(&reader, records.get(id), id, until_blocked)? {
                done.insert(id.clone(), w);
            }
        }
    }
    if over(done.map.len()) {
        return Ok(done.still_running(ids));
    }
    let (mut lines, mut offset) = (records.lines, records.offset);
    let mut failed = None;
    tail::follow(ledger, records.offset, |event| {
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            done.rest_still_running(ids);
            return false;
        }
        match event {
            Followed::Line(line) => {
                lines += 1;
                let at = LineAt {
                    number: lines,
                    offset,
                    bytes: line,
                };
                offset += line.len() as u64 + 1;
                let mentions = |id: &str| memchr::memmem::find(line, id.as_bytes()).is_some();
                if !ids
                    .iter()
                    .any(|id| !done.map.contains_key(id) && mentions(id.as_str()))
                {
                    return true;
                }
                let Some((id, seen)) = records.apply(at) else {
                    return true;
                };
                if done.map.contains_key(&id) || !ids.contains(&id) {
                    return true;
                }
                let w = match seen {
                    Seen::Completed => {
                        match settled_now(ledger, &id, line.to_vec(), Some((lines, offset))) {
                            Ok(w) => w,
                            Err(e) => {
                                failed = Some(e);
                                return false;
                            }
                        }
                    }
                    Seen::RemoteLost => Waited::Lost,
                    Seen::Blocked if until_blocked => Waited::Blocked(line.to_vec()),
                    Seen::QueueClosed => Waited::Closed(line.to_vec()),
                    _ => return true,
                };
                done.insert(id, w);
            }
            Followed::Idle => {
                let pending: Vec<DispatchId> = ids
                    .iter()
                    .filter(|id| !done.map.contains_key(*id))
                    .cloned()
                    .collect();
                (done.on)(WaitEvent::Quiet(&pending));
                for id in &pending {
                    // Still queued, or on a host: nothing of it can be lost here.
                    let Some(start) = records.get(id).and_then(|r| r.start.as_ref()) else {
                        continue;
                    };
                    if !start.place.is_here() {
                        continue;
                    }
                    let (tmux, session) = session_in(Some(start), id, tmux);
                    let alive_session = tmux.has_session(&session);
                    if !alive_session && !alive_without_session(id, start.worktree.as_deref()) {
                        // The completion may have landed just before the session ended.
                        let last = completion(ledger, id).ok().flatten();
                        let w = match last.map(|line| settled_now(ledger, id, line, None)) {
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
            Followed::Restarted => {
                // The ledger was replaced: its lines are read again from the first.
                records = Records::default();
                (lines, offset) = (0, 0);
            }
        }
        !over(done.map.len())
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(done.still_running(ids)),
    }
}

/// The settled dispatches, each reported as it is added.
struct SettledSoFar<'a> {
    map: BTreeMap<DispatchId, Waited>,
    on: &'a mut dyn for<'e> FnMut(WaitEvent<'e>),
}

impl SettledSoFar<'_> {
    fn insert(&mut self, id: DispatchId, w: Waited) {
        (self.on)(WaitEvent::Settled(&id, &w));
        self.map.insert(id, w);
    }

    /// The settled ones, each of `ids` not settled (a wait for any of them that is over)
    /// reported and read as [`Waited::StillRunning`].
    fn still_running(mut self, ids: &[DispatchId]) -> BTreeMap<DispatchId, Waited> {
        self.rest_still_running(ids);
        self.map
    }

    /// Each of `ids` not settled, reported and read as [`Waited::StillRunning`].
    fn rest_still_running(&mut self, ids: &[DispatchId]) {
        for id in ids {
            if !self.map.contains_key(id) {
                self.insert(id.clone(), Waited::StillRunning);
            }
        }
    }
}
