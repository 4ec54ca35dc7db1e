//! The dispatch queue: what happens to a dispatch of a provider with a `concurrency:` limit.
//! At dispatch time it is admitted (a slot is free: it claims one and starts), queued (an
//! entry under `.vnx-data/queue/`, nothing else) or rejected (by the `queue:` policy or a
//! full queue), and each decision is a signed `queue_decision` receipt. A queued dispatch
//! starts when a slot frees: the finishing supervisor drains the queue, and so does any vnx
//! command that reads dispatch state (a queue whose supervisor died still drains). Everything
//! that judges slots or moves entries holds the queue lock, `.vnx-data/queue/lock`, so each
//! entry starts exactly once and no slot is given twice. See ADR 0028.

pub mod claims;
pub mod entry;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::{Context, DispatchError, Launched, Plan, Request, io_err, liveness};
use crate::ledger::{Ledger, now_utc};
use crate::receipts::{self, QueueDecision, QueueVerdict};
use crate::tmux::Tmux;
pub use entry::Entry;

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
        id: String,
        /// Its 1-based place among its provider's queued dispatches.
        position: u32,
        /// The provider's capacity.
        capacity: u32,
    },
}

/// The queue lock, held while it lives.
pub struct QueueLock(#[allow(dead_code, reason = "held for its lock")] File);

/// Takes the queue lock, waiting for it (`wait`) or giving up at once when another holds it.
pub fn lock(data_dir: &Path, wait: bool) -> Result<Option<QueueLock>, DispatchError> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = entry::dir(data_dir);
    crate::project::private_dir(&dir).map_err(io_err(&dir))?;
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .mode(0o600)
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(&path))?;
    if wait {
        file.lock().map_err(io_err(&path))?;
        return Ok(Some(QueueLock(file)));
    }
    match file.try_lock() {
        Ok(()) => Ok(Some(QueueLock(file))),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(io_err(&path)(e)),
    }
}

/// Whether the dispatch holding a slot claim still lives: its launcher or supervisor holds
/// its lock, its tmux session exists, or a process works in its worktree. A claim whose
/// dispatch directory has no spec is judged by the lock alone (claims are made and launches
/// run under the queue lock, so no launch is half-way while this is asked).
pub fn holder_alive(data_dir: &Path, id: &str) -> bool {
    let dir = data_dir.join("dispatches").join(id);
    if !dir.is_dir() {
        return false;
    }
    let spec = super::read_spec(&dir.join("spec.json")).ok();
    let session = spec.as_ref().map(|s| {
        (
            s.session.as_str(),
            Tmux::new(&s.tmux_socket).has_session(&s.session),
        )
    });
    liveness::alive(&dir, spec.as_ref().map(|s| s.worktree.as_path()), session).is_some()
}

fn data_dir(ctx: &Context<'_>) -> PathBuf {
    ctx.project.data_dir()
}

/// Appends a signed `queue_decision`.
fn record(ctx: &Context<'_>, ledger: &Path, d: QueueDecision) -> Result<(), DispatchError> {
    let receipt = ctx.attestor.attest(&receipts::write(&d), &now_utc);
    Ledger::new(ledger).append(&receipt)?;
    Ok(())
}

fn decision(
    id: &str,
    provider: &str,
    verdict: QueueVerdict,
    capacity: u32,
    running: usize,
    ticket: (i32, Option<String>),
    reason: String,
) -> QueueDecision {
    QueueDecision {
        dispatch_id: id.to_owned(),
        provider: provider.to_owned(),
        decision: verdict,
        capacity,
        running: running as u32,
        queue_position: None,
        priority: ticket.0,
        start_by: ticket.1,
        reason,
        extra: Default::default(),
    }
}

