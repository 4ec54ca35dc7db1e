//! qwen's session files (seen on qwen 0.15.10, both lanes): `<home>/projects/<cwd, each
//! character but ASCII letters and digits made '-'>/chats/<session>.jsonl`, the directory
//! naming the working directory and the file named by the session id (`--session-id` sets
//! it; `--resume` appends to it). The usage they record: the sum over the session's
//! `assistant` lines of their `usageMetadata` (prompt, candidates, cached, total tokens),
//! each line counted once by its `uuid`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

use crate::provider::cli::render::TranscriptEvents;
use crate::provider::cli::session::{
    SessionStore, Sought, is_uuid, jsonl_by_session_id, munged_project,
};
use crate::provider::cli::usage::{
    Count, Lenient, Messages, PerMessage, SessionUsage, Text, before,
};
use crate::receipts::Usage;

/// The directory of `cwd`'s sessions in qwen's `projects` directory (or a dispatch's own
/// place that stands in for it): its `chats`.
fn chats_in(projects: &Path, cwd: &Path) -> PathBuf {
    munged_project(projects, cwd).join("chats")
}

/// The session files of the working directory written since the start (the one named by
/// the session id, when known).
fn find(projects: &Path, w: &Sought<'_>) -> Vec<(PathBuf, SystemTime)> {
    jsonl_by_session_id(&chats_in(projects, w.cwd), w)
}

/// Counts one line's usage (see the module's documentation).
fn count(raw: &[u8], since: Option<jiff::Timestamp>, messages: &mut Messages) {
    let Ok(line) = serde_json::from_slice::<Line<'_>>(raw) else {
        return;
    };
    if before(&line.timestamp, since) || line.kind.0.as_deref() != Some("assistant") {
        return;
    }
    let Some(u) = line.usage.0 else {
        return;
    };
    let usage = Usage {
        input_tokens: u.prompt.or0(),
        output_tokens: u.candidates.or0(),
        cached_input_tokens: Some(u.cached.or0()),
        cache_creation_input_tokens: None,
        total_tokens: Some(u.total.or0()),
    };
    messages.message(line.uuid.0.as_deref(), usage);
}

/// The members of one line usage reads.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Line<'a> {
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
    #[serde(borrow)]
    timestamp: Text<'a>,
    #[serde(borrow)]
    uuid: Text<'a>,
    #[serde(rename = "usageMetadata")]
    usage: Lenient<Tokens>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Tokens {
    #[serde(rename = "promptTokenCount")]
    prompt: Count,
    #[serde(rename = "candidatesTokenCount")]
    candidates: Count,
    #[serde(rename = "cachedContentTokenCount")]
    cached: Count,
    #[serde(rename = "totalTokenCount")]
    total: Count,
}

/// Its session files (see the module's documentation).
pub(super) struct QwenSessions;

impl SessionStore for QwenSessions {
    /// `<home>/projects`.
    fn dir(&self) -> &'static str {
        "projects"
    }

    fn of_cwd(&self, sessions: &Path, cwd: &Path) -> PathBuf {
        chats_in(sessions, cwd)
    }

    fn find(&self, sessions: &Path, sought: &Sought<'_>) -> Vec<(PathBuf, SystemTime)> {
        find(sessions, sought)
    }

    /// A UUID, hyphenated (seen on 0.15.10).
    fn valid_id(&self, id: &str) -> bool {
        is_uuid(id)
    }

    fn usage(&self) -> Box<dyn SessionUsage> {
        PerMessage::boxed(count)
    }

    /// Its session file, what its TUI writes.
    fn transcript(&self) -> Box<dyn TranscriptEvents> {
        Box::<super::session::SessionTranscript>::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session its TUI wrote (qwen 0.15.10 against the scripted model server): a shell
    /// command a hook denied, then the answer.
    pub(crate) const SESSION: &str =
        include_str!("../../../../../../tests/support/fixtures/qwen/tui-session.jsonl");

    #[test]
    fn its_assistant_lines_usage_is_summed_once_each() {
        let mut u: Box<dyn SessionUsage> = PerMessage::boxed(count);
        for line in SESSION.lines().chain(SESSION.lines()) {
            u.line(line.as_bytes(), None);
        }
        let total = u.total().unwrap();
        assert_eq!(
            (total.input_tokens, total.output_tokens, total.total_tokens),
            (19799 + 19894, 31 + 5, Some(19830 + 19899))
        );
        assert_eq!(total.cached_input_tokens, Some(0));
    }

    #[test]
    fn its_chats_are_named_by_the_working_directory() {
        assert_eq!(
            chats_in(
                Path::new("/h/.qwen/projects"),
                Path::new("/nonexistent/qx/repo")
            ),
            Path::new("/h/.qwen/projects/-nonexistent-qx-repo/chats")
        );
    }

    #[test]
    fn the_session_named_is_the_one_found() {
        let t = tempfile::tempdir().unwrap();
        let cwd = t.path().join("wt");
        std::fs::create_dir_all(&cwd).unwrap();
        let chats = chats_in(&t.path().join("projects"), &cwd);
        std::fs::create_dir_all(&chats).unwrap();
        for id in ["a1", "b2"] {
            std::fs::write(chats.join(format!("{id}.jsonl")), "{}\n").unwrap();
        }
        let sought = |session_id| Sought {
            cwd: &cwd,
            since: SystemTime::UNIX_EPOCH,
            session_id,
        };
        let projects = t.path().join("projects");
        assert_eq!(find(&projects, &sought(None)).len(), 2);
        let one = find(&projects, &sought(Some("b2")));
        assert_eq!(one.len(), 1);
        assert!(one[0].0.ends_with("b2.jsonl"));
    }
}
