//! `vnx mcp`: a read-only Model Context Protocol server over stdio, for a dispatcher that is
//! itself an agent. Its tools and resources read dispatches, logs, diffs, receipts, the
//! ledger's verification, gate results, merge readiness, constraints and spend, and write
//! nothing; every answer cites the receipts it was derived from (ADR 0035).
//!
//! These are the answers, made synchronously: dispatches, logs, diffs and waits (`read`),
//! receipts, verification, gates, merge readiness, constraints and spend (`govern`), the
//! ledger and dispatch records as resources (`resources`), each with the receipts it cites
//! (`evidence`), and what changed of the dispatches a client watches (`watch`). The protocol (rmcp on a current-thread tokio runtime, calling these through
//! `spawn_blocking`) is the CLI's: the library has no async code.

mod evidence;
pub mod govern;
pub mod read;
pub mod resources;
pub mod watch;

use std::path::PathBuf;

pub use read::{LIMITS, Limits};

/// What the server reads, resolved by the CLI: the project and this machine's settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The main checkout's root: nothing outside it is read on a client's behalf.
    pub root: PathBuf,
    /// The ledger.
    pub ledger: PathBuf,
    /// The tmux socket dispatches that record none run on.
    pub tmux_socket: String,
    /// The local checkpoint key, read (never created) to trust its signatures.
    pub key: Option<PathBuf>,
    /// This machine's checkpoint witness directory.
    pub witness_dir: Option<PathBuf>,
    /// Hashing threads for verification.
    pub threads: usize,
    /// A private directory outside the project for `git merge-tree`'s objects while merge
    /// readiness is checked (each check empties what it used).
    pub scratch: PathBuf,
}

/// Why an answer could not be made.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// The client's input is not acceptable (a malformed id, a limit over the maximum, a path
    /// that leaves the project, an unknown filter value).
    #[error("{what}")]
    BadInput {
        /// What is wrong, in words.
        what: String,
    },
    /// The ledger has no receipt of this dispatch.
    #[error("unknown dispatch {id}: the ledger records no dispatch or queue decision with this id")]
    UnknownDispatch {
        /// The id asked for.
        id: String,
    },
    /// A resource URI this server does not serve.
    #[error(
        "unknown resource {uri}: vnx serves vnx://ledger, vnx://dispatches and vnx://dispatch/<id>"
    )]
    UnknownResource {
        /// The URI asked for.
        uri: String,
    },
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    /// Checkpoints or keys could not be read.
    #[error(transparent)]
    Checkpoint(#[from] crate::ledger::checkpoint::CheckpointError),
    /// The merge conditions could not be checked.
    #[error("could not check whether {id} can merge")]
    Merge {
        /// The dispatch.
        id: String,
        /// Why.
        #[source]
        source: Box<crate::merge::MergeError>,
    },
    /// `provider_constraints.yaml` does not load.
    #[error(transparent)]
    Constraints(#[from] Box<crate::constraints::LoadError>),
    /// git could not diff a dispatch.
    #[error(transparent)]
    Diff(#[from] crate::dispatch::detail::DiffError),
    /// A dispatch's review comments could not be read.
    #[error(transparent)]
    Review(#[from] crate::review::ReviewError),
    /// A file could not be read.
    #[error("could not read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The runtime or the session failed.
    #[error("the MCP session failed: {what}")]
    Session {
        /// What failed.
        what: String,
    },
}

impl McpError {
    /// Whether the client's input caused it (an MCP "invalid params" error), rather than the
    /// project or the machine.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            McpError::BadInput { .. }
                | McpError::UnknownDispatch { .. }
                | McpError::UnknownResource { .. }
        )
    }

    pub(crate) fn bad(what: impl Into<String>) -> McpError {
        McpError::BadInput { what: what.into() }
    }
}
