//! What a dispatch starts with from before it: the session files its CLI resumes, copied
//! from the dispatch it continues; its CLI's memory (the project's, and its chain's: ADR
//! 0126); and for a CLI that is given a home of its own ([`OwnHome`]), that home, seeded
//! from the user's but for its memory, with its chain's sessions. Everything read from an
//! earlier dispatch is its worker's: never through a link, never a FIFO, bounded.

use std::path::{Path, PathBuf};

use super::super::{Context, DispatchError, Spec, io_err};
use crate::provider::cli::{CLIS, OwnHome};

/// The most a carried session file may weigh.
const MAX_CARRIED_BYTES: u64 = 16 * 1024 * 1024;

/// A follow-up that resumes a session its CLI keeps in the dispatch directory (its
/// `CodingCli::carried_files`) starts with those files of the dispatch it continues. They
/// are the earlier worker's: read without following a link, bounded, and only handed back
/// to the same CLI as its own history. A missing or unreadable one is left out (the session
/// then starts afresh).
pub(super) fn carry_session(spec: &Spec) -> Result<(), DispatchError> {
    let (Some(continues), Some(cli)) = (
        spec.continues.as_ref().filter(|c| c.session_id.is_some()),
        spec.cli(),
    ) else {
        return Ok(());
    };
    let Some(earlier) = spec
        .dispatch_dir
        .parent()
        .map(|d| d.join(continues.dispatch_id.as_str()))
    else {
        return Ok(());
    };
    carry(
        &earlier,
        &spec.dispatch_dir,
        cli.carried_files(),
        MAX_CARRIED_BYTES,
    )
}

/// The memory folder of a CLI that keeps memory ([`crate::memory`]), seeded.
pub(super) fn seed_memory(ctx: &Context<'_>, spec: &Spec) -> Result<(), DispatchError> {
    let Some(cli) = spec.cli().filter(|c| c.keeps_memory()) else {
        return Ok(());
    };
    let folder = |dispatch_dir: &Path| cli.memory_folder(dispatch_dir, &spec.repo_root);
    let earlier = (spec.continues.as_ref())
        .map(|c| folder(&super::super::dir_of(&spec.repo_root, &c.dispatch_id)));
    let (dir, earlier) = (folder(&spec.dispatch_dir), earlier.as_deref());
    crate::memory::seed_dispatch(ctx.ledger, ctx.attestor, cli.name(), &dir, earlier)
        .map_err(|e| DispatchError::Memory(Box::new(e)))
}

/// Copies the files `names` of `earlier` (a worker's: read bounded) into `dir`, if it can.
fn carry(earlier: &Path, dir: &Path, names: &[&str], max: u64) -> Result<(), DispatchError> {
    for name in names {
        if let Ok(data) = crate::files::read_bounded(&earlier.join(name), max) {
            let path = dir.join(name);
            crate::files::write_private(&path, &data).map_err(io_err(&path))?;
        }
    }
    Ok(())
}

/// The most a follow-up copies of its chain's sessions in a home of its CLI's own.
const MAX_SESSIONS_BYTES: u64 = 64 * 1024 * 1024;
/// The most files it copies, and how deep it goes.
const MAX_SESSIONS_FILES: usize = 4096;
const MAX_SESSIONS_DEPTH: usize = 6;

/// The home of its own a CLI is given ([`OwnHome`]), made in the dispatch's directory: its
/// state directory seeded with the top-level files of the user's (its settings and login,
/// as a sandbox's private copy is seeded) but for its memory file, which is a link to the
/// dispatch's memory folder's file of that name (so what the CLI loads as memory is what
/// vnx seeded there, and what it writes there stays with the dispatch); a follow-up's also
/// holds a copy of its chain's sessions, which its CLI resumes.
pub(super) fn seed_own_home(ctx: &Context<'_>, spec: &Spec) -> Result<(), DispatchError> {
    let Some((cli, own)) = spec.cli().and_then(|c| Some((c, c.own_home()?))) else {
        return Ok(());
    };
    let state = OwnHome::of(&spec.dispatch_dir).join(own.state);
    let users = super::plan::users_homes(ctx)
        .get(cli.name())
        .map(Path::to_owned);
    let sessions = (spec.continues.as_ref())
        .zip(crate::provider::session::Cli::of(cli.name()))
        .map(|(c, sessions)| {
            let earlier = super::super::dir_of(&spec.repo_root, &c.dispatch_id);
            (
                sessions.sessions_in(&OwnHome::of(&earlier).join(own.state)),
                sessions.sessions_in(&state),
            )
        });
    let folder = cli.memory_folder(&spec.dispatch_dir, &spec.repo_root);
    make_own_home(&state, users.as_deref(), &folder.join(own.memory), sessions)
}

