//! What `vnx serve` admits: the devices paired with a project (`devices`) and the one-time
//! codes that pair them (`pairing`). The server itself, its pages and its requests are the
//! CLI's; this is the state it keeps, so that a revocation made by another process counts
//! at the next request.

use std::path::{Path, PathBuf};

pub mod devices;
pub mod pairing;

pub use devices::{Device, DeviceStore, Token};
pub use pairing::{PairError, Pairing};

/// Where `vnx serve` keeps its files in a project's data directory.
pub fn dir_in(data_dir: &Path) -> PathBuf {
    data_dir.join("serve")
}

/// Why the paired devices could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// A file could not be read or written.
    #[error("cannot use {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The devices file is not what vnx writes.
    #[error("{path} is not a devices file vnx wrote: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// No paired device has that name or id.
    #[error("no paired device is named {name}")]
    UnknownDevice {
        /// The name or id given.
        name: String,
    },
    /// The system's random source failed.
    #[error("cannot draw random bytes: {detail}")]
    Random {
        /// What the source said.
        detail: String,
    },
}

/// `n` random bytes.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], AccessError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| AccessError::Random {
        detail: e.to_string(),
    })?;
    Ok(b)
}

/// Whether two byte strings are equal, in time that depends only on their lengths.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
