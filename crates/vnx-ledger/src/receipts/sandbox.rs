//! The bubblewrap sandbox a worker or a gate ran in, as `dispatch_started` and `gate_result`
//! record it: its shape (what it could write, read and not see), its network, and the git
//! quarantine a sandboxed worker commits into.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Whether a sandboxed worker has a network.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// The machine's network, as the dispatcher has it.
    #[default]
    On,
    /// A network namespace of its own with only loopback (and the relayed loopback ports).
    Off,
}

impl Network {
    /// As the config, flags and receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            Network::On => "on",
            Network::Off => "off",
        }
    }
}

/// What the sandbox is made of, as `dispatch_started.sandbox` records it and the supervisor
/// builds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Shape {
    /// The sandbox: `bubblewrap`.
    pub kind: String,
    /// The `bwrap` binary.
    pub program: PathBuf,
    /// What `bwrap --version` printed.
    pub version: Option<String>,
    /// Network on or off.
    pub network: Network,
    /// With the network off: loopback ports of this machine relayed into the sandbox.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loopback: Vec<u16>,
    /// Paths the worker can write (its worktree, its dispatch directory, its CLI's state, its
    /// git administrative directory, and the config's).
    pub writable: Vec<PathBuf>,
    /// Paths inside hidden ones that the worker can read again (the main checkout, the
    /// toolchains on `PATH`, the worker's own installation, vnx); everything outside the hidden
    /// paths is read-only too.
    pub read_only: Vec<PathBuf>,
    /// Paths the worker sees empty (a fresh tmpfs): the home directory, `/tmp`, the runtime
    /// directory.
    pub hidden: Vec<PathBuf>,
    /// How the worker's commits reach the repository, when its worktree is a git worktree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<Quarantine>,
    /// The dispatch's own place for its CLI's sessions, shown writable where the CLI keeps
    /// them in its state directory: the worker writes its sessions there and sees no other
    /// dispatch's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<SessionPlace>,
    /// Variables of the dispatcher's environment the worker does not get: the forge's
    /// credentials, unless the config's `sandbox.forge_credentials` hands them over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld_env: Vec<String>,
    /// The CLI's state the worker writes (its state directories and files), each a private
    /// copy in the dispatch directory shown where the CLI keeps it, so nothing the worker
    /// writes there reaches the CLI's real home; removed once the worker has ended. Older
    /// receipts have none: their worker wrote the real state, listed in `writable`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub homes: Vec<PrivateHome>,
    /// The variables of the CLI's API key the worker holds only a placeholder for: the
    /// supervisor's credential relay puts the dispatcher's key in its place on the way to the
    /// provider (`sandbox.credentials: relay`, ADR 0124). Names only, never a value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relayed_keys: Vec<String>,
}

/// A private copy of one of the CLI's state paths (see [`Shape::homes`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrivateHome {
    /// The copy, in the dispatch directory (`cli-home/` and the path's place in the home).
    pub copy: PathBuf,
    /// Where the sandbox shows it: the CLI's state directory or file.
    pub shown_at: PathBuf,
    /// A directory (seeded with the top-level files of the real one), or a state file.
    pub dir: bool,
}

/// A dispatch's own session place (see [`Shape::sessions`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SessionPlace {
    /// The directory that holds them, outside the CLI's home (in the dispatch directory of
    /// the chain's first sandboxed dispatch).
    pub dir: PathBuf,
    /// Where the sandbox shows it: the CLI's sessions directory in its home.
    pub shown_at: PathBuf,
}

/// A dispatch's git quarantine (`.vnx-data/quarantine/<id>/`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Quarantine {
    /// The quarantine directory (outside the worker's reach but for what is mounted).
    pub dir: PathBuf,
    /// The repository's object directory, which the quarantine's `objects/` replaces inside
    /// the sandbox.
    pub objects: PathBuf,
    /// The directory of the branch's ref (`refs/heads/dispatch`), which the quarantine's
    /// `refs/` replaces inside the sandbox.
    pub refs: PathBuf,
    /// The same for the branch's reflog.
    pub logs: PathBuf,
    /// The branch the worker may move (`dispatch/<id>`).
    pub branch: String,
    /// Where the branch was when the worker started.
    pub start: String,
}