/// Makes the state directory `state` of a home of its own: the top-level files of the user's
/// (`users`) but its memory file, which is a link to `memory`; and the chain's `sessions`
/// (from, to) copied.
fn make_own_home(
    state: &Path,
    users: Option<&Path>,
    memory: &Path,
    sessions: Option<(PathBuf, PathBuf)>,
) -> Result<(), DispatchError> {
    let copy = crate::receipts::PrivateHome {
        copy: state.to_owned(),
        shown_at: users.unwrap_or(state).to_owned(),
        dir: true,
    };
    crate::sandbox::home::seed(std::slice::from_ref(&copy)).map_err(|e| match e {
        crate::sandbox::SandboxError::Io { path, source } => io_err(&path)(source),
        other => DispatchError::Sandbox(other),
    })?;
    let link = state.join(memory.file_name().unwrap_or_default());
    match std::fs::remove_file(&link) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(&link)(e)),
        _ => {}
    }
    std::os::unix::fs::symlink(memory, &link).map_err(io_err(&link))?;
    if let Some((from, to)) = sessions {
        let mut budget = (MAX_SESSIONS_BYTES, MAX_SESSIONS_FILES);
        copy_tree(&from, &to, MAX_SESSIONS_DEPTH, &mut budget)?;
    }
    Ok(())
}

/// Copies the regular files below `from` (an earlier worker's: never through a link, never a
/// FIFO, each read bounded) into `to`, made private, as deep as `depth`, within `budget`
/// (bytes, files); what is past it is left out.
fn copy_tree(
    from: &Path,
    to: &Path,
    depth: usize,
    budget: &mut (u64, usize),
) -> Result<(), DispatchError> {
    let entries = crate::provider::cli::session::entries(from);
    if entries.is_empty() {
        return Ok(());
    }
    crate::files::private_dir(to).map_err(io_err(to))?;
    for (name, kind) in entries {
        let (source, target) = (from.join(&name), to.join(&name));
        if kind.is_dir() && depth > 0 {
            copy_tree(&source, &target, depth - 1, budget)?;
        } else if kind.is_file() && budget.1 > 0 {
            let Ok(data) = crate::files::read_bounded(&source, budget.0) else {
                continue;
            };
            budget.0 -= data.len() as u64;
            budget.1 -= 1;
            crate::files::write_private(&target, &data).map_err(io_err(&target))?;
        }
    }
    Ok(())
}

