//! qwen's session files (seen on qwen 0.15.10, both lanes): `<home>/projects/<cwd, each
//! character but ASCII letters and digits made '-'>/chats/<session>.jsonl`, the directory
//! naming the working directory and the file named by the session id (`--session-id` sets
//! it; `--resume` appends to it). The usage they record: the sum over the session's
//! `assistant` lines of their `usageMetadata` (prompt, candidates, cached, total tokens),
//! each line counted once by its `uuid`.

use serde::Deserialize;

use crate::provider::cli::session::ProjectFiles;
use crate::provider::cli::usage::{Count, Lenient, Text, counted};
use crate::receipts::Usage;

/// Its session files (see the module's documentation): `<home>/projects`, each project's in
/// its `chats`; drawn as a transcript by `session`. Its session ids are UUIDs, hyphenated (seen
/// on 0.15.10).
pub(super) static SESSIONS: ProjectFiles = ProjectFiles {
    dir: "projects",
    folder: Some("chats"),
    message_kind: "assistant",
    message,
    transcript: || Box::<super::session::SessionTranscript>::default(),
};

/// The message an `assistant` line records, and its usage.
fn message(raw: &[u8]) -> Option<(Text<'_>, Usage)> {
    let line = serde_json::from_slice::<Line<'_>>(raw).ok()?;
    let t = line.usage.0?;
    Some((
        line.uuid,
        counted(t.prompt, t.candidates, t.cached, None, Some(t.total)),
    ))
}

/// The members of an assistant's line usage reads.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Line<'a> {
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::SystemTime;

    use super::*;
    use crate::provider::cli::session::{SessionStore, Sought};

    /// A session its TUI wrote (qwen 0.15.10 against the scripted model server): a shell
    /// command a hook denied, then the answer.
    pub(crate) const SESSION: &str =
        include_str!("../../../../../../tests/support/fixtures/qwen/tui-session.jsonl");

    #[test]
    fn its_assistant_lines_usage_is_summed_once_each() {
        let mut u = SESSIONS.usage();
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
            SESSIONS.of_cwd(
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
        let chats = SESSIONS.of_cwd(&t.path().join("projects"), &cwd);
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
        assert_eq!(SESSIONS.find(&projects, &sought(None)).len(), 2);
        let one = SESSIONS.find(&projects, &sought(Some("b2")));
        assert_eq!(one.len(), 1);
        assert!(one[0].0.ends_with("b2.jsonl"));
    }
}
