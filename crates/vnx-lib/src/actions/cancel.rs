//! Stopping dispatches (`vnx cancel`, the dashboard's `c`): a queued one taken out of its
//! queue, a running one's supervisor told to stop (it writes the completion), a lost one
//! closed with the completion it never got. Queued ones go first: a running one stopped first
//! would hand its slot to them.

use super::remote::Answered;
use super::{ActionError, Desk};
use crate::dispatch::cancel::{self, Cancelled};
use crate::dispatch::view::{DispatchState, State};
use crate::ids::DispatchId;
use crate::place_name::PlaceName;
use crate::receipts::{DispatchCancelRequested, DispatchStatus};
use crate::remote::RemoteError;

/// What became of one dispatch asked to stop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// It runs on a host: that host's vnx must cancel it (the front end asks it).
    OnHost(PlaceName),
    /// Its supervisor (this pid) was told to stop; it writes the completion.
    Signalled(u32),
    /// It had started when its queue entry was to be taken: its supervisor (this pid) was
    /// told to stop.
    StartedMeanwhile(u32),
    /// It was lost: its completion was written now (this receipt hash).
    Closed(String),
    /// It was queued and is taken out of its queue, recorded `cancelled`.
    Dequeued,
    /// It had ended already.
    AlreadyEnded(DispatchStatus),
    /// It had expired in its queue.
    Expired,
    /// It left its queue meanwhile and does not run.
    NoLongerQueued,
    /// It could not be reached (why).
    Unreachable(String),
}

impl Stopped {
    /// Whether it is stopped, or stopping, as asked (a dispatch that had ended is too).
    pub fn as_asked(&self) -> bool {
        !matches!(self, Stopped::Unreachable(_) | Stopped::NoLongerQueued)
    }

    /// The line that says so.
    pub fn line(&self) -> String {
        match self {
            Stopped::OnHost(host) => format!("runs on host {host}: cancelled there"),
            Stopped::Signalled(pid) => format!("told its supervisor (pid {pid}) to stop"),
            Stopped::StartedMeanwhile(pid) => {
                format!("started meanwhile; told its supervisor (pid {pid}) to stop")
            }
            Stopped::Closed(hash) => format!(
                "cancelled (closed lost; receipt {})",
                &hash[..12.min(hash.len())]
            ),
            Stopped::Dequeued => "cancelled (taken out of the queue)".into(),
            Stopped::AlreadyEnded(status) => {
                format!("already ended ({status}); nothing to cancel")
            }
            Stopped::Expired => "already ended (expired in the queue); nothing to cancel".into(),
            Stopped::NoLongerQueued => "no longer queued, and not running".into(),
            Stopped::Unreachable(why) => format!("could not cancel: {why}"),
        }
    }
}

/// What became of one dispatch asked to stop: stopped here, or asked of the place it runs in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OneStopped {
    /// Stopped here (or not, as it says).
    Here(Stopped),
    /// It runs in place `place`, whose vnx was asked to cancel it.
    OnHost {
        /// The place.
        place: PlaceName,
        /// That vnx's exit status (`None`: a signal ended it).
        status: Option<i32>,
        /// The last line it printed.
        said: String,
    },
}

impl OneStopped {
    /// Whether it is stopped, or stopping, as asked.
    pub fn as_asked(&self) -> bool {
        match self {
            OneStopped::Here(stopped) => stopped.as_asked(),
            OneStopped::OnHost { status, .. } => *status == Some(0),
        }
    }

    /// The line that says so.
    pub fn line(&self) -> String {
        match self {
            OneStopped::Here(stopped) => stopped.line(),
            OneStopped::OnHost { place, said, .. } => format!("{place}: {said}"),
        }
    }
}

/// Stops dispatch `id` as [`cancel()`] does and, when it runs in a place, has that place's vnx
/// cancel it ([`on_place`]): what the dashboard, the page and the MCP server do.
pub fn cancel_one(desk: &Desk<'_>, id: &DispatchId) -> Result<OneStopped, ActionError> {
    let states = desk.states()?;
    let chosen = Desk::named(&states, std::slice::from_ref(id))?;
    let (_, stopped) = cancel(desk, chosen)?.remove(0);
    let Stopped::OnHost(place) = stopped else {
        return Ok(OneStopped::Here(stopped));
    };
    let answered = on_place(desk, &place, id)?;
    let said = answered
        .stdout
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    Ok(OneStopped::OnHost {
        place,
        status: answered.status,
        said,
    })
}

/// Has `place`, where dispatch `id` runs, cancel it with its own vnx
/// ([`super::remote::ask`]), as every front end does. A place gone before it answered is no
/// failed cancel when the dispatch has ended here meanwhile (within 15 s): the process
/// that follows a dispatch to its end removes its place once that end is brought back, which
/// the cancel itself brings about. The answer then is the end recorded here.
pub fn on_place(
    desk: &Desk<'_>,
    place: &PlaceName,
    id: &DispatchId,
) -> Result<Answered, ActionError> {
    let args = ["cancel".to_owned(), id.to_string()];
    match super::remote::ask(desk, place, &args, std::slice::from_ref(id)) {
        Err(ActionError::Remote(gone)) if matches!(*gone, RemoteError::Gone { .. }) => {
            match once_not_live(desk, id)?.map(|s| s.state) {
                Some(State::Ended(status)) => Ok(Answered {
                    status: Some(0),
                    stdout: format!("{id}  {status}  (its place was removed once it ended)\n"),
                    stderr: String::new(),
                    not_caught_up: None,
                }),
                _ => Err(ActionError::Remote(gone)),
            }
        }
        answered => answered,
    }
}

