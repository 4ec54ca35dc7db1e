//! What a CLI's module is handed to find the session files its TUI writes (ADR 0054): where
//! the CLIs keep their state as a dispatch's environment says ([`Homes`]), what a dispatch's
//! session is looked for by ([`Sought`]), and the bounded, link-refusing walks through a
//! CLI's directories that every CLI's lookup shares (the lookups themselves are the CLIs').
//! Also the session ids a CLI without a form of its own may record ([`valid_other_id`]), the
//! capability a CLI whose TUI keeps sessions vnx reads implements ([`SessionStore`]), and
//! the store of a CLI that keeps them by project as files named by their ids
//! ([`ProjectFiles`]), and what a session file shows of background work ([`BackgroundWork`]).
//!
//! Session files are written by the worker's CLI, so they are hostile input: directories are
//! walked without following links, only regular files count, a file's head is read bounded,
//! and only the heads of the newest few candidates ([`MAX_HEADS`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::render::TranscriptEvents;
use super::usage::{MessageOf, PerMessage, SessionUsage};

/// Where the CLIs keep their state, as the environment of the command that dispatched a
/// worker says (the worker runs in that environment): each built-in CLI's home by its
/// provider's name (its module's `CodingCli::home`), as the dispatch's spec records them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Homes {
    /// Each CLI's home (its config or state directory), by the provider's name.
    #[serde(flatten)]
    pub homes: BTreeMap<String, PathBuf>,
    /// A sandboxed dispatch's own place for its CLI's sessions, which its sandbox shows where
    /// the CLI keeps them (`SessionStore::dir`): what is there only this dispatch's
    /// chain wrote. `None`: they are in the CLI's home, shared with every other dispatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<PathBuf>,
}

impl Homes {
    /// The home of the CLI of the provider named `provider`, when known.
    pub fn get(&self, provider: &str) -> Option<&Path> {
        self.homes.get(provider).map(PathBuf::as_path)
    }
}

/// What a dispatch's session file is looked for by, in the directory where its CLI keeps
/// its sessions (or the dispatch's own place that stands in for it).
#[derive(Clone, Copy, Debug)]
pub struct Sought<'a> {
    /// The session's working directory: the dispatch's worktree.
    pub cwd: &'a Path,
    /// A file last written before is an older session's (with slack for clocks).
    pub since: SystemTime,
    /// The session's id, when the dispatch's hooks or receipts named it.
    pub session_id: Option<&'a str>,
}

/// The session files a CLI's TUI keeps, which vnx reads (to follow the TUI, count its usage,
/// read its last message and resume it): a capability a CLI's module implements once (or
/// gives as a value of a shared type, [`ProjectFiles`]), `CodingCli::sessions` hands it out.
/// Every path it is given is under the CLI's home (or the dispatch's own place that stands in
/// for it) and written by the worker: hostile.
pub trait SessionStore: Sync {
    /// The directory under its home that holds every session file its TUI keeps (and nothing
    /// vnx reads besides): what a sandboxed dispatch's own session place stands in for.
    fn dir(&self) -> &'static str;

    /// Where among its `sessions` it keeps those of `cwd` (for a message).
    fn of_cwd(&self, sessions: &Path, _cwd: &Path) -> PathBuf {
        sessions.to_owned()
    }

