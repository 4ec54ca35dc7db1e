//! A worker's output: a headless worker's stdout and stderr copied to its log and the pane,
//! stdout's events parsed (or, for a CLI whose output is plain text, its last lines kept as
//! its last message), and the signs of life the stall watch counts.

use std::fs;
use std::io::{Read, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::dispatch::Spec;
use crate::process::Group;
use crate::provider::events::{EventParser, StreamSummary};
use crate::tmux::Tmux;

/// Where the worker's output goes besides its log: the pane (the supervisor's stdout).
pub type Pane = Arc<Mutex<dyn Write + Send>>;

/// Copies a headless worker's stdout and stderr to the log and the pane on two threads, and
/// parses stdout's events.
pub(super) struct OutputCopy {
    /// Bytes copied so far, both streams: a sign of life.
    bytes: Arc<std::sync::atomic::AtomicU64>,
    stdout: Option<std::thread::JoinHandle<(StreamSummary, Tail)>>,
    stderr: Option<std::thread::JoinHandle<(StreamSummary, Tail)>>,
    /// The CLI's output is plain text: its last lines are its last message.
    text: bool,
    /// The tokens its events counted so far (a budget's watch, ADR 0094).
    pub(super) tokens: super::budget::StreamTokens,
}

impl OutputCopy {
    pub(super) fn finish(self) -> StreamSummary {
        if let Some(t) = self.stderr {
            let _ = t.join();
        }
        let (mut summary, tail) = self.stdout.and_then(|t| t.join().ok()).unwrap_or_default();
        if self.text && summary.last_message.is_none() {
            summary.last_message = tail.last_paragraph();
        }
        summary
    }
}

/// The last bytes of a stream, at most [`Tail::MAX`].
#[derive(Debug, Default)]
pub(super) struct Tail(Vec<u8>);

impl Tail {
    /// How much of a stream is kept.
    const MAX: usize = 8192;
    /// The most lines of the last paragraph kept.
    const MAX_LINES: usize = 10;

    fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        if self.0.len() > Self::MAX {
            self.0.drain(..self.0.len() - Self::MAX);
        }
    }

    /// The last paragraph of the text (the non-empty lines after the last blank one, at most
    /// [`Tail::MAX_LINES`] of them), as a plain-text CLI's final message; `None` when there
    /// is no text. A line cut by the window is left out.
    pub(super) fn last_paragraph(&self) -> Option<String> {
        let text = String::from_utf8_lossy(&self.0);
        let mut lines: Vec<&str> = text.lines().collect();
        if self.0.len() >= Self::MAX && !lines.is_empty() {
            lines.remove(0);
        }
        while lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines.pop();
        }
        let start = lines
            .iter()
            .rposition(|l| l.trim().is_empty())
            .map_or(0, |i| i + 1);
        let paragraph = &lines[start.max(lines.len().saturating_sub(Self::MAX_LINES))..];
        let joined = paragraph.join("\n");
        let joined = joined.trim();
        (!joined.is_empty()).then(|| {
            super::signals::shorten(joined, crate::receipts::cli_events::LAST_MESSAGE_MAX_CHARS)
        })
    }
}

pub(super) fn copy_output(
    group: &mut Group,
    log: &fs::File,
    pane: &Pane,
    spec: &Spec,
) -> OutputCopy {
    let log = Arc::new(Mutex::new(log.try_clone()));
    let bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let tokens = super::budget::StreamTokens::default();
    let pump = |mut pipe: Box<dyn Read + Send>, mut parser: Option<EventParser>| {
        let log = Arc::clone(&log);
        let bytes = Arc::clone(&bytes);
        let tokens = Arc::clone(&tokens);
        let pane = Arc::clone(pane);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            let mut tail = Tail::default();
            let mut line = LogLine::default();
            let to_log = |bytes: &[u8]| {
                if let Ok(Ok(log)) = log.lock().as_deref_mut().map(|l| l.as_mut()) {
                    let _ = log.write_all(bytes);
                }
            };
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                bytes.fetch_add(n as u64, Ordering::Relaxed);
                if let Some(p) = parser.as_mut() {
                    p.feed(&buf[..n]);
                    tokens.heard(p);
                }
                tail.push(&buf[..n]);
                line.push(&buf[..n], to_log);
                if let Ok(mut pane) = pane.lock() {
                    let _ = pane.write_all(&buf[..n]);
                    let _ = pane.flush();
                }
            }
            line.finish(to_log);
            (parser.map(EventParser::finish).unwrap_or_default(), tail)
        })
    };
    let stdout = group.stdout().map(|p| {
        pump(
            Box::new(p),
            Some(EventParser::new(spec.invocation.output.clone())),
        )
    });
    let stderr = group.stderr().map(|p| pump(Box::new(p), None));
    OutputCopy {
        bytes,
        stdout,
        stderr,
        text: spec.invocation.output == crate::provider::OutputFormat::TEXT,
        tokens,
    }
}

