//! The dispatch queue: what happens to a dispatch of a provider with a `concurrency:` limit.
//! At dispatch time it is admitted (a slot is free: it claims one and starts), queued (an
//! entry under `.vnx-data/queue/`, nothing else) or rejected (by the `queue:` policy or a
//! full queue), and each decision is a signed `queue_decision` receipt. A queued dispatch
//! starts when a slot frees: the finishing supervisor drains the queue, and so does any vnx
//! command that reads dispatch state (a queue whose supervisor died still drains). Everything
//! that judges slots or moves entries holds the queue lock, `.vnx-data/queue/lock`, so each
//! entry starts exactly once and no slot is given twice. See ADR 0030. A local dispatch also
//! waits, with or without a limit, while its provider is held by a usage limit (`held`) or
//! this machine is below a floor of `admission:` (`crate::admission`).

pub mod after;
pub mod claims;
mod drain;
pub mod entry;
pub mod failover;
pub mod held;
pub mod paused;
pub mod remote;

use crate::ids::{DispatchId, Timestamp};
use std::fs::File;
use std::path::Path;

use super::{Context, DispatchError, Launched, Plan, Request, io_err, liveness};
use crate::ledger::now_utc;
use crate::receipts::{QueueDecision, QueueVerdict};
use crate::tmux::Tmux;
pub use drain::{Drained, finished, recover};
pub use entry::Entry;
pub use remote::{RemoteSubmitted, submit_remote};

/// The lock file every queue and slot change is made under.
pub const LOCK_FILE: &str = "lock";

/// What a dispatch asks of the queue besides its plan.
#[derive(Clone, Debug, Default)]
pub struct Ticket {
    /// Higher starts first; ties start in order of arrival.
    pub priority: i32,
    /// The latest time it may start; past it, a queued dispatch is closed, never started.
    pub start_by: Option<jiff::Timestamp>,
}

/// What became of a submitted dispatch.
#[derive(Debug)]
pub enum Submitted {
    /// It started (a slot was free, or its provider has no limit).
    Started(Launched),
    /// It waits in the queue.
    Queued {
        /// The dispatch id.
        id: DispatchId,
        /// Its 1-based place among its provider's queued dispatches.
        position: u32,
        /// The provider's capacity.
        capacity: u32,
        /// Why it waits, in words: every slot taken, its provider held by a usage limit, or
        /// this machine below a floor of `admission:`.
        why: String,
        /// Whether it waits for this machine's room (memory, disk, load): nothing but a drain
        /// (a finishing supervisor's, or a command's that reads dispatch state) starts it.
        for_room: bool,
    },
}