    /// The session files in `sessions` that may be a dispatch's, with their modification
    /// times (the newest is taken).
    fn find(&self, sessions: &Path, sought: &Sought<'_>) -> Vec<(PathBuf, SystemTime)>;

    /// Whether `id` is a session id it could have written, by its own format; by default a
    /// hyphenated UUID ([`is_uuid`]), as most CLIs write them.
    fn valid_id(&self, id: &str) -> bool {
        is_uuid(id)
    }

    /// A fresh counter of the token usage its session file records.
    fn usage(&self) -> Box<dyn SessionUsage>;

    /// Whether its CLI records usage in the session file as the worker runs, so a budget
    /// holds while it runs (its counter's `SessionUsage::so_far`, ADR 0094); `false` (the
    /// default): it is held to its end-of-run usage.
    fn live_usage(&self) -> bool {
        false
    }

    /// Whether its session records the CLI's own cost as the worker runs
    /// ([`SessionStore::cost`] read at each poll), so a budget's dollars hold while it runs
    /// without a price configured (ADR 0098); `false` (the default): its cost comes from
    /// its headless stream, else from `prices:`, else from its end of run.
    fn live_cost(&self) -> bool {
        false
    }

    /// A fresh renderer of its session file; `None`: its events are told by their shape,
    /// as a worker's log is (a declared CLI's).
    fn transcript(&self) -> Option<Box<dyn TranscriptEvents>>;

    /// The last message its session file (at `path`, found for the dispatch) records from
    /// the assistant, for a TUI whose hooks carry none (the question on `needs_input`); read
    /// bounded, never through a link.
    fn last_message(&self, _path: &Path) -> Option<String> {
        None
    }

    /// The session [`SessionStore::find`] found at `found` as the lines its renderer and
    /// usage counter read, for a CLI that keeps its sessions as rows of a database rather
    /// than files of lines: only what is finished, in order, so that what a later read gives
    /// begins with what an earlier one gave. `None` (the default): the file is read as it is.
    fn lines(&self, _found: &Path) -> Option<std::io::Result<Vec<u8>>> {
        None
    }

    /// Whether its sessions are read through [`SessionStore::lines`] (rows of a database),
    /// asked without reading one. `false` (the default): files of lines.
    fn are_rows(&self) -> bool {
        false
    }

    /// Tests (`provider::session::hostile`): a session in `dir` as large as a worker can make
    /// it in this CLI's own store, when that is rows ([`SessionStore::are_rows`]); the found
    /// session's path. `None`: its sessions are files of lines.
    #[cfg(test)]
    fn hostile(&self, _dir: &Path) -> Option<PathBuf> {
        None
    }

    /// The id of the session found at `found`, for a TUI that chooses its session's id and
    /// names it nowhere else vnx reads (no hook, no flag that would let vnx choose it): what
    /// its receipt records, so a follow-up resumes it.
    fn found_id(&self, _found: &Path) -> Option<String> {
        None
    }

    /// The cost in US dollars its session, found at `found`, records since `since`, for a
    /// CLI whose session keeps one (the headless stream's `cost_usd`).
    fn cost(&self, _found: &Path, _since: SystemTime) -> Option<f64> {
        None
    }

    /// Whether the session found at `found` shows that its TUI's turn ended, for a TUI whose
    /// end of turn no hook of its signals (it names one, `turn_end_signal`, and has no
    /// `hooks`): the supervisor asks once a second. A turn ended before `since` (when
    /// the dispatch started) is an earlier dispatch's, in a session a follow-up resumed.
    fn turn_ended(&self, _found: &Path, _since: SystemTime) -> bool {
        false
    }

    /// A fresh reader of the background work its session file shows still running (ADR
    /// 0096), for a TUI that names it nowhere else vnx reads (no hook says it, no turn comes
    /// when it ends). `None` (the default): its sessions say nothing of it.
    fn background(&self) -> Option<Box<dyn BackgroundWork>> {
        None
    }
}

/// What one session file shows of background work its CLI's TUI started (a command it
/// stopped waiting for): read from where the last read stopped, since the file may be large.
/// The file is the worker's: read bounded, never through a link.
pub trait BackgroundWork: std::fmt::Debug {
    /// The work the session found at `found` shows still running, from its records since
    /// `since` (an earlier dispatch's in a resumed session do not count): at most
    /// `BackgroundTask::MAX_TASKS` tasks, each text cut to `BackgroundTask::MAX_TEXT`
    /// characters, and how many more run. `None` while it has not read the file to its end
    /// (it reads a bounded amount at a time), or cannot read it.
    fn running(
        &mut self,
        found: &Path,
        since: SystemTime,
    ) -> Option<(Vec<crate::receipts::BackgroundTask>, u32)>;
}

/// The session files of a CLI that keeps them as `.jsonl` files named by their session's id,
/// in a directory per project named by the project's path ([`munged_project`]) or in a folder
/// of it: where they are, and the usage and transcript of one.
pub struct ProjectFiles {
    /// The directory under its home that holds the projects ([`SessionStore::dir`]).
    pub dir: &'static str,
    /// The folder of a project's directory that holds its sessions, if not the directory.
    pub folder: Option<&'static str>,
    /// The type of the lines that record a message's usage ([`PerMessage`]).
    pub message_kind: &'static str,
    /// How such a line is read.
    pub message: MessageOf,
    /// A fresh renderer of a session file.
    pub transcript: fn() -> Box<dyn TranscriptEvents>,
}

impl SessionStore for ProjectFiles {
    fn dir(&self) -> &'static str {
        self.dir
    }

    fn of_cwd(&self, sessions: &Path, cwd: &Path) -> PathBuf {
        let project = munged_project(sessions, cwd);
        match self.folder {
            Some(folder) => project.join(folder),
            None => project,
        }
    }

    /// The session files of the working directory written since the start (the one named by
    /// the session id, when known).
    fn find(&self, sessions: &Path, w: &Sought<'_>) -> Vec<(PathBuf, SystemTime)> {
        let id = w.session_id.map(std::ffi::OsStr::new);
        let dir = self.of_cwd(sessions, w.cwd);
        let mut found = files(&dir, |n| n.ends_with(".jsonl"), w.since);
        found.retain(|(p, _)| id.is_none_or(|id| p.file_stem() == Some(id)));
        found
    }

