//! Whether anything of a dispatch still runs: the one answer `worktree-release`, `status` and
//! `wait` share. A dispatch lives while its launcher or its supervisor holds the lock file in
//! its dispatch directory (held from the claim of the id to the supervisor's last receipt),
//! while its tmux session exists, or while any process works inside its worktree (a worker
//! that outlived its supervisor, or ignores signals). Only when none of these holds may its
//! work be called lost or released.

use crate::ids::DispatchId;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The lock file in a dispatch directory.
pub const LOCK_FILE: &str = "lock";

/// Why a dispatch counts as alive.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "detail")]
pub enum Alive {
    /// Its launcher or supervisor holds the dispatch's lock.
    Locked(PathBuf),
    /// Its tmux session exists.
    Session(String),
    /// A process works inside its worktree.
    Process(u32),
}

impl std::fmt::Display for Alive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Alive::Locked(p) => write!(f, "its supervisor or launcher holds {}", p.display()),
            Alive::Session(s) => write!(f, "its tmux session {s} is alive"),
            Alive::Process(pid) => write!(f, "process {pid} is working in its worktree"),
        }
    }
}

/// Takes the dispatch's lock (creating the file, private), waiting while another holds it;
/// held until the file is dropped. The dispatch directory is the worker's to write: the lock
/// is never opened through a link or on a FIFO.
pub fn hold(dispatch_dir: &Path) -> io::Result<File> {
    let held = crate::files::lock_file(&dispatch_dir.join(LOCK_FILE), true)?;
    held.ok_or_else(|| io::Error::other("the dispatch lock was not taken"))
}

/// The file in a dispatch directory that says its launch is complete: the hash of its
/// `dispatch_started` line, written after that line is on the ledger.
pub const STARTED_FILE: &str = "started";

/// Records that the launch of the dispatch in `dispatch_dir` is complete (see
/// [`await_launch`]).
pub fn write_started(dispatch_dir: &Path, started_hash: &str) -> io::Result<()> {
    crate::files::write_private(&dispatch_dir.join(STARTED_FILE), started_hash.as_bytes())
}

/// What a supervisor does first: waits while the dispatch's launcher holds the lock (it
/// starts the supervisor's pane before it makes the worktree), then reads how the launch
/// ended: the `dispatch_started` line's hash, or `None` when the launch was undone (its
/// directory, or the mark [`write_started`] leaves, is gone). Read before any worker runs,
/// so nothing of a worker's can be there yet.
pub fn await_launch(dispatch_dir: &Path) -> io::Result<Option<String>> {
    match hold(dispatch_dir) {
        Ok(lock) => drop(lock),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    match crate::files::read_bounded(&dispatch_dir.join(STARTED_FILE), 256) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).trim().to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The entry hash of dispatch `id`'s `dispatch_started` on the ledger, when a trusted key
/// attests it: what a supervisor whose launcher was killed after appending the start, and
/// before marking the launch complete, goes on from (the start is what makes a dispatch).
pub fn start_on_ledger(
    ledger: &Path,
    id: &crate::ids::DispatchId,
    trusted: &[[u8; 32]],
) -> Result<Option<String>, crate::ledger::LedgerError> {
    use crate::ledger::json::Value;
    let (found, _) = crate::ledger::tail::last_lines(ledger, 1, |l| {
        memchr::memmem::find(l, b"dispatch_started").is_some()
            && memchr::memmem::find(l, id.as_str().as_bytes()).is_some()
            && crate::ledger::json::object_of_line(l).is_some_and(|o| {
                o.get("event_type").and_then(Value::as_str) == Some("dispatch_started")
                    && o.get("dispatch_id").and_then(Value::as_str) == Some(id.as_str())
                    && crate::ledger::attest::check(&o, trusted).is_valid()
            })
    })?;
    let mut scratch = crate::ledger::line::Scratch::default();
    Ok(found.first().and_then(|l| {
        crate::ledger::line::analyze(l, &mut scratch)
            .entry
            .ok()
            .map(|e| hex::encode(e.entry_hash))
    }))
}

/// Whether someone holds the dispatch's lock (asked without taking it for more than an
/// instant: a shared lock that fails only while the exclusive one is held).
pub fn locked(dispatch_dir: &Path) -> bool {
    // The dispatch directory is the worker's to write: never through a link it planted,
    // never waiting on a FIFO.
    let file = match crate::files::open_hostile(&dispatch_dir.join(LOCK_FILE)) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return false,
        // A link or something else in its place: unknown, so alive, never lost.
        Err(_) => return true,
    };
    // Held (would block), or unknown (any other error): alive, never lost.
    file.try_lock_shared().is_err()
}

