//! `memory_promoted`: the project's memory for one coding CLI, whole, after a person promoted
//! what a dispatch's worker wrote to its memory (or dropped a lesson). The last one per CLI
//! is what the next dispatch of that CLI starts with; nothing a worker writes is loaded
//! otherwise.

use serde::{Deserialize, Serialize};

use crate::ids::DispatchId;

use super::Extra;

/// `memory_promoted`: the project's memory for `provider` after a promotion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MemoryPromoted {
    /// The CLI whose memory this is.
    pub provider: String,
    /// The dispatch whose worker wrote what was promoted; absent when a lesson was dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch_id: Option<DispatchId>,
    /// The files promoted from it (or dropped), by name.
    pub changed: Vec<String>,
    /// Every file of the project's memory for `provider` after this, with its text.
    pub files: Vec<MemoryFile>,
    /// Who promoted it: the user `vnx` ran as.
    pub by: String,
    /// What the person said about it (`--note`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One file of a CLI's memory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MemoryFile {
    /// Its name in the memory folder (`MEMORY.md`, a topic's `*.md`).
    pub name: String,
    /// The SHA-256 of its text, hex.
    pub sha256: String,
    /// Its text.
    pub text: String,
}
