//! gemini's session files (seen on gemini 0.61): `<home>/tmp/<project>/chats/session-<time>-
//! <id>.jsonl`, the project directory's `.project_root` naming the working directory; the
//! file's first line records `sessionId`. (Older gemini versions wrote one JSON document per
//! session, `session-*.json`: not read.) The usage they record: the sum over its `gemini`
//! messages of their `tokens` (input, output, cached, total), each message counted once by
//! its `id` (it writes a message again as it grows).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

use crate::provider::cli::session::{Sought, dirs, files, first_line, newest, same_dir};
use crate::provider::cli::usage::{Count, Lenient, Messages, SessionUsage, Text, before};
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

/// The session files of the working directory's project written since the start (the one of
/// the session id, when known).
pub(super) fn find(tmp: &Path, w: &Sought<'_>) -> Vec<(PathBuf, SystemTime)> {
    // The projects whose chats changed last (a directory's time changes as a file is made in
    // it; a resumed session's file may be older than the dispatch).
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
        out.extend(newest(sessions).into_iter().filter(|(p, _)| {
            match w.session_id {
                None => true,
                Some(id) => first_line::<Head>(p)
                    .and_then(|h| h.session_id)
                    .is_some_and(|s| s == id),
            }
        }));
    }
    out
}

/// Counts a session file's usage (see the module's documentation).
#[derive(Default)]
pub(super) struct GeminiUsage {
    messages: Messages,
}

impl SessionUsage for GeminiUsage {
    fn line(&mut self, raw: &[u8], since: Option<jiff::Timestamp>) {
        let Ok(line) = serde_json::from_slice::<Line<'_>>(raw) else {
            return;
        };
        if before(&line.timestamp, since) || line.kind.0.as_deref() != Some("gemini") {
            return;
        }
        let Some(t) = line.tokens.0 else {
            return;
        };
        let usage = Usage {
            input_tokens: t.input.or0(),
            output_tokens: t.output.or0(),
            cached_input_tokens: Some(t.cached.or0()),
            cache_creation_input_tokens: None,
            total_tokens: Some(t.total.or0()),
        };
        self.messages.message(line.id.0.as_deref(), usage);
    }

    fn total(self: Box<Self>) -> Option<Usage> {
        self.messages.total()
    }
}

/// The members of one line usage reads.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Line<'a> {
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
    #[serde(borrow)]
    timestamp: Text<'a>,
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
