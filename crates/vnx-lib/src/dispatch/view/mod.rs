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
    remote_given_up, remote_live, state_of, states_of,
};
pub use lookup::{
    Completion, Correction, completion, correction, remote_lost, remote_lost_at, remote_of,
    session_of, started,
};
pub use resolve::{ResolveError, resolve, resolve_with};
pub use wait::{WaitEvent, Waited, wait, wait_with};

pub use crate::dispatch::state::{
    DispatchState, Landed, Proof, QueueInfo, STATUSES, State, VerifiedFrom, mark_positions,
    mark_verified, mark_verified_from,
};
