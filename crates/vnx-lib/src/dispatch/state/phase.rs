//! Where a dispatch is (`State`): queued, running (blocked, stalled, limited, paused), lost
//! or ended with a status; its name as `status` prints and filters it, and its form in the
//! read index.

use crate::receipts::DispatchStatus;

/// Every status `status` shows (see [`super::DispatchState::shown`]), for filters.
pub const STATUSES: [&str; 16] = [
    "queued",
    "expired",
    "running",
    "blocked",
    "stalled",
    "limited",
    "paused",
    "lost",
    "done",
    "failed",
    "needs_input",
    "timeout",
    "cancelled",
    "merged",
    "released",
    "unverified",
];

/// Where a dispatch is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting in the queue for a slot of its provider: nothing of it exists yet.
    Queued,
    /// Its latest start time passed while it was queued: it never started.
    Expired,
    /// Started, not completed, and its session, supervisor or worker lives.
    Running,
    /// Running, and its worker waits for a person (a permission prompt).
    Blocked,
    /// Running, and its worker has produced nothing for its stall time.
    Stalled,
    /// Running, and its worker was stopped by its provider's usage limit: its supervisor
    /// waits for the reset to continue it (ADR 0117).
    Limited,
    /// Running, and a person's pause stopped its worker: its supervisor waits for the pause
    /// to be lifted to continue it (ADR 0119).
    Paused,
    /// Not completed, and neither its session, its supervisor nor its worker lives.
    Lost,
    /// Completed (or corrected) with this status.
    Ended(DispatchStatus),
}

impl State {
    /// Whether the dispatch has not ended: running, blocked, stalled, limited or paused.
    pub fn is_live(self) -> bool {
        !matches!(
            self,
            State::Queued | State::Expired | State::Lost | State::Ended(_)
        )
    }

    /// The state as `status` prints it: `running`, `lost`, or the status.
    pub fn name(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Expired => "expired",
            State::Running => "running",
            State::Blocked => "blocked",
            State::Stalled => "stalled",
            State::Limited => "limited",
            State::Paused => "paused",
            State::Lost => "lost",
            State::Ended(s) => s.name(),
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl borsh::BorshSerialize for State {
    fn serialize<W: std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        let (tag, status) = match self {
            State::Queued => (0u8, None),
            State::Expired => (1, None),
            State::Running => (2, None),
            State::Blocked => (3, None),
            State::Stalled => (4, None),
            State::Lost => (5, None),
            State::Ended(s) => (6, Some(*s)),
            State::Limited => (7, None),
            State::Paused => (8, None),
        };
        borsh::BorshSerialize::serialize(&tag, w)?;
        crate::dispatch::state::ser_json(&status, w)
    }
}

impl borsh::BorshDeserialize for State {
    fn deserialize_reader<R: std::io::Read>(r: &mut R) -> std::io::Result<State> {
        let tag = u8::deserialize_reader(r)?;
        let status: Option<DispatchStatus> = crate::dispatch::state::de_json(r)?;
        Ok(match (tag, status) {
            (0, _) => State::Queued,
            (1, _) => State::Expired,
            (2, _) => State::Running,
            (3, _) => State::Blocked,
            (4, _) => State::Stalled,
            (5, _) => State::Lost,
            (6, Some(s)) => State::Ended(s),
            (7, _) => State::Limited,
            (8, _) => State::Paused,
            _ => return Err(std::io::Error::other("not a dispatch state")),
        })
    }
}

impl serde::Serialize for State {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}
