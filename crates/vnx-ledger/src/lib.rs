//! vnx's ledger crate: the receipt ledger (an append-only NDJSON file of hash-chained
//! receipts, the one append path, the verifier `vnx audit-chain verify` runs, checkpoints and
//! attestations) and the typed receipts written to it, with the reads that only need the ledger
//! (a dispatch's evidence, hosts' mirrored lines, the whole audit). It depends on `vnx-core` and
//! on nothing that dispatches, gates or merges: the published receipt schema cannot change
//! because code above it did.
//!
//! Line format (ADR 0002): each line is one JSON object in Python canonical form, `\n`
//! terminated, carrying `seq` (its 1-based line number), `prev_hash` (VNX's link: the entry
//! hash of the previous entry) and `prev_line_sha256` (vnx's link: SHA-256 of the previous
//! line's exact bytes, which makes the last line's hash commit to the whole history).

#![warn(missing_docs, unreachable_pub)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod audit;
pub mod dependencies;
pub mod evidence;
pub mod ids;
pub mod intoto;
pub mod mirror;
pub mod receipts;

pub mod anchored;
pub mod append;
pub mod attest;
pub mod checkpoint;
pub mod json;
pub mod line;
pub mod receipt;
pub mod scan;
pub mod summary;
pub mod tail;
pub mod trailers;
pub mod verify;

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
pub enum LedgerError {
    /// The ledger's directory does not exist.
    #[error("ledger directory {path} does not exist")]
    MissingDir {
        /// The directory.
        path: PathBuf,
    },
    /// There is no ledger file (reading needs one).
    #[error("ledger {path} does not exist")]
    NotFound {
        /// The ledger file.
        path: PathBuf,
    },
    /// The ledger path is a symbolic link, which vnx never follows.
    #[error("ledger {path} is a symlink; vnx reads and writes only the file itself")]
    Symlink {
        /// The ledger file.
        path: PathBuf,
    },
    /// The ledger path is a directory.
    #[error("ledger {path} is a directory, not a file")]
    IsDirectory {
        /// The ledger file.
        path: PathBuf,
    },
    /// The ledger path is a FIFO, socket or device.
    #[error("ledger {path} is not a regular file (a FIFO, socket or device)")]
    NotRegular {
        /// The ledger file.
        path: PathBuf,
    },
    /// The ledger file cannot be written.
    #[error("ledger {path} is read-only (mode {mode:o})")]
    ReadOnly {
        /// The ledger file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The ledger could not be opened.
    #[error("could not open {path}")]
    Open {
        /// The ledger file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The append lock could not be taken.
    #[error("could not take the append lock {path}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The ledger could not be read.
    #[error("could not read ledger {path}")]
    Read {
        /// The ledger file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    #[error(
        "append to {path} failed at byte {offset}; that write was not kept{}",
        if *rolled_back { "" } else { " but the partial write could not be removed" }
    )]
    /// An append failed part-way.
    Write {
        /// The ledger file.
        path: PathBuf,
        /// The file's length before the append: where the write began.
        offset: u64,
        /// Whether the partial write was cut off again.
        rolled_back: bool,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// `fdatasync` failed after an append.
    #[error("fdatasync of {path} failed: the append is not durable and was not acknowledged")]
    Sync {
        /// The ledger file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// A torn tail could not be moved aside.
    #[error("could not quarantine the torn tail of {path} to {quarantine}")]
    Quarantine {
        /// The ledger file.
        path: PathBuf,
        /// Where the fragment was to go.
        quarantine: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The ledger's last line cannot be chained to.
    #[error("the last line ({line}) of ledger {path} is unreadable: {reason}")]
    TailUnreadable {
        /// The ledger file.
        path: PathBuf,
        /// The last line's number.
        line: u64,
        /// What is wrong with it.
        reason: line::LineError,
    },
    /// A receipt did not serialize to canonical form: a bug in vnx.
    #[error("receipt {index} did not serialize to canonical form (a vnx bug); nothing was written")]
    NotCanonical {
        /// Its 0-based position in the batch appended.
        index: usize,
    },
    /// A receipt would exceed the ledger's line limit.
    #[error("receipt {index} would be a {len}-byte line; the limit is {max} bytes")]
    LineTooLong {
        /// Its 0-based position in the batch appended.
        index: usize,
        /// The line's length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
}

impl LedgerError {
    /// [`LedgerError::Read`] of `path`, for `map_err`.
    pub fn read(path: &Path) -> impl Fn(io::Error) -> LedgerError + Copy + '_ {
        |source| LedgerError::Read {
            path: path.to_owned(),
            source,
        }
    }

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

/// Takes the append lock next to `ledger` (made private if absent), waiting for it; it is held
/// as long as the returned file.
pub(crate) fn append_lock(ledger: &Path) -> Result<std::fs::File, LedgerError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = lock_path(ledger);
    let take = || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)?;
        file.lock().map(|()| file)
    };
    take().map_err(|source| LedgerError::Lock { path, source })
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
pub fn open_for_reading(path: &Path) -> Result<std::fs::File, LedgerError> {
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
