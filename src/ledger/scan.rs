//! Streaming, parallel reading of a ledger file: a reader thread cuts the file into chunks of
//! whole lines, worker threads hash and analyse them, and the caller sees the lines in order.
//! Memory stays flat: a fixed pool of chunk buffers circulates between the threads. A caller
//! can also have the workers keep the few lines that hold given bytes (the hosts' mirrored
//! lines), so that nothing needs a second pass over the file to find them.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};

use sha2::{Digest, Sha256};

use super::line::{self, Hash, LineFacts, Scratch};

/// One physical line as the collector sees it.
#[derive(Debug)]
pub struct ScannedLine {
    /// 1-based physical line number.
    pub number: u64,
    /// Byte offset of the line's first byte.
    pub offset: u64,
    /// What the line holds.
    pub kind: LineKind,
}

/// How a physical line reads to a Python reader such as VNX.
#[derive(Debug)]
pub enum LineKind {
    /// Blank in Python's sense (VNX skips it); carries the SHA-256 of its bytes.
    Blank(Hash),
    /// One line as VNX reads it, with the facts the chain checks need.
    Line(LineFacts),
    /// A line holding bare carriage returns, which Python's text mode (and so VNX) reads as
    /// several lines: the whole line's SHA-256 and each non-blank part.
    Split(Hash, Vec<LineFacts>),
}

impl ScannedLine {
    /// SHA-256 of the line's exact bytes.
    pub fn line_hash(&self) -> &Hash {
        match &self.kind {
            LineKind::Blank(h) | LineKind::Split(h, _) => h,
            LineKind::Line(f) => &f.line_hash,
        }
    }
}

/// A final fragment without a terminating newline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Fragment {
    /// The physical line number the fragment would have had.
    pub line: u64,
    /// Its first byte's offset in the file.
    pub byte_start: u64,
    /// The offset just past its last byte (the file's length).
    pub byte_end: u64,
}

/// What a whole scan saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScanTotals {
    /// Complete (newline-terminated) lines.
    pub lines: u64,
    /// All bytes read.
    pub bytes: u64,
    /// The unterminated fragment at the end, if any.
    pub torn_tail: Option<Fragment>,
}

/// A line kept whole because it holds one of the needles the caller gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptLine {
    /// 1-based physical line number.
    pub number: u64,
    /// The line's bytes, without its newline.
    pub bytes: Vec<u8>,
}

/// Whole lines read from the file. Their numbers are counted by the workers (each line's
/// number within its chunk) and the collector (the lines before the chunk), so the reader
/// makes no pass of its own over the bytes.
struct Chunk {
    index: u64,
    offset: u64,
    buf: Vec<u8>,
}

const CHUNK: usize = 1 << 20;

/// Analyses one line the way every scan does.
pub fn scan_line(bytes: &[u8], scratch: &mut Scratch) -> LineKind {
    if line::is_blank(bytes) {
        return LineKind::Blank(Sha256::digest(bytes).into());
    }
    let facts = line::analyze(bytes, scratch);
    // Canonical lines cannot hold a raw CR; only a line that needed parsing is looked at.
    let parsed = facts.entry.as_ref().map_or(true, |e| !e.canonical);
    let body = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    if parsed && memchr::memchr(b'\r', body).is_some() {
        let parts = body
            .split(|&b| b == b'\r')
            .filter(|p| !line::is_blank(p))
            .map(|p| line::analyze(p, scratch))
            .collect();
        return LineKind::Split(facts.line_hash, parts);
    }
    LineKind::Line(facts)
}

fn process(chunk: &Chunk, scratch: &mut Scratch) -> Vec<ScannedLine> {
    let mut out = Vec::with_capacity(chunk.buf.len() / 256 + 1);
    let mut start = 0;
    for (number, end) in (0..).zip(memchr::memchr_iter(b'\n', &chunk.buf)) {
        let bytes = &chunk.buf[start..end];
        out.push(ScannedLine {
            number,
            offset: chunk.offset + start as u64,
            kind: scan_line(bytes, scratch),
        });
        start = end + 1;
    }
    out
}

