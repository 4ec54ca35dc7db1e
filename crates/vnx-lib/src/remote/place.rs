//! Where a remote dispatch runs, as one seam (ADR 0084): a [`Place`] is how a command and git
//! reach the project's clone there, and who makes the place and removes it: a host the user
//! made, once, or a place vnx makes per dispatch (on what those share: `made`), each kind
//! registered in `kinds`. What a remote dispatch does — push its base,
//! start the place's own vnx, mirror its ledger, fetch its branch (`launch`, `sync`) — names
//! no kind of place.

use std::path::Path;
use std::time::Duration;

use super::RemoteError;
use super::made::{self, Made, Seen};
use super::wire::MAX_ANSWER;
use crate::config::HostConfig;
use crate::ids::DispatchId;
use crate::process::{Cmd, Output};

/// A place a remote dispatch runs.
pub trait Place: Send + Sync {
    /// The host it is, as configured.
    fn host(&self) -> &HostConfig;

    /// Its name: what its ledger's lines are mirrored under and its dispatches record as
    /// their host. A host's own name, or for a place made per dispatch, the host's and the
    /// dispatch's (`box.D-…`, see [`crate::place_name::PlaceName`]).
    fn name(&self) -> &str;

    /// `argv` run in the clone there; with `tty`, with a terminal (for `attach`).
    fn in_clone(&self, argv: &[String], tty: bool) -> Cmd;

    /// Runs `cmd` (one of this place's) with a time limit: its output when the command ran,
    /// whatever its exit status; [`RemoteError::Unreachable`] when the place could not be
    /// reached, [`RemoteError::Gone`] when it no longer exists.
    fn run(&self, cmd: Cmd, limit: Duration) -> Result<Output, RemoteError>;

    /// `git ARGS…` in `repo` with the transport to this place set up: by default the `ext`
    /// transport of [`Place::git_url`] (git runs the engine's client itself, no shell),
    /// allowed for this one command only.
    fn git(&self, repo: &Path, args: &[&str]) -> Cmd {
        Cmd::git()
            .cwd(repo)
            .args(["-c", "protocol.ext.allow=always"])
            .args(args)
    }

    /// The clone there as git names it, for [`Place::git`].
    fn git_url(&self) -> String;

    /// What vnx made for this place's one dispatch, as its engine makes it; `None` for a
    /// place the user made.
    fn made(&self) -> Option<&dyn Made> {
        None
    }

    /// Makes the place before anything is pushed to it, its clone committing as the
    /// project at `project_root` does (nothing, for a place the user made). With `fresh`
    /// false the place holds a dispatch already (a follow-up, a resume): what keeps its work
    /// must be there, and only what runs it is made again when it stopped.
    fn make(&self, project_root: &Path, fresh: bool) -> Result<(), RemoteError> {
        self.made()
            .map_or(Ok(()), |m| made::make(m, project_root, fresh))
    }

    /// Makes the clone there start from `base_ref`, just pushed (nothing, for a clone the
    /// user keeps).
    fn seed(&self, base_ref: &str) -> Result<(), RemoteError> {
        self.made().map_or(Ok(()), |m| made::seed(m, base_ref))
    }

    /// Removes what runs the dispatch and keeps what holds its work, once its work is here
    /// (nothing, for a place the user made): [`Place::make`] starts it again on that work.
    fn park(&self) -> Result<(), RemoteError> {
        self.made().map_or(Ok(()), |m| m.stop())
    }

    /// Removes what [`Place::make`] made, once nothing there can be lost: what was fetched
    /// or kept here (nothing, for a place the user made). `Ok(false)` when it was kept.
    fn remove(&self) -> Result<bool, RemoteError> {
        self.made().map_or(Ok(false), made::remove)
    }

    /// Closes a connection kept open between calls, if any.
    fn close(&self) {}

