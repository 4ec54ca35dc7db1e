//! A worker's output: a headless worker's stdout and stderr copied to its log and the pane,
//! stdout's events parsed, and the signs of life the stall watch counts.

use std::fs;
use std::io::{Read, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::dispatch::Spec;
use crate::process::Group;
use crate::provider::events::{EventParser, StreamSummary};
use crate::tmux::Tmux;

use crate::dispatch::supervise::Pane;

/// Copies a headless worker's stdout and stderr to the log and the pane on two threads, and
/// parses stdout's events.
pub(super) struct OutputCopy {
    /// Bytes copied so far, both streams: a sign of life.
    bytes: Arc<std::sync::atomic::AtomicU64>,
    stdout: Option<std::thread::JoinHandle<StreamSummary>>,
    stderr: Option<std::thread::JoinHandle<StreamSummary>>,
}

impl OutputCopy {
    pub(super) fn finish(self) -> StreamSummary {
        if let Some(t) = self.stderr {
            let _ = t.join();
        }
        self.stdout.and_then(|t| t.join().ok()).unwrap_or_default()
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
    let pump = |mut pipe: Box<dyn Read + Send>, mut parser: Option<EventParser>| {
        let log = Arc::clone(&log);
        let bytes = Arc::clone(&bytes);
        let pane = Arc::clone(pane);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                bytes.fetch_add(n as u64, Ordering::Relaxed);
                if let Some(p) = parser.as_mut() {
                    p.feed(&buf[..n]);
                }
                if let Ok(Ok(log)) = log.lock().as_deref_mut().map(|l| l.as_mut()) {
                    let _ = log.write_all(&buf[..n]);
                }
                if let Ok(mut pane) = pane.lock() {
                    let _ = pane.write_all(&buf[..n]);
                    let _ = pane.flush();
                }
            }
            parser.map(EventParser::finish).unwrap_or_default()
        })
    };
    let stdout = group
        .stdout()
        .map(|p| pump(Box::new(p), Some(EventParser::new(spec.invocation.output))));
    let stderr = group.stderr().map(|p| pump(Box::new(p), None));
    OutputCopy {
        bytes,
        stdout,
        stderr,
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
