//! Every dispatch's state read off the ledger in one pass (queued, started, blocked,
//! completed, corrected, merged, released), with the tmux sessions that are alive deciding
//! which unfinished ones are lost.

use std::collections::BTreeMap;
use std::path::Path;

use crate::ledger::LedgerError;
use crate::ledger::tail;
use crate::receipts::{self, DispatchStatus, QueueVerdict};
use crate::tmux::Tmux;

use super::lookup::alive_without_session;
use super::{DispatchState, Landed, Proof, State, parse, text};

/// The tmux sessions alive on each socket dispatches were started on, listed once per
/// socket. A dispatch whose start records no socket is looked for on the fallback.
#[derive(Debug)]
pub struct Sessions {
    fallback: String,
    by_socket: std::cell::RefCell<BTreeMap<String, Vec<String>>>,
}

impl Sessions {
    /// Sessions of the sockets dispatches name, `fallback` for those that name none.
    pub fn new(fallback: &Tmux) -> Sessions {
        Sessions {
            fallback: fallback.socket().to_owned(),
            by_socket: Default::default(),
        }
    }

    /// Whether `session` lives on `socket` (or the fallback).
    pub fn has(&self, socket: Option<&str>, session: &str) -> bool {
        let socket = socket.unwrap_or(&self.fallback).to_owned();
        let mut cache = self.by_socket.borrow_mut();
        cache
            .entry(socket.clone())
            .or_insert_with(|| Tmux::new(socket).sessions())
            .iter()
            .any(|s| s == session)
    }
}

/// Every dispatch on the ledger, in start order; each dispatch's session is looked for on
/// the socket its start recorded (`tmux` for one that recorded none).
pub fn list(ledger: &Path, tmux: &Tmux) -> Result<Vec<DispatchState>, LedgerError> {
    list_with(ledger, &Sessions::new(tmux))
}