    /// The variables the place itself sets in every command run there (a container's or
    /// pod's environment as vnx makes it); none known for a place the user made.
    fn gives_env(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether this process reaches the place over a relay (ADR 0087): `None` for a kind of
    /// place that never has one.
    fn relayed(&self) -> Option<bool> {
        None
    }

    /// What to look at when [`Place::make`] fails for every dispatch (as it did with
    /// `_failed`), in words.
    fn when_make_fails(&self, _failed: &RemoteError) -> String {
        String::new()
    }

    /// Runs `argv` in the clone there within `limit`, its input from `stdin`: its output
    /// when it ran, at most [`MAX_ANSWER`] bytes of each (what runs there is the worker's to
    /// replace); errors as [`Place::run`]'s.
    fn call(
        &self,
        argv: &[String],
        stdin: Option<&Path>,
        limit: Duration,
    ) -> Result<Output, RemoteError> {
        call_by_exec(self, argv, stdin, limit)
    }

    /// The place's vnx, called ([`Place::call`]) with `args`.
    fn vnx(
        &self,
        args: &[String],
        stdin: Option<&Path>,
        limit: Duration,
    ) -> Result<Output, RemoteError> {
        self.call(&vnx_argv(self.host(), args), stdin, limit)
    }

    /// Sets the ref `dst` there to `commit`, a commit of the repository `repo` here, with what
    /// it needs sent along.
    fn push_ref(&self, repo: &Path, commit: &str, dst: &str) -> Result<(), RemoteError> {
        push_by_git(self, repo, commit, dst)
    }

    /// Deletes the ref `dst` there.
    fn delete_ref(&self, repo: &Path, dst: &str) -> Result<(), RemoteError> {
        let (url, spec) = (self.git_url(), format!(":{dst}"));
        git_ok(self, repo, &["push", "--quiet", "--no-verify", &url, &spec]).map(drop)
    }

    /// Fetches the ref `src` there into `dst` in `repo` here, fast-forward only.
    fn fetch_ref(&self, repo: &Path, src: &str, dst: &str) -> Result<(), RemoteError> {
        fetch_by_git(self, repo, src, dst)
    }

    /// The commit the ref `name` there points at, if any.
    fn tip(&self, repo: &Path, name: &str) -> Result<Option<String>, RemoteError> {
        let url = self.git_url();
        Ok(git_ok(self, repo, &["ls-remote", &url, name])?
            .lines()
            .find_map(|l| l.split_whitespace().next().map(str::to_owned)))
    }

    /// The place's vnx with `args` as a command of its own (read as it runs).
    fn vnx_cmd(&self, args: &[String]) -> Cmd {
        self.in_clone(&vnx_argv(self.host(), args), false)
    }

    /// The same with a terminal.
    fn vnx_tty(&self, args: &[String]) -> Cmd {
        self.in_clone(&vnx_argv(self.host(), args), true)
    }
}

/// Runs `cmd` (one of place `name`'s) within `limit`: its output, whatever its exit status;
/// [`RemoteError::Unreachable`] when the time ran out.
pub(super) fn run_within(name: &str, cmd: Cmd, limit: Duration) -> Result<Output, RemoteError> {
    crate::process::run(&cmd.timeout(limit)).map_err(|e| match e {
        crate::process::ProcessError::TimedOut { .. } => RemoteError::Unreachable {
            host: name.to_owned(),
            detail: format!("no answer within {} s", limit.as_secs()),
        },
        other => RemoteError::Process(other),
    })
}

/// [`Place::call`] as the engine's (or ssh's) own command.
pub(super) fn call_by_exec<P: Place + ?Sized>(
    place: &P,
    argv: &[String],
    stdin: Option<&Path>,
    limit: Duration,
) -> Result<Output, RemoteError> {
    let mut cmd = place.in_clone(argv, false).max_output(MAX_ANSWER);
    if let Some(path) = stdin {
        cmd = cmd.stdin_file(path);
    }
    place.run(cmd, limit)
}

/// [`Place::push_ref`] over git's own transport.
pub(super) fn push_by_git<P: Place + ?Sized>(
    place: &P,
    repo: &Path,
    commit: &str,
    dst: &str,
) -> Result<(), RemoteError> {
    let (url, spec) = (place.git_url(), format!("{commit}:{dst}"));
    git_ok(
        place,
        repo,
        &["push", "--quiet", "--no-verify", &url, &spec],
    )
    .map(drop)
}

/// [`Place::fetch_ref`] over git's own transport.
pub(super) fn fetch_by_git<P: Place + ?Sized>(
    place: &P,
    repo: &Path,
    src: &str,
    dst: &str,
) -> Result<(), RemoteError> {
    let (url, spec) = (place.git_url(), format!("{src}:{dst}"));
    git_ok(place, repo, &["fetch", "--quiet", "--no-tags", &url, &spec]).map(drop)
}

/// `git ARGS…` in `repo` here, with the transport to `place` set up, which must succeed.
fn git_ok<P: Place + ?Sized>(place: &P, repo: &Path, args: &[&str]) -> Result<String, RemoteError> {
    crate::process::run_ok(&place.git(repo, args)).map_err(|source| RemoteError::Git {
        host: place.name().to_owned(),
        source,
    })
}

fn vnx_argv(host: &HostConfig, args: &[String]) -> Vec<String> {
    let mut argv = vec![host.vnx.clone()];
    argv.extend(args.iter().cloned());
    argv
}

/// What this machine gives the places it makes: where their files are kept here, the home
/// directory the CLIs' logins are copied from (none: no logins are), and what no mount may
/// show (the home, the files here, the signing key).
#[derive(Clone, Copy, Debug)]
pub struct Here<'a> {
    /// The project's `.vnx-data/`.
    pub data_dir: &'a Path,
    /// The user's home directory.
    pub home: Option<&'a Path>,
    /// The checkpoint signing key's path: no mount may show its directory.
    pub key: Option<&'a Path>,
}

/// A kind's factory (see [`Kind::place`]).
pub(super) type Factory =
    fn(&HostConfig, Option<&DispatchId>, Here<'_>) -> Result<Option<Box<dyn Place>>, RemoteError>;

/// A kind of place, as its module registers it in `kinds`.
pub(super) struct Kind {
    /// Its name: its section's key under a host in `.vnx/config.yaml`
    /// (`HostKind::name`).
    pub name: &'static str,
    /// Whether dispatches on a host of this kind each get a place of their own, made and
    /// removed by vnx.
    pub per_dispatch: bool,
    /// Its factory: the place dispatch `id` runs in on `host` (one of this kind); `id` is
    /// `None` when the place is opened by the host's name alone. `None` when `host` is not
    /// of this kind, or when it makes a place per dispatch and `id` is `None`.
    pub place: Factory,
    /// Its orphan listing: what the engine shows of the places the project of key `key`
    /// made on `host`, by their labels (one bounded engine call per kind of object); nothing
    /// for a kind that makes no places.
    pub listed: fn(host: &HostConfig, key: &str) -> Result<Vec<Seen>, RemoteError>,
}
