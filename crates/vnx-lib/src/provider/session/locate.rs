//! Which session file is a dispatch's, per CLI (seen on claude 2.1.197, codex 0.169 and
//! gemini 0.61): among the files its CLI keeps for the dispatch's worktree as working
//! directory, those written since the dispatch started (the session id, when known, picks
//! one), the newest of them. Directories are walked without following links; only regular
//! files count; a file's head is read bounded, and only the heads of the newest few
//! candidates (a worker could fill its CLI's directories with files).
//!
//! - claude: `<config>/projects/<cwd, each character but letters and digits made '-'>/
//!   <session>.jsonl`: the directory names the working directory.
//! - codex: `<home>/sessions/YYYY/MM/DD/rollout-<local time>-<session>.jsonl`, whose first
//!   line (`session_meta`) records `cwd` and `id`; only the day directories from the day
//!   before the start on are looked through.
//! - gemini: `<home>/tmp/<project>/chats/session-<time>-<id>.jsonl`, the project directory's
//!   `.project_root` naming the working directory; the file's first line records `sessionId`.
//!   (Older gemini versions wrote one JSON document per session, `session-*.json`: not read.)
//!
//! A sandboxed dispatch's sessions are in its own place ([`super::Homes::sessions`]), which
//! its sandbox shows where the CLI keeps them (`projects`, `sessions`, `tmp`): looked through
//! the same way, but what is there only that dispatch's chain could write.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::{Cli, Wanted};

/// The most bytes of a session's first line read to match it (codex's `session_meta`
/// carries its instructions: 22 KB seen).
const MAX_HEAD: u64 = 1 << 20;
/// The most directory entries looked at in one directory.
const MAX_ENTRIES: usize = 10_000;
/// The most candidate files (or gemini projects) whose head is read, the newest first: a
/// worker could fill its CLI's directories with files.
const MAX_HEADS: usize = 64;
/// Slack for clocks and file times of a coarser grain.
const SLACK: Duration = Duration::from_secs(2);

/// The dispatch's session file, if there is one yet.
pub(super) fn find(w: &Wanted) -> Option<PathBuf> {
    let since = w.since.checked_sub(SLACK).unwrap_or(w.since);
    let candidates = match w.cli {
        Cli::Claude => {
            let dir = claude_project_in(&w.homes.sessions_of(Cli::Claude)?, &w.cwd);
            files(&dir, |n| n.ends_with(".jsonl"), since)
                .into_iter()
                .filter(|(p, _)| match &w.session_id {
                    // A session's file is named by its id.
                    Some(id) => p.file_stem().is_some_and(|s| s == id.as_str()),
                    None => true,
                })
                .collect()
        }
        Cli::Codex => codex(w, since),
        Cli::Gemini => gemini(w, since),
    };
    candidates
        .into_iter()
        .max_by_key(|(_, modified)| *modified)
        .map(|(p, _)| p)
}

/// The directory claude keeps the sessions of `cwd` in, under its config dir.
pub fn claude_project_dir(config_dir: &Path, cwd: &Path) -> PathBuf {
    claude_project_in(&Cli::Claude.sessions_in(config_dir), cwd)
}

/// The directory of `cwd`'s sessions in claude's `projects` directory (or a dispatch's own
/// place that stands in for it).
pub(super) fn claude_project_in(projects: &Path, cwd: &Path) -> PathBuf {
    let cwd = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_owned());
    let munged: String = cwd
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    projects.join(munged)
}

/// Regular files in `dir` (itself a directory, not a link) whose names `keep`, written at
/// or after `since`, with their modification times.
fn files(dir: &Path, keep: impl Fn(&str) -> bool, since: SystemTime) -> Vec<(PathBuf, SystemTime)> {
    entries(dir)
        .into_iter()
        .filter(|(name, _)| keep(name))
        .filter_map(|(name, meta)| {
            let modified = meta.modified().ok()?;
            (meta.is_file() && modified >= since).then(|| (dir.join(name), modified))
        })
        .collect()
}

/// The subdirectories of `dir` (not links).
fn dirs(dir: &Path) -> Vec<(String, PathBuf)> {
    entries(dir)
        .into_iter()
        .filter(|(_, meta)| meta.is_dir())
        .map(|(name, _)| {
            let path = dir.join(&name);
            (name, path)
        })
        .collect()
}

