//! Best-of-N groups: one task sent to several providers or models at once as one linked
//! group (`start`), each candidate a normal dispatch whose `dispatch_started` names the
//! group; the group as the ledger's attested receipts hold it (`read`); the role's gates run
//! on every result and a winner picked by the documented rule (`rule`, ADR 0029) and
//! recorded with every candidate's evidence in a `group_decision` (`decide`); and whether a
//! candidate may merge while its group has another winner (`read::merge_standing`).

pub mod decide;
pub mod read;
pub mod rule;
pub mod start;

use std::path::PathBuf;

use crate::dispatch::DispatchError;
use crate::gate::GateError;
use crate::ledger::LedgerError;

pub use decide::decide;
pub use read::{Group, merge_standing, read};
pub use start::{Candidate, Started, start};

/// The fewest candidates a group takes.
pub const MIN_CANDIDATES: usize = 2;
/// The most candidates a group takes.
pub const MAX_CANDIDATES: usize = 8;

pub use crate::ids::is_group_id;

/// Why a group could not be started, read or decided.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// Fewer than two or more than eight candidates.
    #[error("a group takes {MIN_CANDIDATES} to {MAX_CANDIDATES} candidates, not {count}")]
    CandidateCount {
        /// How many were given.
        count: usize,
    },
    /// A candidate that is not `PROVIDER[:MODEL]`.
    #[error("candidate {given:?} is not PROVIDER[:MODEL]")]
    BadCandidate {
        /// What was given.
        given: String,
    },
    /// The group id is on the ledger already.
    #[error("group id {id} was used before: the ledger records it")]
    IdInUse {
        /// The id asked for.
        id: String,
    },
    /// No attested receipt names the group.
    #[error("group {id} is not on the ledger {ledger}")]
    Unknown {
        /// The group asked about.
        id: String,
        /// The ledger read.
        ledger: PathBuf,
    },
    /// A candidate could not be planned (nothing of the group was launched).
    #[error("candidate {index} ({candidate}) could not be planned")]
    Plan {
        /// Its position, from 1.
        index: usize,
        /// `PROVIDER[:MODEL]`.
        candidate: String,
        /// Why.
        #[source]
        source: Box<DispatchError>,
    },
    /// A candidate's gates could not be run.
    #[error("the gates of candidate {id} could not run")]
    Gate {
        /// The candidate's dispatch.
        id: String,
        /// Why.
        #[source]
        source: Box<GateError>,
    },
    /// The ledger could not be read or written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl GroupError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            GroupError::CandidateCount { .. } | GroupError::BadCandidate { .. } => Some(
                "give each candidate as --candidate PROVIDER[:MODEL], e.g. --candidate \
                 demo:commit --candidate demo:ask"
                    .into(),
            ),
            GroupError::IdInUse { .. } => Some("leave out --group to get a fresh id".into()),
            GroupError::Unknown { .. } => {
                Some("`vnx best-of` prints the group id it starts".into())
            }
            GroupError::Plan { source, .. } => source.hint(),
            GroupError::Gate { source, .. } => source.hint(),
            GroupError::Ledger(e) => e.hint(),
        }
    }
}
