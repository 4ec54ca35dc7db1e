//! What the places vnx makes per dispatch share (a container, a pod): storage that keeps the
//! dispatch's work (a volume, a claim) and what runs on it (a container, a pod), made in one
//! order and undone in the reverse one, so that nothing half-made stays and no work is lost;
//! a runner the engine no longer runs is [`RemoteError::Gone`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::RemoteError;
use crate::config::{HostConfig, MADE_CLONE};
use crate::ids::DispatchId;
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

/// The most of a file read to take the part of it that logs in (a CLI's file that also keeps
/// every project's history grows with it), in bytes.
const MAX_LOGIN_SOURCE: u64 = 64 << 20;

/// One file that logs a CLI in, as a place gets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Login {
    /// The file here.
    pub from: PathBuf,
    /// Where it goes under the home directory there.
    pub rel: String,
    /// Only these bytes of it (the part that logs in), when not the whole file.
    pub part: Option<Vec<u8>>,
}

/// The files here, in `home`, that log in the CLIs `logins` names (the registry's names),
/// as each CLI's module names them ([`crate::provider::cli::CodingCli::login_files`]): whole,
/// or only the part that logs in, for the CLI working in the place's clone. Never its
/// history or sessions, a link, a file that is not regular, or a name a container engine's
/// `--volume` would split. None without a home.
pub(super) fn login_files(logins: &[String], home: Option<&Path>) -> Vec<Login> {
    use crate::provider::cli::login::Carry;
    let Some(home) = home else {
        return Vec::new();
    };
    let regular = |p: &Path| p.symlink_metadata().is_ok_and(|m| m.is_file());
    let mut out = Vec::new();
    let clis = logins.iter().filter_map(|c| crate::provider::cli::named(c));
    for file in clis.flat_map(|cli| cli.login_files()) {
        let from = home.join(file.rel);
        if !regular(&from) || from.to_string_lossy().contains([':', ',']) {
            continue;
        }
        let part = match file.carry {
            Carry::Whole => None,
            Carry::Part(keep) => {
                let bytes = crate::files::read_bounded(&from, MAX_LOGIN_SOURCE).ok();
                match bytes.and_then(|b| keep(&b, MADE_CLONE)) {
                    Some(part) => Some(part),
                    None => continue,
                }
            }
        };
        // Once, though two CLIs name it (one run through the other's program).
        if out.iter().any(|l: &Login| l.rel == file.rel) {
            continue;
        }
        let rel = file.rel.to_owned();
        out.push(Login { from, rel, part });
    }
    out.truncate(MAX_LOGIN_FILES);
    out
}

/// The branch the place's clone is made on (never a dispatch's).
const PLACE_BRANCH: &str = "vnx-place";

/// A place made per dispatch, as its engine makes it (named `HOST.ID`).
pub trait Made: super::Place {
    /// The engine's client program.
    fn program(&self) -> &str;

    /// Whether the storage that keeps the work exists.
    fn storage_exists(&self) -> Result<bool, RemoteError>;

    /// The runner's state as the engine says it; `None` when there is no runner.
    fn state(&self) -> Result<Option<String>, RemoteError>;

    /// Whether `state` is one commands can be run in.
    fn is_running(&self, state: &str) -> bool;

    /// Whether `state` is a runner held still by a person (`podman pause`): its work goes on
    /// once it is let go, so it is waited for as an unreachable host is, never lost at once.
    fn is_paused(&self, _state: &str) -> bool {
        false
    }

    /// Makes the storage (labelled with the dispatch's id).
    fn make_storage(&self) -> Result<(), RemoteError>;

    /// Whether making the storage refuses a name in use (podman's `volume create`): it is
    /// then made in one call, and looked for only when that fails; else looked for first.
    fn make_refuses_a_name_in_use(&self) -> bool {
        false
    }

    /// Makes the storage unless it exists: whether it was made.
    fn make_new_storage(&self) -> Result<bool, RemoteError> {
        if self.make_refuses_a_name_in_use() {
            return match self.make_storage() {
                Ok(()) => Ok(true),
                Err(e) => match self.storage_exists() {
                    Ok(true) => Ok(false),
                    _ => Err(e),
                },
            };
        }
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
            host: self.name().to_owned(),
            command: format!("{} {what}", self.program()),
            status: status.unwrap_or(-1),
            stderr: last_line(stderr),
        }
    }
}

/// The last line a client wrote to `stderr`: what failed (kubectl logs its retries before it).
fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.trim().lines().last().unwrap_or_default().to_owned()
}

