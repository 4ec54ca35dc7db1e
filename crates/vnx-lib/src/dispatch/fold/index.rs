//! The read index (ADR 0045): the dispatches' records and the signature verdicts folded
//! from a verified prefix of the ledger, kept in `.vnx-data/` for the next read. It is never
//! the source of truth: it is written only after a full verification found the prefix
//! clean, authenticated with a secret derived from the signing key (a worker without the key
//! cannot forge one), and used only while the prefix's bytes still digest to what it records
//! and the anchoring it was verified against is unchanged. Anything else discards it.

use std::os::unix::fs::FileExt;
use std::path::Path;

use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

use super::Records;
use crate::ledger::attest::Attestor;

/// Where the index lives in a project's data directory (`.vnx-data/`).
pub const FILE: &str = "index/dispatches.v3";

/// The index of the project whose data directory is `data_dir`.
pub fn path_in(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join(FILE)
}

/// The index file's first bytes: its format, version 4 (version 1 had no titles, version 2
/// no question, version 3 no acceptance). A file of another version is discarded and
/// written again, under the same name.
const MAGIC: &[u8; 8] = b"VNXRIX04";
/// The largest index read (a larger file is not one vnx wrote for a ledger it can read).
const MAX_BYTES: u64 = 1 << 30;
/// The prefix is digested in segments of this size, in parallel.
pub const SEGMENT: u64 = 16 << 20;
/// What the MAC key is derived for.
const PURPOSE: &str = "vnx read index v2";

/// The last line of the verified prefix, as the next line must chain to it.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ChainEnd {
    /// Its `seq`.
    pub seq: Option<u64>,
    /// Its VNX entry hash (what the next `prev_hash` must be).
    pub entry_hash: Option<[u8; 32]>,
    /// SHA-256 of its bytes (what the next `prev_line_sha256` must be).
    pub line_hash: Option<[u8; 32]>,
}

/// What the index holds.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct Stored {
    /// The anchoring and keys the prefix was verified and its signatures judged against.
    pub fingerprint: [u8; 32],
    /// SHA-256 of each [`SEGMENT`] of the prefix's bytes, in order.
    pub segments: Vec<[u8; 32]>,
    /// The verdict on the prefix (`verified` or `verified-segmented`).
    pub segmented: bool,
    /// Its last line.
    pub end: ChainEnd,
    /// The records folded from it (their `lines` and `offset` are the prefix's extent).
    pub records: Records,
    /// What each line that proves a state says of itself, by line.
    pub proofs: Vec<ProofFacts>,
}

/// What a line that proves a state says of itself: its kind, `seq`, hash and, when it must
/// be signed, whether a trusted key signed it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ProofFacts {
    /// Its line.
    pub line: u64,
    /// Its `event_type`.
    pub event_type: String,
    /// Its `seq`.
    pub seq: Option<u64>,
    /// SHA-256 of its bytes.
    pub line_sha256: [u8; 32],
    /// Whether a trusted key signed it, when it is of a kind vnx signs, written once vnx
    /// signed its receipts.
    pub attested: Option<bool>,
}

/// The index of the ledger read with `attestor`'s key, if `path` holds a valid one. Read as
/// hostile input: bounded, never through a link, and a file that is not exactly what this
/// key authenticated is no index at all.
pub fn load(path: &Path, attestor: &Attestor) -> Option<Stored> {
    let bytes = crate::files::read_bounded(path, MAX_BYTES).ok()?;
    let rest = bytes.strip_prefix(MAGIC)?;
    let (mac, body) = rest.split_at_checked(32)?;
    if !mac_ok(attestor, body, mac) {
        return None;
    }
    Stored::try_from_slice(body).ok()
}

/// Writes the index (privately and atomically: a reader sees the old one or the new one).
pub fn store(path: &Path, attestor: &Attestor, stored: &Stored) -> std::io::Result<()> {
    let body = borsh::to_vec(stored)?;
    let mut out = Vec::with_capacity(body.len() + 40);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&mac(attestor, &body));
    out.extend_from_slice(&body);
    if let Some(dir) = path.parent() {
        crate::files::private_dir(dir)?;
    }
    crate::files::write_atomic_private(path, &out, false)
}

fn mac(attestor: &Attestor, body: &[u8]) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    let mut m = hmac::Hmac::<Sha256>::new_from_slice(&attestor.derive_secret(PURPOSE))
        .expect("HMAC takes any key");
    m.update(body);
    m.finalize().into_bytes().into()
}

fn mac_ok(attestor: &Attestor, body: &[u8], tag: &[u8]) -> bool {
    use hmac::{KeyInit, Mac};
    let mut m = hmac::Hmac::<Sha256>::new_from_slice(&attestor.derive_secret(PURPOSE))
        .expect("HMAC takes any key");
    m.update(body);
    m.verify_slice(tag).is_ok()
}

/// SHA-256 of each [`SEGMENT`] of the first `len` bytes of `file`, read in blocks (never
/// mapped whole) by up to `threads` threads.
pub fn digest_prefix(
    file: &std::fs::File,
    len: u64,
    threads: usize,
) -> std::io::Result<Vec<[u8; 32]>> {
    let n = len.div_ceil(SEGMENT) as usize;
    let threads = threads.clamp(1, n.max(1));
    let mut out = vec![[0u8; 32]; n];
    let chunks: Vec<(usize, &mut [[u8; 32]])> = {
        let per = n.div_ceil(threads).max(1);
        out.chunks_mut(per)
            .enumerate()
            .map(|(i, c)| (i * per, c))
            .collect()
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|(first, slots)| {
                scope.spawn(move || -> std::io::Result<()> {
                    let mut buf = vec![0u8; 1 << 20];
                    for (k, slot) in slots.iter_mut().enumerate() {
                        let start = (first + k) as u64 * SEGMENT;
                        let end = (start + SEGMENT).min(len);
                        let mut h = Sha256::new();
                        let mut at = start;
                        while at < end {
                            let want = ((end - at) as usize).min(buf.len());
                            file.read_exact_at(&mut buf[..want], at)?;
                            h.update(&buf[..want]);
                            at += want as u64;
                        }
                        *slot = h.finalize().into();
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| std::io::Error::other("a digest thread panicked"))??;
        }
        Ok::<(), std::io::Error>(())
    })?;
    Ok(out)
}