/// One stream's bytes written to the shared log a whole line at a time, so a line of one
/// stream is never cut by the other's (a CLI may print a warning on stderr between its JSON
/// events on stdout; a cut event line is lost to the transcript). A line longer than
/// [`LogLine::MAX`] is written as it comes.
#[derive(Debug, Default)]
struct LogLine(Vec<u8>);

impl LogLine {
    const MAX: usize = 64 * 1024;

    /// Takes `bytes`, and writes what ends a line (with what came before it).
    fn push(&mut self, bytes: &[u8], mut write: impl FnMut(&[u8])) {
        match bytes.iter().rposition(|b| *b == b'\n') {
            Some(end) => {
                if self.0.is_empty() {
                    write(&bytes[..=end]);
                } else {
                    self.0.extend_from_slice(&bytes[..=end]);
                    write(&self.0);
                    self.0.clear();
                }
                self.0.extend_from_slice(&bytes[end + 1..]);
            }
            None => self.0.extend_from_slice(bytes),
        }
        if self.0.len() > Self::MAX {
            write(&self.0);
            self.0.clear();
        }
    }

    /// Writes what is left at the stream's end.
    fn finish(self, mut write: impl FnMut(&[u8])) {
        if !self.0.is_empty() {
            write(&self.0);
        }
    }
}

/// Signs of life from the worker's output: a headless worker's bytes, an interactive one's
/// pane activity as tmux keeps it (checked once a second).
#[derive(Debug, Default)]
pub(super) struct Activity {
    bytes: u64,
    pane_activity: Option<u64>,
    checked: Option<Instant>,
}

impl Activity {
    /// Whether the worker produced output since the last call.
    pub(super) fn changed(
        &mut self,
        copy: Option<&OutputCopy>,
        tmux: &Tmux,
        pane: Option<&str>,
        now: Instant,
    ) -> bool {
        if let Some(copy) = copy {
            let bytes = copy.bytes.load(Ordering::Relaxed);
            let changed = bytes != self.bytes;
            self.bytes = bytes;
            return changed;
        }
        let Some(pane) = pane else {
            return false;
        };
        if self
            .checked
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            return false;
        }
        self.checked = Some(now);
        let seen = tmux.window_activity(pane);
        let changed = seen.is_some() && self.pane_activity.is_some() && seen != self.pane_activity;
        if seen.is_some() {
            self.pane_activity = seen;
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::LogLine;

    #[test]
    fn the_log_gets_whole_lines_and_the_rest_at_the_end() {
        let mut out: Vec<Vec<u8>> = Vec::new();
        let mut line = LogLine::default();
        line.push(b"warn", |b| out.push(b.to_vec()));
        assert!(out.is_empty());
        line.push(b"ing\n{\"a\"", |b| out.push(b.to_vec()));
        line.push(b":1}\nx", |b| out.push(b.to_vec()));
        line.finish(|b| out.push(b.to_vec()));
        assert_eq!(
            out,
            [
                b"warning\n".to_vec(),
                b"{\"a\":1}\n".to_vec(),
                b"x".to_vec()
            ]
        );
        // A line longer than the bound is not held back.
        let mut out = 0;
        let mut line = LogLine::default();
        line.push(&vec![b'a'; LogLine::MAX + 1], |b| out += b.len());
        assert_eq!(out, LogLine::MAX + 1);
    }

    use super::Tail;

    fn tail(text: &str) -> Tail {
        let mut t = Tail::default();
        for chunk in text.as_bytes().chunks(7) {
            t.push(chunk);
        }
        t
    }

    #[test]
    fn a_text_clis_last_message_is_its_last_paragraph() {
        assert_eq!(
            tail("demo worker: ask\nterminal: none\n\nShould it be Dutch?\n\n\n").last_paragraph(),
            Some("Should it be Dutch?".into())
        );
        assert_eq!(tail("one\ntwo\n").last_paragraph(), Some("one\ntwo".into()));
        assert_eq!(tail("\n \n").last_paragraph(), None);
        assert_eq!(tail("").last_paragraph(), None);
        // At most ten lines of a long paragraph, the last ones.
        let many: String = (1..=30).map(|n| format!("line {n}\n")).collect();
        let last = tail(&many).last_paragraph().unwrap();
        assert_eq!(last.lines().count(), 10);
        assert!(last.starts_with("line 21\n") && last.ends_with("line 30"));
        // Only the last 8 KiB are kept, and the line the window cut is left out.
        let long = format!("{}\nend\n", "x".repeat(20_000));
        assert_eq!(tail(&long).last_paragraph(), Some("end".into()));
    }
}
