//! Draining the queue: under the queue lock, entries past their latest start time are closed
//! (`expired`), and each provider's first entries start while it has free slots (and no usage
//! limit holds it, and this machine meets the floors of `admission:`, read once a drain), each
//! planned again from its recorded base commit and launched as any dispatch. An entry of
//! `--after` starts only once its dependencies reached what they had to, from a base holding
//! their work; one they hold is recorded `held` once for each new reason.

use crate::ids::{CommitId, DispatchId};
use crate::place_name::Where;
use crate::receipts::Dependencies;
use std::collections::BTreeMap;
use std::path::Path;

use super::{
    Context, DispatchError, Entry, Launched, QueueDecision, QueueVerdict, claim_and_record, claims,
    entry, entry_decision, holder_alive, launch_claimed, lock, record,
};
use crate::tmux::Tmux;

/// What a drain did.
#[derive(Debug, Default)]
pub struct Drained {
    /// Dispatches it started.
    pub started: Vec<DispatchId>,
    /// Dispatches it closed: past their latest start time, or failing to start (id, why).
    pub closed: Vec<(DispatchId, QueueVerdict, String)>,
}

/// Drains the queue if anything is queued: closes entries past their latest start time and
/// starts the best entries of each provider while it has free slots. `wait`: take the lock
/// even if another process holds it (a finishing supervisor must); else leave the drain to
/// whoever holds it.
pub fn recover(ctx: &Context<'_>, wait: bool) -> Result<Drained, DispatchError> {
    let data = ctx.project.data_dir();
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
pub fn finished(data_dir: &Path, provider: &str, id: &DispatchId) {
    claims::release(data_dir, provider, id);
}

pub(super) fn drain_locked(ctx: &Context<'_>, data: &Path) -> Result<Drained, DispatchError> {
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
    let mut holds: BTreeMap<String, bool> = BTreeMap::new();
    let pauses = super::paused::all(data);
    // This machine's room, read once a drain (at its first local entry): below a floor of
    // `admission:`, no local entry starts.
    let mut short: Option<bool> = None;
    let mut for_hosts = Vec::new();
    let graph = match entries.iter().any(|e| e.request.0.after.is_some()) {
        true => Some(super::after::Graph::read(ctx, &entries, None)?),
        false => None,
    };
    for e in entries {
        if e.remote.is_some() {
            if e.expired(now) {
                let slots = crate::dispatch::queue::remote::slots_of(ctx, &e);
                close_expired(ctx, data, e, slots, &mut done)?;
            } else if !paused(&pauses, &e) {
                for_hosts.push(e);
            }
            continue;
        }
        // Held by a usage limit (read once a provider), it moves where its role says (ADR
        // 0120); an entry past its latest start time is closed where it is.
        let is_held = |p: &str, holds: &mut BTreeMap<String, bool>| {
            *(holds.entry(p.to_owned())).or_insert_with(|| super::held::holding(data, p).is_some())
        };
        let e = match is_held(&e.provider, &mut holds) && !e.expired(now) {
            true => super::failover::move_entry(ctx, data, &config, e)?,
            false => e,
        };
        let limit = config.concurrency.get(&e.provider).copied();
        let held = *running
            .entry(e.provider.clone())
            .or_insert_with(|| claims::held(data, &e.provider, |o| holder_alive(data, o)).len());
        let capacity = limit.unwrap_or(e.capacity);
        if e.expired(now) {
            close_expired(ctx, data, e, (capacity, held), &mut done)?;
            continue;
        }
        // Its dependencies first: waiting, or held (recorded once for each reason).
        let met = match (&e.request.0.after, &graph) {
            (Some(awaited), Some(graph)) => match graph.judge(awaited) {
                super::after::Judged::Met(met) => Some((awaited, met)),
                super::after::Judged::Waiting(_) => continue,
                super::after::Judged::Held(why) => {
                    hold(ctx, data, e, (capacity, held), &why)?;
                    continue;
                }
            },
            _ => None,
        };
        // Full, or held by a usage limit until its reset (ADR 0117), or paused (ADR 0119).
        let on_hold = is_held(&e.provider, &mut holds);
        if limit.is_some_and(|l| held as u32 >= l) || on_hold || paused(&pauses, &e) {
            continue;
        }
        let floors = config.admission.floors();
        if *short.get_or_insert_with(|| crate::admission::shortfall(data, &floors).is_some()) {
            continue;
        }
        let why = match limit {
            Some(_) => format!(
                "a {} slot came free ({held} of {capacity} held)",
                e.provider
            ),
            None => format!(
                "{} is not held by a usage limit or a pause, and this machine has room",
                e.provider
            ),
        };
        let admitted = entry_decision(&e, QueueVerdict::Admitted, (capacity, held), why);
        let base = match met {
            Some((awaited, met)) => {
                let repo = crate::worktree::Repo::for_project(ctx.project)?;
                let on = (&e.id, e.base_ref.as_str());
                match super::after::base(ctx, &repo, on, awaited, &met) {
                    Ok(base) => Some(base),
                    Err(no) => {
                        hold(ctx, data, e, (capacity, held), &no.describe())?;
                        continue;
                    }
                }
            }
            None => None,
        };
        match start_entry(ctx, data, &e, (admitted, base), limit.is_some()) {
            Ok(_) => {
                done.started.push(e.id.clone());
                running.insert(e.provider.clone(), held + 1);
            }
            Err(err) => {
                let why = format!("it could not start: {}", crate::dispatch::error_chain(&err));
                done.closed.push((e.id.clone(), QueueVerdict::Failed, why));
            }
        }
        entry::remove(data, &e.id);
    }
    crate::dispatch::queue::remote::drain(ctx, data, for_hosts, &mut done)?;
    Ok(done)
}

/// Records that a dependency holds queued entry `e` (`why`), unless its last `held` said
/// so already; `(capacity, held)` of the slots it waits for.
pub(super) fn hold(
    ctx: &Context<'_>,
    data: &Path,
    mut e: Entry,
    (capacity, held): (u32, usize),
    why: &str,
) -> Result<(), DispatchError> {
    if e.held.as_deref() == Some(why) {
        return Ok(());
    }
    let mut d = entry_decision(&e, QueueVerdict::Held, (capacity, held), why.to_owned());
    d.after = e.request.0.after.clone();
    record(ctx, &e.ledger, d)?;
    e.held = Some(why.to_owned());
    entry::write(data, &e).map_err(crate::dispatch::io_err(&entry::dir(data)))?;
    Ok(())
}

/// Whether a pause a person set covers a queued entry (ADR 0119).
fn paused(pauses: &[super::paused::Pause], e: &Entry) -> bool {
    let place = Where::recorded(e.remote.as_ref().map(|r| r.host.as_str()));
    let subject = super::paused::Subject {
        provider: &e.provider,
        role: &e.request.0.role,
        place: &place,
    };
    super::paused::covering_in(pauses, &subject).is_some()
}

/// Closes an entry past its latest start time (`expired`); `(capacity, held)` of the slots it
/// waited for.
fn close_expired(
    ctx: &Context<'_>,
    data: &Path,
    e: Entry,
    (capacity, held): (u32, usize),
    done: &mut Drained,
) -> Result<(), DispatchError> {
    let waited_for = match &e.remote {
        Some(r) if r.host == "any" => "every host was at its capacity".to_owned(),
        Some(r) => format!("host {} was at its capacity", r.host),
        None => format!("every {} slot was taken", e.provider),
    };
    let why = format!(
        "its latest start time {} passed while {waited_for}",
        e.start_by.as_ref().map(|i| i.as_str()).unwrap_or("?"),
    );
    let d = entry_decision(&e, QueueVerdict::Expired, (capacity, held), why.clone());
    record(ctx, &e.ledger, d)?;
    entry::remove(data, &e.id);
    done.closed.push((e.id, QueueVerdict::Expired, why));
    Ok(())
}

/// Plans a queued dispatch again (from the base commit resolved when it was queued) and
/// starts it: with a claimed slot when its provider has a limit. A plan that fails now is
/// recorded as `failed`.
fn start_entry(
    ctx: &Context<'_>,
    data: &Path,
    e: &Entry,
    (admitted, base): (QueueDecision, Option<(CommitId, Dependencies)>),
    limited: bool,
) -> Result<Launched, DispatchError> {
    let tmux = Tmux::new(&e.tmux_socket);
    // The environment of the command that queued it (ADR 0038); an entry queued without one
    // starts in the draining command's.
    let kept = crate::env_file::take(&entry::env_path(data, &e.id))
        .ok()
        .flatten();
    // Who asked for it, not whose command drains the queue (an entry queued before they
    // were kept: the draining command's).
    let ctx = Context {
        tmux: &tmux,
        ledger: &e.ledger,
        env: kept.as_deref().or(ctx.env),
        by: e.started_by.as_deref().or(ctx.by),
        by_worker: e.started_by_dispatch.as_ref().or(ctx.by_worker),
        ..*ctx
    };
    let mut request = e.request();
    let (base, after) = base.unzip();
    if let Some(commit) = base {
        request.base_ref = commit.to_string();
    }
    let planned = crate::dispatch::plan(&ctx, &request).map(|mut p| {
        p.base_ref = e.base_ref.clone();
        p.spec.after = after;
        p
    });
    let plan = match planned {
        Ok(p) => p,
        Err(err) => {
            let mut failed = admitted;
            failed.decision = QueueVerdict::Failed;
            failed.reason = format!("it could not start: {}", crate::dispatch::error_chain(&err));
            let _ = record(&ctx, &e.ledger, failed);
            return Err(err);
        }
    };
    if limited {
        // A launch that fails gives the slot back and records `failed`.
        let claimed = claim_and_record(&ctx, data, &plan, admitted)?;
        launch_claimed(&ctx, data, &plan, claimed)
    } else {
        record(&ctx, &e.ledger, admitted)?;
        crate::dispatch::launch(&ctx, &plan)
    }
}
