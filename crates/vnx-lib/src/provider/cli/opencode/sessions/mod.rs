//! opencode's TUI sessions (1.18.33): rows of its SQLite database, `opencode.db` in its data
//! directory (`$XDG_DATA_HOME/opencode`, else `~/.local/share/opencode`; a sandboxed
//! dispatch's own place stands in for that directory, ADR 0055), read through SQLite itself,
//! read-only (ADR 0059). Which session is a dispatch's (a top-level session whose `directory`
//! is the worktree, updated since the dispatch started; the id when known), named as
//! `…/opencode.db#ses_…`; the finished parts of its assistant messages given as the lines
//! of its headless stream (`step_start`, `text`, `tool_use`, `step_finish`, `error`), which
//! its transcript and its usage counter read; its last text (the question of a TUI that
//! ended its turn); whether its turn has ended (its last assistant message completed with
//! a reason other than `tool-calls`).
//!
//! The database is written by the worker's CLI: hostile input. It is opened read-only, never
//! through a link (nor its `-wal` and `-shm` beside it), only a regular file of a bounded
//! size; SQLite's defensive mode, an untrusted schema and a cap on a row's length apply, its
//! three tables must be tables, every query is bounded in rows, and a query that runs too
//! many steps is interrupted. What it says is informational: nothing read here decides a
//! merge.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::provider::cli::render::TranscriptEvents;
use crate::provider::cli::session::{SessionStore, Sought, same_dir};
use crate::provider::cli::usage::{Messages, SessionUsage};
use crate::receipts::Usage;

mod rows;
use rows::{Line, MessageInfo, Part};

/// The database's name in its data directory.
pub(super) const DB: &str = "opencode.db";

/// The largest database (or its write-ahead log) opened.
const MAX_DB_BYTES: u64 = 4 << 30;
/// The longest string or blob SQLite reads from a row: a part can carry a whole file a tool
/// wrote.
const MAX_ROW_BYTES: i32 = 16 << 20;
/// The most messages, and parts of one message, read of a session.
const MAX_MESSAGES: usize = 10_000;
const MAX_PARTS: usize = 10_000;
/// The most bytes of lines given for one session.
const MAX_LINES_BYTES: usize = 24 << 20;
/// The most bytes of rows (messages' and parts' JSON) read of one session, whatever the
/// database holds: a worker writes it, and a 1.2 GB one read whole took the supervisor to
/// 2.25 GB. What lies past it is read as not given yet. With the lines drawn from it, a
/// reader stays under 64 MB whatever the database holds (`provider::session::hostile`).
const MAX_READ_BYTES: usize = 16 << 20;
/// The most candidate sessions looked at.
const MAX_CANDIDATES: usize = 64;
/// SQLite's progress handler runs every this many steps; a query interrupted after
/// [`MAX_PROGRESS`] calls (a billion steps: far more than reading one session takes).
const PROGRESS_EVERY: i32 = 10_000;
const MAX_PROGRESS: u64 = 100_000;
/// How long a read waits for opencode's writer.
const BUSY: Duration = Duration::from_millis(500);

/// Whether `id` is an opencode session id (`ses_` and letters and digits; 30 bytes seen).
fn valid_id(id: &str) -> bool {
    id.len() <= 64
        && id
            .strip_prefix("ses_")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The name a session found is given: the database's path, `#`, its id.
fn found(db: &Path, id: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("#");
    name.push(id);
    PathBuf::from(name)
}

/// The database and the session id a found session's name holds.
fn split(found: &Path) -> Option<(PathBuf, String)> {
    let text = found.to_str()?;
    let (db, id) = text.rsplit_once('#')?;
    valid_id(id).then(|| (PathBuf::from(db), id.to_owned()))
}

/// Whether a path is a regular file (not a link) of at most [`MAX_DB_BYTES`]; `Some(false)`
/// when it is there and is not, `None` when it is not there.
fn regular(path: &Path) -> Option<bool> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    Some(meta.is_file() && meta.len() <= MAX_DB_BYTES)
}

