//! A queued dispatch on disk: `.vnx-data/queue/<id>.json`, holding the request as planned
//! (with the base commit resolved at enqueue time), its priority and latest start time, and
//! its place in arrival order. No worktree, session or slot exists for it yet.

use crate::ids::{CommitId, DispatchId, Timestamp};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::dispatch::Request;

/// The queue's directory under the data directory.
pub const QUEUE_DIR: &str = "queue";

/// The largest entry read: a request with its instruction (4 MiB at most) and room.
const MAX_ENTRY: u64 = 8 << 20;

/// A queued dispatch.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// The dispatch id, reserved for it.
    pub id: DispatchId,
    /// The provider (resolved by the plan), whose slots it waits for.
    pub provider: String,
    /// Higher starts first.
    pub priority: i32,
    /// The latest time it may start (RFC 3339, UTC).
    pub start_by: Option<Timestamp>,
    /// Its place in arrival order: ties of priority start in this order.
    pub seq: u64,
    /// When it was queued (RFC 3339, UTC).
    pub queued_at: String,
    /// The provider's capacity when it was queued.
    pub capacity: u32,
    /// The commit its worktree will start from, resolved when it was queued.
    pub base_commit: CommitId,
    /// The base as its plan recorded it (the branch it names, or the ref given).
    pub base_ref: String,
    /// The ledger its receipts go to.
    pub ledger: PathBuf,
    /// The tmux socket its session will run on.
    pub tmux_socket: String,
    /// The request, to plan again when it starts (for a remote one: as shown here).
    pub request: QueuedRequest,
    /// For a dispatch for a remote host: the host and what its vnx is asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteEntry>,
    /// For a dispatch of `--after` a dependency holds: why, as its `held` receipt says (one
    /// receipt for each new reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    /// Who asked for it (`dispatch_started.started_by`), whoever's command drains the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// The dispatch whose worker asked for it, which may therefore never govern it
    /// (`dispatch_started.started_by_dispatch`), whoever drains the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by_dispatch: Option<DispatchId>,
}

/// What a dispatch queued for a remote host starts with there.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RemoteEntry {
    /// The host asked for: a declared name, or `any`.
    pub host: String,
    /// The host's `dispatch-agent` arguments (see `remote::RemoteRequest::args`).
    pub args: Vec<String>,
}

/// The queue line every dispatch for a remote host waits in (not a provider's name, which
/// never starts with `@`).
pub const HOSTS_LINE: &str = "@hosts";

/// The [`Request`] a queued dispatch is started from, as [`Request`] keeps it in an entry
/// (read as a [`Request`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct QueuedRequest(pub Request);

impl Entry {
    /// The line it waits in: its provider's, or for a remote host [`HOSTS_LINE`].
    pub fn line(&self) -> &str {
        if self.remote.is_some() {
            HOSTS_LINE
        } else {
            &self.provider
        }
    }

    /// The request it starts with: its own id, its provider, and the base commit resolved
    /// when it was queued.
    pub fn request(&self) -> Request {
        Request {
            id: Some(self.id.clone()),
            provider: Some(self.provider.clone()),
            base_ref: self.base_commit.to_string(),
            ..self.request.0.clone()
        }
    }

    /// Whether its latest start time is before `now`.
    pub fn expired(&self, now: jiff::Timestamp) -> bool {
        self.start_by
            .as_ref()
            .map(|i| i.as_str())
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .is_some_and(|t| t < now)
    }
}

impl QueuedRequest {
    /// What of `req` a queued dispatch keeps.
    pub fn of(req: &Request) -> QueuedRequest {
        QueuedRequest(Request {
            id: None,
            provider: None,
            base_ref: String::new(),
            continues: None,
            ..req.clone()
        })
    }
}

/// The queue's directory.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join(QUEUE_DIR)
}

fn path(data_dir: &Path, id: &DispatchId) -> PathBuf {
    dir(data_dir).join(format!("{id}.json"))
}

/// Every readable entry, in the order they start: provider by provider, higher priority
/// first, then arrival. An entry that cannot be read (too large, not a regular file: a
/// link or a FIFO something planted) is skipped (and left alone).
pub fn all(data_dir: &Path) -> Vec<Entry> {
    let Ok(read) = std::fs::read_dir(dir(data_dir)) else {
        return Vec::new();
    };
    let mut entries: Vec<Entry> = read
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| crate::files::read_bounded(&e.path(), MAX_ENTRY).ok())
        .filter_map(|data| serde_json::from_slice(&data).ok())
        .collect();
    entries.sort_by(|a, b| order(a).cmp(&order(b)));
    entries
}

/// The sort key: line (provider, or hosts), priority (highest first), arrival.
fn order(e: &Entry) -> (&str, std::cmp::Reverse<i32>, u64) {
    (e.line(), std::cmp::Reverse(e.priority), e.seq)
}

/// The arrival number of the next entry: one past the highest queued.
pub fn next_seq(data_dir: &Path) -> u64 {
    all(data_dir).iter().map(|e| e.seq + 1).max().unwrap_or(0)
}

/// Whether anything is queued (cheap: one directory read).
pub fn any(data_dir: &Path) -> bool {
    std::fs::read_dir(dir(data_dir)).is_ok_and(|mut r| {
        r.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json")))
    })
}

/// Whether dispatch `id` is queued.
pub fn exists(data_dir: &Path, id: &DispatchId) -> bool {
    path(data_dir, id).is_file()
}

/// The entry of dispatch `id`, if it is queued (a regular file, bounded: never a link
/// followed or a FIFO blocked on).
pub fn read(data_dir: &Path, id: &DispatchId) -> Option<Entry> {
    serde_json::from_slice(&crate::files::read_bounded(&path(data_dir, id), MAX_ENTRY).ok()?).ok()
}

/// Writes an entry (private, atomically).
pub fn write(data_dir: &Path, entry: &Entry) -> std::io::Result<PathBuf> {
    crate::files::private_dir(&dir(data_dir))?;
    let p = path(data_dir, &entry.id);
    let data = serde_json::to_vec_pretty(entry).expect("entries serialize");
    crate::files::write_atomic_private(&p, &data, true)?;
    Ok(p)
}

/// Where the environment of the command that queued dispatch `id` waits for its start
/// (private, like the entry): the dispatch runs in it, not in the draining command's.
pub fn env_path(data_dir: &Path, id: &DispatchId) -> PathBuf {
    dir(data_dir).join(format!("{id}.env"))
}

/// Removes dispatch `id`'s entry (and the environment kept for it).
pub fn remove(data_dir: &Path, id: &DispatchId) {
    let _ = std::fs::remove_file(path(data_dir, id));
    let _ = std::fs::remove_file(env_path(data_dir, id));
}

/// The 1-based place of each queued dispatch in its line (its provider's, or the hosts'),
/// by id.
pub fn positions(entries: &[Entry]) -> BTreeMap<DispatchId, u32> {
    let mut by_line: BTreeMap<&str, u32> = BTreeMap::new();
    entries
        .iter()
        .map(|e| {
            let n = by_line.entry(e.line()).or_insert(0);
            *n += 1;
            (e.id.clone(), *n)
        })
        .collect()
}