fn rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
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
    let spec = &plan.spec;
    let (Some(limit), None) = (spec.slot_limit, &req.continues) else {
        return Ok(Submitted::Started(super::launch(ctx, plan)?));
    };
    let data = data_dir(ctx);
    let held_lock = lock(&data, true)?;
    if entry::exists(&data, &spec.id) {
        return Err(DispatchError::IdInUse {
            id: spec.id.clone(),
            what: entry::dir(&data).join(format!("{}.json", spec.id)),
        });
    }
    drain_locked(ctx, &data)?;
    let start_by = ticket.start_by.map(rfc3339);
    let t = (ticket.priority, start_by.clone());
    let running = claims::held(&data, &spec.provider, |o| holder_alive(&data, o)).len();
    let waiting: Vec<Entry> = entry::all(&data)
        .into_iter()
        .filter(|e| e.provider == spec.provider)
        .collect();
    if (running as u32) < limit && waiting.is_empty() {
        let why = format!(
            "a {} slot is free ({running} of {limit} held)",
            spec.provider
        );
        let d = decision(
            &spec.id,
            &spec.provider,
            QueueVerdict::Admitted,
            limit,
            running,
            t,
            why,
        );
        return start_claimed(ctx, &data, plan, d).map(Submitted::Started);
    }
    let rule = ctx.project.load_config()?.queue.rule(&spec.provider);
    let full = format!("every {} slot ({limit}) is taken", spec.provider);
    let rejection = if rule.policy == crate::config::QueuePolicy::Reject {
        Some(format!("{full} and the queue policy is reject"))
    } else if let Some(max) = rule.max_length.filter(|m| waiting.len() as u32 >= *m) {
        Some(format!(
            "{full} and its queue is full ({} of max_length {max})",
            waiting.len()
        ))
    } else if ticket.start_by.is_some_and(|t| t < jiff::Timestamp::now()) {
        Some(format!(
            "{full} and its latest start time {} has passed",
            t.1.clone().unwrap_or_default()
        ))
    } else {
        None
    };
    if let Some(reason) = rejection {
        let d = decision(
            &spec.id,
            &spec.provider,
            QueueVerdict::Rejected,
            limit,
            running,
            t,
            reason.clone(),
        );
        record(ctx, &spec.ledger, d)?;
        return Err(DispatchError::Rejected {
            id: spec.id.clone(),
            provider: spec.provider.clone(),
            reason,
        });
    }
    let e = Entry {
        id: spec.id.clone(),
        provider: spec.provider.clone(),
        priority: ticket.priority,
        start_by,
        seq: entry::all(&data)
            .iter()
            .map(|e| e.seq + 1)
            .max()
            .unwrap_or(0),
        queued_at: now_utc(),
        capacity: limit,
        base_commit: spec.base_commit.clone(),
        base_ref: plan.base_ref.clone(),
        ledger: spec.ledger.clone(),
        tmux_socket: spec.tmux_socket.clone(),
        request: entry::QueuedRequest::of(req),
    };
    let path = entry::write(&data, &e).map_err(io_err(&entry::dir(&data)))?;
    let mut all = entry::all(&data);
    all.retain(|x| x.provider == spec.provider);
    let position = entry::positions(&all).get(&spec.id).copied().unwrap_or(0);
    let mut d = decision(
        &spec.id,
        &spec.provider,
        QueueVerdict::Queued,
        limit,
        running,
        t,
        full,
    );
    d.queue_position = Some(position);
    if let Err(err) = record(ctx, &spec.ledger, d) {
        let _ = std::fs::remove_file(path);
        return Err(err);
    }
    drop(held_lock);
    Ok(Submitted::Queued {
        id: spec.id.clone(),
        position,
        capacity: limit,
    })
}

/// Claims a slot for a planned dispatch, records its admission and launches it; a launch
/// that fails gives the slot back and records `failed`. Called under the queue lock.
fn start_claimed(
    ctx: &Context<'_>,
    data: &Path,
    plan: &Plan,
    admitted: QueueDecision,
) -> Result<Launched, DispatchError> {
    let spec = &plan.spec;
    let limit = admitted.capacity;
    let slots = data.join(claims::SLOTS_DIR);
    if claims::claim(data, &spec.provider, limit, &spec.id)
        .map_err(io_err(&slots))?
        .is_none()
    {
        // Only a config whose limit shrank below the claims' slot numbers gets here.
        return Err(io_err(&slots)(std::io::Error::other(
            "no free slot to claim",
        )));
    }
    let mut failed = admitted.clone();
    if let Err(e) = record(ctx, &spec.ledger, admitted) {
        claims::release(data, &spec.provider, &spec.id);
        return Err(e);
    }
    super::launch(ctx, plan).inspect_err(|e| {
        claims::release(data, &spec.provider, &spec.id);
        failed.decision = QueueVerdict::Failed;
        failed.reason = format!("it could not start: {e}");
        let _ = record(ctx, &spec.ledger, failed);
    })
}

/// What a drain did.
#[derive(Debug, Default)]
pub struct Drained {
    /// Dispatches it started.
    pub started: Vec<String>,
    /// Dispatches it closed: past their latest start time, or failing to start (id, why).
    pub closed: Vec<(String, QueueVerdict, String)>,
}

/// Drains the queue if anything is queued: closes entries past their latest start time and
/// starts the best entries of each provider while it has free slots. `wait`: take the lock
/// even if another process holds it (a finishing supervisor must); else leave the drain to
/// whoever holds it.
pub fn recover(ctx: &Context<'_>, wait: bool) -> Result<Drained, DispatchError> {
    let data = data_dir(ctx);
    if !entry::any(&data) {
        return Ok(Drained::default());
    }
    match lock(&data, wait)? {
        Some(_held) => drain_locked(ctx, &data),
        None => Ok(Drained::default()),
    }
}

/// Gives up a finished dispatch's slot claim; then its supervisor drains the queue with
/// [`recover`].
pub fn finished(data_dir: &Path, provider: &str, id: &str) {
    claims::release(data_dir, provider, id);
}

