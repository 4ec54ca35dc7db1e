//! The kill test's appenders: a seeded generator, the `vnx receipts append` processes it
//! starts (streams and single receipts of mixed sizes) and the acknowledgements they print.

use std::fmt;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use crate::common::TestEnv;

/// xorshift64* — small, seedable, good enough to pick kill points and payload sizes.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        // splitmix64 once so that small seeds still give a well-mixed, non-zero state.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    pub(super) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

pub(super) fn seed_from_env_or_clock() -> u64 {
    if let Some(s) = std::env::var("VNX_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return s;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// One line `vnx receipts append` acknowledged.
#[derive(Clone, Debug)]
pub(super) struct Ack {
    pub(super) seq: u64,
    pub(super) sha: String,
    pub(super) event: String,
    /// (writer, i) of a `load` receipt.
    pub(super) marker: Option<(u64, u64)>,
}

/// The acknowledgements in an appender's stdout: only complete lines count.
fn parse_acks(ctx: &dyn fmt::Display, stdout: &[u8]) -> Vec<(u64, String, String)> {
    let text = String::from_utf8_lossy(stdout);
    let complete = match text.rfind('\n') {
        Some(p) => &text[..p],
        None => "",
    };
    complete
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(
                f.len() == 3 && f[1].len() == 64 && f[1].bytes().all(|b| b.is_ascii_hexdigit()),
                "{ctx}: garbled acknowledgement line {l:?}"
            );
            let seq = f[0]
                .parse()
                .unwrap_or_else(|_| panic!("{ctx}: bad seq in acknowledgement {l:?}"));
            (seq, f[1].to_owned(), f[2].to_owned())
        })
        .collect()
}

/// An appender process to start.
pub(super) enum Job {
    /// `vnx receipts append -` reading an NDJSON file of `bytes` bytes.
    Stream {
        writer: u64,
        file: PathBuf,
        bytes: u64,
    },
    /// `vnx receipts append --receipt JSON`.
    Single { writer: u64, json: String },
}

impl Job {
    fn writer(&self) -> u64 {
        match self {
            Job::Stream { writer, .. } | Job::Single { writer, .. } => *writer,
        }
    }
}

fn pad(rng: &mut Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-_ ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let off = rng.next() as usize;
    // One period of the pattern, repeated: a byte at a time is slow in a debug build.
    let period: Vec<u8> = (0..ALPHABET.len())
        .map(|k| ALPHABET[(off + k * 7) % ALPHABET.len()])
        .collect();
    let mut out = period.repeat(len / period.len() + 1);
    out.truncate(len);
    String::from_utf8(out).unwrap()
}

/// Mixed sizes: mostly small, some tens of KiB, a few up to 200 KiB.
fn payload_len(rng: &mut Rng) -> usize {
    (match rng.next() % 100 {
        0..70 => rng.range(0, 500),
        70..95 => rng.range(1 << 10, 16 << 10),
        _ => rng.range(50 << 10, 200 << 10),
    }) as usize
}

pub(super) fn make_stream(rng: &mut Rng, dir: &Path, writer: u64, count: u64) -> Job {
    let mut text = String::new();
    for i in 0..count {
        let n = payload_len(rng);
        text.push_str(&format!(
            "{{\"event_type\":\"load\",\"writer\":{writer},\"i\":{i},\"pad\":\"{}\"}}\n",
            pad(rng, n)
        ));
    }
    let file = dir.join(format!("stream-{writer}.ndjson"));
    let bytes = text.len() as u64;
    fs::write(&file, text).unwrap();
    Job::Stream {
        writer,
        file,
        bytes,
    }
}

pub(super) fn make_single(rng: &mut Rng, writer: u64) -> Job {
    // Stays well below the 128 KiB limit on one argument.
    let n = if rng.chance(80) {
        rng.range(0, 300)
    } else {
        rng.range(1 << 10, 32 << 10)
    };
    let json = format!(
        "{{\"event_type\":\"load\",\"writer\":{writer},\"i\":0,\"pad\":\"{}\"}}",
        pad(rng, n as usize)
    );
    Job::Single { writer, json }
}

pub(super) fn spawn(env: &TestEnv, job: &Job) -> Child {
    let mut cmd = env.vnx_ledger(&["receipts", "append"]);
    match job {
        Job::Stream { file, .. } => {
            cmd.arg("-").stdin(File::open(file).unwrap());
        }
        Job::Single { json, .. } => {
            cmd.arg("--receipt").arg(json).stdin(Stdio::null());
        }
    }
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Turns an appender's acknowledgements into `Ack`s: the k-th `load` line is receipt k.
pub(super) fn acks_of(ctx: &dyn fmt::Display, job: &Job, stdout: &[u8]) -> Vec<Ack> {
    let mut next_i = 0;
    parse_acks(ctx, stdout)
        .into_iter()
        .map(|(seq, sha, event)| {
            let marker = (event == "load").then(|| {
                next_i += 1;
                (job.writer(), next_i - 1)
            });
            Ack {
                seq,
                sha,
                event,
                marker,
            }
        })
        .collect()
}