/// `dir`'s entries and their own metadata (a link is a link), when `dir` is a directory and
/// not a link; at most [`MAX_ENTRIES`].
fn entries(dir: &Path) -> Vec<(String, std::fs::Metadata)> {
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

/// What a session's first line says of it: codex's `session_meta` (`type`, `payload.id`,
/// `payload.cwd`), gemini's `sessionId`. Only these members are parsed; the rest is skipped
/// without being built, so a line a worker wrote costs no more memory than its bytes.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Head {
    #[serde(rename = "type")]
    kind: Option<String>,
    payload: Option<HeadPayload>,
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct HeadPayload {
    id: Option<String>,
    cwd: Option<String>,
}

/// The first line of a file (bounded, never through a link or on a FIFO); `None` when it is
/// not a JSON object whose members above have the types they should.
fn first_line(path: &Path) -> Option<Head> {
    use std::io::Read;
    let file = crate::files::open_hostile(path).ok()?;
    let mut head = Vec::new();
    file.take(MAX_HEAD).read_to_end(&mut head).ok()?;
    let end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    serde_json::from_slice(&head[..end]).ok()
}

/// Whether a path a session file records is the dispatch's working directory.
fn same_dir(recorded: &str, cwd: &Path) -> bool {
    let recorded = Path::new(recorded);
    recorded == cwd
        || std::fs::canonicalize(cwd).is_ok_and(|c| c == recorded)
        || std::fs::canonicalize(recorded).is_ok_and(|r| r == cwd)
}

fn codex(w: &Wanted, since: SystemTime) -> Vec<(PathBuf, SystemTime)> {
    let Some(sessions) = w.homes.sessions_of(Cli::Codex) else {
        return Vec::new();
    };
    // The day directories are in local time: from the day before the start (UTC) on.
    let day = |t: SystemTime| {
        let secs = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        jiff::Timestamp::from_second(secs as i64)
            .map(|t| t.strftime("%Y%m%d").to_string())
            .unwrap_or_default()
    };
    let first = day(since
        .checked_sub(Duration::from_secs(86_400))
        .unwrap_or(since));
    let mut candidates = Vec::new();
    for (year, ydir) in dirs(&sessions) {
        for (month, mdir) in dirs(&ydir) {
            for (dayname, ddir) in dirs(&mdir) {
                if format!("{year}{month}{dayname}") >= first {
                    candidates.extend(files(
                        &ddir,
                        |n| n.starts_with("rollout-") && n.ends_with(".jsonl"),
                        since,
                    ));
                }
            }
        }
    }
    newest(candidates)
        .into_iter()
        .filter(|(p, _)| {
            let Some(meta) = first_line(p) else {
                return false;
            };
            let payload = meta.payload.unwrap_or_default();
            meta.kind.as_deref() == Some("session_meta")
                && payload.cwd.as_deref().is_some_and(|c| same_dir(c, &w.cwd))
                && w.session_id
                    .as_deref()
                    .is_none_or(|id| payload.id.as_deref() == Some(id))
        })
        .collect()
}

/// The [`MAX_HEADS`] newest of some files.
fn newest(mut all: Vec<(PathBuf, SystemTime)>) -> Vec<(PathBuf, SystemTime)> {
    all.sort_by_key(|(_, modified)| std::cmp::Reverse(*modified));
    all.truncate(MAX_HEADS);
    all
}

/// The most bytes of a gemini project's `.project_root` read.
const MAX_ROOT: u64 = 64 * 1024;

fn gemini(w: &Wanted, since: SystemTime) -> Vec<(PathBuf, SystemTime)> {
    let Some(tmp) = w.homes.sessions_of(Cli::Gemini) else {
        return Vec::new();
    };
    // The projects whose chats changed last (a directory's time changes as a file is made in
    // it; a resumed session's file may be older than the dispatch).
    let projects = dirs(&tmp)
        .into_iter()
        .filter_map(|(_, project)| {
            let chats = std::fs::symlink_metadata(project.join("chats")).ok()?;
            Some((project, chats.modified().ok()?)).filter(|_| chats.is_dir())
        })
        .collect();
    let mut out = Vec::new();
    for (project, _) in newest(projects) {
        let root = crate::files::read_bounded(&project.join(".project_root"), MAX_ROOT);
        let Ok(root) = root else { continue };
        if !same_dir(
            String::from_utf8_lossy(&root).trim_end_matches('\n'),
            &w.cwd,
        ) {
            continue;
        }
        let sessions = files(
            &project.join("chats"),
            |n| n.starts_with("session-") && n.ends_with(".jsonl"),
            since,
        );
        out.extend(newest(sessions).into_iter().filter(|(p, _)| {
            match &w.session_id {
                None => true,
                Some(id) => first_line(p)
                    .and_then(|h| h.session_id)
                    .is_some_and(|s| s == *id),
            }
        }));
    }
    out
}
