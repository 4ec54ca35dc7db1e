//! Dispatches for remote hosts in the queue: a host's `capacity` counts the dispatches of this
//! machine that run there (as this ledger knows them). A dispatch for `any` host, or a named
//! one, starts at once when a host it may run on has a free slot and nobody waits for it;
//! otherwise it is queued in the hosts' line (or rejected by its provider's `queue:` rule),
//! with a signed `queue_decision` naming the host asked for. A drain starts the hosts' line
//! in order (priority, then arrival), each entry on the host it accepts with the most free
//! slots, and records the host in its `admitted` decision; a host out of reach is passed
//! over (the entry waits: a lost link is not a failure).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{
    Context, DispatchError, Drained, QueueDecision, QueueVerdict, Ticket, entry_decision, lock,
    record, rejection, rfc3339,
};
use crate::config::HostConfig;
use crate::dispatch::queue::entry::{self, Entry, HOSTS_LINE, QueuedRequest, RemoteEntry};
use crate::dispatch::view;
use crate::ids::DispatchId;
use crate::ledger::now_utc;
use crate::remote::{self, Link, RemoteError, RemoteLaunched, RemoteRequest};

/// What became of a dispatch for a remote host.
#[derive(Debug)]
pub enum RemoteSubmitted {
    /// It started on a host.
    Started(RemoteLaunched),
    /// It waits for a host with a free slot.
    Queued {
        /// The dispatch id.
        id: DispatchId,
        /// Its 1-based place in the hosts' line.
        position: u32,
        /// The slots of the hosts it may run on.
        capacity: u32,
    },
}

/// The hosts `target` accepts: every declared one for `any`, else the one named.
fn accepted<'a>(
    hosts: &'a BTreeMap<String, HostConfig>,
    target: &str,
) -> Result<Vec<&'a HostConfig>, RemoteError> {
    if target == crate::place_name::ANY {
        return Ok(hosts.values().collect());
    }
    Ok(vec![remote::host(hosts, target)?])
}

/// The live dispatches of this machine on each host, as the ledger says.
fn running(ctx: &Context<'_>) -> Result<BTreeMap<String, u32>, DispatchError> {
    let mut out = BTreeMap::new();
    if !ctx.ledger.exists() {
        return Ok(out);
    }
    for s in view::list(ctx.ledger, ctx.tmux)? {
        if let Some(place) = s.place.place().filter(|_| s.state.is_live()) {
            // A place made for a dispatch holds a slot of its host.
            *out.entry(place.host().to_owned()).or_default() += 1;
        }
    }
    Ok(out)
}

/// The free slots of `host`.
fn free(host: &HostConfig, running: &BTreeMap<String, u32>) -> u32 {
    host.capacity
        .saturating_sub(running.get(&host.name).copied().unwrap_or(0))
}

/// The slots of `hosts`, and how many of them are held.
fn usage(hosts: &[&HostConfig], running: &BTreeMap<String, u32>) -> (u32, usize) {
    let capacity = hosts.iter().map(|h| h.capacity).sum();
    let held = hosts
        .iter()
        .map(|h| running.get(&h.name).copied().unwrap_or(0) as usize)
        .sum();
    (capacity, held)
}

/// `hosts` with a free slot, the freest first (then by name).
fn with_room<'a>(hosts: &[&'a HostConfig], running: &BTreeMap<String, u32>) -> Vec<&'a HostConfig> {
    let mut room: Vec<&HostConfig> = hosts
        .iter()
        .copied()
        .filter(|h| free(h, running) > 0)
        .collect();
    room.sort_by_key(|h| (std::cmp::Reverse(free(h, running)), h.name.clone()));
    room
}

/// The link to the place dispatch `id` runs in on `host`.
fn link<'a>(
    ctx: &Context<'a>,
    host: &HostConfig,
    id: &DispatchId,
) -> Result<Link<'a>, RemoteError> {
    Ok(Link {
        project: ctx.project,
        ledger: ctx.ledger,
        attestor: ctx.attestor,
        place: remote::kinds::for_dispatch(host, id, ctx.here(&ctx.project.data_dir()))?,
    })
}

/// Whether the link's host cannot be used now, nothing being made there: out of reach,
/// without a vnx it can use, or refused (its ledger no longer extends the mirror). Another
/// host may be tried.
fn passed_over(e: &RemoteError) -> bool {
    matches!(
        e,
        RemoteError::Unreachable { .. }
            | RemoteError::VnxMissing { .. }
            | RemoteError::VnxTooOld { .. }
            | RemoteError::ChainBroken { .. }
    )
}

