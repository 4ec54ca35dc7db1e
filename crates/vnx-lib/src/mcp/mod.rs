//! `vnx mcp`: a read-only Model Context Protocol server over stdio, for a dispatcher that is
//! itself an agent. Its tools and resources read dispatches, logs, diffs, receipts, the
//! ledger's verification, gate results, merge readiness, constraints and spend, and write
//! nothing; every answer cites the receipts it was derived from (ADR 0035).
//!
//! The protocol runs on a current-thread tokio runtime that exists only here (`server`); the
//! answers are made by the synchronous library (`read`), called through `spawn_blocking`.

mod evidence;
mod govern;
mod read;
mod resources;
mod server;

use std::path::PathBuf;

pub use read::{LIMITS, Limits};
pub use server::Server;

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

    fn bad(what: impl Into<String>) -> McpError {
        McpError::BadInput { what: what.into() }
    }
}

/// Serves MCP on this process's stdin and stdout until the client closes them. Starts the
/// one tokio runtime vnx has (current-thread, plus the blocking pool the answers run on).
pub fn serve_stdio(settings: Settings) -> Result<(), McpError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| McpError::Session {
            what: format!("could not start the async runtime: {e}"),
        })?;
    let result = runtime.block_on(async move {
        let (stdin, stdout) = rmcp::transport::stdio();
        Server::new(settings).serve_on((stdin, stdout)).await
    });
    // A wait still running in the blocking pool is abandoned; it only reads.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}
