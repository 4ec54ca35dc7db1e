//! Streaming, parallel reading of a ledger file: a reader thread cuts the file into chunks of
//! whole lines, worker threads hash and analyse them, and the caller sees the lines in order.
//! Memory stays flat: a fixed pool of chunk buffers circulates between the threads.

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

struct Chunk {
    index: u64,
    first_line: u64,
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
    for (number, end) in (chunk.first_line..).zip(memchr::memchr_iter(b'\n', &chunk.buf)) {
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

/// Reads `file` to its end with `threads` workers, calling `each` for every complete line in
/// order.
pub fn scan_file(
    file: File,
    threads: usize,
    mut each: impl FnMut(ScannedLine),
) -> io::Result<ScanTotals> {
    let threads = threads.max(1);
    let pool = threads * 2 + 2;
    let (work_tx, work_rx) = sync_channel::<Chunk>(threads);
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = sync_channel::<(u64, Vec<ScannedLine>)>(threads * 2);
    let (free_tx, free_rx) = channel::<Vec<u8>>();

    std::thread::scope(|s| {
        let reader = s.spawn(move || read_chunks(file, pool, work_tx, free_rx));
        for _ in 0..threads {
            let work_rx = &work_rx;
            let done_tx = done_tx.clone();
            let free_tx = free_tx.clone();
            s.spawn(move || {
                let mut scratch = Scratch::default();
                loop {
                    let next = work_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok(chunk)) = next else { break };
                    let lines = process(&chunk, &mut scratch);
                    // After a read error the reader is gone; a lost buffer is harmless.
                    let _ = free_tx.send(chunk.buf);
                    if done_tx.send((chunk.index, lines)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        drop(free_tx);

        // Lines in file order, whatever order the workers finish in. The channels close once
        // the reader has sent everything and every worker is done.
        let mut pending: BTreeMap<u64, Vec<ScannedLine>> = BTreeMap::new();
        let mut next = 0u64;
        for (index, lines) in done_rx.iter() {
            pending.insert(index, lines);
            while let Some(lines) = pending.remove(&next) {
                next += 1;
                lines.into_iter().for_each(&mut each);
            }
        }
        reader
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the ledger reader thread panicked")))
    })
}

fn read_chunks(
    mut file: File,
    pool: usize,
    work_tx: SyncSender<Chunk>,
    free_rx: Receiver<Vec<u8>>,
) -> io::Result<ScanTotals> {
    let mut created = 0;
    let mut carry: Vec<u8> = Vec::new();
    let mut offset = 0u64; // offset of carry[0]
    let mut line = 1u64;
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
        let count = memchr::memchr_iter(b'\n', &buf).count() as u64;
        let chunk_offset = offset;
        offset += cut as u64;
        if !buf.is_empty() {
            let chunk = Chunk {
                index,
                first_line: line,
                offset: chunk_offset,
                buf,
            };
            index += 1;
            line += count;
            if work_tx.send(chunk).is_err() {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "scan stopped"));
            }
        }
        if eof {
            let torn_tail = (!carry.is_empty()).then(|| Fragment {
                line,
                byte_start: offset,
                byte_end: offset + carry.len() as u64,
            });
            return Ok(ScanTotals {
                lines: line - 1,
                bytes,
                torn_tail,
            });
        }
    }
}
