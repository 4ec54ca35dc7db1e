//! A place's steps over its relay (ADR 0087): the relays this process keeps open, by the
//! name of what runs them, and what goes over one — a command in the clone, vnx's own
//! scripts, and git's part (the base sent as a pack, a branch brought back as a bundle, both
//! files here that git reads as it would a remote's answer). A step finds no relay (another
//! process made the place, or the relay is gone) and goes through the engine's `exec`
//! instead: the caller's `None`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::RemoteError;
use super::made::script;
use super::relay::{Ending, MAX_FRAME, Relay, RelayError, Request};
use crate::config::MADE_CLONE;
use crate::files::write_private;
use crate::process::{self, Cmd, Output};

/// The relays this process opened, by the name of the runner each reaches; each locked on
/// its own while a step goes over it (a long poll holds only its own).
static OPEN: Mutex<BTreeMap<String, Arc<Mutex<Relay>>>> = Mutex::new(BTreeMap::new());

fn open() -> std::sync::MutexGuard<'static, BTreeMap<String, Arc<Mutex<Relay>>>> {
    OPEN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps `relay` for the runner `name`.
pub(super) fn keep(name: &str, relay: Relay) {
    open().insert(name.to_owned(), Arc::new(Mutex::new(relay)));
}

/// The relays asked to end whose engine's client is still finishing, by runner.
static ENDING: Mutex<BTreeMap<String, Ending>> = Mutex::new(BTreeMap::new());

/// Ends the relay to runner `name` (and the runner with it), if this process has one and no
/// step is under way over it; the engine's client finishes meanwhile ([`ended`]).
pub(super) fn end(name: &str, limit: Duration) -> Option<Result<(), RelayError>> {
    let relay = open().remove(name)?;
    let relay = Arc::into_inner(relay)?.into_inner();
    let relay = relay.unwrap_or_else(PoisonError::into_inner);
    Some(relay.end(limit).map(|ending| {
        let mut ending_now = ENDING.lock().unwrap_or_else(PoisonError::into_inner);
        ending_now.insert(name.to_owned(), ending);
    }))
}

/// Waits until the runner `name`, whose relay this process ended, is gone (nothing, when it
/// ended none): before anything else is made or removed by that name.
pub(super) fn ended(name: &str) {
    let ending = ENDING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(name);
    if let Some(ending) = ending {
        ending.wait();
    }
}

/// Whether this process has a relay to runner `name`.
pub(super) fn is_open(name: &str) -> bool {
    open().contains_key(name)
}

/// How a relayed step failed when the channel did.
pub(super) enum Failed {
    /// Nothing was sent: the step can go through the engine instead.
    NotSent,
    /// The command ran past its limit there.
    TimedOut(String),
    /// The channel broke with the step under way (it is dropped).
    Broken(String),
}

/// Runs `argv` (in `cwd`) over the relay to runner `name`, `body` its input; `None` when this
/// process has no relay there.
pub(super) fn call(
    name: &str,
    argv: &[String],
    cwd: Option<&str>,
    body: &[u8],
    limit: Duration,
    max: usize,
) -> Option<Result<Output, Failed>> {
    let relay = open().get(name)?.clone();
    let mut relay = relay.lock().unwrap_or_else(PoisonError::into_inner);
    let request = Request {
        argv: argv.to_vec(),
        cwd: cwd.map(str::to_owned),
        stdin: 0,
        limit_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
        max,
    };
    let answer = relay.call(&request, body);
    Some(match answer {
        Ok(out) => Ok(out),
        Err(RelayError::NotRun(detail)) => Err(Failed::TimedOut(detail)),
        Err(e) => {
            drop(relay);
            open().remove(name);
            match e {
                RelayError::Closed => Err(Failed::NotSent),
                e => Err(Failed::Broken(e.to_string())),
            }
        }
    })
}

