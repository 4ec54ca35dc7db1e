//! gemini's session files (seen on gemini 0.61): `<home>/tmp/<project>/chats/session-<time>-
//! <id>.jsonl`, the project directory's `.project_root` naming the working directory; the
//! file's first line records `sessionId`, a UUID, hyphenated. (Older gemini versions wrote
//! one JSON document per session, `session-*.json`: not read.) The usage they record: the sum
//! over its `gemini` messages of their `tokens` (input, output, cached, total), each message
//! counted once by its `id` (it writes a message again as it grows).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

use crate::provider::cli::render::TranscriptEvents;
use crate::provider::cli::session::{
    SessionStore, Sought, dirs, files, newest, newest_heads, same_dir,
};
use crate::provider::cli::usage::{Count, Lenient, PerMessage, SessionUsage, Text, counted};
use crate::receipts::Usage;

/// The most bytes of a project's `.project_root` read.
const MAX_ROOT: u64 = 64 * 1024;

/// What a session's first line says of it.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Head {
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

/// The message a `gemini` line records, and its usage.
fn message(raw: &[u8]) -> Option<(Text<'_>, Usage)> {
    let line = serde_json::from_slice::<Line<'_>>(raw).ok()?;
    let t = line.tokens.0?;
    Some((
        line.id,
        counted(t.input, t.output, t.cached, None, Some(t.total)),
    ))
}

/// The members of a message's line usage reads.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Line<'a> {
    /// The message's id.
    #[serde(borrow)]
    id: Text<'a>,
    /// The message's tokens.
    tokens: Lenient<Tokens>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Tokens {
    input: Count,
    output: Count,
    cached: Count,
    total: Count,
}

/// Its session files (see the module's documentation).
pub(super) struct GeminiSessions;

impl SessionStore for GeminiSessions {
    /// `<home>/tmp`.
    fn dir(&self) -> &'static str {
        "tmp"
    }

    /// The session files of the working directory's project written since the start (the
    /// one of the session id, when known).
    fn find(&self, tmp: &Path, w: &Sought<'_>) -> Vec<(PathBuf, SystemTime)> {
        // The projects whose chats changed last (a directory's time changes as a file is
        // made in it; a resumed session's file may be older than the dispatch).
        let projects = dirs(tmp)
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
            if !same_dir(String::from_utf8_lossy(&root).trim_end_matches('\n'), w.cwd) {
                continue;
            }
            let sessions = files(
                &project.join("chats"),
                |n| n.starts_with("session-") && n.ends_with(".jsonl"),
                w.since,
            );
            out.extend(match w.session_id {
                None => newest(sessions),
                Some(id) => newest_heads(sessions, |h: Head| h.session_id.as_deref() == Some(id)),
            });
        }
        out
    }

    fn usage(&self) -> Box<dyn SessionUsage> {
        PerMessage::boxed("gemini", message)
    }

    /// Each `gemini` message is written with its tokens as it grows.
    fn live_usage(&self) -> bool {
        true
    }

    fn transcript(&self) -> Option<Box<dyn TranscriptEvents>> {
        Some(Box::new(super::session::SessionTranscript))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::provider::session::testing::of_bytes;
    use crate::provider::session::{testing, valid_id};

    #[test]
    fn its_home_is_dot_gemini_in_gemini_cli_home_else_in_the_home() {
        let h = testing::homes_of(&[("HOME", "/h")]);
        assert_eq!(h.get("gemini"), Some(Path::new("/h/.gemini")));
        let h = testing::homes_of(&[("HOME", "relative"), ("GEMINI_CLI_HOME", "/g")]);
        assert_eq!(h.get("gemini"), Some(Path::new("/g/.gemini")));
    }

    #[test]
    fn a_gemini_session_is_in_the_project_whose_root_is_the_worktree() {
        let tmp = tempfile::tempdir().unwrap();
        let tmpdir = tmp.path().join(".gemini/tmp");
        for (project, root) in [("a", "/w/other"), ("b", "/w/t")] {
            fs::create_dir_all(tmpdir.join(project).join("chats")).unwrap();
            fs::write(tmpdir.join(project).join(".project_root"), root).unwrap();
            let first =
                serde_json::json!({"sessionId": format!("s-{project}"), "projectHash": "h"});
            fs::write(
                tmpdir.join(project).join("chats/session-1.jsonl"),
                format!("{first}\n"),
            )
            .unwrap();
        }
        let w = testing::wanted("gemini", tmp.path(), Path::new("/w/t"));
        assert_eq!(w.find(), Some(tmpdir.join("b/chats/session-1.jsonl")));
        let mut by_id = w.clone();
        by_id.session_id = Some("s-a".into());
        assert_eq!(by_id.find(), None);
    }

    #[test]
    fn a_dispatchs_own_session_place_holds_geminis_projects() {
        // Looked for in the place as in its home's `tmp`.
        let tmp = tempfile::tempdir().unwrap();
        let place = tmp.path().join("dispatch/sessions");
        let mut w = testing::wanted("gemini", tmp.path(), Path::new("/w/t"));
        w.homes.sessions = Some(place.clone());
        assert_eq!(w.looked_in(), Some(place));
    }

    #[test]
    fn gemini_usage_counts_each_message_once() {
        let message = |id: &str, input: u64| {
            let l = serde_json::json!({"id": id, "type": "gemini",
                "tokens": {"input": input, "output": 2, "cached": 0, "total": input + 2}});
            format!("{l}\n")
        };
        let data = [message("a", 10), message("a", 10), message("b", 20)].concat();
        let u = of_bytes("gemini", data.as_bytes(), SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.total_tokens),
            (30, 4, Some(34))
        );
    }

    #[test]
    fn gemini_session_ids_are_uuids() {
        // As the real gemini wrote one (tests/support/fixtures).
        assert!(valid_id("gemini", "5ef1866e-4a53-40c0-9f60-633ee32e9a66"));
    }
}
