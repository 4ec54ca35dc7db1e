//! The ledger's complete lines with their positions, read front to back in large blocks (a
//! block that mentions none of the dispatches asked for is only counted), and lines read
//! back by their position.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::ledger::LedgerError;

use crate::dispatch::fold::Cite;

const BLOCK: usize = 1 << 20;
/// The member a signed receipt carries.
const SIGNED: &[u8] = b"\"vnx_attestation\"";

/// One complete line and where it is.
#[derive(Clone, Copy, Debug)]
pub struct LineAt<'a> {
    /// Its 1-based line number.
    pub number: u64,
    /// The offset of its first byte.
    pub offset: u64,
    /// Its bytes, without the newline.
    pub bytes: &'a [u8],
}

impl LineAt<'_> {
    /// Where it is, as a fact's citation.
    pub fn cite(&self) -> Cite {
        Cite {
            line: self.number,
            offset: self.offset,
            len: u32::try_from(self.bytes.len()).unwrap_or(u32::MAX),
        }
    }
}

/// Whether a line may be of a kind dispatches are read from: every such receipt names a
/// `dispatch_id`, or is a merge, release or loss.
fn of_dispatch_kind(line: &[u8]) -> bool {
    [
        &b"dispatch_"[..],
        b"merge_completed",
        b"worktree_released",
        b"remote_lost",
    ]
    .iter()
    .any(|k| memchr::memmem::find(line, k).is_some())
}

/// Calls `f` for every complete line after the first `lines` (which end at `offset`) that
/// may be of a kind dispatches are read from, and, with `needles`, mentions one of them;
/// records in `first_signed` the first such line (whatever it mentions) that is signed.
/// Returns the lines read in all and the offset just past the last complete one.
pub(super) fn each(
    path: &Path,
    lines: u64,
    offset: u64,
    needles: Option<&[&[u8]]>,
    first_signed: &mut Option<u64>,
    f: impl FnMut(LineAt<'_>),
) -> Result<(u64, u64), LedgerError> {
    let (lines, offset, _) = each_checked(path, lines, offset, needles, first_signed, |_| true, f)?;
    Ok((lines, offset))
}

/// [`each`], first showing every complete line (of whatever kind) to `check`; stops before
/// the first line it refuses, and says whether it did.
pub(super) fn each_checked(
    path: &Path,
    mut lines: u64,
    mut offset: u64,
    needles: Option<&[&[u8]]>,
    first_signed: &mut Option<u64>,
    mut check: impl FnMut(&[u8]) -> bool,
    mut f: impl FnMut(LineAt<'_>),
) -> Result<(u64, u64, bool), LedgerError> {
    let read_err = LedgerError::read(path);
    let mut file = crate::ledger::open_for_reading(path)?;
    file.seek(SeekFrom::Start(offset)).map_err(read_err)?;
    let finders: Vec<memchr::memmem::Finder<'_>> = needles
        .unwrap_or_default()
        .iter()
        .map(memchr::memmem::Finder::new)
        .collect();
    let signed = memchr::memmem::Finder::new(SIGNED);
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK + 4096);
    loop {
        // Appended to what is kept, into the capacity: zeroing a block first is a loop of
        // its own in a debug build (a quarter of a test's vnx CPU was that).
        let n = (&mut file)
            .take(BLOCK as u64)
            .read_to_end(&mut buf)
            .map_err(read_err)?;
        if n == 0 {
            // What is left has no newline: a fragment, not a line.
            return Ok((lines, offset, false));
        }
        let Some(end) = memchr::memrchr(b'\n', &buf) else {
            continue;
        };
        let block = &buf[..=end];
        let wanted = needles.is_none()
            || finders.iter().any(|f| f.find(block).is_some())
            || (first_signed.is_none() && signed.find(block).is_some());
        if !wanted && needles.is_some() {
            lines += memchr::memchr_iter(b'\n', block).count() as u64;
        } else {
            let mut start = 0;
            for p in memchr::memchr_iter(b'\n', block) {
                let line = &block[start..p];
                if !check(line) {
                    return Ok((lines, offset + start as u64, true));
                }
                lines += 1;
                if of_dispatch_kind(line) {
                    if first_signed.is_none() && signed.find(line).is_some() {
                        *first_signed = Some(lines);
                    }
                    if needles.is_none() || finders.iter().any(|f| f.find(line).is_some()) {
                        f(LineAt {
                            number: lines,
                            offset: offset + start as u64,
                            bytes: line,
                        });
                    }
                }
                start = p + 1;
            }
        }
        offset += end as u64 + 1;
        buf.drain(..=end);
    }
}

/// Reads cited lines back from the ledger, through one open file.
#[derive(Debug)]
pub struct CiteReader {
    path: PathBuf,
    file: File,
}

impl CiteReader {
    /// Opens the ledger at `path`.
    pub fn open(path: &Path) -> Result<CiteReader, LedgerError> {
        Ok(CiteReader {
            path: path.to_owned(),
            file: crate::ledger::open_for_reading(path)?,
        })
    }

    /// The cited line's bytes (without its newline); an error when the ledger no longer
    /// holds a complete line there (it was replaced or cut since it was read).
    pub fn read(&self, cite: Cite) -> Result<Vec<u8>, LedgerError> {
        let mut buf = vec![0u8; cite.len as usize + 1];
        let err = LedgerError::read(&self.path);
        self.file
            .read_exact_at(&mut buf, cite.offset)
            .map_err(err)?;
        if buf.pop() != Some(b'\n') || memchr::memchr(b'\n', &buf).is_some() {
            return Err(err(std::io::Error::other(format!(
                "line {} is no longer where it was read (the ledger changed)",
                cite.line
            ))));
        }
        Ok(buf)
    }
}