/// Where a relayed step keeps its files here: `dir`, named after the runner.
fn scratch(dir: &Path, name: &str, what: &str) -> Result<PathBuf, RemoteError> {
    crate::files::private_dir(dir).map_err(super::io(dir))?;
    let path = dir.join(format!("relay-{name}.{what}"));
    let _ = std::fs::remove_file(&path);
    Ok(path)
}

/// Takes the objects of a pack on stdin into the clone `$1`, then sets `$2` to `$3`.
const TAKE_PACK: &str = "set -e; cd \"$1\"; git index-pack --stdin >/dev/null; \
                         git update-ref \"$2\" \"$3\"";

/// Writes a bundle of the ref `$2` of the clone `$1` to stdout: what is new since the bases
/// sent here (`refs/vnx/incoming/`), or, when nothing is, its tip alone; exit 3 when there is
/// no such ref.
const GIVE_BUNDLE: &str = "cd \"$1\" || exit 1; \
                           git rev-parse -q --verify \"$2^{commit}\" >/dev/null || exit 3; \
                           set -- \"$2\" $(git for-each-ref --format='^%(objectname)' \
                           refs/vnx/incoming); \
                           [ -n \"$(git rev-list -n 1 \"$@\")\" ] || set -- \"$1\" --not \"$1^@\"; \
                           exec git bundle create -q - \"$@\"";

/// What a relayed git step did: done, or `None` to go over git's own transport (no relay,
/// or more than a relay carries).
pub(super) type GitStep = Option<Result<(), RemoteError>>;

/// Sets `dst` in the clone of runner `name` to `commit` of `repo`, sent as a pack.
pub(super) fn push(
    (name, place): (&str, &str),
    dir: &Path,
    repo: &Path,
    commit: &str,
    dst: &str,
) -> GitStep {
    if !is_open(name) {
        return None;
    }
    let pack = (|| {
        let revs = scratch(dir, name, "revs")?;
        let line = format!("{commit}\n");
        write_private(&revs, line.as_bytes()).map_err(super::io(&revs))?;
        let cmd = Cmd::git()
            .cwd(repo)
            .args(["pack-objects", "--stdout", "--revs", "-q"])
            .stdin_file(&revs)
            .max_output(MAX_FRAME);
        let out = process::run(&cmd).map_err(|source| RemoteError::Git {
            host: place.to_owned(),
            source,
        });
        let _ = std::fs::remove_file(&revs);
        out
    })();
    let pack = match pack {
        Ok(out) if out.status.success() && out.stdout.len() < MAX_FRAME => out.stdout,
        Ok(_) => return None,
        Err(e) => return Some(Err(e)),
    };
    let argv = script(TAKE_PACK, &[MADE_CLONE, dst, commit]);
    let out = call(name, &argv, None, &pack, GIT_LIMIT, 64 << 10)?;
    Some(must(place, "git index-pack", out))
}

/// How long a relayed git step may take there.
const GIT_LIMIT: Duration = Duration::from_secs(600);

/// Fetches `src` of the clone of runner `name` into `dst` of `repo` (fast-forward only),
/// through a bundle.
pub(super) fn fetch(
    (name, place): (&str, &str),
    dir: &Path,
    repo: &Path,
    src: &str,
    dst: &str,
) -> GitStep {
    let argv = script(GIVE_BUNDLE, &[MADE_CLONE, src]);
    let bundle = match call(name, &argv, None, &[], GIT_LIMIT, MAX_FRAME)? {
        Ok(out) if out.status.success() => out.stdout,
        other => return Some(must(place, "git bundle create", other)),
    };
    if bundle.len() >= MAX_FRAME {
        return None;
    }
    Some((|| {
        let path = scratch(dir, name, "bundle")?;
        write_private(&path, &bundle).map_err(super::io(&path))?;
        let spec = format!("{src}:{dst}");
        let cmd = Cmd::git()
            .cwd(repo)
            .args(["fetch", "--quiet", "--no-tags"])
            .arg(&path)
            .arg(&spec);
        let fetched = process::run_ok(&cmd);
        let _ = std::fs::remove_file(&path);
        fetched.map(drop).map_err(|source| RemoteError::Git {
            host: place.to_owned(),
            source,
        })
    })())
}