    fn usage(&self) -> Box<dyn SessionUsage> {
        PerMessage::boxed(self.message_kind, self.message)
    }

    /// Each message's usage is on its line as the CLI writes it.
    fn live_usage(&self) -> bool {
        true
    }

    fn transcript(&self) -> Option<Box<dyn TranscriptEvents>> {
        Some((self.transcript)())
    }
}

/// The most bytes of a session's first line read to match it (a CLI may record its
/// instructions there: 22 KB seen).
const MAX_HEAD: u64 = 1 << 20;
/// The most directory entries looked at in one directory.
const MAX_ENTRIES: usize = 10_000;
/// The most candidate files (or projects) whose head is read, the newest first: a worker
/// could fill its CLI's directories with files.
pub const MAX_HEADS: usize = 64;

/// Regular files in `dir` (itself a directory, not a link) whose names `keep`, written at
/// or after `since`, with their modification times.
pub fn files(
    dir: &Path,
    keep: impl Fn(&str) -> bool,
    since: SystemTime,
) -> Vec<(PathBuf, SystemTime)> {
    entries(dir)
        .into_iter()
        .filter(|(name, _)| keep(name))
        .filter_map(|(name, meta)| {
            let modified = meta.modified().ok()?;
            (meta.is_file() && modified >= since).then(|| (dir.join(name), modified))
        })
        .collect()
}

/// The directory of `cwd`'s sessions in a `projects` directory that names each project by its
/// real path with every character but ASCII letters and digits made `-` (or a dispatch's own
/// place that stands in for it).
pub fn munged_project(projects: &Path, cwd: &Path) -> PathBuf {
    let cwd = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_owned());
    let munged: String = cwd
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    projects.join(munged)
}

/// The subdirectories of `dir` (not links).
pub fn dirs(dir: &Path) -> Vec<(String, PathBuf)> {
    entries(dir)
        .into_iter()
        .filter(|(_, meta)| meta.is_dir())
        .map(|(name, _)| (name.clone(), dir.join(name)))
        .collect()
}

/// `dir`'s entries and their own metadata (a link is a link), when `dir` is a directory and
/// not a link; at most `MAX_ENTRIES`.
pub fn entries(dir: &Path) -> Vec<(String, std::fs::Metadata)> {
    if !std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Vec::new();
    }
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read.flatten()
        .take(MAX_ENTRIES)
        .filter_map(|e| {
            // DirEntry::metadata does not follow links.
            let meta = e.metadata().ok()?;
            Some((e.file_name().into_string().ok()?, meta))
        })
        .collect()
}

/// The first line of a file (bounded, never through a link or on a FIFO), parsed as `T`;
/// `None` when it is not what `T` reads. `T` names only the members its CLI matches on, so
/// the rest is skipped without being built.
pub fn first_line<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    use std::io::Read;
    let file = crate::files::open_hostile(path).ok()?;
    let mut head = Vec::new();
    file.take(MAX_HEAD).read_to_end(&mut head).ok()?;
    let end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    serde_json::from_slice(&head[..end]).ok()
}

/// Whether a path a session file records is the dispatch's working directory.
pub fn same_dir(recorded: &str, cwd: &Path) -> bool {
    let recorded = Path::new(recorded);
    recorded == cwd
        || std::fs::canonicalize(cwd).is_ok_and(|c| c == recorded)
        || std::fs::canonicalize(recorded).is_ok_and(|r| r == cwd)
}

/// The [`MAX_HEADS`] newest of some files.
pub fn newest(mut all: Vec<(PathBuf, SystemTime)>) -> Vec<(PathBuf, SystemTime)> {
    all.sort_by_key(|(_, modified)| std::cmp::Reverse(*modified));
    all.truncate(MAX_HEADS);
    all
}

/// The [`MAX_HEADS`] newest of some files whose first line, read as `T` ([`first_line`]),
/// `keep` keeps.
pub fn newest_heads<T: serde::de::DeserializeOwned>(
    all: Vec<(PathBuf, SystemTime)>,
    keep: impl Fn(T) -> bool,
) -> Vec<(PathBuf, SystemTime)> {
    newest(all)
        .into_iter()
        .filter(|(p, _)| first_line::<T>(p).is_some_and(&keep))
        .collect()
}

/// The longest session id another provider's (a declared CLI's) may be.
const MAX_OTHER_ID: usize = 128;

/// A session id of a CLI without a form of its own (a declared provider's): a word of ASCII
/// letters, digits and `._:-` of at most 128 bytes that starts with a letter or digit.
pub fn valid_other_id(id: &str) -> bool {
    id.len() <= MAX_OTHER_ID
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

/// A UUID in its hyphenated form (`8-4-4-4-12` hex digits), as several CLIs write their
/// session ids.
pub fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}