/// Removes the copies of the user's login from the homes of their own the CLIs were given
/// in `dispatch_dir`, once its worker has ended (or never started): the sessions stay, for a
/// follow-up and for what vnx reads of them.
pub(crate) fn forget_logins(dispatch_dir: &Path) {
    let home = OwnHome::of(dispatch_dir);
    for cli in CLIS.iter().filter(|c| c.own_home().is_some()) {
        for login in cli.login_files() {
            let _ = std::fs::remove_file(home.join(login.rel));
        }
    }
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "a test makes a FIFO with mkfifo(1)"
)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn a_carried_session_file_is_copied_but_never_through_a_link_or_oversize() {
        let tmp = tempfile::tempdir().unwrap();
        let (earlier, dir) = (tmp.path().join("D-1"), tmp.path().join("D-2"));
        std::fs::create_dir_all(&earlier).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(earlier.join("chat.md"), "the earlier turn\n").unwrap();
        let secret = tmp.path().join("secret");
        std::fs::write(&secret, "SECRET\n").unwrap();
        std::os::unix::fs::symlink(&secret, earlier.join("linked.md")).unwrap();
        std::fs::write(earlier.join("big.md"), "x".repeat(100)).unwrap();
        fifo(&earlier.join("fifo.md"));
        let names = ["chat.md", "linked.md", "big.md", "fifo.md", "missing.md"];
        carry(&earlier, &dir, &names, 64).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("chat.md")).unwrap(),
            "the earlier turn\n"
        );
        for left_out in ["linked.md", "big.md", "fifo.md", "missing.md"] {
            assert!(!dir.join(left_out).exists(), "{left_out}");
        }
    }

    #[test]
    fn a_home_of_its_own_has_the_users_settings_the_dispatchs_memory_and_the_chains_sessions() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        let users = t.join("home/.tool");
        fs::create_dir_all(users.join("extensions/planted")).unwrap();
        fs::write(users.join("settings.json"), "{}").unwrap();
        fs::write(users.join("MEMO.md"), "the user's memory, or a plant").unwrap();
        fs::write(users.join("extensions/planted/run.js"), "x").unwrap();
        // The chain's sessions, as its worker left them.
        let earlier = t.join("D-1/own-home/.tool/tmp");
        fs::create_dir_all(earlier.join("proj/chats")).unwrap();
        fs::write(earlier.join("proj/chats/session-1.jsonl"), "{}\n").unwrap();
        fs::write(earlier.join("proj/.project_root"), "/wt").unwrap();
        fs::write(t.join("secret"), "key").unwrap();
        std::os::unix::fs::symlink(t.join("secret"), earlier.join("proj/chats/link.jsonl"))
            .unwrap();
        std::os::unix::fs::symlink(t.join("home"), earlier.join("proj/linked-dir")).unwrap();
        fifo(&earlier.join("proj/chats/fifo.jsonl"));

        let state = t.join("D-2/own-home/.tool");
        let memory = t.join("D-2/memory/MEMO.md");
        let sessions = Some((earlier.clone(), state.join("tmp")));
        make_own_home(&state, Some(&users), &memory, sessions).unwrap();
        assert_eq!(
            fs::read_to_string(state.join("settings.json")).unwrap(),
            "{}"
        );
        assert!(
            !state.join("extensions").exists(),
            "a subdirectory is the user's"
        );
        let link = fs::read_link(state.join("MEMO.md")).unwrap();
        assert_eq!(link, memory, "its memory file is the dispatch's");
        let copied = state.join("tmp/proj");
        assert_eq!(
            fs::read_to_string(copied.join("chats/session-1.jsonl")).unwrap(),
            "{}\n"
        );
        assert_eq!(
            fs::read_to_string(copied.join(".project_root")).unwrap(),
            "/wt"
        );
        for left_out in ["chats/link.jsonl", "chats/fifo.jsonl", "linked-dir"] {
            assert!(
                fs::symlink_metadata(copied.join(left_out)).is_err(),
                "{left_out}"
            );
        }
    }

    #[test]
    fn the_login_copied_into_a_home_of_its_own_goes_and_the_sessions_stay() {
        let tmp = tempfile::tempdir().unwrap();
        let home = OwnHome::of(tmp.path());
        let mut logins = Vec::new();
        for cli in CLIS.iter().filter(|c| c.own_home().is_some()) {
            let own = cli.own_home().unwrap();
            fs::create_dir_all(home.join(own.state).join("tmp/proj")).unwrap();
            fs::write(home.join(own.state).join("tmp/proj/s.jsonl"), "{}").unwrap();
            for login in cli.login_files() {
                fs::write(home.join(login.rel), "token").unwrap();
                logins.push(home.join(login.rel));
            }
        }
        assert!(
            !logins.is_empty(),
            "a CLI with a home of its own has a login"
        );
        forget_logins(tmp.path());
        for login in logins {
            assert!(!login.exists(), "{}", login.display());
        }
        for cli in CLIS.iter().filter_map(|c| c.own_home()) {
            assert!(home.join(cli.state).join("tmp/proj/s.jsonl").is_file());
        }
    }

    fn fifo(path: &Path) {
        assert!(
            std::process::Command::new("mkfifo")
                .arg(path)
                .status()
                .unwrap()
                .success()
        );
    }
}