/// The working directory of every process (other than this one) whose directory can be read,
/// with its pid: what a list of many dispatches looks through (one pass over `/proc`, not one
/// per dispatch as [`process_inside`]).
pub fn process_cwds() -> Vec<(u32, PathBuf)> {
    cwds().collect()
}

/// A process (other than this one) whose working directory is inside `dir`.
pub fn process_inside(dir: &Path) -> Option<u32> {
    let dir = std::fs::canonicalize(dir).ok()?;
    cwds().find_map(|(pid, cwd)| cwd.starts_with(&dir).then_some(pid))
}

/// Each process's (other than this one) pid and working directory, read from `/proc` as the
/// caller goes (one that stops early reads no further).
fn cwds() -> impl Iterator<Item = (u32, PathBuf)> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(move |e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            if pid == me {
                return None;
            }
            Some((pid, std::fs::read_link(e.path().join("cwd")).ok()?))
        })
}

/// What keeps a dispatch alive, if anything: its lock, its session (`session_alive`, asked by
/// the caller on the right tmux socket), or a process inside its worktree.
pub fn alive(
    dispatch_dir: &Path,
    worktree: Option<&Path>,
    session: Option<(&str, bool)>,
) -> Option<Alive> {
    if locked(dispatch_dir) {
        return Some(Alive::Locked(dispatch_dir.join(LOCK_FILE)));
    }
    if let Some((name, true)) = session {
        return Some(Alive::Session(name.to_owned()));
    }
    worktree.and_then(process_inside).map(Alive::Process)
}

/// The file in a follow-up's dispatch directory naming the first dispatch whose worktree
/// its launch reopens.
pub const REOPENS_FILE: &str = "reopens";

/// The first dispatches whose worktrees launches under way reopen: each dispatch directory
/// under `dispatches` whose lock is held and that names one in [`REOPENS_FILE`] (read
/// bounded, never through a link).
pub fn reopened(dispatches: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dispatches) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|dir| dir.join(REOPENS_FILE).symlink_metadata().is_ok() && locked(dir))
        .filter_map(|dir| crate::files::read_bounded(&dir.join(REOPENS_FILE), 64).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .collect()
}

/// The dispatch directory of a dispatch whose worktree is `worktree`
/// (`.vnx-data/worktrees/dispatch-<id>` → `.vnx-data/dispatches/<id>`).
pub fn dispatch_dir_of(worktree: &Path, id: &DispatchId) -> Option<PathBuf> {
    Some(worktree.parent()?.parent()?.join("dispatches").join(id))
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "a test starts a process whose cwd is the worktree"
)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_and_a_process_inside_count_as_alive() {
        let d = tempfile::tempdir().unwrap();
        assert!(!locked(d.path()));
        let held = hold(d.path()).unwrap();
        assert!(locked(d.path()));
        assert!(matches!(
            alive(d.path(), None, None),
            Some(Alive::Locked(_))
        ));
        drop(held);
        assert!(!locked(d.path()));
        assert_eq!(alive(d.path(), None, Some(("s", false))), None);
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(d.path())
            .spawn()
            .unwrap();
        let found = process_inside(d.path());
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found, Some(child.id()));
    }

    #[test]
    fn a_fifo_or_link_in_the_locks_place_counts_as_alive_without_waiting() {
        let d = tempfile::tempdir().unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            d.path().join(LOCK_FILE),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(
            locked(d.path()),
            "a FIFO is not read, and not taken as lost"
        );
        std::fs::remove_file(d.path().join(LOCK_FILE)).unwrap();
        std::os::unix::fs::symlink("/nonexistent/target", d.path().join(LOCK_FILE)).unwrap();
        assert!(
            locked(d.path()),
            "a link is not followed, and not taken as lost"
        );
    }
}