/// The dispatches `vnx cancel --all` stops: every one live, lost or queued.
pub fn all_open(states: &[DispatchState]) -> Vec<&DispatchState> {
    states.iter().filter(|s| asks_to_stop(s.state)).collect()
}

/// Whether cancelling a dispatch in `state` stops something (one that ended or expired is
/// left as it is, and no request is recorded for it).
fn asks_to_stop(state: State) -> bool {
    state.is_live() || matches!(state, State::Lost | State::Queued)
}

/// Records who asked to stop `s`: a signed `dispatch_cancel_requested` naming `desk.by`,
/// written before the stop (the completion that follows is its supervisor's, which cannot
/// know who asked).
fn record_request(desk: &Desk<'_>, s: &DispatchState) -> Result<(), ActionError> {
    let receipt = DispatchCancelRequested {
        dispatch_id: s.id.clone(),
        by: desk.by.to_owned(),
        state: s.state.name().to_owned(),
        extra: Default::default(),
    };
    desk.record(&receipt)
}

/// How long a cancel waits for a dispatch that reads live but whose session is gone (its
/// tmux server died under it, and its supervisor is stopping its worker) to settle.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(15);

/// Dispatch `id` as it reads once it is not live any more, looked at again until then
/// (within [`SETTLE`]); `None` while it still reads live, or when it is not on the ledger.
fn once_not_live(desk: &Desk<'_>, id: &DispatchId) -> Result<Option<DispatchState>, ActionError> {
    let until = std::time::Instant::now() + SETTLE;
    while std::time::Instant::now() < until {
        let states = desk.states()?;
        match states.into_iter().find(|n| n.id == *id) {
            None => return Ok(None),
            Some(now) if !now.state.is_live() => return Ok(Some(now)),
            Some(_) => std::thread::sleep(std::time::Duration::from_millis(200)),
        }
    }
    Ok(None)
}

/// A dispatch `id` that reads live but could not be reached, once it is not live any more
/// ([`once_not_live`]): what became of it then (a lost one closed, an ended one left as it
/// ended); `None` while it still reads live.
fn settled(desk: &Desk<'_>, id: &DispatchId) -> Result<Option<Stopped>, ActionError> {
    let ctx = desk.ctx;
    let Some(now) = once_not_live(desk, id)? else {
        return Ok(None);
    };
    let data_dir = ctx.project.data_dir();
    Ok(
        match cancel::cancel(ctx.ledger, &data_dir, &now, ctx.tmux, ctx.attestor)? {
            Cancelled::Closed(hash) => {
                crate::dispatch::supervise::pending::unreserve(&data_dir, id);
                Some(Stopped::Closed(hash))
            }
            Cancelled::AlreadyEnded(status) => Some(Stopped::AlreadyEnded(status)),
            _ => None,
        },
    )
}

/// Stops each of `chosen` (queued ones first), each after a signed
/// `dispatch_cancel_requested` naming who asked, and says what became of each.
pub fn cancel(
    desk: &Desk<'_>,
    mut chosen: Vec<&DispatchState>,
) -> Result<Vec<(DispatchId, Stopped)>, ActionError> {
    chosen.sort_by_key(|s| s.state != State::Queued);
    let ctx = desk.ctx;
    let data_dir = ctx.project.data_dir();
    let mut out = Vec::new();
    for s in chosen {
        if asks_to_stop(s.state) {
            record_request(desk, s)?;
        }
        if let Some(place) = s.place.place().filter(|_| s.state.is_live()) {
            out.push((s.id.clone(), Stopped::OnHost(place.clone())));
            continue;
        }
        let stopped = match cancel::cancel(ctx.ledger, &data_dir, s, ctx.tmux, ctx.attestor)? {
            Cancelled::Signalled(pid) => Stopped::Signalled(pid),
            Cancelled::Closed(hash) => {
                // Its completion's space is not needed any more.
                crate::dispatch::supervise::pending::unreserve(&data_dir, &s.id);
                Stopped::Closed(hash)
            }
            Cancelled::AlreadyEnded(status) => Stopped::AlreadyEnded(status),
            Cancelled::Expired => Stopped::Expired,
            Cancelled::Unreachable(why) => {
                settled(desk, &s.id)?.unwrap_or(Stopped::Unreachable(why))
            }
            Cancelled::Queued if crate::dispatch::queue::cancel(ctx, &s.id)? => Stopped::Dequeued,
            // It left the queue meanwhile: it started (then it is stopped as any running
            // one), or its wait closed.
            Cancelled::Queued => {
                let now = desk.states()?;
                match now.iter().find(|n| n.id == s.id) {
                    Some(n) => {
                        match cancel::cancel(ctx.ledger, &data_dir, n, ctx.tmux, ctx.attestor)? {
                            Cancelled::Signalled(pid) => Stopped::StartedMeanwhile(pid),
                            _ => Stopped::NoLongerQueued,
                        }
                    }
                    None => Stopped::NoLongerQueued,
                }
            }
        };
        out.push((s.id.clone(), stopped));
    }
    Ok(out)
}
