//! Where a remote dispatch runs, as one seam (ADR 0084): a [`Place`] is how a command and git
//! reach the project's clone there, and who makes the place and removes it. An ssh host is
//! made by the user, once (`ssh`); a container or a pod by vnx, per dispatch (`container`,
//! `kubernetes`, on what they share: `made`). What a remote dispatch does — push its base,
//! start the place's own vnx, mirror its ledger, fetch its branch (`launch`, `sync`) — names
//! no kind of place.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::RemoteError;
use super::wire::MAX_ANSWER;
use crate::config::{HostConfig, HostKind};
use crate::ids::DispatchId;
use crate::process::{Cmd, Output};

/// A place a remote dispatch runs.
pub trait Place: Send + Sync {
    /// The host it is, as configured.
    fn host(&self) -> &HostConfig;

    /// Its name: what its ledger's lines are mirrored under and its dispatches record as
    /// their host. A host's own name, or for a place made per dispatch, the host's and the
    /// dispatch's (`box.D-…`, see [`name_for`]).
    fn name(&self) -> &str;

    /// `argv` run in the clone there; with `tty`, with a terminal (for `attach`).
    fn in_clone(&self, argv: &[String], tty: bool) -> Cmd;

    /// Runs `cmd` (one of this place's) with a time limit: its output when the command ran,
    /// whatever its exit status; [`RemoteError::Unreachable`] when the place could not be
    /// reached, [`RemoteError::Gone`] when it no longer exists.
    fn run(&self, cmd: Cmd, limit: Duration) -> Result<Output, RemoteError>;

    /// `git ARGS…` in `repo` with the transport to this place set up.
    fn git(&self, repo: &Path, args: &[&str]) -> Cmd;

    /// The clone there as git names it, for [`Place::git`].
    fn git_url(&self) -> String;

    /// Makes the place before anything is pushed to it, its clone committing as the
    /// project at `project_root` does (nothing, for a place the user made). With `fresh`
    /// false the place holds a dispatch already (a follow-up, a resume): what keeps its work
    /// must be there, and only what runs it is made again when it stopped.
    fn make(&self, project_root: &Path, fresh: bool) -> Result<(), RemoteError> {
        let _ = (project_root, fresh);
        Ok(())
    }

    /// Makes the clone there start from `base_ref`, just pushed (nothing, for a clone the
    /// user keeps).
    fn seed(&self, base_ref: &str) -> Result<(), RemoteError> {
        let _ = base_ref;
        Ok(())
    }

    /// Removes what runs the dispatch and keeps what holds its work, once its work is here
    /// (nothing, for a place the user made): [`Place::make`] starts it again on that work.
    fn park(&self) -> Result<(), RemoteError> {
        Ok(())
    }

    /// Removes what [`Place::make`] made, once nothing there can be lost: what was fetched
    /// or kept here (nothing, for a place the user made). `Ok(false)` when it was kept.
    fn remove(&self) -> Result<bool, RemoteError> {
        Ok(false)
    }

    /// Closes a connection kept open between calls, if any.
    fn close(&self) {}

    /// What to look at when [`Place::make`] fails for every dispatch, in words.
    fn when_make_fails(&self) -> &'static str {
        ""
    }

    /// The place's vnx, run in the clone with `args`; at most [`MAX_ANSWER`] bytes of each
    /// of its outputs are read (the place's vnx is the worker's to replace).
    fn vnx(&self, args: &[String]) -> Cmd {
        self.in_clone(&vnx_argv(self.host(), args), false)
            .max_output(MAX_ANSWER)
    }

    /// The same with a terminal.
    fn vnx_tty(&self, args: &[String]) -> Cmd {
        self.in_clone(&vnx_argv(self.host(), args), true)
    }
}

fn vnx_argv(host: &HostConfig, args: &[String]) -> Vec<String> {
    let mut argv = vec![host.vnx.clone()];
    argv.extend(args.iter().cloned());
    argv
}

/// What this machine gives the places it makes: where their files are kept here, and the
/// home directory the CLIs' logins are copied from (none: no logins are).
#[derive(Clone, Copy, Debug)]
pub struct Here<'a> {
    /// The project's `.vnx-data/`.
    pub data_dir: &'a Path,
    /// The user's home directory.
    pub home: Option<&'a Path>,
}

/// Whether dispatches on `host` each get a place of their own.
pub fn per_dispatch(host: &HostConfig) -> bool {
    matches!(host.kind, HostKind::Container(_) | HostKind::Kubernetes(_))
}

/// The name of the place dispatch `id` runs in on `host` (see [`Place::name`]).
pub fn name_for(host: &HostConfig, id: &DispatchId) -> String {
    if per_dispatch(host) {
        format!("{}.{id}", host.name)
    } else {
        host.name.clone()
    }
}

/// The host a place of name `place` belongs to (a host's name holds no `.`).
pub fn host_name(place: &str) -> &str {
    place.split_once('.').map_or(place, |(host, _)| host)
}

/// The place dispatch `id` runs in on `host`.
pub fn for_dispatch(
    host: &HostConfig,
    id: &DispatchId,
    here: Here<'_>,
) -> Result<Box<dyn Place>, RemoteError> {
    Ok(match &host.kind {
        HostKind::Ssh { .. } => Box::new(super::Ssh::new(host, here.data_dir)?),
        HostKind::Container(c) => Box::new(super::container::Container::new(host, c, id, here)),
        HostKind::Kubernetes(k) => Box::new(super::kubernetes::Pod::new(host, k, id, here)),
    })
}

/// The place named `place` (a host's name, or a per-dispatch place's) among `hosts`.
pub fn open(
    hosts: &BTreeMap<String, HostConfig>,
    place: &str,
    here: Here<'_>,
) -> Result<Box<dyn Place>, RemoteError> {
    let host = super::host(hosts, host_name(place))?;
    match (place.split_once('.'), &host.kind) {
        (None, HostKind::Ssh { .. }) => Ok(Box::new(super::Ssh::new(host, here.data_dir)?)),
        (Some((_, id)), HostKind::Container(_) | HostKind::Kubernetes(_)) => {
            let id = DispatchId::parse(id).map_err(|_| RemoteError::UnknownHost {
                host: place.to_owned(),
            })?;
            for_dispatch(host, &id, here)
        }
        _ => Err(RemoteError::UnknownHost {
            host: place.to_owned(),
        }),
    }
}