fn drain_locked(ctx: &Context<'_>, data: &Path) -> Result<Drained, DispatchError> {
    let mut done = Drained::default();
    let entries = entry::all(data);
    if entries.is_empty() {
        return Ok(done);
    }
    let config = ctx.project.load_config()?;
    let now = jiff::Timestamp::now();
    // Slots held, judged once per provider per drain: a slot freed while this drain runs
    // (a supervisor gives its claim up without the lock) is left to that supervisor's own
    // drain, so an entry further back never starts before the ones ahead of it.
    let mut running: BTreeMap<String, usize> = BTreeMap::new();
    for e in entries {
        let limit = config.concurrency.get(&e.provider).copied();
        let held = *running
            .entry(e.provider.clone())
            .or_insert_with(|| claims::held(data, &e.provider, |o| holder_alive(data, o)).len());
        let t = (e.priority, e.start_by.clone());
        let capacity = limit.unwrap_or(e.capacity);
        if e.expired(now) {
            let why = format!(
                "its latest start time {} passed while every {} slot was taken",
                e.start_by.as_deref().unwrap_or("?"),
                e.provider
            );
            let d = decision(
                &e.id,
                &e.provider,
                QueueVerdict::Expired,
                capacity,
                held,
                t,
                why.clone(),
            );
            record(ctx, &e.ledger, d)?;
            entry::remove(data, &e.id);
            done.closed.push((e.id, QueueVerdict::Expired, why));
            continue;
        }
        if limit.is_some_and(|l| held as u32 >= l) {
            continue;
        }
        let why = format!(
            "a {} slot came free ({held} of {capacity} held)",
            e.provider
        );
        let admitted = decision(
            &e.id,
            &e.provider,
            QueueVerdict::Admitted,
            capacity,
            held,
            t,
            why,
        );
        match start_entry(ctx, data, &e, admitted, limit.is_some()) {
            Ok(_) => {
                done.started.push(e.id.clone());
                running.insert(e.provider.clone(), held + 1);
            }
            Err(err) => {
                let why = format!("it could not start: {}", error_chain(&err));
                done.closed.push((e.id.clone(), QueueVerdict::Failed, why));
            }
        }
        entry::remove(data, &e.id);
    }
    Ok(done)
}

/// Plans a queued dispatch again (from the base commit resolved when it was queued) and
/// starts it: with a claimed slot when its provider has a limit. A plan that fails now is
/// recorded as `failed`.
fn start_entry(
    ctx: &Context<'_>,
    data: &Path,
    e: &Entry,
    admitted: QueueDecision,
    limited: bool,
) -> Result<Launched, DispatchError> {
    let tmux = Tmux::new(&e.tmux_socket);
    let ctx = Context {
        tmux: &tmux,
        ledger: &e.ledger,
        ..*ctx
    };
    let planned = super::plan(&ctx, &e.request()).map(|mut p| {
        p.base_ref = e.base_ref.clone();
        p
    });
    let plan = match planned {
        Ok(p) => p,
        Err(err) => {
            let mut failed = admitted;
            failed.decision = QueueVerdict::Failed;
            failed.reason = format!("it could not start: {}", error_chain(&err));
            let _ = record(&ctx, &e.ledger, failed);
            return Err(err);
        }
    };
    if limited {
        start_claimed(&ctx, data, &plan, admitted)
    } else {
        record(&ctx, &e.ledger, admitted)?;
        super::launch(&ctx, &plan)
    }
}

/// Cancels queued dispatch `id`: removes its entry and records `cancelled`. `false` when it
/// is not queued (it may have started meanwhile).
pub fn cancel(ctx: &Context<'_>, id: &str) -> Result<bool, DispatchError> {
    let data = data_dir(ctx);
    let _held = lock(&data, true)?;
    let Some(e) = entry::read(&data, id) else {
        return Ok(false);
    };
    let running = claims::held(&data, &e.provider, |o| holder_alive(&data, o)).len();
    let d = decision(
        &e.id,
        &e.provider,
        QueueVerdict::Cancelled,
        e.capacity,
        running,
        (e.priority, e.start_by.clone()),
        "cancelled while queued (vnx cancel)".into(),
    );
    record(ctx, &e.ledger, d)?;
    entry::remove(&data, id);
    Ok(true)
}

/// A queued dispatch as `status`, `show` and the dashboard show it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Place {
    /// Its 1-based place among its provider's queued dispatches.
    pub position: u32,
    /// Its provider.
    pub provider: String,
    /// Its role.
    pub role: String,
    /// The model it asked for.
    pub model: Option<String>,
    /// Its priority.
    pub priority: i32,
    /// Its latest start time, if any.
    pub start_by: Option<String>,
    /// When it was queued.
    pub queued_at: String,
}

/// Every queued dispatch's place, by id (read without the lock: a snapshot).
pub fn places(data_dir: &Path) -> std::collections::BTreeMap<String, Place> {
    let all = entry::all(data_dir);
    let positions = entry::positions(&all);
    all.into_iter()
        .map(|e| {
            let place = Place {
                position: positions.get(&e.id).copied().unwrap_or(0),
                provider: e.provider,
                role: e.request.role,
                model: e.request.model,
                priority: e.priority,
                start_by: e.start_by,
                queued_at: e.queued_at,
            };
            (e.id, place)
        })
        .collect()
}

/// An error and its causes on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