/// A relayed step's outcome as the place's error: the command's failure by name, the
/// channel's as the place out of reach.
pub(super) fn must(
    place: &str,
    what: &str,
    out: Result<Output, Failed>,
) -> Result<(), RemoteError> {
    match out {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(RemoteError::Remote {
            host: place.to_owned(),
            command: what.to_owned(),
            status: out.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        }),
        Err(f) => Err(unreachable(place, f)),
    }
}

/// The channel's failure as the place out of reach.
pub(super) fn unreachable(place: &str, failed: Failed) -> RemoteError {
    RemoteError::Unreachable {
        host: place.to_owned(),
        detail: match failed {
            Failed::NotSent => "the relay's channel is closed".into(),
            Failed::TimedOut(d) | Failed::Broken(d) => d,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        process::run_ok(&Cmd::git().cwd(dir).args(args)).unwrap()
    }

    fn repo(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        git(dir, &["init", "-q", "-b", "main"]);
        git(dir, &["config", "user.name", "t"]);
        git(dir, &["config", "user.email", "t@t"]);
    }

    fn commit(dir: &Path, msg: &str) -> String {
        git(dir, &["commit", "-q", "--allow-empty", "-m", msg]);
        git(dir, &["rev-parse", "HEAD"])
    }

    /// Runs one of the scripts as the relay would (`sh -c SCRIPT sh ARGS…`, input `body`).
    fn run(script_text: &str, args: &[&str], body: &[u8], dir: &Path) -> Output {
        let input = dir.join("input");
        std::fs::write(&input, body).unwrap();
        let argv = script(script_text, args);
        process::run(&Cmd::new(&argv[0]).args(&argv[1..]).stdin_file(&input)).unwrap()
    }

    #[test]
    fn a_base_goes_as_a_pack_and_a_branch_comes_back_as_a_bundle_with_what_is_new() {
        let tmp = tempfile::tempdir().unwrap();
        let (here, there) = (tmp.path().join("here"), tmp.path().join("there"));
        repo(&here);
        commit(&here, "one");
        let base = commit(&here, "two");
        repo(&there);
        // The base sent: the pack this side makes, taken there.
        let revs = tmp.path().join("revs");
        std::fs::write(&revs, format!("{base}\n")).unwrap();
        let pack = process::run(
            &Cmd::git()
                .cwd(&here)
                .args(["pack-objects", "--stdout", "--revs", "-q"])
                .stdin_file(&revs),
        )
        .unwrap()
        .stdout;
        let there_s = there.to_str().unwrap();
        let taken = run(
            TAKE_PACK,
            &[there_s, "refs/vnx/incoming/D-1", &base],
            &pack,
            tmp.path(),
        );
        assert!(
            taken.status.success(),
            "{}",
            String::from_utf8_lossy(&taken.stderr)
        );
        // A branch with no commit of its own comes back as its tip alone; one with commits
        // as what is new since the base.
        git(&there, &["branch", "dispatch/D-1", &base]);
        for round in 0..2 {
            let out = run(
                GIVE_BUNDLE,
                &[there_s, "refs/heads/dispatch/D-1"],
                b"",
                tmp.path(),
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let bundle = tmp.path().join(format!("b{round}"));
            std::fs::write(&bundle, &out.stdout).unwrap();
            let spec = "refs/heads/dispatch/D-1:refs/heads/dispatch/D-1";
            git(&here, &["fetch", "-q", bundle.to_str().unwrap(), spec]);
            let want = git(&there, &["rev-parse", "dispatch/D-1"]);
            assert_eq!(git(&here, &["rev-parse", "dispatch/D-1"]), want);
            git(&there, &["checkout", "-q", "dispatch/D-1"]);
            commit(&there, "work");
        }
        let none = run(
            GIVE_BUNDLE,
            &[there_s, "refs/heads/nothing"],
            b"",
            tmp.path(),
        );
        assert_eq!(none.status.code(), Some(3), "no such branch");
    }
}
