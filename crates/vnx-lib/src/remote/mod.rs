//! Dispatches on remote hosts, through the host's own vnx and tmux and git: where one runs,
//! as one seam (`place`; each kind of place registered in `kinds`), quoting for the host's shell (`quote`), what a host answers when it
//! is caught up with (`wire`), the host's ledger lines mirrored here as `remote_receipt`s and
//! their check (`mirror`), catching up with a host — new lines mirrored, its dispatches'
//! receipts re-attested here, their branches and its checkpoints fetched (`sync`), starting
//! a dispatch there (`launch`), and the host's tools (`doctor`).

pub mod asked;
pub mod doctor;
pub mod interrupted;
pub mod key_relay;
pub mod key_tunnel;
pub mod kinds;
pub mod launch;
mod made;
pub use crate::mirror;
pub mod orphans;
pub mod place;
pub mod quote;
pub mod relay;
mod relayed;
pub mod sync;
pub mod wire;

use std::path::{Path, PathBuf};

pub use launch::{RemoteLaunched, RemoteRequest, launch};
pub use place::Place;
pub use sync::{CatchUp, GivenUp, Link, catch_up, catch_up_asking};

use crate::config::HostConfig;
use crate::ids::DispatchId;

/// The oldest host vnx this version works with (it must answer `__remote-sync`).
pub const MIN_HOST_VERSION: (u64, u64, u64) = (0, 1, 0);

/// Why a remote operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// `.vnx/config.yaml` declares no such host.
    #[error("no host `{host}` under `hosts:` in .vnx/config.yaml")]
    UnknownHost {
        /// The name asked for.
        host: String,
    },
    /// The host relays credentials, but gives its places the key itself.
    #[error(
        "host `{host}` relays credentials, but gives its places `{var}` itself: the worker \
         would hold the key"
    )]
    KeyGivenThere {
        /// The host.
        host: String,
        /// The key's variable.
        var: String,
    },
    /// The credential relay for a place could not start.
    #[error("the credential relay for `{place}` did not start: {detail}")]
    KeyRelay {
        /// The place.
        place: String,
        /// Why.
        detail: String,
    },
    /// ssh could not reach the host (or the link dropped).
    #[error("host `{host}` is out of reach: {detail}")]
    Unreachable {
        /// The host.
        host: String,
        /// What ssh said.
        detail: String,
    },
    /// The host has no vnx where its config says.
    #[error("host `{host}` has no `{vnx}` (exit {status}): {stderr}")]
    VnxMissing {
        /// The host.
        host: String,
        /// The program looked for.
        vnx: String,
        /// The shell's exit status.
        status: i32,
        /// What the host said.
        stderr: String,
    },
    /// A place made per dispatch (a container) no longer runs: its dispatch is lost now.
    #[error("`{place}` is gone (the engine says: {state})")]
    Gone {
        /// The place.
        place: String,
        /// What the engine says of it.
        state: String,
    },
    /// The host's vnx is older than this version works with.
    #[error("host `{host}` runs {found}, older than vnx {}.{}.{} which remote dispatch needs", MIN_HOST_VERSION.0, MIN_HOST_VERSION.1, MIN_HOST_VERSION.2)]
    VnxTooOld {
        /// The host.
        host: String,
        /// What its `vnx --version` printed.
        found: String,
    },
    /// The id asked for is taken here already (a local dispatch, or a remote one started from
    /// here): refused before anything is pushed, recorded or started.
    #[error("dispatch id {id} is in use here ({path})")]
    IdInUse {
        /// The id.
        id: String,
        /// What holds it.
        path: std::path::PathBuf,
    },
    /// A command on the host failed.
    #[error("on host `{host}`, `{command}` failed (exit {status}): {stderr}")]
    Remote {
        /// The host.
        host: String,
        /// The command, in words.
        command: String,
        /// Its exit status.
        status: i32,
        /// What it wrote to stderr.
        stderr: String,
    },
    /// The host answered something this version cannot read.
    #[error("host `{host}` answered `{command}` with something unreadable: {detail}")]
    BadAnswer {
        /// The host.
        host: String,
        /// The command.
        command: String,
        /// What was wrong.
        detail: String,
    },
    /// The host's ledger no longer extends what was mirrored from it.
    #[error("host `{host}`'s ledger does not extend what was mirrored from it: {detail}")]
    ChainBroken {
        /// The host.
        host: String,
        /// Which line, how.
        detail: String,
    },
    /// The host sent a line about a dispatch of this machine that does not run there: it is
    /// refused from then on.
    #[error("host `{host}` is refused: {detail}")]
    Forged {
        /// The host.
        host: String,
        /// Which line, about what.
        detail: String,
    },
    /// A local git command failed.
    #[error("git failed for host `{host}`")]
    Git {
        /// The host.
        host: String,
        /// What failed.
        #[source]
        source: crate::process::ProcessError,
    },
    /// A container host's mount would show the worker what it must never see, or its
    /// source cannot be used.
    #[error("host `{host}`'s mount `{mount}` cannot be used: {detail}")]
    Mount {
        /// The host.
        host: String,
        /// The mount, as the engine would be given it.
        mount: String,
        /// Why not.
        detail: String,
    },
    /// The project's dev container definition cannot be used.
    #[error("the dev container definition {} cannot be used: {detail}", path.display())]
    Devcontainer {
        /// The definition, in the project.
        path: std::path::PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The login files a kubernetes host names come to more than one Secret holds.
    #[error(
        "the login files host `{host}` names come to {bytes} bytes, more than a Secret holds \
         ({most} bytes)"
    )]
    LoginsTooLarge {
        /// The host.
        host: String,
        /// Their size.
        bytes: u64,
        /// The most a Secret holds.
        most: u64,
    },
    /// The base cannot be dispatched from.
    #[error("cannot dispatch from this base: {detail}")]
    BadBase {
        /// Why.
        detail: String,
    },
    /// The local repository could not be read.
    #[error(transparent)]
    Worktree(#[from] crate::worktree::WorktreeError),
    /// A process could not be run.
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
    /// The ledger could not be read or written.
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    /// A file of vnx's could not be read or written.
    #[error("could not use {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

impl RemoteError {
    /// What to do about it, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            RemoteError::UnknownHost { .. } => {
                "declare it under `hosts:` in .vnx/config.yaml (ssh, clone, capacity)".into()
            }
            RemoteError::Unreachable { host, .. } => format!(
                "check `ssh` to the host works without a prompt (`vnx doctor --host {host}`); \
                 its dispatches keep running there, and `vnx wait` catches up once it answers"
            ),
            RemoteError::VnxMissing { host, .. } | RemoteError::VnxTooOld { host, .. } => {
                format!(
                    "install this vnx on the host (or set hosts.{host}.vnx to its path); \
                     nothing was started"
                )
            }
            RemoteError::Gone { place, .. } => format!(
                "its work is kept: in the volume `vnx-{}` while its dispatch ran, and here \
                 (its branch) once its end was caught up with",
                place
                    .split_once('.')
                    .map_or("", |(_, id)| id)
                    .to_ascii_lowercase()
            ),
            RemoteError::LoginsTooLarge { host, .. } => format!(
                "name fewer CLIs under hosts.{host}.kubernetes.logins, or make the files in \
                 their state directories here smaller; nothing was made"
            ),
            RemoteError::IdInUse { .. } => {
                "leave out --id (or --new-id) for a fresh one; nothing was started".into()
            }
            RemoteError::KeyGivenThere { host, var } => format!(
                "take {var} out of hosts.{host}'s env (and env_from_host): the relay gives \
                 the worker a placeholder for it; nothing was started"
            ),
            RemoteError::KeyRelay { place, .. } => format!(
                "its keeper's log is .vnx-data/remote/keys/{place}/log; the place's vnx must \
                 answer `__key-tunnel` (this version's); nothing was started"
            ),
            RemoteError::Forged { .. } => {
                "the line is kept on this ledger as evidence (a `remote_receipt`) and nothing \
                 it says is believed; the work of the dispatches on that host is where it was"
                    .into()
            }
            RemoteError::ChainBroken { .. } => {
                "the host's ledger was rewritten or cut: `vnx audit-chain verify` names the \
                 mirrored lines; run `vnx audit-chain verify` on the host"
                    .into()
            }
            _ => return None,
        })
    }
}

