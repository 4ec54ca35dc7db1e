//! The background commands codex's rollout file shows still running (ADR 0096), for its TUI,
//! which names them nowhere else (seen on codex 0.169.0,
//! tests/support/fixtures/codex-interactive-background-rollout.jsonl): the model's
//! `exec_command` call (`response_item`/`function_call`, its `call_id` and `arguments.cmd`)
//! whose output (`response_item`/`function_call_output`, the same `call_id`) reads "Process
//! running with session ID N" started one that outlived the call; it ended at the
//! `event_msg`/`item_completed` whose item is a `CommandExecution` with that id (written
//! after the turn's `task_complete` when the command outlived the turn). A started one with
//! no end is running.
//!
//! The file is the worker's: it is read from where the last read stopped, at most
//! [`MAX_READ`] bytes a call, never through a link; a line longer than [`MAX_LINE`] is
//! skipped; at most [`MAX_FOLLOWED`] calls and commands are followed.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

use crate::provider::cli::session::BackgroundWork;
use crate::provider::cli::stream::truncate;
use crate::receipts::BackgroundTask;

/// The most bytes read from the file in one call.
const MAX_READ: u64 = 16 << 20;
/// The longest line read; a longer one is skipped.
const MAX_LINE: usize = 4 << 20;
/// The most commands (and calls) followed at once.
const MAX_FOLLOWED: usize = 1024;
/// What the output of a command codex stopped waiting for begins its status with.
const STILL_RUNNING: &str = "Process running with session ID";

/// The reader of one rollout file (see the module's documentation).
#[derive(Debug, Default)]
pub(super) struct RolloutBackground {
    /// The file read, and how many of its bytes were.
    file: Option<PathBuf>,
    offset: u64,
    /// Whether the bytes at the offset are the rest of a line too long to read.
    skipping: bool,
    /// The command of each `exec_command` call not yet answered, by call id.
    calls: HashMap<String, String>,
    /// The commands that outlived their call and have not ended: call id, command.
    running: Vec<(String, String)>,
}

impl BackgroundWork for RolloutBackground {
    fn running(&mut self, found: &Path, since: SystemTime) -> Option<(Vec<BackgroundTask>, u32)> {
        let mut file = crate::files::open_hostile(found).ok()?;
        let len = file.metadata().ok()?.len();
        if self.file.as_deref() != Some(found) || len < self.offset {
            *self = RolloutBackground {
                file: Some(found.to_owned()),
                ..RolloutBackground::default()
            };
        }
        file.seek(SeekFrom::Start(self.offset)).ok()?;
        let mut chunk = Vec::new();
        file.take(MAX_READ).read_to_end(&mut chunk).ok()?;
        let whole = chunk.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if whole > 0 {
            for line in chunk[..whole - 1].split(|b| *b == b'\n') {
                if std::mem::take(&mut self.skipping) || line.len() > MAX_LINE {
                    continue;
                }
                self.record(line, since);
            }
            self.offset += whole as u64;
        } else if chunk.len() as u64 == MAX_READ {
            // One line longer than a read: skipped to its end.
            self.offset += MAX_READ;
            self.skipping = true;
        }
        if chunk.len() as u64 == MAX_READ && self.offset < len {
            // Not read to its end yet.
            return None;
        }
        let tasks = (self.running.iter())
            .take(BackgroundTask::MAX_TASKS)
            .map(|(id, what)| BackgroundTask {
                id: truncate(id, BackgroundTask::MAX_TEXT),
                kind: "shell".to_owned(),
                what: truncate(what.trim(), BackgroundTask::MAX_TEXT),
            })
            .collect::<Vec<_>>();
        let more = self.running.len().saturating_sub(tasks.len());
        Some((tasks, u32::try_from(more).unwrap_or(u32::MAX)))
    }
}

impl RolloutBackground {
    /// One line of the rollout, written at or after `since`.
    fn record(&mut self, line: &[u8], since: SystemTime) {
        let Ok(record) = serde_json::from_slice::<Record>(line) else {
            return;
        };
        let at = record
            .timestamp
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        if at.is_some_and(|at| SystemTime::from(at) < since) {
            return;
        }
        let p = record.payload;
        match (record.kind.as_deref(), p.kind.as_deref()) {
            (Some("response_item"), Some("function_call"))
                if p.name.as_deref() == Some("exec_command") && self.calls.len() < MAX_FOLLOWED =>
            {
                let cmd = (p.arguments.as_deref())
                    .and_then(|a| serde_json::from_str::<Arguments>(a).ok())
                    .and_then(|a| a.cmd)
                    .unwrap_or_default();
                self.calls.insert(p.call_id.unwrap_or_default(), cmd);
            }
            (Some("response_item"), Some("function_call_output")) => {
                let id = p.call_id.unwrap_or_default();
                let Some(cmd) = self.calls.remove(&id) else {
                    return;
                };
                let outlived = (p.output.as_deref()).is_some_and(|o| o.contains(STILL_RUNNING));
                if outlived
                    && self.running.len() < MAX_FOLLOWED
                    && !self.running.iter().any(|(i, _)| *i == id)
                {
                    self.running.push((id, cmd));
                }
            }
            (Some("event_msg"), Some("item_completed")) => {
                let item = p.item.unwrap_or_default();
                if item.kind.as_deref() == Some("CommandExecution") {
                    let id = item.id.unwrap_or_default();
                    self.running.retain(|(i, _)| *i != id);
                }
            }
            _ => {}
        }
    }
}

