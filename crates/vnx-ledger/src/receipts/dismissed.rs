//! `dispatch_dismissed`: a person's `vnx dismiss` of an ended dispatch's question they will
//! not answer. The dispatch no longer waits for anyone; nothing of its work changes (its
//! branch and worktree stay as they were, to merge, accept or release later).

use serde::{Deserialize, Serialize};

use crate::ids::DispatchId;

use super::Extra;
use super::merge::CompletionRef;

/// `dispatch_dismissed`: a person closed an ended dispatch's question without answering it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchDismissed {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// The completion whose question is dismissed (`needs_input`).
    pub completion: CompletionRef,
    /// The question, as the completion recorded it, when it recorded one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// Who dismissed it: the user `vnx` ran as.
    pub by: String,
    /// What the person said about it (`--note`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}