/// The place made (see [`super::Place::make`]). For a new dispatch, its storage made now
/// (storage there already holds the work of a dispatch of the same id, never taken over),
/// then the runner, then an empty clone committing as the project at `project_root` does.
/// For one the place holds, its storage must be there, and its runner is kept when it runs
/// or else made again. Whatever failed is undone: the runner, and storage made just now.
pub(super) fn make(m: &dyn Made, project_root: &Path, fresh: bool) -> Result<(), RemoteError> {
    if fresh {
        if !m.make_new_storage()? {
            let place = m.name();
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
                place: m.name().to_owned(),
                state: "removed with what held its work once it was merged".into(),
            });
        }
        match m.state()? {
            Some(state) if m.is_running(&state) => return Ok(()),
            Some(state) if m.is_paused(&state) => return Err(paused(m)),
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
            MADE_CLONE,
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
pub(super) fn seed(m: &dyn Made, base_ref: &str) -> Result<(), RemoteError> {
    let argv = script(SEED, &[MADE_CLONE, base_ref, &m.host().vnx]);
    m.run_script(&argv, "exec vnx init")?;
    Ok(())
}

/// The runner, then the storage, removed: the dispatch's work is here.
pub(super) fn remove(m: &dyn Made) -> Result<bool, RemoteError> {
    m.stop()?;
    m.drop_storage()?;
    Ok(true)
}

/// A paused runner, as an unreachable place: waited for (its dispatch keeps its slot) until
/// its host's `lost_after_seconds`, never lost at once nor made again over its work.
fn paused(m: &dyn Made) -> RemoteError {
    RemoteError::Unreachable {
        host: m.name().to_owned(),
        detail: format!("it is paused (`{} unpause` lets it go on)", m.program()),
    }
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
    let out = super::place::run_within(m.name(), cmd, limit)?;
    if out.status.code().is_some_and(suspect) {
        running(m)?;
        if engine_failed(&out) {
            return Err(RemoteError::Unreachable {
                host: m.name().to_owned(),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
    }
    Ok(out)
}

/// Whether the runner runs, asked when a command or a channel into it failed as if it did
/// not: `Ok` when it does; a paused runner is waited for ([`paused`]); else the place is
/// [`RemoteError::Gone`].
pub(super) fn running(m: &dyn Made) -> Result<(), RemoteError> {
    match m.state()? {
        Some(state) if m.is_running(&state) => Ok(()),
        Some(state) if m.is_paused(&state) => Err(paused(m)),
        state => Err(RemoteError::Gone {
            place: m.name().to_owned(),
            state: state.unwrap_or_else(|| "removed".into()),
        }),
    }
}

/// How long one listing of a host's places may take: `vnx status` waits for it.
pub(super) const LIST_LIMIT: Duration = Duration::from_secs(15);

/// The most of a listing read.
const MAX_LISTING: usize = 4 << 20;

/// The most places one listing yields.
pub(super) const MAX_FOUND: usize = 1000;

/// The key of the project whose files are in `data_dir`: a short hash of where they are, a
/// label of everything vnx makes for it, so that two projects sharing an engine or a
/// namespace never see each other's places.
pub(super) fn project_key(data_dir: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(data_dir.to_string_lossy().as_bytes());
    hex::encode(digest)[..12].to_owned()
}

/// One engine object of a place, as a listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Seen {
    /// The dispatch it was made for.
    pub id: DispatchId,
    /// What it is and its name, in words (`container vnx-d-…`).
    pub object: String,
    /// Whether it runs the dispatch's commands now.
    pub running: bool,
}

/// A listing's output, within [`LIST_LIMIT`] and [`MAX_LISTING`].
pub(super) fn listing(host: &HostConfig, cmd: Cmd) -> Result<Vec<u8>, RemoteError> {
    let out = process::run(&cmd.timeout(LIST_LIMIT).max_output(MAX_LISTING)).map_err(|e| {
        RemoteError::Unreachable {
            host: host.name.clone(),
            detail: e.to_string(),
        }
    })?;
    if !out.status.success() {
        return Err(RemoteError::Unreachable {
            host: host.name.clone(),
            detail: last_line(&out.stderr),
        });
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::cli::login::Carry;

    fn write(home: &Path, rel: &str, text: &str) {
        let path = home.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Issue 69: `logins:` gave a place every file at the top of a CLI's state directories
    /// and the whole of its state files, every project's prompt history with them.
    /// Here every CLI's state holds its login files beside history, sessions below, and
    /// another project's entry inside a file of which only a part logs in: a place gets the
    /// login files, nothing of the rest.
    #[test]
    fn a_place_gets_what_logs_its_clis_in_and_no_history() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let clis = crate::provider::cli::CLIS.iter();
        let names: Vec<String> = clis.clone().map(|c| c.provider().name().into()).collect();
        let files: Vec<_> = clis.flat_map(|c| c.login_files()).collect();
        for f in &files {
            let text = match (f.carry, f.rel.rsplit_once('.').map(|(_, ext)| ext)) {
                (Carry::Whole, _) => "LOGIN",
                (Carry::Part(_), Some("json")) => r#"{"projects":{"/x":{"history":["SECRET"]}}}"#,
                (Carry::Part(_), Some("toml")) => "[projects.\"/x\"]\nhistory = \"SECRET\"\n",
                (Carry::Part(_), _) => "SECRET",
            };
            write(h, f.rel, text);
            let dir = Path::new(f.rel).parent().unwrap();
            write(h, &dir.join("history.jsonl").to_string_lossy(), "SECRET");
            write(h, &dir.join("projects/x.jsonl").to_string_lossy(), "SECRET");
        }
        let got = login_files(&names, Some(h));
        for l in &got {
            assert!(files.iter().any(|f| f.rel == l.rel), "{} carried", l.rel);
            assert_eq!(l.from, h.join(&l.rel));
            let carried = match &l.part {
                Some(part) => String::from_utf8_lossy(part).into_owned(),
                None => std::fs::read_to_string(&l.from).unwrap(),
            };
            assert!(!carried.contains("SECRET"), "{}: {carried}", l.rel);
        }
        let whole = files.iter().filter(|f| matches!(f.carry, Carry::Whole));
        for f in whole.clone() {
            assert!(
                got.iter().any(|l| l.rel == f.rel && l.part.is_none()),
                "{}",
                f.rel
            );
        }
        // A link is never followed; no home, nothing.
        let first = whole.clone().next().unwrap().rel;
        std::fs::remove_file(h.join(first)).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", h.join(first)).unwrap();
        assert!(!login_files(&names, Some(h)).iter().any(|l| l.rel == first));
        assert!(login_files(&names, None).is_empty());
    }
}
