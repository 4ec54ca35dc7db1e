//! The read index's digests of the ledger's prefix (ADR 0045): BLAKE3 of each [`SEGMENT`]
//! in parallel, the segment a prefix ends in digested again with the bytes after it, and the
//! rolling re-digest of [`ROLL`] segments in turn.

use std::os::unix::fs::FileExt;

use super::index::{ROLL, SEGMENT};

/// BLAKE3 of each [`SEGMENT`] of the first `len` bytes of `file`, read in blocks (never
/// mapped whole) by up to `threads` threads.
pub fn digest_prefix(
    file: &std::fs::File,
    len: u64,
    threads: usize,
) -> std::io::Result<Vec<[u8; 32]>> {
    digest_range(file, 0, len, threads)
}

/// BLAKE3 of each [`SEGMENT`] of `file` from `from` (a segment's start) to `len`.
fn digest_range(
    file: &std::fs::File,
    from: u64,
    len: u64,
    threads: usize,
) -> std::io::Result<Vec<[u8; 32]>> {
    let n = (len.saturating_sub(from)).div_ceil(SEGMENT) as usize;
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
                        let start = from + (first + k) as u64 * SEGMENT;
                        let end = (start + SEGMENT).min(len);
                        let mut h = blake3::Hasher::new();
                        feed(file, &mut h, start, end, &mut buf)?;
                        *slot = *h.finalize().as_bytes();
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

/// Feeds bytes `from..to` of `file` to `h`, in blocks of `buf`'s size.
fn feed(
    file: &std::fs::File,
    h: &mut blake3::Hasher,
    from: u64,
    to: u64,
    buf: &mut [u8],
) -> std::io::Result<()> {
    let mut at = from;
    while at < to {
        let want = ((to - at) as usize).min(buf.len());
        file.read_exact_at(&mut buf[..want], at)?;
        h.update(&buf[..want]);
        at += want as u64;
    }
    Ok(())
}

/// The segments of the first `len` bytes of `file`, whose first `known` bytes digested to
/// `segments`, and how many bytes were digested: the segment byte `known - 1` lies in is
/// digested again and must still give the last of `segments` (the prefix's end, its last
/// line among it, is what it was), then the bytes up to `len`. `None` when it does not.
pub fn digest_tail(
    file: &std::fs::File,
    segments: &[[u8; 32]],
    known: u64,
    len: u64,
) -> std::io::Result<Option<(Vec<[u8; 32]>, u64)>> {
    let Some(last) = known.checked_sub(1).map(|b| (b / SEGMENT) as usize) else {
        return Ok(None);
    };
    if segments.len() != last + 1 || len < known {
        return Ok(None);
    }
    let from = last as u64 * SEGMENT;
    let end = (from + SEGMENT).min(len);
    let mut buf = vec![0u8; (end - from) as usize];
    let mut h = blake3::Hasher::new();
    feed(file, &mut h, from, known, &mut buf)?;
    if *h.finalize().as_bytes() != segments[last] {
        return Ok(None);
    }
    feed(file, &mut h, known, end, &mut buf)?;
    let mut out = segments[..last].to_vec();
    out.push(*h.finalize().as_bytes());
    out.extend(digest_range(file, end, len, 1)?);
    Ok(Some((out, len - from)))
}

/// Digests again [`ROLL`] of the whole segments of the first `len` bytes of `file`, in turn
/// from segment `cursor`, and checks them against `segments`: the next cursor and the bytes
/// digested, or `None` when one differs.
pub fn roll(
    file: &std::fs::File,
    segments: &[[u8; 32]],
    cursor: u64,
    len: u64,
    threads: usize,
) -> std::io::Result<Option<(u64, u64)>> {
    let whole = (len / SEGMENT).min(segments.len() as u64);
    if whole == 0 {
        return Ok(Some((0, 0)));
    }
    let k = ROLL.min(whole);
    let at = cursor % whole;
    let first = (whole - at).min(k);
    let mut runs = vec![(at, first)];
    if k > first {
        runs.push((0, k - first));
    }
    for (start, n) in runs {
        let got = digest_range(file, start * SEGMENT, (start + n) * SEGMENT, threads)?;
        if got[..] != segments[start as usize..(start + n) as usize] {
            return Ok(None);
        }
    }
    Ok(Some(((at + k) % whole, k * SEGMENT)))
}
