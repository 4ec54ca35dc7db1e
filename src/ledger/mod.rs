//! The receipt ledger: an append-only NDJSON file of hash-chained receipts, the append path
//! every part of vnx writes through, and the verifier `vnx audit-chain verify` runs.
//!
//! Line format (ADR 0002): each line is one JSON object in Python canonical form, `\n`
//! terminated, carrying `seq` (its 1-based line number), `prev_hash` (VNX's link: the entry
//! hash of the previous entry) and `prev_line_sha256` (vnx's link: SHA-256 of the previous
//! line's exact bytes, which makes the last line's hash commit to the whole history).

pub mod append;
pub mod attest;
pub mod checkpoint;
pub mod json;
pub mod line;
pub mod receipt;
pub mod scan;
pub mod summary;
pub mod tail;
pub mod verify;
pub mod witness;

use std::io;
use std::path::{Path, PathBuf};

pub use append::{AppendOutcome, Appended, Ledger, Repair, now_utc};
pub use receipt::{Receipt, ReceiptError};
pub use verify::{ChainStatus, VerifyOptions, VerifyReport, Violation, ViolationKind, verify};

/// The ledger's path inside a data directory, the same as Python VNX's.
pub const LEDGER_FILE: &str = "t0_receipts.ndjson";
/// The append lock's file name, shared with Python VNX writers.
pub const LOCK_FILE: &str = "append_receipt.lock";

/// Errors reading or writing a ledger. Each names the file it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    #[error("ledger directory {path} does not exist")]
    MissingDir { path: PathBuf },
    #[error("ledger {path} does not exist")]
    NotFound { path: PathBuf },
    #[error("ledger {path} is a symlink; vnx reads and writes only the file itself")]
    Symlink { path: PathBuf },
    #[error("ledger {path} is a directory, not a file")]
    IsDirectory { path: PathBuf },
    #[error("ledger {path} is not a regular file (a FIFO, socket or device)")]
    NotRegular { path: PathBuf },
    #[error("ledger {path} is read-only (mode {mode:o})")]
    ReadOnly { path: PathBuf, mode: u32 },
    #[error("could not open {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not take the append lock {path}")]
    Lock {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not read ledger {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "append to {path} failed at byte {offset}; that write was not kept{}",
        if *rolled_back { "" } else { " but the partial write could not be removed" }
    )]
    Write {
        path: PathBuf,
        offset: u64,
        rolled_back: bool,
        #[source]
        source: io::Error,
    },
    #[error("fdatasync of {path} failed: the append is not durable and was not acknowledged")]
    Sync {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not quarantine the torn tail of {path} to {quarantine}")]
    Quarantine {
        path: PathBuf,
        quarantine: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the last line ({line}) of ledger {path} is unreadable: {reason}")]
    TailUnreadable {
        path: PathBuf,
        line: u64,
        reason: line::LineError,
    },
    #[error("receipt {index} did not serialize to canonical form (a vnx bug); nothing was written")]
    NotCanonical { index: usize },
    #[error("receipt {index} would be a {len}-byte line; the limit is {max} bytes")]
    LineTooLong {
        index: usize,
        len: usize,
        max: usize,
    },
}

impl LedgerError {
    /// What a person can do about this error.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            LedgerError::MissingDir { .. } => {
                "create it, run `vnx init` in the repository, or pass --ledger PATH".into()
            }
            LedgerError::NotFound { .. } => {
                "check the path; `vnx receipts append` creates the ledger on first use".into()
            }
            LedgerError::IsDirectory { path } => format!(
                "point --ledger at a file such as {}",
                path.join(LEDGER_FILE).display()
            ),
            LedgerError::NotRegular { .. } => {
                "a ledger is a plain file; vnx never reads or writes anything else there, so \
                 a FIFO cannot hang it (or the git hooks)"
                    .into()
            }
            LedgerError::Symlink { .. } => {
                "point --ledger at the real file; a link would let the ledger be swapped \
                 under its checkpoints"
                    .into()
            }
            LedgerError::ReadOnly { .. } => {
                "the ledger was made read-only on purpose; restore write permission only if \
                 you mean to append"
                    .into()
            }
            LedgerError::TailUnreadable { .. } => {
                "run `vnx audit-chain verify` to see what is wrong; `vnx audit-chain seal` \
                 starts a new epoch after it"
                    .into()
            }
            LedgerError::Sync { .. } | LedgerError::Write { .. } => {
                "check free space, quotas and file-size limits (ulimit -f), then run \
                 `vnx audit-chain verify` before retrying"
                    .into()
            }
            _ => return None,
        })
    }
}

/// The append lock next to a ledger.
pub fn lock_path(ledger: &Path) -> PathBuf {
    ledger_dir(ledger).join(LOCK_FILE)
}

/// The directory holding a ledger.
pub fn ledger_dir(ledger: &Path) -> &Path {
    match ledger.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Opens a ledger for reading: never blocking (a FIFO in its place would hang verify, status
/// and the git hooks), and only a regular file.
pub(crate) fn open_for_reading(path: &Path) -> Result<std::fs::File, LedgerError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => LedgerError::NotFound {
                path: path.to_owned(),
            },
            _ => LedgerError::Open {
                path: path.to_owned(),
                source,
            },
        })?;
    match file.metadata() {
        Ok(m) if m.is_dir() => Err(LedgerError::IsDirectory {
            path: path.to_owned(),
        }),
        Ok(m) if !m.is_file() => Err(LedgerError::NotRegular {
            path: path.to_owned(),
        }),
        _ => Ok(file),
    }
}