/// The queue lock, held while it lives.
pub struct QueueLock(#[expect(dead_code, reason = "held for its lock, never read")] File);

/// Takes the queue lock, waiting for it (`wait`) or giving up at once when another holds it.
pub fn lock(data_dir: &Path, wait: bool) -> Result<Option<QueueLock>, DispatchError> {
    let dir = entry::dir(data_dir);
    crate::files::private_dir(&dir).map_err(io_err(&dir))?;
    let path = dir.join(LOCK_FILE);
    let file = crate::files::lock_file(&path, wait).map_err(io_err(&path))?;
    Ok(file.map(QueueLock))
}

/// Whether the dispatch holding a slot claim still lives: its launcher or supervisor holds
/// its lock, its tmux session exists, or a process works in its worktree. A claim whose
/// dispatch directory has no spec is judged by the lock alone (a launch under way holds
/// its claim file's own lock, which `claims::held` asks first).
pub fn holder_alive(data_dir: &Path, id: &DispatchId) -> bool {
    let dir = data_dir.join("dispatches").join(id);
    if !dir.is_dir() {
        return false;
    }
    let spec = crate::dispatch::read_spec(&dir.join("spec.json")).ok();
    let session = spec.as_ref().map(|s| {
        (
            s.session.as_str(),
            Tmux::new(&s.tmux_socket).has_session(&s.session),
        )
    });
    liveness::alive(&dir, spec.as_ref().map(|s| s.worktree.as_path()), session).is_some()
}

/// Appends a signed `queue_decision`.
fn record(ctx: &Context<'_>, ledger: &Path, d: QueueDecision) -> Result<(), DispatchError> {
    ctx.attestor.record(ledger, &d)?;
    Ok(())
}

fn decision(
    id: &DispatchId,
    provider: &str,
    verdict: QueueVerdict,
    capacity: u32,
    running: usize,
    ticket: (i32, Option<Timestamp>),
    reason: String,
) -> QueueDecision {
    QueueDecision {
        dispatch_id: id.clone(),
        provider: provider.to_owned(),
        decision: verdict,
        capacity,
        running: running as u32,
        queue_position: None,
        priority: ticket.0,
        start_by: ticket.1,
        reason,
        host: None,
        after: None,
        extra: Default::default(),
    }
}

/// A decision about queued entry `e` (naming the host it asked for, for a remote one);
/// `(capacity, running)` of the slots it waits for.
fn entry_decision(
    e: &Entry,
    verdict: QueueVerdict,
    (capacity, running): (u32, usize),
    reason: String,
) -> QueueDecision {
    let t = (e.priority, e.start_by.clone());
    QueueDecision {
        host: e.remote.as_ref().map(|r| r.host.clone()),
        ..decision(&e.id, &e.provider, verdict, capacity, running, t, reason)
    }
}

/// A decision about `plan`'s dispatch before anything was judged of slots.
fn decision_of(plan: &Plan, verdict: QueueVerdict, ticket: &Ticket, why: String) -> QueueDecision {
    let spec = &plan.spec;
    let t = (ticket.priority, ticket.start_by.map(rfc3339));
    let capacity = spec.slot_limit.unwrap_or(0);
    decision(&spec.id, spec.provider.name(), verdict, capacity, 0, t, why)
}

/// `t` as receipts write a time: RFC 3339 in UTC, to the second.
pub(crate) fn rfc3339(t: jiff::Timestamp) -> Timestamp {
    Timestamp::try_from(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .expect("jiff writes RFC 3339 in UTC")
}

/// Starts a planned dispatch, or queues or rejects it when every slot of its provider is
/// taken (by the config's `queue:` rule). A dispatch of a provider without a limit, or a
/// follow-up, starts at once as before. The queue is drained first, so dispatches already
/// waiting go before this one.
pub fn submit(
    ctx: &Context<'_>,
    plan: &Plan,
    req: &Request,
    ticket: &Ticket,
) -> Result<Submitted, DispatchError> {
    let data = ctx.project.data_dir();
    // A dispatch of `--after` waits for its dependencies, or starts now from their work.
    let (ready, after_waits) = after::submitted(ctx, &data, (plan, req, ticket))?;
    let plan = ready.as_deref().unwrap_or(plan);
    let spec = &plan.spec;
    // A provider a usage limit holds starts nothing new until its reset (ADR 0117): the
    // dispatch waits in the queue, with or without a `concurrency:` limit (0: none).
    let limit_hold = held::holding(&data, spec.provider.name());
    let config = ctx.project.load_config()?;
    // Unless its role names a provider to move to (ADR 0120).
    if let (Some(hold), None) = (&limit_hold, &req.continues) {
        let (role, from) = (&spec.role, spec.provider.name());
        if let Some(to) = failover::next_provider(&config, &data, role, from) {
            return submit_moved(ctx, (plan, req, ticket), &hold.describe(), &to);
        }
    }
    // A machine below a floor of `admission:` starts no new local dispatch either: it waits
    // until a drain finds the room back (a follow-up, continuing a worktree, is not judged).
    let short = req
        .continues
        .is_none()
        .then(|| crate::admission::shortfall(&data, &config.admission.floors()))
        .flatten();
    // Nor does a pause a person set that covers it (ADR 0119).
    let hold = limit_hold
        .map(|h| h.describe())
        .or_else(|| paused::covering_here(spec).map(|p| p.describe()));
    let waits = (after_waits.as_ref().map(|(why, _)| why.clone()))
        .or_else(|| hold.clone())
        .or_else(|| short.as_ref().map(|s| format!("waits for room: {s}")));
    let limit = match (spec.slot_limit, &req.continues, &waits) {
        (Some(limit), None, _) => limit,
        (None, None, Some(_)) => 0,
        _ => return Ok(Submitted::Started(crate::dispatch::launch(ctx, plan)?)),
    };
    let held_lock = lock(&data, true)?;
    if entry::exists(&data, &spec.id) {
        return Err(DispatchError::IdInUse {
            id: spec.id.to_string(),
            what: entry::dir(&data).join(format!("{}.json", spec.id)),
        });
    }
    drain::drain_locked(ctx, &data)?;
    let running = claims::held(&data, spec.provider.name(), |o| holder_alive(&data, o)).len();
    let waiting: Vec<Entry> = entry::all(&data)
        .into_iter()
        .filter(|e| e.line() == spec.provider.name())
        .collect();
    let decide = |verdict, why| QueueDecision {
        capacity: limit,
        running: running as u32,
        ..decision_of(plan, verdict, ticket, why)
    };
    if waits.is_none() && (running as u32) < limit && waiting.is_empty() {
        let why = format!(
            "a {} slot is free ({running} of {limit} held)",
            spec.provider
        );
        let d = decide(QueueVerdict::Admitted, why);
        // The slot is ours (its claim locked): the launch runs outside the queue lock, so
        // dispatches admitted at once launch side by side.
        let claimed = claim_and_record(ctx, &data, plan, d)?;
        drop(held_lock);
        return launch_claimed(ctx, &data, plan, claimed).map(Submitted::Started);
    }
    // Waiting for its dependencies was asked for: the queue's policy and length do not
    // refuse it (its latest start time still does).
    let rule = match after_waits {
        Some(_) => crate::config::QueueRule::default(),
        None => config.queue.rule(spec.provider.name()),
    };
    let full = match &waits {
        Some(h) => h.clone(),
        None => format!("every {} slot ({limit}) is taken", spec.provider),
    };
    if let Some(reason) = rejection(rule, &full, waiting.len(), ticket) {
        let d = decide(QueueVerdict::Rejected, reason.clone());
        record(ctx, &spec.ledger, d)?;
        return Err(DispatchError::Rejected {
            id: spec.id.to_string(),
            provider: spec.provider.to_string(),
            reason,
        });
    }
    let e = Entry {
        id: spec.id.clone(),
        provider: spec.provider.to_string(),
        priority: ticket.priority,
        start_by: ticket.start_by.map(rfc3339),
        seq: entry::next_seq(&data),
        queued_at: now_utc(),
        capacity: limit,
        base_commit: spec.base_commit.clone(),
        base_ref: plan.base_ref.clone(),
        ledger: spec.ledger.clone(),
        tmux_socket: spec.tmux_socket.clone(),
        request: entry::QueuedRequest::of(req),
        remote: None,
        held: None,
        started_by: ctx.by.map(str::to_owned),
        started_by_dispatch: ctx.by_worker.cloned(),
    };
    if let Some(env) = ctx.env {
        let env_path = entry::env_path(&data, &spec.id);
        let _ = std::fs::remove_file(&env_path);
        let handed = crate::env_file::handed_on(env);
        crate::env_file::write(&env_path, &handed).map_err(io_err(&env_path))?;
    }
    let mut d = decide(QueueVerdict::Queued, full.clone());
    d.after = req.after.clone();
    let position = enqueue(ctx, &data, &e, d)?;
    if let Some((why, true)) = &after_waits {
        drain::hold(ctx, &data, e, (limit, running), why)?;
    }
    drop(held_lock);
    Ok(Submitted::Queued {
        id: spec.id.clone(),
        position,
        capacity: limit,
        why: full,
        for_room: short.is_some() && hold.is_none() && after_waits.is_none(),
    })
}

/// Writes entry `e` to the queue and records `queued`, its decision `d` given its place in its
/// line; the entry is taken out again when the decision cannot be recorded. Its place.
fn enqueue(
    ctx: &Context<'_>,
    data: &Path,
    e: &Entry,
    mut d: QueueDecision,
) -> Result<u32, DispatchError> {
    let path = entry::write(data, e).map_err(io_err(&entry::dir(data)))?;
    let position = (entry::positions(&entry::all(data)).get(&e.id).copied()).unwrap_or(0);
    d.queue_position = Some(position);
    if let Err(err) = record(ctx, &e.ledger, d) {
        let _ = std::fs::remove_file(path);
        return Err(err);
    }
    Ok(position)
}

/// Submits a dispatch held by a usage limit again, planned for provider `to` (its model
/// left to `to`'s default), after a signed `dispatch_failover` says why (ADR 0120).
fn submit_moved(
    ctx: &Context<'_>,
    (plan, req, ticket): (&Plan, &Request, &Ticket),
    why: &str,
    to: &str,
) -> Result<Submitted, DispatchError> {
    let spec = &plan.spec;
    let moved = Request {
        id: Some(spec.id.clone()),
        provider: Some(to.to_owned()),
        model: None,
        ..req.clone()
    };
    let mut replanned = crate::dispatch::plan(ctx, &moved)?;
    replanned.base_ref = plan.base_ref.clone();
    let ids = (&spec.id, req.model.as_deref());
    let moves = (spec.provider.name(), to);
    failover::record_by(ctx, &spec.ledger, ids, moves, (why, None))?;
    submit(ctx, &replanned, &moved, ticket)
}

/// Why the `queue:` rule refuses a dispatch that cannot start now (`full` says why, in
/// words), if it does: the policy is reject, its line already holds `waiting` of the
/// `max_length` it may, or its latest start time has passed.
fn rejection(
    rule: crate::config::QueueRule,
    full: &str,
    waiting: usize,
    ticket: &Ticket,
) -> Option<String> {
    if rule.policy == crate::config::QueuePolicy::Reject {
        Some(format!("{full} and the queue policy is reject"))
    } else if let Some(max) = rule.max_length.filter(|m| waiting as u32 >= *m) {
        Some(format!(
            "{full} and its queue is full ({waiting} of max_length {max})"
        ))
    } else {
        ticket
            .start_by
            .filter(|t| *t < jiff::Timestamp::now())
            .map(|t| format!("{full} and its latest start time {} has passed", rfc3339(t)))
    }
}

/// The slot claimed (locked while the launch is under way) and the receipt to write if the
/// launch fails.
struct Claimed(claims::Claim, QueueDecision);

/// Claims a slot and records the admission. Called under the queue lock.
fn claim_and_record(
    ctx: &Context<'_>,
    data: &Path,
    plan: &Plan,
    admitted: QueueDecision,
) -> Result<Claimed, DispatchError> {
    let spec = &plan.spec;
    let slots = data.join(claims::SLOTS_DIR);
    let Some(claim) = claims::claim(data, spec.provider.name(), admitted.capacity, &spec.id)
        .map_err(io_err(&slots))?
    else {
        // Only a config whose limit shrank below the claims' slot numbers gets here.
        return Err(io_err(&slots)(std::io::Error::other(
            "no free slot to claim",
        )));
    };
    let failed = admitted.clone();
    if let Err(e) = record(ctx, &spec.ledger, admitted) {
        claims::release(data, spec.provider.name(), &spec.id);
        return Err(e);
    }
    Ok(Claimed(claim, failed))
}

/// Launches a dispatch whose slot is claimed; the queue lock need not be held (the claim's
/// own lock keeps it from looking stale until the dispatch lives).
fn launch_claimed(
    ctx: &Context<'_>,
    data: &Path,
    plan: &Plan,
    Claimed(claim, mut failed): Claimed,
) -> Result<Launched, DispatchError> {
    let spec = &plan.spec;
    let launched = crate::dispatch::launch(ctx, plan).inspect_err(|e| {
        claims::release(data, spec.provider.name(), &spec.id);
        failed.decision = QueueVerdict::Failed;
        failed.reason = format!("it could not start: {e}");
        let _ = record(ctx, &spec.ledger, failed);
    });
    drop(claim);
    launched
}

/// Cancels queued dispatch `id`: removes its entry and records `cancelled`. `false` when it
/// is not queued (it may have started meanwhile).
pub fn cancel(ctx: &Context<'_>, id: &DispatchId) -> Result<bool, DispatchError> {
    let data = ctx.project.data_dir();
    let _held = lock(&data, true)?;
    let Some(e) = entry::read(&data, id) else {
        return Ok(false);
    };
    let (capacity, running) = match &e.remote {
        Some(_) => remote::slots_of(ctx, &e),
        None => (
            e.capacity,
            claims::held(&data, &e.provider, |o| holder_alive(&data, o)).len(),
        ),
    };
    let why = "cancelled while queued (vnx cancel)".into();
    let d = entry_decision(&e, QueueVerdict::Cancelled, (capacity, running), why);
    record(ctx, &e.ledger, d)?;
    entry::remove(&data, id);
    Ok(true)
}

/// A queued dispatch as `status`, `show` and the dashboard show it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Place {
    /// Its 1-based place among its provider's queued dispatches.
    pub position: u32,
    /// Its role.
    pub role: String,
    /// The model it asked for.
    pub model: Option<String>,
    /// Its title: the one given, else its instruction's first line.
    pub title: String,
}

/// Every queued dispatch's place, by id (read without the lock: a snapshot).
pub fn places(data_dir: &Path) -> std::collections::BTreeMap<DispatchId, Place> {
    let all = entry::all(data_dir);
    let positions = entry::positions(&all);
    all.into_iter()
        .map(|e| {
            let place = Place {
                position: positions.get(&e.id).copied().unwrap_or(0),
                title: crate::dispatch::title_of(
                    e.request
                        .0
                        .title
                        .as_deref()
                        .unwrap_or(&e.request.0.instruction),
                ),
                role: e.request.0.role,
                model: e.request.0.model,
            };
            (e.id, place)
        })
        .collect()
}
/// Records each queued dispatch's position (and the role and model it asked for) from the
/// queue's entries (`places`, by id).
pub fn mark_positions(
    states: &mut [crate::dispatch::state::DispatchState],
    places: &std::collections::BTreeMap<DispatchId, Place>,
) {
    for s in states {
        if let (crate::dispatch::state::State::Queued, Some(q)) = (s.state, &mut s.queue) {
            let place = places.get(s.id.as_str());
            q.position = place.map(|p| p.position);
            if let Some(p) = place {
                s.role.get_or_insert_with(|| p.role.clone());
                s.title.get_or_insert_with(|| p.title.clone());
                s.model = s.model.take().or_else(|| p.model.clone());
            }
        }
    }
}
