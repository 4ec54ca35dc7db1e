//! The limits a local worker ran under (`dispatch_started.limits`): the memory and processes
//! the project's `admission:` section allows each worker, and what held it to them.

use serde::{Deserialize, Serialize};

/// A local worker's memory and process limits, as its start records them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkerLimits {
    /// The most memory its processes may each take, in MB (their data segment,
    /// `RLIMIT_DATA`). Absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// The most processes its user may have while it forks (`RLIMIT_NPROC`, counted per user
    /// by the kernel). Absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<u64>,
    /// What held it to them: `prlimit` (util-linux). Absent: nothing could (the tool was
    /// missing), so the limits were asked for but not applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforced_by: Option<String>,
}
