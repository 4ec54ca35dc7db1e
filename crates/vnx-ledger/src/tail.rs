//! Reading the newest receipts and following new ones as they are appended: only complete
//! (newline-terminated) lines are ever handed out; `notify` wakes the follower, no polling.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::mpsc;

use notify::{RecursiveMode, Watcher};

use super::{LedgerError, ledger_dir, open_for_reading};

const BLOCK: u64 = 64 << 10;

/// The last `n` complete lines for which `keep` holds, oldest first, and the offset just
/// past the last complete line (where following continues).
pub fn last_lines(
    path: &Path,
    n: usize,
    mut keep: impl FnMut(&[u8]) -> bool,
) -> Result<(Vec<Vec<u8>>, u64), LedgerError> {
    let read_err = LedgerError::read(path);
    let mut file = open_for_reading(path)?;
    let size = file.metadata().map_err(read_err)?.len();
    if n == 0 {
        // Nothing to show: only where following would start.
        let end = super::append::find_newline_before(&mut file, size).map_err(read_err)?;
        return Ok((Vec::new(), end.map_or(0, |p| p + 1)));
    }
    let mut out: Vec<Vec<u8>> = Vec::new();
    // Walk backwards, block by block, splitting complete lines off the end.
    let mut hi = size;
    let mut pending: Vec<u8> = Vec::new(); // bytes after the last newline seen so far
    let mut end = None; // offset just past the last complete line
    let mut buf = vec![0u8; BLOCK as usize];
    while hi > 0 && out.len() < n {
        let lo = hi.saturating_sub(BLOCK);
        let chunk = &mut buf[..(hi - lo) as usize];
        file.seek(SeekFrom::Start(lo)).map_err(read_err)?;
        file.read_exact(chunk).map_err(read_err)?;
        let mut tail = chunk.len();
        while let Some(p) = memchr::memrchr(b'\n', &chunk[..tail]) {
            let mut line = chunk[p + 1..tail].to_vec();
            line.extend_from_slice(&pending);
            pending.clear();
            match end {
                // The bytes after the last newline are a fragment, not a line.
                None => end = Some(lo + p as u64 + 1),
                Some(_) => {
                    if keep(&line) {
                        out.push(line);
                        if out.len() == n {
                            break;
                        }
                    }
                }
            }
            tail = p;
        }
        if out.len() == n {
            break;
        }
        let mut rest = chunk[..tail].to_vec();
        rest.extend_from_slice(&pending);
        pending = rest;
        hi = lo;
    }
    if hi == 0 && out.len() < n && end.is_some() && keep(&pending) {
        out.push(pending);
    }
    out.reverse();
    Ok((out, end.unwrap_or(0)))
}

/// Complete lines read, and the offset just past the last of them.
pub type LinesAt = (Vec<Vec<u8>>, u64);

/// The complete lines appended after `offset` (at most about `max` bytes of them: the rest
/// is read by the next call) and the offset just past the last of them. A ledger now shorter
/// than `offset` was replaced or cut: `None`, and the caller reads it again from its start.
pub fn lines_after(path: &Path, offset: u64, max: u64) -> Result<Option<LinesAt>, LedgerError> {
    let read_err = LedgerError::read(path);
    let mut file = open_for_reading(path)?;
    let size = file.metadata().map_err(read_err)?.len();
    if size < offset {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(offset)).map_err(read_err)?;
    let mut data = Vec::new();
    (&mut file)
        .take(max.min(size - offset))
        .read_to_end(&mut data)
        .map_err(read_err)?;
    let mut out = Vec::new();
    let mut start = 0;
    for p in memchr::memchr_iter(b'\n', &data) {
        out.push(data[start..p].to_vec());
        start = p + 1;
    }
    if out.is_empty() && data.len() as u64 == max {
        // One line longer than `max`: skipped whole, as a reader of the newest lines would.
        let mut rest = file;
        let mut buf = [0u8; 64 << 10];
        let mut at = offset + max;
        loop {
            let n = rest.read(&mut buf).map_err(read_err)?;
            if n == 0 {
                return Ok(Some((out, offset)));
            }
            if let Some(p) = memchr::memchr(b'\n', &buf[..n]) {
                return Ok(Some((out, at + p as u64 + 1)));
            }
            at += n as u64;
        }
    }
    Ok(Some((out, offset + start as u64)))
}