/// A queue decision about a dispatch for a remote host.
fn host_decision(
    e: &Entry,
    verdict: QueueVerdict,
    slots: (u32, usize),
    host: &str,
    reason: String,
) -> QueueDecision {
    let mut d = entry_decision(e, verdict, slots, reason);
    d.host = Some(host.to_owned());
    d
}

/// Starts a dispatch on `target` (`any`, or a host's name), or queues or rejects it when
/// every host it may run on is at its capacity. `shown` is the request as `status` shows it
/// while it is queued; `provider` names the provider it asks for (its `queue:` rule
/// applies). The queue is drained first, so dispatches already waiting go before this one;
/// one started at once is launched under the queue lock (no other decision sees its host's
/// slot free meanwhile).
pub fn submit_remote(
    ctx: &Context<'_>,
    target: &str,
    request: &RemoteRequest,
    shown: QueuedRequest,
    ticket: &Ticket,
) -> Result<RemoteSubmitted, DispatchError> {
    let config = ctx.project.load_config()?;
    let hosts = accepted(&config.hosts, target)?;
    let data = ctx.project.data_dir();
    let _held = lock(&data, true)?;
    let id = request.id.clone().unwrap_or_else(DispatchId::fresh);
    if entry::exists(&data, &id) {
        return Err(DispatchError::IdInUse {
            what: entry::dir(&data).join(format!("{id}.json")),
            id: id.into_string(),
        });
    }
    crate::dispatch::queue::drain::drain_locked(ctx, &data)?;
    let running = running(ctx)?;
    let waiting: Vec<Entry> = entry::all(&data)
        .into_iter()
        .filter(|e| e.remote.is_some())
        .collect();
    // A host a waiting dispatch may run on is theirs first.
    let theirs: BTreeSet<String> = waiting
        .iter()
        .filter_map(|e| e.remote.as_ref())
        .flat_map(|r| {
            accepted(&config.hosts, &r.host)
                .unwrap_or_default()
                .into_iter()
                .map(|h| h.name.clone())
        })
        .collect();
    let open: Vec<&HostConfig> = hosts
        .iter()
        .copied()
        .filter(|h| !theirs.contains(&h.name))
        .collect();
    let mut first_error = None;
    for host in with_room(&open, &running) {
        let request = RemoteRequest {
            id: Some(id.clone()),
            ..request.clone()
        };
        match remote::launch(&link(ctx, host, &id)?, &request) {
            Ok(launched) => return Ok(RemoteSubmitted::Started(launched)),
            // `any`: another host may do; nothing was made on this one.
            Err(e) if target == "any" && passed_over(&e) => {
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(e) = first_error {
        return Err(e.into());
    }
    let (base_commit, base_ref) = remote::launch::resolve_base(ctx.project, &request.base_ref)?;
    let e = Entry {
        id: id.clone(),
        provider: shown_provider(request, &shown),
        priority: ticket.priority,
        start_by: ticket.start_by.map(rfc3339),
        seq: entry::next_seq(&data),
        queued_at: now_utc(),
        capacity: usage(&hosts, &running).0,
        base_commit,
        base_ref,
        ledger: ctx.ledger.to_owned(),
        tmux_socket: ctx.tmux.socket().to_owned(),
        request: shown,
        remote: Some(RemoteEntry {
            host: target.to_owned(),
            args: request.args.clone(),
        }),
        held: None,
        started_by: ctx.by.map(str::to_owned),
        started_by_dispatch: ctx.by_worker.cloned(),
    };
    let slots = usage(&hosts, &running);
    let full = if target == "any" {
        format!("every host is at its capacity ({} slots)", slots.0)
    } else {
        format!("host {target} is at its capacity ({})", slots.0)
    };
    let rule = config.queue.rule(&e.provider);
    if let Some(reason) = rejection(rule, &full, waiting.len(), ticket) {
        let d = host_decision(&e, QueueVerdict::Rejected, slots, target, reason.clone());
        record(ctx, ctx.ledger, d)?;
        return Err(DispatchError::Rejected {
            id: id.into_string(),
            // As the hint says it: "when a host slot is free".
            provider: match target {
                "any" => "host".to_owned(),
                name => format!("host {name}"),
            },
            reason,
        });
    }
    let d = host_decision(&e, QueueVerdict::Queued, slots, target, full);
    let position = super::enqueue(ctx, &data, &e, d)?;
    Ok(RemoteSubmitted::Queued {
        id,
        position,
        capacity: slots.0,
    })
}

/// The provider a remote request names (`--provider`), else the one its model implies, else
/// the default: as a local dispatch resolves it, for the queue rule and for `status`.
fn shown_provider(request: &RemoteRequest, shown: &QueuedRequest) -> String {
    let named = request
        .args
        .iter()
        .position(|a| a == "--provider")
        .and_then(|i| request.args.get(i + 1));
    match (named, &shown.0.model) {
        (Some(p), _) => p.clone(),
        (None, Some(m)) => crate::provider::Provider::infer(m)
            .map(|p| p.name().to_owned())
            .unwrap_or_else(|_| m.clone()),
        (None, None) => crate::provider::Provider::DEFAULT.name().to_owned(),
    }
}

/// The slots a queued remote dispatch waits for, and how many are held (for a decision that
/// closes its wait).
pub(super) fn slots_of(ctx: &Context<'_>, e: &Entry) -> (u32, usize) {
    let (Some(r), Ok(config)) = (&e.remote, ctx.project.load_config()) else {
        return (e.capacity, 0);
    };
    let hosts = accepted(&config.hosts, &r.host).unwrap_or_default();
    let running = running(ctx).unwrap_or_default();
    usage(&hosts, &running)
}

/// Starts what it can of the hosts' line, in order: each entry on the host it accepts with
/// the most free slots. Called under the queue lock, after expired entries were closed.
pub(super) fn drain(
    ctx: &Context<'_>,
    data: &Path,
    entries: Vec<Entry>,
    done: &mut Drained,
) -> Result<(), DispatchError> {
    if entries.is_empty() {
        return Ok(());
    }
    let config = ctx.project.load_config()?;
    let mut running = running(ctx)?;
    // Hosts out of reach in this drain: passed over, their entries wait.
    let mut out_of_reach: BTreeSet<String> = BTreeSet::new();
    for e in entries {
        let Some(r) = &e.remote else { continue };
        let hosts = match accepted(&config.hosts, &r.host) {
            Ok(h) => h,
            Err(err) => {
                let why = format!("it could not start: {err}");
                let d = host_decision(&e, QueueVerdict::Failed, (e.capacity, 0), &r.host, why);
                record(ctx, &e.ledger, d.clone())?;
                entry::remove(data, &e.id);
                done.closed
                    .push((e.id.clone(), QueueVerdict::Failed, d.reason));
                continue;
            }
        };
        let reachable: Vec<&HostConfig> = hosts
            .iter()
            .copied()
            .filter(|h| !out_of_reach.contains(&h.name))
            .collect();
        for host in with_room(&reachable, &running) {
            let link = link(ctx, host, &e.id)?;
            // Checked first: a host out of reach gets no `admitted` it cannot honour (a place
            // made per dispatch does not exist before its launch, which checks the engine).
            let checked = if remote::kinds::per_dispatch(host) {
                Ok(remote::CatchUp::default())
            } else {
                remote::catch_up(&link, &[])
            };
            if let Err(err) = checked {
                if passed_over(&err) {
                    out_of_reach.insert(host.name.clone());
                    continue;
                }
                return Err(err.into());
            }
            let held = running.get(&host.name).copied().unwrap_or(0) as usize;
            let why = format!(
                "a slot came free on host {} ({held} of {} held)",
                host.name, host.capacity
            );
            let admitted = host_decision(
                &e,
                QueueVerdict::Admitted,
                (host.capacity, held),
                &host.name,
                why,
            );
            record(ctx, &e.ledger, admitted.clone())?;
            let request = RemoteRequest {
                id: Some(e.id.clone()),
                base_ref: e.base_ref.clone(),
                base_commit: Some(e.base_commit.clone()),
                args: r.args.clone(),
                follows: None,
                dispatcher: ctx.env.map(|env| remote::key_relay::Dispatcher {
                    env: crate::env_file::handed_on(env).into(),
                    vnx: ctx.vnx.to_path_buf(),
                    tmux_socket: ctx.tmux.socket().to_owned(),
                }),
            };
            match remote::launch(&link, &request) {
                Ok(_) => {
                    done.started.push(e.id.clone());
                    *running.entry(host.name.clone()).or_default() += 1;
                }
                Err(err) => {
                    let mut failed = admitted;
                    failed.decision = QueueVerdict::Failed;
                    failed.reason = format!("it could not start on host {}: {err}", host.name);
                    record(ctx, &e.ledger, failed.clone())?;
                    done.closed
                        .push((e.id.clone(), QueueVerdict::Failed, failed.reason));
                }
            }
            entry::remove(data, &e.id);
            break;
        }
    }
    Ok(())
}

/// Whether anything waits in the hosts' line.
pub fn any_waiting(data_dir: &Path) -> bool {
    entry::all(data_dir).iter().any(|e| e.line() == HOSTS_LINE)
}