/// The host named `name` in `hosts`.
pub fn host<'a>(
    hosts: &'a std::collections::BTreeMap<String, HostConfig>,
    name: &str,
) -> Result<&'a HostConfig, RemoteError> {
    hosts.get(name).ok_or_else(|| RemoteError::UnknownHost {
        host: name.to_owned(),
    })
}

/// The host in `hosts` that `place` is reached through.
pub fn host_of<'a>(
    hosts: &'a std::collections::BTreeMap<String, HostConfig>,
    place: &crate::place_name::PlaceName,
) -> Result<&'a HostConfig, RemoteError> {
    host(hosts, place.host()).map_err(|_| RemoteError::UnknownHost {
        host: place.to_string(),
    })
}

/// `.vnx-data/remote/`: what this machine knows of its remote dispatches and hosts.
pub fn remote_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("remote")
}

pub use crate::ledger::checkpoint::host_checkpoint_ref as checkpoint_ref;

/// The ref on the host a dispatch's base commit is pushed to.
pub fn incoming_ref(id: &DispatchId) -> String {
    format!("refs/vnx/incoming/{id}")
}

/// `vnx --version`'s `X.Y.Z`, as numbers.
pub fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    // `vnx 0.1.0` from older builds, `vnx 0.1.0 (COMMIT, built DATE)` from newer ones: the
    // first word that is a version.
    text.split_whitespace().find_map(|v| {
        let mut parts = v.split(['.', '-', '+']).map(str::parse::<u64>);
        Some((
            parts.next()?.ok()?,
            parts.next()?.ok()?,
            parts.next()?.ok()?,
        ))
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RemoteError + '_ {
    move |source| RemoteError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_from_the_version_line() {
        assert_eq!(parse_version("vnx 0.1.0"), Some((0, 1, 0)));
        assert_eq!(parse_version("vnx 1.12.3-rc1"), Some((1, 12, 3)));
        assert_eq!(
            parse_version("vnx 0.2.0 (0123456789ab, built 2026-11-24)"),
            Some((0, 2, 0))
        );
        assert_eq!(parse_version("vnx"), None);
        assert_eq!(parse_version(""), None);
    }
}
