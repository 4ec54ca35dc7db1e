//! Pausing (`vnx pause`, ADR 0119): `paused` says a person stopped new launches in a scope
//! (everything, a provider, a role or a place) and whether running workers were asked to
//! stop now; `pause_lifted` says the scope goes on again (`vnx resume`); `dispatch_paused`
//! says a dispatch's worker was stopped by a pause and waits, its session and worktree kept,
//! for it to be lifted (a `dispatch_resumed` whose `after` is `paused` says it went on).

use serde::{Deserialize, Serialize};

use crate::ids::DispatchId;

use super::{DispatchResumed, Extra, RemoteOrigin};

/// `paused`: new launches in `scope` stopped by a person.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Paused {
    /// What is paused: `all`, `provider:NAME`, `role:NAME` or `place:NAME` (`place:here` is
    /// this machine).
    pub scope: String,
    /// Who paused: the user `vnx` ran as.
    pub by: String,
    /// Whether running headless workers in the scope were asked to stop at once (their
    /// sessions kept); otherwise each ends its turn as it would.
    pub now: bool,
    /// The dispatches asked to stop at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stopping: Vec<DispatchId>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `pause_lifted`: a paused scope goes on again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PauseLifted {
    /// The scope, as its `paused` named it.
    pub scope: String,
    /// Who lifted it: the user `vnx` ran as.
    pub by: String,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `dispatch_paused`: a pause stopped the dispatch's worker; its supervisor waits, the
/// session and worktree kept, until the pause is lifted or a person continues it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchPaused {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// The pause's scope (`paused.scope`).
    pub scope: String,
    /// Set when the receipt was written on a remote host and re-attested here: which line of
    /// the host's ledger it came from (see [`RemoteOrigin`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteOrigin>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

impl DispatchPaused {
    /// In words, as `status` shows it: `paused (all): vnx resume continues it`.
    pub fn describe(&self) -> String {
        format!(
            "paused ({}): `vnx resume` continues it in its session",
            self.scope
        )
    }
}

impl DispatchResumed {
    /// [`DispatchResumed::after`] for a dispatch a pause stopped.
    pub const AFTER_PAUSED: &'static str = "paused";
}
