//! Crash safety: appenders killed with SIGKILL at random points (`kill`), every shape of torn
//! tail the next append has to repair and the quarantine files it leaves (`torn`), and a write
//! that fails part-way under a file-size limit (`limits`). This module holds what they share.

mod kill;
mod limits;
mod torn;

use std::fmt;
use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};
use vnx::ledger::{VerifyOptions, VerifyReport};

const GENESIS_HEX: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Complete (newline-terminated) lines of `data` as (byte offset, bytes without the newline).
fn complete_lines(data: &[u8]) -> Vec<(usize, &[u8])> {
    // memchr, not a byte loop: the kill test splits megabytes a round, in a debug build.
    let mut out = Vec::new();
    let mut start = 0;
    for i in memchr::memchr_iter(b'\n', data) {
        out.push((start, &data[start..i]));
        start = i + 1;
    }
    out
}

fn parse_object(ctx: &dyn fmt::Display, line: &[u8], what: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(line).unwrap_or_else(|e| {
        panic!(
            "{ctx}: {what} is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&line[..line.len().min(300)])
        )
    });
    assert!(v.is_object(), "{ctx}: {what} is not a JSON object");
    v
}

fn lib_verify(path: &Path) -> VerifyReport {
    vnx::ledger::verify(path, &VerifyOptions::default()).unwrap()
}

pub fn torn_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".torn-"))
        .collect()
}
