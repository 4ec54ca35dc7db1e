//! What the places vnx makes per dispatch share (a container, a pod): storage that keeps the
//! dispatch's work (a volume, a claim) and what runs on it (a container, a pod), made in one
//! order and undone in the reverse one, so that nothing half-made stays and no work is lost;
//! a runner the engine no longer runs is [`RemoteError::Gone`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::RemoteError;
use crate::config::CONTAINER_CLONE;
use crate::process::{self, Cmd, Output};

/// What the runner does while the dispatch's commands are `exec`ed into it: it waits, and
/// ends at once when stopped (a shell as PID 1 would ignore TERM without the trap).
pub(super) const IDLE: &str = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";

/// The home directory in the place: on the storage, so the CLIs' state outlives the runner.
pub(super) const HOME: &str = "/work/home";

/// Where the logins a host makes available are mounted, read-only; [`INIT`] copies them
/// into [`HOME`], never over what is there already.
pub(super) const LOGINS_AT: &str = "/run/vnx/logins";

/// The most login files one place is given.
const MAX_LOGIN_FILES: usize = 64;

/// How long one engine call that makes, inspects or removes may take.
pub(super) const ENGINE_LIMIT: Duration = Duration::from_secs(120);

/// The login and settings files here of the CLIs `logins` names (the registry's names), in
/// `home`, with where they go under the home directory: each CLI's state files, and the
/// regular files at the top of its state directories (not what they hold below: other
/// projects' sessions). Never a link, a directory's own link, a program, or a name a
/// container engine's `--volume` would split. None without a home.
pub(super) fn login_files(logins: &[String], home: Option<&Path>) -> Vec<(PathBuf, String)> {
    let Some(home) = home else {
        return Vec::new();
    };
    let regular = |p: &Path| p.symlink_metadata().is_ok_and(|m| m.is_file());
    let mut out = Vec::new();
    let clis = logins.iter().filter_map(|c| crate::provider::cli::named(c));
    for path in clis
        .flat_map(|cli| cli.state_paths())
        .filter(|p| p.writable || !p.dir)
    {
        let at = home.join(path.rel);
        if !path.dir {
            if regular(&at) {
                out.push((at, path.rel.to_owned()));
            }
            continue;
        }
        if !at.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&at) else {
            continue;
        };
        for entry in entries.flatten().take(MAX_LOGIN_FILES) {
            if let Some(name) = entry.file_name().to_str()
                && entry.file_type().is_ok_and(|t| t.is_file())
            {
                out.push((entry.path(), format!("{}/{name}", path.rel)));
            }
        }
    }
    out.retain(|(from, _)| !from.to_string_lossy().contains([':', ',']));
    out.truncate(MAX_LOGIN_FILES);
    out
}

/// The branch the place's clone is made on (never a dispatch's).
const PLACE_BRANCH: &str = "vnx-place";

/// A place made per dispatch, as its engine makes it.
pub(super) trait Made {
    /// The place's name (`HOST.ID`).
    fn place_name(&self) -> &str;

    /// The engine's client program.
    fn program(&self) -> &str;

    /// Whether the storage that keeps the work exists.
    fn storage_exists(&self) -> Result<bool, RemoteError>;

    /// The runner's state as the engine says it; `None` when there is no runner.
    fn state(&self) -> Result<Option<String>, RemoteError>;

    /// Whether `state` is one commands can be run in.
    fn is_running(&self, state: &str) -> bool;

    /// Makes the storage (labelled with the dispatch's id).
    fn make_storage(&self) -> Result<(), RemoteError>;

    /// Makes the storage unless it exists: whether it was made.
    fn make_new_storage(&self) -> Result<bool, RemoteError> {
        if self.storage_exists()? {
            return Ok(false);
        }
        self.make_storage()?;
        Ok(true)
    }

    /// Starts the runner on the storage, and waits until commands can run in it.
    fn start(&self) -> Result<(), RemoteError>;

    /// Removes the runner (gone already is fine).
    fn stop(&self) -> Result<(), RemoteError>;

    /// Removes the storage, and the work on it.
    fn drop_storage(&self) -> Result<(), RemoteError>;

    /// `argv` run in the place (no terminal, no working directory).
    fn exec(&self, argv: &[String]) -> Cmd;