/// Every complete line (a fragment after the last newline is not one) that `keep` accepts,
/// with its 1-based line number, read front to back.
pub fn numbered_lines(
    path: &Path,
    mut keep: impl FnMut(&[u8]) -> bool,
) -> Result<Vec<(u64, Vec<u8>)>, LedgerError> {
    use std::io::BufRead;
    let file = open_for_reading(path)?;
    let mut reader = std::io::BufReader::with_capacity(BLOCK as usize, file);
    let mut out = Vec::new();
    let mut number = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(LedgerError::read(path))?;
        if n == 0 || line.last() != Some(&b'\n') {
            return Ok(out);
        }
        number += 1;
        line.pop();
        if keep(&line) {
            out.push((number, line.clone()));
        }
    }
}

/// Every complete line that contains `needle`, with its 1-based line number: what
/// [`numbered_lines`] gives with a substring test, at the speed of counting newlines. The
/// ledger is read in large blocks, and a block without `needle` is only counted.
pub fn numbered_lines_containing(
    path: &Path,
    needle: &[u8],
) -> Result<Vec<(u64, Vec<u8>)>, LedgerError> {
    lines_containing_in_blocks(path, needle, 1 << 20)
}

fn lines_containing_in_blocks(
    path: &Path,
    needle: &[u8],
    block: usize,
) -> Result<Vec<(u64, Vec<u8>)>, LedgerError> {
    let read_err = LedgerError::read(path);
    let finder = memchr::memmem::Finder::new(needle);
    let mut file = open_for_reading(path)?;
    let mut out = Vec::new();
    let mut number = 0u64;
    // Bytes of a line that started in an earlier block.
    let mut buf: Vec<u8> = Vec::with_capacity(block + 4096);
    loop {
        // Appended into the capacity, not zeroed first (a loop of its own in a debug build).
        let n = (&mut file)
            .take(block as u64)
            .read_to_end(&mut buf)
            .map_err(read_err)?;
        if n == 0 {
            // What is left has no newline: a fragment, not a line.
            return Ok(out);
        }
        // Whole lines only; the rest waits for the next block.
        let Some(end) = memchr::memrchr(b'\n', &buf) else {
            continue;
        };
        let lines = &buf[..=end];
        if finder.find(lines).is_none() {
            number += memchr::memchr_iter(b'\n', lines).count() as u64;
        } else {
            let mut start = 0;
            for p in memchr::memchr_iter(b'\n', lines) {
                number += 1;
                let line = &lines[start..p];
                if finder.find(line).is_some() {
                    out.push((number, line.to_vec()));
                }
                start = p + 1;
            }
        }
        buf.drain(..=end);
    }
}

/// How long [`follow`] polls the ledger (every [`POLL_EVERY`]) before it sets up a watcher.
const POLL_FIRST: std::time::Duration = std::time::Duration::from_millis(250);
/// How often [`follow`] looks at the ledger while it polls: a look is one `stat` of its path,
/// so an end is seen within a millisecond of its append.
const POLL_EVERY: std::time::Duration = std::time::Duration::from_millis(1);

/// What a poll of the ledger looks at: its identity (device, inode), length and
/// modification time (seconds, nanoseconds).
type Seen = ((u64, u64), u64, (i64, i64));

/// What a watcher of the ledger's directory sends.
type Changes = mpsc::Receiver<notify::Result<notify::Event>>;

/// A watcher of the ledger's directory (so a ledger created or replaced later is still seen)
/// and the channel its changes arrive on.
fn watch(path: &Path) -> Result<(notify::RecommendedWatcher, Changes), LedgerError> {
    let watch_err = |e: notify::Error| LedgerError::Read {
        path: path.to_owned(),
        source: io::Error::other(e.to_string()),
    };
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Reading the ledger is itself an event (open, access, close); only changes matter,
        // or following would wake itself up forever.
        if event
            .as_ref()
            .is_ok_and(|e| matches!(e.kind, notify::EventKind::Access(_)))
        {
            return;
        }
        let _ = tx.send(event);
    })
    .map_err(watch_err)?;
    watcher
        .watch(ledger_dir(path), RecursiveMode::NonRecursive)
        .map_err(watch_err)?;
    Ok((watcher, rx))
}

/// What following reports besides lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Followed<'a> {
    /// A complete line.
    Line(&'a [u8]),
    /// The ledger was replaced or cut below what was already shown; reading starts again
    /// from its first line.
    Restarted,
    /// Nothing happened for a while (about half a second); a chance to check other things.
    Idle,
}