/// The members of a rollout line read here.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Record {
    #[serde(rename = "type")]
    kind: Option<String>,
    timestamp: Option<String>,
    payload: Payload,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Payload {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
    call_id: Option<String>,
    arguments: Option<String>,
    output: Option<String>,
    item: Option<Item>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Item {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Arguments {
    cmd: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const FIXTURE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/support/fixtures/codex-interactive-background-rollout.jsonl"
    ));

    /// The fixture's lines up to (not including) the command's end, then the rest.
    fn split_at_the_end() -> (String, String) {
        let lines: Vec<&str> = FIXTURE.lines().collect();
        let end = lines
            .iter()
            .rposition(|l| l.contains("\"CommandExecution\""))
            .unwrap();
        let before = lines[..end].iter().map(|l| format!("{l}\n")).collect();
        let after = lines[end..].iter().map(|l| format!("{l}\n")).collect();
        (before, after)
    }

    #[test]
    fn a_command_codex_stopped_waiting_for_runs_until_its_item_completed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("rollout.jsonl");
        let (before, after) = split_at_the_end();
        std::fs::write(&path, &before).unwrap();
        let mut reader = RolloutBackground::default();
        let (tasks, more) = reader.running(&path, SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(more, 0);
        assert_eq!(tasks.len(), 1, "{tasks:?}");
        assert_eq!(tasks[0].kind, "shell");
        assert_eq!(tasks[0].what, "sleep 20; echo finished > bg.txt");
        // Read on from where it stopped: the end arrives.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(after.as_bytes()).unwrap();
        let (tasks, more) = reader.running(&path, SystemTime::UNIX_EPOCH).unwrap();
        assert!(tasks.is_empty() && more == 0, "{tasks:?}");
    }

    #[test]
    fn only_commands_started_since_the_dispatch_count() {
        // A resumed session: the earlier dispatch's command never ended (codex exited).
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("rollout.jsonl");
        std::fs::write(&path, split_at_the_end().0).unwrap();
        let later = SystemTime::from("2026-11-28T13:00:00Z".parse::<jiff::Timestamp>().unwrap());
        let mut reader = RolloutBackground::default();
        assert_eq!(reader.running(&path, later), Some((Vec::new(), 0)));
    }

    #[test]
    fn many_commands_are_bounded_and_a_link_is_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("rollout.jsonl");
        let mut text = String::new();
        for i in 0..40 {
            let call = serde_json::json!({"type": "response_item", "payload": {
                "type": "function_call", "name": "exec_command", "call_id": format!("c{i}"),
                "arguments": serde_json::json!({"cmd": "x".repeat(500)}).to_string()}});
            let out = serde_json::json!({"type": "response_item", "payload": {
                "type": "function_call_output", "call_id": format!("c{i}"),
                "output": "Chunk ID: 1\nProcess running with session ID 7\n"}});
            text.push_str(&format!("{call}\n{out}\n"));
        }
        // A line still being written is not read yet.
        text.push_str("{\"type\": \"event_msg\"");
        std::fs::write(&path, &text).unwrap();
        let mut reader = RolloutBackground::default();
        let (tasks, more) = reader.running(&path, SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!((tasks.len(), more), (BackgroundTask::MAX_TASKS, 24));
        assert!(tasks[0].what.chars().count() <= BackgroundTask::MAX_TEXT + 1);
        let link = tmp.path().join("link.jsonl");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert_eq!(
            RolloutBackground::default().running(&link, SystemTime::UNIX_EPOCH),
            None
        );
    }

    #[test]
    #[expect(
        clippy::disallowed_methods,
        reason = "a test makes a FIFO with mkfifo(1)"
    )]
    fn a_fifo_in_place_of_the_rollout_is_not_waited_on() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("rollout.jsonl");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        // Opening it would block for a writer; it is refused at once instead.
        assert_eq!(
            RolloutBackground::default().running(&fifo, SystemTime::UNIX_EPOCH),
            None
        );
    }
}