/// The database at `db`, opened read-only and defensively; `None` when it is not there or
/// not what opencode writes.
fn open(db: &Path) -> Option<Connection> {
    if regular(db) != Some(true) {
        return None;
    }
    for side in ["-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(side);
        if regular(Path::new(&name)) == Some(false) {
            return None;
        }
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_NOFOLLOW;
    let mut conn = Connection::open_with_flags(db, flags).ok()?;
    use rusqlite::config::DbConfig;
    use rusqlite::limits::Limit;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .ok()?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)
        .ok()?;
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, MAX_ROW_BYTES)
        .ok()?;
    conn.busy_timeout(BUSY).ok()?;
    conn.pragma_update(None, "query_only", true).ok()?;
    conn.pragma_update(None, "mmap_size", 0).ok()?;
    let mut calls = 0u64;
    conn.progress_handler(
        PROGRESS_EVERY,
        Some(move || {
            calls += 1;
            calls > MAX_PROGRESS
        }),
    )
    .ok()?;
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' \
             AND name IN ('session', 'message', 'part')",
            [],
            |r| r.get(0),
        )
        .ok()?;
    (tables == 3).then_some(conn)
}

/// A time in milliseconds since the epoch (as opencode records them).
fn millis(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The time of a number of milliseconds since the epoch.
fn time(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// The session a found name names, read (see the module's documentation): the finished parts
/// as the lines of its headless stream.
fn read(found: &Path) -> std::io::Result<Vec<u8>> {
    let (db, id) = split(found).ok_or_else(|| std::io::Error::other("not an opencode session"))?;
    let conn = open(&db).ok_or_else(|| {
        std::io::Error::other(format!("{} is not a database vnx reads", db.display()))
    })?;
    read_session(&conn, &id).map_err(std::io::Error::other)
}

/// One message's row: its id, when it was made, and of its JSON only what is read
/// ([`MessageInfo`]), so the rows held while parts are read are small whatever a worker wrote.
type MessageRow = (String, i64, MessageInfo);

fn read_session(conn: &Connection, id: &str) -> rusqlite::Result<Vec<u8>> {
    // Sorted without their content (the sort would hold every row: no index orders them),
    // each row's size read without loading it (`octet_length`), and the content of each that
    // fits fetched by its key afterwards: a worker's oversized rows are never held.
    let mut messages = conn.prepare(
        "SELECT id, time_created, octet_length(data) FROM message WHERE session_id = ?1 \
         ORDER BY time_created, id LIMIT ?2",
    )?;
    let mut content = conn.prepare("SELECT data FROM message WHERE id = ?1 AND session_id = ?2")?;
    let mut budget = MAX_READ_BYTES;
    let mut rows: Vec<MessageRow> = Vec::new();
    let listed: Vec<(String, i64, Option<i64>)> = messages
        .query_map(params![id, MAX_MESSAGES as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (message_id, created, bytes) in listed {
        let size = message_id
            .len()
            .saturating_add(usize::try_from(bytes.unwrap_or(0)).unwrap_or(usize::MAX));
        if size > budget {
            break;
        }
        // Read where SQLite holds it, never copied.
        let info = content
            .query_row(params![message_id, id], |r| {
                Ok(MessageInfo::of(r.get_ref(0)?.as_str().unwrap_or("")))
            })
            .optional()?
            .unwrap_or_default();
        budget -= size;
        rows.push((message_id, created, info));
    }
    let mut parts = conn.prepare(
        "SELECT octet_length(data), CASE WHEN octet_length(data) <= ?3 THEN data END \
         FROM part WHERE message_id = ?1 ORDER BY id LIMIT ?2",
    )?;
    // The lines' whole bound reserved at once (address space, not memory, until written):
    // growing by doubling would hold the old copy beside the new at each step.
    let mut out = Vec::with_capacity(MAX_LINES_BYTES);
    for (message_id, created, info) in &rows {
        if !info.is_assistant() {
            continue;
        }
        // Each part is drawn as it is read, its own text given on where SQLite holds it
        // (never copied, nor parsed into a value), so no more than one is held besides the
        // lines.
        let mut found = parts.query(params![message_id, MAX_PARTS as i64, budget as i64])?;
        while let Some(row) = found.next()? {
            let bytes: Option<i64> = row.get(0)?;
            let size = usize::try_from(bytes.unwrap_or(0)).unwrap_or(usize::MAX);
            let data = row.get_ref(1)?.as_str_or_null().ok().flatten();
            let Some(data) = data.filter(|_| size <= budget) else {
                // The rest is past the bound: what was read is given.
                return Ok(out);
            };
            budget -= size;
            let kind = match Part::of(data) {
                Part::Line(kind) => kind,
                // Still streamed or running: nothing after it is given yet, so what a later
                // read gives starts with what this one gave.
                Part::Unfinished => return Ok(out),
                Part::Skipped => continue,
            };
            if !push(&mut out, (kind, *created, id), ("part", data)) {
                return Ok(out);
            }
        }
        if let Some(error) = info.error.as_deref().filter(|_| info.completed)
            && !push(&mut out, ("error", *created, id), ("error", error))
        {
            return Ok(out);
        }
        if !info.completed {
            // Its later parts and messages are still to come.
            return Ok(out);
        }
    }
    Ok(out)
}

/// Appends the line of an event of `kind`, made at `created` in session `id`, whose member
/// `name` is the JSON text `json` (read whole by [`Part::of`] or [`MessageInfo::of`], so
/// valid); `false` once the bound is reached (the line is left out).
fn push(
    lines: &mut Vec<u8>,
    (kind, created, id): (&str, i64, &str),
    (name, json): (&str, &str),
) -> bool {
    // The kind and the member are vnx's words and the id is letters and digits (`valid_id`):
    // nothing to escape.
    let head = format!(r#"{{"type":"{kind}","timestamp":{created},"sessionID":"{id}","{name}":"#);
    if lines.len() + head.len() + json.len() + 2 > MAX_LINES_BYTES {
        return false;
    }
    lines.extend_from_slice(head.as_bytes());
    let start = lines.len();
    lines.extend_from_slice(json.as_bytes());
    // On one line: outside its strings a line break is only spacing.
    for b in &mut lines[start..] {
        if matches!(*b, b'\n' | b'\r') {
            *b = b' ';
        }
    }
    lines.extend_from_slice(b"}\n");
    true
}

/// The last text the assistant wrote in a session read.
fn last_message(lines: &[u8]) -> Option<String> {
    lines
        .rsplit(|b| *b == b'\n')
        .filter_map(Line::of)
        .filter(|e| e.is("text"))
        .find_map(|e| e.text().map(str::to_owned))
}

/// The usage of a session's lines: each finished step's tokens since the dispatch started;
/// a step whose claim no dispatch can have used skipped (and counted), the rest summed
/// ([`Messages`], each step a message of its own).
#[derive(Default)]
struct OpencodeUsage(Messages);

impl SessionUsage for OpencodeUsage {
    fn line(&mut self, raw: &[u8], since: Option<jiff::Timestamp>) {
        let Some(event) = Line::of(raw).filter(|e| e.is("step_finish")) else {
            return;
        };
        let at = event
            .at()
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok());
        if let (Some(at), Some(since)) = (at, since)
            && at < since
        {
            return;
        }
        if let Some(step) = event.tokens() {
            self.0.message(None, step);
        }
    }

    fn total(self: Box<Self>) -> Option<Usage> {
        self.0.total()
    }

    fn so_far(&self) -> Option<Usage> {
        self.0.so_far()
    }

    fn skipped(&self) -> u64 {
        self.0.skipped
    }
}

/// The cost its lines' steps record since `since` (each `step_finish`'s `cost`, in US
/// dollars, as its headless stream gives it); `None` when no step records one. A cost that
/// is not a finite number at least 0 is left out (a worker can write the database).
fn cost(lines: &[u8], since: SystemTime) -> Option<f64> {
    let since = millis(since);
    lines
        .split(|b| *b == b'\n')
        .filter_map(Line::of)
        .filter(|e| e.is("step_finish"))
        .filter(|e| e.at().is_none_or(|at| at >= since))
        .filter_map(|e| e.cost())
        .fold(None, |sum, c| Some(sum.unwrap_or(0.0) + c))
}

/// Its sessions, rows of its database (see the module's documentation), also those of the
/// providers that run through it.
pub(crate) struct OpencodeSessions;

impl SessionStore for OpencodeSessions {
    /// The whole data directory holds its sessions (its database and its `-wal`), so that is
    /// what a sandboxed dispatch's own place stands in for.
    fn dir(&self) -> &'static str {
        ""
    }

    /// The sessions in the database of `sessions` (a data directory) that may be a dispatch's:
    /// top-level, in its worktree, updated since it started (the id, when known, picks one),
    /// with the time each was last updated.
    fn find(&self, sessions: &Path, sought: &Sought<'_>) -> Vec<(PathBuf, SystemTime)> {
        let db = sessions.join(DB);
        let Some(conn) = open(&db) else {
            return Vec::new();
        };
        let since = millis(sought.since);
        let cwd = sought.cwd.to_string_lossy().into_owned();
        let canonical = std::fs::canonicalize(sought.cwd)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| cwd.clone());
        let Ok(mut stmt) = conn.prepare(
            "SELECT id, directory, time_updated FROM session \
             WHERE parent_id IS NULL AND time_updated >= ?1 AND directory IN (?2, ?3) \
             AND (?4 IS NULL OR id = ?4) ORDER BY time_updated DESC LIMIT ?5",
        ) else {
            return Vec::new();
        };
        let rows = stmt.query_map(
            params![
                since,
                cwd,
                canonical,
                sought.session_id,
                MAX_CANDIDATES as i64
            ],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            },
        );
        let Ok(rows) = rows else {
            return Vec::new();
        };
        rows.flatten()
            .filter(|(id, dir, _)| valid_id(id) && same_dir(dir, sought.cwd))
            .map(|(id, _, updated)| (found(&db, &id), time(updated)))
            .collect()
    }

    /// `ses_` and letters and digits.
    fn valid_id(&self, id: &str) -> bool {
        valid_id(id)
    }

    fn usage(&self) -> Box<dyn SessionUsage> {
        Box::<OpencodeUsage>::default()
    }

    /// Each `step_finish` row is written with its tokens as the step ends.
    fn live_usage(&self) -> bool {
        true
    }

    /// Its TUI's session as the lines of its headless stream.
    fn transcript(&self) -> Option<Box<dyn TranscriptEvents>> {
        Some(Box::new(super::transcript::OpencodeTranscript::default()))
    }

    /// The last text of the session found: its TUI's question.
    fn last_message(&self, found: &Path) -> Option<String> {
        last_message(&read(found).ok()?)
    }

    /// The session found, as the lines of its headless stream.
    fn lines(&self, found: &Path) -> Option<std::io::Result<Vec<u8>>> {
        Some(read(found))
    }

    fn are_rows(&self) -> bool {
        true
    }

    #[cfg(test)]
    fn hostile(&self, dir: &Path) -> Option<PathBuf> {
        Some(tests::hostile_session(dir))
    }

    /// Its TUI chooses its session's id (no flag names a new one) and no hook tells it: the
    /// id is the one of the session found in its database.
    fn found_id(&self, found: &Path) -> Option<String> {
        split(found).map(|(_, id)| id)
    }

    /// Each step's row records its `cost` as the step finishes (ADR 0098).
    fn live_cost(&self) -> bool {
        true
    }

    /// Each step's `cost`, as its headless stream's `step_finish` gives it.
    fn cost(&self, found: &Path, since: SystemTime) -> Option<f64> {
        cost(&read(found).ok()?, since)
    }

    /// Whether the session a found name names has ended its turn: its last message is the
    /// assistant's, completed, for a reason other than calling tools (or with an error).
    /// Asked once a second, so only that message is read.
    fn turn_ended(&self, found: &Path, since: SystemTime) -> bool {
        let Some((db, id)) = split(found) else {
            return false;
        };
        let Some(conn) = open(&db) else {
            return false;
        };
        let last: Option<(String, i64)> = conn
            .query_row(
                "SELECT data, time_created FROM message WHERE session_id = ?1 \
                 ORDER BY time_created DESC, id DESC LIMIT 1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok();
        // A turn ended before the dispatch started is an earlier dispatch's (a follow-up resumed
        // the session, which its TUI opens before it sends the new prompt).
        last.filter(|(_, created)| *created >= millis(since))
            .map(|(data, _)| MessageInfo::of(&data))
            .is_some_and(|info| info.is_assistant() && info.ends_turn())
    }
}

#[cfg(test)]
pub(crate) mod tests;