/// Every dispatch on the ledger, in start order, given the tmux sessions that are alive.
pub fn list_with(ledger: &Path, live: &Sessions) -> Result<Vec<DispatchState>, LedgerError> {
    let lines = tail::numbered_lines(ledger, |l| {
        [
            &b"dispatch_"[..],
            b"merge_completed",
            b"worktree_released",
            b"remote_lost",
        ]
        .iter()
        .any(|k| memchr::memmem::find(l, k).is_some())
    })?;
    // From the first signed receipt on, vnx's kinds must carry a valid signature.
    let first_signed = lines
        .iter()
        .find(|(_, l)| memchr::memmem::find(l, b"\"vnx_attestation\"").is_some())
        .map(|(n, _)| *n);
    let mut states: BTreeMap<String, (usize, DispatchState)> = BTreeMap::new();
    // The line that proves each dispatch's state so far (an index into `lines`); made into
    // a `Proof` once, at the end.
    let mut proven: BTreeMap<String, usize> = BTreeMap::new();
    for (index, (_, line)) in lines.iter().enumerate() {
        let Some(o) = parse(line) else {
            continue;
        };
        let Some(id) = text(&o, "dispatch_id") else {
            continue;
        };
        let at = text(&o, "timestamp");
        match receipts::Typed::of(&o) {
            receipts::Typed::QueueDecision(r) => {
                let q = r.receipt;
                match (q.decision, states.get_mut(&id)) {
                    (QueueVerdict::Queued, None) => {
                        let order = states.len();
                        states.insert(
                            id.clone(),
                            (order, DispatchState::queued(id.clone(), q, at)),
                        );
                        proven.insert(id, index);
                    }
                    (v, Some((_, s))) if v.closes() && s.state == State::Queued => {
                        s.state = match v {
                            QueueVerdict::Expired => State::Expired,
                            QueueVerdict::Cancelled => State::Ended(DispatchStatus::Cancelled),
                            _ => State::Ended(DispatchStatus::Failed),
                        };
                        s.reason = Some(q.reason);
                        s.ended_at = at;
                        if let Some(info) = &mut s.queue {
                            info.position = None;
                        }
                        proven.insert(id, index);
                    }
                    _ => {}
                }
            }
            receipts::Typed::DispatchStarted(r) => {
                let order = states.get(&id).map_or(states.len(), |(o, _)| *o);
                if let Some(c) = &r.receipt.continues
                    && let Some((_, before)) = states.get_mut(&c.dispatch_id)
                {
                    before.continued_by = Some(id.clone());
                }
                states.insert(
                    id.clone(),
                    (
                        order,
                        DispatchState::new(id.clone(), r.receipt, r.timestamp),
                    ),
                );
                proven.insert(id, index);
            }
            receipts::Typed::DispatchCompleted(r) => {
                if let Some((_, s)) = states.get_mut(&id) {
                    let c = r.receipt;
                    s.state = State::Ended(c.status);
                    s.completion = Some(c.status);
                    s.ended_at = at;
                    s.reason = c.failure_reason;
                    s.teardown_class = c.teardown_class;
                    s.head_commit = c.head_commit;
                    s.worker_log = c.worker_log;
                    s.tokens = c.token_usage.map(|u| u.input_tokens + u.output_tokens);
                    s.blocked = None;
                    proven.insert(id.clone(), index);
                }
            }
            receipts::Typed::DispatchCorrected(r) => {
                if let Some((_, s)) = states.get_mut(&id) {
                    s.state = State::Ended(r.receipt.status);
                    s.completion = Some(r.receipt.status);
                    s.reason = Some(r.receipt.reason);
                    proven.insert(id.clone(), index);
                }
            }
            receipts::Typed::DispatchBlocked(r) => {
                if let Some((_, s)) = states.get_mut(&id).filter(|(_, s)| s.state.is_live()) {
                    s.state = State::Blocked;
                    s.blocked = Some(r.receipt);
                    proven.insert(id.clone(), index);
                }
            }
            receipts::Typed::DispatchStalled(_) => {
                if let Some((_, s)) = states.get_mut(&id).filter(|(_, s)| s.state.is_live()) {
                    s.state = State::Stalled;
                    s.blocked = None;
                    proven.insert(id.clone(), index);
                }
            }
            receipts::Typed::DispatchResumed(_) => {
                if let Some((_, s)) = states.get_mut(&id).filter(|(_, s)| s.state.is_live()) {
                    s.state = State::Running;
                    s.blocked = None;
                    proven.insert(id.clone(), index);
                }
            }
            receipts::Typed::RemoteLost(_) => {
                if let Some((_, s)) = states.get_mut(&id).filter(|(_, s)| s.state.is_live()) {
                    s.state = State::Lost;
                    s.blocked = None;
                    proven.insert(id.clone(), index);
                }
            }
            receipts::Typed::MergeCompleted(_) => {
                if let Some((_, s)) = states.get_mut(&id) {
                    s.landed = Some(Landed::Merged);
                    proven.insert(id.clone(), index);
                }
            }
            receipts::Typed::WorktreeReleased(r) => {
                let gone = r.receipt.action.branch_deleted || r.receipt.action.worktree_removed;
                if let Some((_, s)) = states.get_mut(&id).filter(|_| gone)
                    && s.landed.is_none()
                {
                    s.landed = Some(Landed::Released);
                    proven.insert(id.clone(), index);
                }
            }
            _ => {}
        }
    }
    let mut out: Vec<(usize, DispatchState)> = states.into_values().collect();
    out.sort_by_key(|(order, _)| *order);
    Ok(out
        .into_iter()
        .map(|(_, mut s)| {
            // A remote dispatch lives on its host: only a `remote_lost` makes it lost here.
            if s.state.is_live()
                && s.host.is_none()
                && !s
                    .session
                    .as_ref()
                    .is_some_and(|n| live.has(s.tmux_socket.as_deref(), n))
                && !alive_without_session(&s.id, s.worktree.as_deref())
            {
                s.state = State::Lost;
                s.blocked = None;
            }
            s.proof = proven.get(&s.id).and_then(|&i| {
                let (number, line) = &lines[i];
                let signing = first_signed.is_some_and(|f| f <= *number);
                parse(line).map(|o| Proof::of(*number, line, &o, signing))
            });
            s.status = s.shown();
            s
        })
        .collect())
}