/// Calls `on_event` for every complete line appended after `offset` (a ledger that does not
/// exist yet is waited for), waiting for changes with a filesystem watcher. Returns when
/// `on_event` returns `false`.
pub fn follow(
    path: &Path,
    mut offset: u64,
    mut on_event: impl FnMut(Followed<'_>) -> bool,
) -> Result<(), LedgerError> {
    use std::os::unix::fs::MetadataExt;
    let started = std::time::Instant::now();
    let mut watching: Option<(notify::RecommendedWatcher, Changes)> = None;
    // `offset` only ever moves past complete lines: a fragment is re-read on the next wake,
    // so a torn tail that the writer repairs is never glued onto what replaces it.
    let mut data: Vec<u8> = Vec::new();
    let mut identity: Option<(u64, u64)> = None;
    // What the last read saw (identity, length, modification time): a wake that finds the
    // same reads nothing. One `stat` of the path is all a poll costs while the ledger is quiet.
    let mut seen: Option<Seen> = None;
    loop {
        let now_seen = std::fs::metadata(path)
            .ok()
            .map(|m| ((m.dev(), m.ino()), m.len(), (m.mtime(), m.mtime_nsec())));
        if now_seen.is_some()
            && now_seen != seen
            && let Ok(mut file) = open_for_reading(path)
        {
            let read_err = LedgerError::read(path);
            let meta = file.metadata().map_err(read_err)?;
            let now = (meta.dev(), meta.ino());
            let replaced = identity.is_some_and(|id| id != now);
            if replaced || meta.len() < offset {
                offset = 0;
                if !on_event(Followed::Restarted) {
                    return Ok(());
                }
            }
            identity = Some(now);
            seen = Some((now, meta.len(), (meta.mtime(), meta.mtime_nsec())));
            file.seek(SeekFrom::Start(offset)).map_err(read_err)?;
            data.clear();
            file.read_to_end(&mut data).map_err(read_err)?;
            // Read past the length seen (an append meanwhile): looked at again on the next wake.
            if data.len() as u64 != meta.len().saturating_sub(offset) {
                seen = None;
            }
            let mut start = 0;
            for p in memchr::memchr_iter(b'\n', &data) {
                if !on_event(Followed::Line(&data[start..p])) {
                    return Ok(());
                }
                start = p + 1;
            }
            offset += start as u64;
        }
        // A short wait polls: it ends without a watcher, whose closing costs the process a
        // kernel grace period (up to tens of milliseconds) when it exits.
        if watching.is_none() && started.elapsed() < POLL_FIRST {
            std::thread::sleep(POLL_EVERY);
            continue;
        }
        let Some((_, rx)) = &watching else {
            watching = Some(watch(path)?);
            // What changed before the watcher existed is read now.
            seen = None;
            continue;
        };
        // Block until something in the directory changes (or a quiet half second passes).
        match rx.recv_timeout(std::time::Duration::from_millis(500)) {
            Ok(_) => {
                while rx.try_recv().is_ok() {}
                // A rewrite in place keeps identity and length: a change event always reads.
                seen = None;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if !on_event(Followed::Idle) {
                    return Ok(());
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The block-wise search finds exactly the lines, and line numbers, that the
        /// line-by-line read with a substring test finds, whatever the block size.
        #[test]
        fn lines_containing_match_the_line_by_line_read(
            lines in proptest::collection::vec("[ab\"xr]{0,40}", 0..60),
            tail in "[ab]{0,5}",
            block in 1usize..100,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("ledger.ndjson");
            let mut text = lines.join("\n");
            if !lines.is_empty() {
                text.push('\n');
            }
            text.push_str(&tail);
            std::fs::write(&path, &text).unwrap();
            let needle = b"\"r";
            let expected = super::numbered_lines(&path, |l| {
                memchr::memmem::find(l, needle).is_some()
            })
            .unwrap();
            let found = super::lines_containing_in_blocks(&path, needle, block).unwrap();
            prop_assert_eq!(found, expected);
        }
    }

    proptest! {
        /// Reading on from an offset, `max` bytes at a time, hands out every complete line
        /// once, in order, whatever `max` (a line longer than it skipped whole), and never a
        /// fragment.
        #[test]
        fn lines_after_reads_each_complete_line_once(
            lines in proptest::collection::vec("[ab]{0,12}", 0..30),
            tail in "[ab]{0,5}",
            max in 1u64..40,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("ledger.ndjson");
            let mut text = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
            text.push_str(&tail);
            std::fs::write(&path, &text).unwrap();
            let mut offset = 0;
            let mut got = Vec::new();
            for _ in 0..200 {
                let (read, next) = super::lines_after(&path, offset, max).unwrap().unwrap();
                got.extend(read.into_iter().map(|l| String::from_utf8(l).unwrap()));
                if next == offset {
                    break;
                }
                offset = next;
            }
            let expected: Vec<String> =
                lines.iter().filter(|l| l.len() < max as usize).cloned().collect();
            prop_assert_eq!(got, expected);
            prop_assert!(super::lines_after(&path, text.len() as u64 + 1, max).unwrap().is_none());
        }
    }
}
