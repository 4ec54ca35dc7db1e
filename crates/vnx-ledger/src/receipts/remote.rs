//! Receipts about dispatches on remote hosts: `remote_receipt`, one line of a host's own
//! ledger mirrored byte for byte with its position and hashes (so the host's chain segment can
//! be checked here), and `remote_lost`, a host's dispatch given up on because the host stayed
//! out of reach (or said it lost it); and the `remote` member of a host's receipt re-attested
//! here, naming the line it came from.

use serde::{Deserialize, Serialize};

use crate::ids::{DispatchId, Timestamp};

use super::Extra;

/// `remote_receipt`: one line of a host's ledger, exactly as the host holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RemoteReceipt {
    /// The host (its name under `hosts:` in `.vnx/config.yaml`).
    pub host: String,
    /// The line's 1-based number in the host's ledger.
    pub remote_seq: u64,
    /// SHA-256 of the line's bytes (without its newline), as computed here.
    pub line_sha256: String,
    /// The line's own byte link to the host's previous line (`prev_line_sha256`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_prev_line_sha256: Option<String>,
    /// The line's `event_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_event_type: Option<String>,
    /// The dispatch the line is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch_id: Option<DispatchId>,
    /// The line's bytes (UTF-8, as every ledger line is).
    pub line: String,
    /// Members a later version writes.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `remote_lost`: a remote dispatch counted lost — its host out of reach for longer than its
/// `lost_after_seconds`, or the host's own ledger says its supervisor is gone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RemoteLost {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// The host it ran on.
    pub host: String,
    /// Why, in words.
    pub reason: String,
    /// The last time the host answered, when it ever did (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_contact: Option<Timestamp>,
    /// Members a later version writes.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `remote` member of a receipt a remote host wrote and this machine re-attested: the
/// host's line it came from (mirrored as a `remote_receipt`), and the host's own paths for the
/// members this machine rewrote as `host:path`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RemoteOrigin {
    /// The host (its name under `hosts:` in `.vnx/config.yaml`).
    pub host: String,
    /// The line's 1-based number in the host's ledger.
    pub remote_seq: u64,
    /// SHA-256 of the host's line (without its newline), as its `remote_receipt` records it.
    pub line_sha256: String,
    /// The worktree's path on the host, when the receipt names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<String>,
    /// The worker log's path on the host, when the receipt names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_log: Option<String>,
    /// Members a later version writes.
    #[serde(flatten)]
    pub extra: Extra,
}
