//! `dispatch_cancel_requested`: who asked vnx to stop a dispatch (`vnx cancel`, the
//! dashboard, the web page, an agent through `vnx mcp --act`), written before the stop, so
//! the ledger names who cancelled even though the dispatch's completion is written by its
//! supervisor, which cannot know.

use serde::{Deserialize, Serialize};

use crate::ids::DispatchId;

use super::Extra;

/// `dispatch_cancel_requested`: a request to stop a dispatch, and whose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchCancelRequested {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// Who asked: the user `vnx` ran as, or the MCP client an agent acts through.
    pub by: String,
    /// What the dispatch was when asked: `running`, `blocked`, `stalled`, `lost` or
    /// `queued`.
    pub state: String,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}
