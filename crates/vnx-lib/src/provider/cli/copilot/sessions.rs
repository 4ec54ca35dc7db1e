//! copilot's session files (seen on 1.0.102): `<home>/session-state/<id>/events.jsonl`, one
//! directory per session named by its id, a hyphenated UUID (with `workspace.yaml`,
//! checkpoints and snapshots beside it); the file's first line is `session.start`, naming the
//! working directory (`data.context.cwd`). A resumed session appends to the same file. The
//! usage they record: the sum of the `session.usage_record` events (`data.usage`: input,
//! output, cache reads and writes), each counted once by its event `id` — the headless stream
//! has no tokens, so its usage is read here in both lanes.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

use crate::provider::cli::render::TranscriptEvents;
use crate::provider::cli::session::{
    SessionStore, Sought, dirs, files, is_uuid, newest_heads, same_dir,
};
use crate::provider::cli::usage::{Count, Lenient, PerMessage, SessionUsage, Text, counted};
use crate::receipts::Usage;

/// The session file's name in its directory.
const EVENTS: &str = "events.jsonl";

/// What a session's first line says of it.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Head {
    data: Option<HeadData>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct HeadData {
    context: Option<Context>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Context {
    cwd: Option<String>,
}

/// The most of a session file's end read for its last message.
const MAX_TAIL: u64 = 1 << 20;

/// The last assistant message (not a subagent's) in the last [`MAX_TAIL`] bytes of the
/// session file at `path`; never through a link, never blocking on a FIFO.
fn last_message(path: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = crate::files::open_hostile(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(MAX_TAIL)))
        .ok()?;
    let mut tail = Vec::new();
    file.take(MAX_TAIL).read_to_end(&mut tail).ok()?;
    String::from_utf8_lossy(&tail)
        .lines()
        .rev()
        .find_map(|line| {
            if !line.contains("\"assistant.message\"") {
                return None;
            }
            let event: serde_json::Value = serde_json::from_str(line).ok()?;
            let data = event.get("data")?;
            if event.get("type")?.as_str()? != "assistant.message"
                || data.get("parentToolCallId").is_some()
            {
                return None;
            }
            let text = data.get("content")?.as_str()?.trim();
            (!text.is_empty()).then(|| text.to_owned())
        })
}

/// The record a `session.usage_record` line is, and its usage.
fn record(raw: &[u8]) -> Option<(Text<'_>, Usage)> {
    let line = serde_json::from_slice::<Line<'_>>(raw).ok()?;
    let t = line.data.0?.usage.0?;
    let (read, writes) = (t.cache_read_tokens, t.cache_write_tokens);
    let usage = counted(t.input_tokens, t.output_tokens, read, Some(writes), None);
    Some((line.id, usage))
}

/// The members of a usage record's line usage reads.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Line<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    data: Lenient<Data>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Data {
    usage: Lenient<Tokens>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Tokens {
    input_tokens: Count,
    output_tokens: Count,
    cache_read_tokens: Count,
    cache_write_tokens: Count,
}

/// Its session state (see the module's documentation).
pub(super) struct CopilotSessions;

impl SessionStore for CopilotSessions {
    /// `<home>/session-state`.
    fn dir(&self) -> &'static str {
        "session-state"
    }

    /// The session files of the working directory written since the start: the one of the
    /// session id when known (its directory is named by it), else those whose start names
    /// it.
    fn find(&self, state: &Path, w: &Sought<'_>) -> Vec<(PathBuf, SystemTime)> {
        let of = |dir: &Path| files(dir, |n| n == EVENTS, w.since);
        if let Some(id) = w.session_id {
            // Only a UUID names a directory here (one path component, never `..`).
            if !is_uuid(id) {
                return Vec::new();
            }
            return of(&state.join(id));
        }
        let sessions = dirs(state)
            .into_iter()
            .flat_map(|(_, dir)| of(&dir))
            .collect();
        newest_heads(sessions, |h: Head| {
            (h.data.and_then(|d| d.context?.cwd)).is_some_and(|cwd| same_dir(&cwd, w.cwd))
        })
    }

    fn usage(&self) -> Box<dyn SessionUsage> {
        PerMessage::boxed("session.usage_record", record)
    }

    /// A `session.usage_record` is written after each model call.
    fn live_usage(&self) -> bool {
        true
    }

    fn transcript(&self) -> Option<Box<dyn TranscriptEvents>> {
        Some(Box::new(super::transcript::CopilotTranscript::default()))
    }

    /// Its `agentStop` hook carries no message: its TUI's question is read here.
    fn last_message(&self, path: &Path) -> Option<String> {
        last_message(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &str =
        include_str!("../../../../../../tests/support/fixtures/copilot/session-events.jsonl");

    fn count(data: &str, since: Option<jiff::Timestamp>) -> Option<Usage> {
        let mut counter = CopilotSessions.usage();
        for line in data.lines() {
            counter.line(line.as_bytes(), since);
        }
        counter.total()
    }

    #[test]
    fn its_usage_records_are_summed_from_the_start() {
        let all = count(SESSION, None).unwrap();
        assert!(all.input_tokens > 0 && all.output_tokens > 0, "{all:?}");
        // The resumed part only: the records after its `session.resume`.
        let resumed: jiff::Timestamp = SESSION
            .lines()
            .find(|l| l.contains("\"session.resume\""))
            .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .and_then(|v| v["timestamp"].as_str()?.parse().ok())
            .unwrap();
        let later = count(SESSION, Some(resumed)).unwrap();
        assert!(later.input_tokens < all.input_tokens, "{later:?} {all:?}");
        assert_eq!(count("{\"type\":\"user.message\"}\nnot json", None), None);
    }

    #[test]
    fn its_last_message_is_the_assistants_last_words() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(EVENTS);
        std::fs::write(&path, SESSION).unwrap();
        assert_eq!(last_message(&path).as_deref(), Some("Wrote second.txt."));
        std::fs::write(&path, "{\"type\":\"user.message\"}\n").unwrap();
        assert_eq!(last_message(&path), None);
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert_eq!(last_message(&link), None, "not through a link");
    }

    #[test]
    fn a_session_is_found_by_its_id_or_its_working_directory() {
        let home = tempfile::tempdir().unwrap();
        let state = home.path().join("session-state");
        let id = "9ac4954f-5664-421b-a7cf-0c3986575adc";
        std::fs::create_dir_all(state.join(id)).unwrap();
        let head = SESSION.lines().next().unwrap();
        std::fs::write(state.join(id).join(EVENTS), format!("{head}\n")).unwrap();
        let since = SystemTime::UNIX_EPOCH;
        let cwd = Path::new("/tmp/vnx-clis.amgmAw/repo");
        let sought = |session_id| Sought {
            cwd,
            since,
            session_id,
        };
        assert_eq!(CopilotSessions.find(&state, &sought(Some(id))).len(), 1);
        assert_eq!(CopilotSessions.find(&state, &sought(None)).len(), 1);
        let other = Sought {
            cwd: Path::new("/elsewhere"),
            since,
            session_id: None,
        };
        assert!(CopilotSessions.find(&state, &other).is_empty());
        let unknown = "00000000-0000-4000-8000-000000000000";
        assert!(
            CopilotSessions
                .find(&state, &sought(Some(unknown)))
                .is_empty()
        );
        let climbing = format!("../session-state/{id}");
        assert!(
            CopilotSessions
                .find(&state, &sought(Some(&climbing)))
                .is_empty(),
            "not a UUID"
        );
    }
}