/// The complete lines of `chunk` that hold any of `needles`, in order, numbered within the
/// chunk from 0. A chunk holding none (nearly every chunk) costs one search per needle.
fn keep(chunk: &Chunk, needles: &[memchr::memmem::Finder<'_>]) -> Vec<KeptLine> {
    let buf = &chunk.buf[..];
    let mut kept = Vec::new();
    // Where each needle next occurs at or after `from` (searched again only once passed).
    let mut next: Vec<Option<usize>> = needles.iter().map(|f| f.find(buf)).collect();
    let (mut from, mut counted, mut number) = (0, 0, 0);
    loop {
        for (at, finder) in next.iter_mut().zip(needles) {
            if at.is_some_and(|p| p < from) {
                *at = finder.find(&buf[from..]).map(|p| p + from);
            }
        }
        let Some(hit) = next.iter().flatten().min().copied() else {
            return kept;
        };
        let start = memchr::memrchr(b'\n', &buf[..hit]).map_or(0, |p| p + 1);
        // Every chunk ends with a newline.
        let end = memchr::memchr(b'\n', &buf[hit..]).map_or(buf.len(), |p| p + hit);
        number += memchr::memchr_iter(b'\n', &buf[counted..start]).count() as u64;
        counted = start;
        kept.push(KeptLine {
            number,
            bytes: buf[start..end].to_vec(),
        });
        from = end + 1;
        if from >= buf.len() {
            return kept;
        }
    }
}

/// Reads `file` to its end with `threads` workers, calling `each` for every complete line in
/// order. Also returns, in order, the complete lines that hold any of `needles`.
pub fn scan_file(
    file: File,
    threads: usize,
    needles: &[&[u8]],
    mut each: impl FnMut(ScannedLine),
) -> io::Result<(ScanTotals, Vec<KeptLine>)> {
    let threads = threads.max(1);
    let pool = threads * 2 + 2;
    let (work_tx, work_rx) = sync_channel::<Chunk>(threads);
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = sync_channel::<(u64, Vec<ScannedLine>, Vec<KeptLine>)>(threads * 2);
    let finders: Vec<_> = needles.iter().map(memchr::memmem::Finder::new).collect();
    let (free_tx, free_rx) = channel::<Vec<u8>>();

    std::thread::scope(|s| {
        let reader = s.spawn(move || read_chunks(file, pool, work_tx, free_rx));
        for _ in 0..threads {
            let work_rx = &work_rx;
            let done_tx = done_tx.clone();
            let free_tx = free_tx.clone();
            let finders = &finders;
            s.spawn(move || {
                let mut scratch = Scratch::default();
                loop {
                    let next = work_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok(chunk)) = next else { break };
                    let lines = process(&chunk, &mut scratch);
                    let kept = keep(&chunk, finders);
                    // After a read error the reader is gone; a lost buffer is harmless.
                    let _ = free_tx.send(chunk.buf);
                    if done_tx.send((chunk.index, lines, kept)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        drop(free_tx);

        // Lines in file order, whatever order the workers finish in. The channels close once
        // the reader has sent everything and every worker is done.
        let mut pending: BTreeMap<u64, (Vec<ScannedLine>, Vec<KeptLine>)> = BTreeMap::new();
        let mut next = 0u64;
        let mut kept = Vec::new();
        // Complete lines before the next chunk in order.
        let mut before = 0u64;
        for (index, lines, kept_here) in done_rx.iter() {
            pending.insert(index, (lines, kept_here));
            while let Some((lines, kept_here)) = pending.remove(&next) {
                next += 1;
                let count = lines.len() as u64;
                for mut line in lines {
                    line.number += before + 1;
                    each(line);
                }
                kept.extend(kept_here.into_iter().map(|mut k| {
                    k.number += before + 1;
                    k
                }));
                before += count;
            }
        }
        let (bytes, torn) = reader
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the ledger reader thread panicked")))?;
        let totals = ScanTotals {
            lines: before,
            bytes,
            torn_tail: torn.map(|(byte_start, byte_end)| Fragment {
                line: before + 1,
                byte_start,
                byte_end,
            }),
        };
        Ok((totals, kept))
    })
}

/// Reads `file` into chunks of whole lines for the workers; returns the bytes read and where
/// an unterminated fragment at the end starts and ends.
fn read_chunks(
    mut file: File,
    pool: usize,
    work_tx: SyncSender<Chunk>,
    free_rx: Receiver<Vec<u8>>,
) -> io::Result<(u64, Option<(u64, u64)>)> {
    let mut created = 0;
    let mut carry: Vec<u8> = Vec::new();
    let mut offset = 0u64; // offset of carry[0]
    let mut index = 0u64;
    let mut bytes = 0u64;
    loop {
        let mut buf = if created < pool {
            created += 1;
            Vec::with_capacity(CHUNK)
        } else {
            match free_rx.recv() {
                Ok(b) => b,
                Err(_) => {
                    return Err(io::Error::new(io::ErrorKind::BrokenPipe, "scan stopped"));
                }
            }
        };
        buf.clear();
        buf.extend_from_slice(&carry);
        carry.clear();
        // Fill the buffer; keep reading while it holds no newline (a very long line).
        let mut eof = false;
        loop {
            let len = buf.len();
            let want = (CHUNK.max(len + CHUNK / 2)).saturating_sub(len);
            buf.reserve(want);
            // `read_to_end` fills spare capacity without zeroing it first.
            let n = (&mut file).take(want as u64).read_to_end(&mut buf)?;
            bytes += n as u64;
            if n < want {
                eof = true;
            }
            if eof || memchr::memrchr(b'\n', &buf).is_some() {
                break;
            }
        }
        let cut = memchr::memrchr(b'\n', &buf).map_or(0, |p| p + 1);
        carry.extend_from_slice(&buf[cut..]);
        buf.truncate(cut);
        let chunk_offset = offset;
        offset += cut as u64;
        if !buf.is_empty() {
            let chunk = Chunk {
                index,
                offset: chunk_offset,
                buf,
            };
            index += 1;
            if work_tx.send(chunk).is_err() {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "scan stopped"));
            }
        }
        if eof {
            let torn = (!carry.is_empty()).then(|| (offset, offset + carry.len() as u64));
            return Ok((bytes, torn));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a second pass over the file finds: every complete line holding a needle.
    fn naive(text: &[u8], needles: &[&[u8]]) -> Vec<KeptLine> {
        let complete = &text[..memchr::memrchr(b'\n', text).map_or(0, |p| p + 1)];
        complete
            .split(|&b| b == b'\n')
            .zip(1..)
            .filter(|(line, _)| {
                needles
                    .iter()
                    .any(|n| memchr::memmem::find(line, n).is_some())
            })
            .map(|(line, number)| KeptLine {
                number,
                bytes: line.to_vec(),
            })
            .collect()
    }

    #[test]
    fn the_lines_holding_a_needle_are_kept_in_order_across_chunks() {
        // Over three chunks: needles on the first line, on lines either side of the chunk
        // cuts, twice on one line, beside CRs and blank lines, and in a torn tail (not kept).
        let mut text = Vec::new();
        let mut n = 0u64;
        while text.len() < 3 * CHUNK + CHUNK / 3 {
            n += 1;
            let line = match n % 997 {
                1 => format!("{{\"remote_receipt\":{n},\"x\":\"{}\"}}", "a".repeat(300)),
                5 => format!("{{\"a\":\"\\r{n}\",\"remote\":1,\"remote_receipt\":2}}"),
                9 => "   \r".to_owned(),
                13 => format!("{{\"merge_receipt\":\"{n}\"}}"),
                _ if n.is_multiple_of(3) => String::new(),
                _ => format!(
                    "{{\"seq\":{n},\"pad\":\"{}\"}}",
                    "b".repeat((n % 700) as usize)
                ),
            };
            text.extend_from_slice(line.as_bytes());
            text.push(b'\n');
        }
        text.extend_from_slice(b"{\"remote\":\"torn");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.ndjson");
        std::fs::write(&path, &text).unwrap();
        let needles: [&[u8]; 2] = [b"\"remote", b"\"merge_receipt\""];
        let expected = naive(&text, &needles);
        assert!(expected.len() > 20, "{}", expected.len());
        for threads in [1, 2, 3] {
            let mut lines = 0;
            let (totals, kept) = scan_file(File::open(&path).unwrap(), threads, &needles, |_| {
                lines += 1
            })
            .unwrap();
            assert_eq!(kept, expected, "{threads} thread(s)");
            assert_eq!((totals.lines, lines), (n, n));
            assert!(totals.torn_tail.is_some());
            let (_, none) = scan_file(File::open(&path).unwrap(), threads, &[], |_| {}).unwrap();
            assert!(none.is_empty());
        }
    }
}
