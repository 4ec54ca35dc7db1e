//! A declared TUI's session files (`interactive.session:` in the config): the files in its
//! directory whose names match its pattern, written since the dispatch started, whose head
//! names the dispatch's worktree (the session's working directory, as the file records it);
//! one naming the dispatch's session id is preferred when it is known. What a file holds is
//! read as the event format it names, through the same parser as a headless stream
//! (`provider::events`): its usage and its last message.
//!
//! The files are the worker's CLI's, so hostile: walked with the bounded, link-refusing
//! helpers of `provider::cli::session`, heads read bounded, the whole file streamed in
//! bounded chunks ([`super::stream`]).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::provider::cli::render::TranscriptEvents;
use crate::provider::cli::session::{SessionStore, Sought, files, newest, valid_other_id};
use crate::provider::cli::usage::SessionUsage;
use crate::provider::declared::DeclaredSession;
use crate::provider::events::{EventParser, StreamSummary};
use crate::receipts::Usage;

/// The most bytes of a file's start looked at for the worktree and the session id.
const MAX_HEAD: u64 = 64 * 1024;

/// A declared TUI's session files as the capability every CLI's sessions are: found in its
/// directory (a declared CLI's home is that directory), read as the event format it names.
#[derive(Debug)]
pub(super) struct DeclaredSessions(pub(super) DeclaredSession);

impl SessionStore for DeclaredSessions {
    fn dir(&self) -> &'static str {
        ""
    }

    fn find(&self, sessions: &Path, sought: &Sought<'_>) -> Vec<(PathBuf, SystemTime)> {
        find(&self.0, sessions, sought)
    }

    fn valid_id(&self, id: &str) -> bool {
        valid_other_id(id)
    }

    /// All the usage the file records: a declared format's events carry no time to tell a
    /// resumed session's earlier turns by.
    fn usage(&self) -> Box<dyn SessionUsage> {
        Box::new(Parsed(EventParser::new(self.0.format.clone())))
    }

    fn transcript(&self) -> Option<Box<dyn TranscriptEvents>> {
        None
    }

    fn last_message(&self, path: &Path) -> Option<String> {
        summary(&self.0, path)?.last_message
    }
}

/// A declared session file's usage, as its format's parser sums it up.
struct Parsed(EventParser);

impl SessionUsage for Parsed {
    fn line(&mut self, raw: &[u8], _since: Option<jiff::Timestamp>) {
        self.0.feed(raw);
        self.0.feed(b"\n");
    }

    fn total(self: Box<Self>) -> Option<Usage> {
        self.0.finish().usage
    }
}

/// The files in `dir` that may be the dispatch's session, with their modification times.
fn find(session: &DeclaredSession, dir: &Path, sought: &Sought<'_>) -> Vec<(PathBuf, SystemTime)> {
    let mut paths = vec![sought.cwd.to_string_lossy().into_owned()];
    if let Ok(real) = std::fs::canonicalize(sought.cwd) {
        paths.push(real.to_string_lossy().into_owned());
    }
    // The worktree as a whole JSON string (quotes included, so `…/D-1` is not found in
    // `…/D-12`), with `/` escaped or not.
    let quoted: Vec<String> = paths
        .iter()
        .filter_map(|c| serde_json::to_string(c).ok())
        .collect();
    let mut cwds: Vec<String> = quoted.iter().map(|q| q.replace('/', "\\/")).collect();
    cwds.extend(quoted);
    let found: Vec<(PathBuf, SystemTime, String)> =
        newest(files(dir, |name| session.matches(name), sought.since))
            .into_iter()
            .filter_map(|(path, modified)| {
                let head = head(&path)?;
                let names_cwd = cwds.iter().any(|c| head.contains(c.as_str()));
                names_cwd.then_some((path, modified, head))
            })
            .collect();
    let naming_id = |(p, _, head): &(PathBuf, SystemTime, String)| {
        sought.session_id.is_some_and(|id| {
            head.contains(id)
                || p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(id))
        })
    };
    let by_id = found.iter().any(naming_id);
    found
        .into_iter()
        .filter(|f| !by_id || naming_id(f))
        .map(|(p, m, _)| (p, m))
        .collect()
}

/// The start of a file, bounded, never through a link or on a FIFO.
fn head(path: &Path) -> Option<String> {
    let file = crate::files::open_hostile(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_HEAD).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// What the session file at `path` says, read whole as its format's events; `None` when it
/// cannot be read.
pub(super) fn summary(session: &DeclaredSession, path: &Path) -> Option<StreamSummary> {
    let mut parser = EventParser::new(session.format.clone());
    super::stream(None, path, |chunk| parser.feed(chunk)).ok()?;
    Some(parser.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::kinds::OutputFormat;
    use std::time::Duration;

    #[test]
    fn the_file_naming_the_worktree_is_found_and_read_as_its_format() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sessions");
        std::fs::create_dir(&dir).unwrap();
        let cwd = tmp.path().join("wt");
        std::fs::create_dir(&cwd).unwrap();
        let session = DeclaredSession {
            dir: dir.to_string_lossy().into_owned(),
            pattern: "*.jsonl".into(),
            format: crate::provider::openai_chat::FORMAT,
        };
        let mine = dir.join("a.jsonl");
        let cwd_json = serde_json::to_string(&cwd.to_string_lossy()).unwrap();
        std::fs::write(
            &mine,
            format!(
                "{{\"cwd\":{cwd_json}}}\n{}\n{}\n",
                r#"{"object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Which one?"},"finish_reason":"stop"}]}"#,
                r#"{"object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#
            ),
        )
        .unwrap();
        std::fs::write(dir.join("other.jsonl"), "{\"cwd\":\"/elsewhere\"}\n").unwrap();
        // A worktree whose path begins with this one's is another's.
        let sibling = serde_json::to_string(&format!("{}2", cwd.to_string_lossy())).unwrap();
        std::fs::write(
            dir.join("sibling.jsonl"),
            format!("{{\"cwd\":{sibling}}}\n"),
        )
        .unwrap();
        std::fs::write(dir.join("b.txt"), format!("{{\"cwd\":{cwd_json}}}\n")).unwrap();
        std::os::unix::fs::symlink(&mine, dir.join("link.jsonl")).unwrap();
        let sought = Sought {
            cwd: &cwd,
            since: SystemTime::now() - Duration::from_secs(60),
            session_id: None,
        };
        let found: Vec<PathBuf> = find(&session, &dir, &sought)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(found, std::slice::from_ref(&mine));
        let later = Sought {
            since: SystemTime::now() + Duration::from_secs(60),
            ..sought
        };
        assert!(find(&session, &dir, &later).is_empty());
        let s = summary(&session, &mine).unwrap();
        assert_eq!(s.last_message.as_deref(), Some("Which one?"));
        assert_eq!(s.usage.unwrap().input_tokens, 9);
        // The same, read through the capability every CLI's sessions are.
        let cli = super::super::Cli::declared("kimi", &session);
        let used = super::super::usage(cli.clone(), &mine, SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!((used.input_tokens, used.output_tokens), (9, 2));
        assert_eq!(
            cli.store().last_message(&mine).as_deref(),
            Some("Which one?")
        );
        assert_eq!(cli.sessions_in(&dir), dir);
        assert_eq!(s.unparsed_lines, 0);
        // A link is not read.
        assert!(summary(&session, &dir.join("link.jsonl")).is_none());
        let text = DeclaredSession {
            format: OutputFormat::TEXT,
            ..session
        };
        assert_eq!(summary(&text, &mine).unwrap().usage, None);
    }
}
