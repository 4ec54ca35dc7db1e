//! Dispatches as the ledger and tmux show them: which started, which completed and how (a
//! phantom guard's correction overriding the completion's status), which are still running,
//! and which lost their supervisor; and waiting for completions.
//!
//! The states are projected from the dispatches' records (`dispatch::fold`) into
//! `dispatch::state`'s types (re-exported here): every dispatch's state in `list`, one
//! dispatch's receipts in `lookup`, and waiting for dispatches to settle in `wait`.

mod list;
mod lookup;
mod resolve;
mod wait;

pub use list::{
    Sessions, StatesRead, into_states_verified, list, list_with, read_states, recent,
    remote_given_up, remote_live, states_of,
};
pub use lookup::{
    Completion, Correction, completion, correction, has_ended, remote_lost, remote_lost_at,
    remote_of, session_of, started,
};
pub use resolve::{ResolveError, resolve, resolve_with};
pub use wait::{WaitEvent, Waited, wait, wait_with};

pub use crate::dispatch::queue::mark_positions;
pub use crate::dispatch::state::{
    DispatchState, Landed, Proof, QueueInfo, STATUSES, State, VerifiedFrom, mark_verified,
    mark_verified_from,
};

/// Whether the dispatches that ran in the place named `place` (of `states`) need it no more:
/// at least one ran there and each either landed (merged or released) or ended given up
/// (failed, timed out, cancelled, or a question dismissed); none runs, waits, is queued or
/// lost (`vnx resume` continues on its storage) or is done with its work not landed (a
/// follow-up continues there). The status of the last of them; `None` when it is needed.
pub fn place_left_over(
    states: &[DispatchState],
    place: &crate::place_name::PlaceName,
) -> Option<&'static str> {
    use crate::dispatch::state::State;
    use crate::receipts::DispatchStatus as S;
    let there: Vec<&DispatchState> = (states.iter())
        .filter(|s| s.place.place() == Some(place))
        .collect();
    let given_up = |s: &DispatchState| match s.state {
        State::Ended(S::Failed | S::Timeout | S::Cancelled) => true,
        State::Ended(S::NeedsInput) => s.dismissed.is_some(),
        _ => false,
    };
    let unneeded = there.iter().all(|s| s.landed.is_some() || given_up(s));
    (unneeded && !there.is_empty()).then(|| there.last().map_or("ended", |s| s.state.name()))
}
