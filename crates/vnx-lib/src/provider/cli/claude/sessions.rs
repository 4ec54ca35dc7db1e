//! claude's session files (seen on claude 2.1.197): `<config>/projects/<cwd, each character
//! but letters and digits made '-'>/<session>.jsonl`, the directory naming the working
//! directory and the file named by the session id; and the usage they record: the sum over
//! the session's assistant messages of their `usage` (input, output, cache reads and writes),
//! each message counted once by its `message.id` (claude writes a message's usage again on
//! each line of its content blocks).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

use crate::provider::cli::session::{Sought, files};
use crate::provider::cli::usage::{Count, Lenient, Messages, SessionUsage, Text, before};
use crate::receipts::Usage;

/// The directory of `cwd`'s sessions in claude's `projects` directory (or a dispatch's own
/// place that stands in for it).
pub(super) fn project_in(projects: &Path, cwd: &Path) -> PathBuf {
    let cwd = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_owned());
    let munged: String = cwd
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    projects.join(munged)
}

/// The session files of the working directory written since the start (the one named by
/// the session id, when known).
pub(super) fn find(projects: &Path, w: &Sought<'_>) -> Vec<(PathBuf, SystemTime)> {
    let dir = project_in(projects, w.cwd);
    files(&dir, |n| n.ends_with(".jsonl"), w.since)
        .into_iter()
        .filter(|(p, _)| match w.session_id {
            // A session's file is named by its id.
            Some(id) => p.file_stem().is_some_and(|s| s == id),
            None => true,
        })
        .collect()
}

/// Counts a session file's usage (see the module's documentation).
#[derive(Default)]
pub(super) struct ClaudeUsage {
    messages: Messages,
}

impl SessionUsage for ClaudeUsage {
    fn line(&mut self, raw: &[u8], since: Option<jiff::Timestamp>) {
        let Ok(line) = serde_json::from_slice::<Line<'_>>(raw) else {
            return;
        };
        if before(&line.timestamp, since) || line.kind.0.as_deref() != Some("assistant") {
            return;
        }
        let Some(message) = line.message.0 else {
            return;
        };
        let Some(u) = message.usage.0 else {
            return;
        };
        let usage = Usage {
            input_tokens: u.input_tokens.or0(),
            output_tokens: u.output_tokens.or0(),
            cached_input_tokens: Some(u.cache_read_input_tokens.or0()),
            cache_creation_input_tokens: Some(u.cache_creation_input_tokens.or0()),
            total_tokens: None,
        };
        self.messages.message(message.id.0.as_deref(), usage);
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
    /// The assistant message.
    #[serde(borrow)]
    message: Lenient<Message<'a>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Message<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    usage: Lenient<Tokens>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Tokens {
    input_tokens: Count,
    output_tokens: Count,
    cache_read_input_tokens: Count,
    cache_creation_input_tokens: Count,
}