    /// Runs one of vnx's scripts (see [`script`]) in the place, which must succeed: its
    /// output; else the engine's or the script's error (`what`: the step, in words).
    fn run_script(&self, argv: &[String], what: &str) -> Result<String, RemoteError> {
        self.must(self.exec(argv), what)
    }

    /// Who the place's files are given to once it is made (`chown`'s argument), when its
    /// commands run as a user of their own.
    fn owner(&self) -> Option<String> {
        None
    }

    /// `argv` run in the place as root, to make it for [`Made::owner`]: [`Made::exec`]
    /// unless the place names an owner.
    fn exec_root(&self, argv: &[String]) -> Cmd {
        self.exec(argv)
    }

    /// Runs an engine command that must succeed (within [`ENGINE_LIMIT`], unless it has a
    /// limit of its own): its output; else what the client said last.
    fn must(&self, cmd: Cmd, what: &str) -> Result<String, RemoteError> {
        let out = process::run(&cmd.timeout_unless_set(ENGINE_LIMIT))?;
        if out.status.success() {
            return Ok(out.text());
        }
        Err(self.failed(what, out.status.code(), &out.stderr))
    }

    /// The engine's command `what` failed with `status`, having said `stderr`.
    fn failed(&self, what: &str, status: Option<i32>, stderr: &[u8]) -> RemoteError {
        RemoteError::Remote {
            host: self.place_name().to_owned(),
            command: format!("{} {what}", self.program()),
            status: status.unwrap_or(-1),
            // The client's last line says what failed (kubectl logs its retries before it).
            stderr: String::from_utf8_lossy(stderr)
                .trim()
                .lines()
                .last()
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

/// The place made (see [`super::Place::make`]). For a new dispatch, its storage made now
/// (storage there already holds the work of a dispatch of the same id, never taken over),
/// then the runner, then an empty clone committing as the project at `project_root` does.
/// For one the place holds, its storage must be there, and its runner is kept when it runs
/// or else made again. Whatever failed is undone: the runner, and storage made just now.
pub(super) fn make(m: &dyn Made, project_root: &Path, fresh: bool) -> Result<(), RemoteError> {
    if fresh {
        if !m.make_new_storage()? {
            let place = m.place_name();
            return Err(RemoteError::IdInUse {
                id: place.split_once('.').map_or(place, |(_, id)| id).to_owned(),
                path: format!(
                    "what `{place}` keeps a dispatch's work on, there already and kept; \
                     `vnx clean` removes it once nothing there is needed"
                )
                .into(),
            });
        }
    } else {
        if !m.storage_exists()? {
            return Err(RemoteError::Gone {
                place: m.place_name().to_owned(),
                state: "removed with what held its work once it was merged".into(),
            });
        }
        match m.state()? {
            Some(state) if m.is_running(&state) => return Ok(()),
            Some(_) => m.stop()?,
            None => {}
        }
    }
    let made = start_and_init(m, identity(project_root));
    if made.is_err() {
        let _ = m.stop();
        if fresh {
            let _ = m.drop_storage();
        }
    }
    made
}

fn start_and_init(m: &dyn Made, identity: Option<(String, String)>) -> Result<(), RemoteError> {
    m.start()?;
    let (name, email) = identity.unwrap_or_default();
    let owner = m.owner().unwrap_or_default();
    let argv = script(
        INIT,
        &[
            PLACE_BRANCH,
            CONTAINER_CLONE,
            &name,
            &email,
            HOME,
            LOGINS_AT,
            &owner,
        ],
    );
    // A place whose commands run as a user of their own is made as root, by the engine's
    // `exec` (its relay runs as that user).
    if owner.is_empty() {
        m.run_script(&argv, "exec git init")?;
    } else {
        m.must(m.exec_root(&argv), "exec git init")?;
    }
    Ok(())
}

/// Makes the clone (again: `git init` keeps an existing one) and gives it an identity:
/// `$1` the branch, `$2` the clone, `$3` and `$4` the name and email (none when empty),
/// `$5` the home, where `$6`'s logins are copied, never over a file there (a newer `cp`
/// fails for the files it skips: not an error here; links there are followed and names
/// starting `..` left out: a Secret's volume is the kubelet's `..data` directory with a link
/// to each of its top-level names); then, with an owner `$7`, the clone and the home are
/// given to it (`chown -R` follows no link). Run as root for an owner, whose clone git would
/// otherwise refuse to touch (`safe.directory`).
const INIT: &str = "set -e; git -c \"safe.directory=$2\" init -q -b \"$1\" \"$2\" 2>/dev/null; \
                    [ -z \"$3\" ] || git -c \"safe.directory=$2\" -C \"$2\" config user.name \"$3\"; \
                    [ -z \"$4\" ] || git -c \"safe.directory=$2\" -C \"$2\" config user.email \"$4\"; \
                    mkdir -p \"$5\"; [ ! -d \"$6\" ] || for f in \"$6\"/* \"$6\"/.[!.]*; do \
                    [ ! -e \"$f\" ] || cp -R -L -n \"$f\" \"$5/\" || :; done; \
                    [ -z \"$7\" ] || chown -R \"$7\" \"$2\" \"$5\"";

/// Moves the clone `$1` to `$2`, just pushed, and makes vnx's files there with `$3`.
const SEED: &str = "set -e; cd \"$1\"; git reset -q --hard \"$2\"; exec \"$3\" init";

/// `sh -c SCRIPT sh ARGS…`: one exec for what would take several. The script is one of
/// vnx's constants; every value reaches it as a positional argument, never as its text.
pub(super) fn script(script: &str, args: &[&str]) -> Vec<String> {
    let mut argv = ["/bin/sh", "-c", script, "sh"].map(String::from).to_vec();
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    argv
}

/// The git identity the project at `project_root` commits with, when it has one.
fn identity(project_root: &Path) -> Option<(String, String)> {
    let config = git2::Repository::open(project_root)
        .and_then(|r| r.config())
        .and_then(|mut c| c.snapshot())
        .ok()?;
    Some((
        config.get_string("user.name").ok()?,
        config.get_string("user.email").ok()?,
    ))
}

/// The clone's checkout moved to `base_ref`, just pushed, and vnx's files made there, in
/// one exec.
pub(super) fn seed(m: &dyn Made, vnx: &str, base_ref: &str) -> Result<(), RemoteError> {
    let argv = script(SEED, &[CONTAINER_CLONE, base_ref, vnx]);
    m.run_script(&argv, "exec vnx init")?;
    Ok(())
}

/// `git ARGS…` in `repo`, the `ext` transport (git runs the engine's client itself, no
/// shell) allowed for this one command only.
pub(super) fn git(repo: &Path, args: &[&str]) -> Cmd {
    Cmd::git()
        .cwd(repo)
        .args(["-c", "protocol.ext.allow=always"])
        .args(args)
}

/// The runner, then the storage, removed: the dispatch's work is here.
pub(super) fn remove(m: &dyn Made) -> Result<bool, RemoteError> {
    m.stop()?;
    m.drop_storage()?;
    Ok(true)
}

/// Runs `cmd` in the place within `limit`. When it exits with a status `suspect` names (the
/// one the engine's client exits with when it could not run the command), the runner's state
/// tells: not running is [`RemoteError::Gone`]; running, the engine's own failure when
/// `engine_failed` says so, else the command's output.
pub(super) fn run(
    m: &dyn Made,
    cmd: Cmd,
    limit: Duration,
    suspect: impl Fn(i32) -> bool,
    engine_failed: impl Fn(&Output) -> bool,
) -> Result<Output, RemoteError> {
    let out = process::run(&cmd.timeout(limit)).map_err(|e| match e {
        process::ProcessError::TimedOut { .. } => RemoteError::Unreachable {
            host: m.place_name().to_owned(),
            detail: format!("no answer within {} s", limit.as_secs()),
        },
        other => RemoteError::Process(other),
    })?;
    if out.status.code().is_some_and(suspect) {
        match m.state()? {
            Some(state) if m.is_running(&state) => {
                if engine_failed(&out) {
                    return Err(RemoteError::Unreachable {
                        host: m.place_name().to_owned(),
                        detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                    });
                }
            }
            state => {
                return Err(RemoteError::Gone {
                    place: m.place_name().to_owned(),
                    state: state.unwrap_or_else(|| "removed".into()),
                });
            }
        }
    }
    Ok(out)
}
