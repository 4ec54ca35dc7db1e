//! The checkpoint witness: a second anchor for checkpoints, kept outside the repository.
//!
//! `refs/vnx/checkpoints` lives in the repository, where a worker can move it back to an older
//! checkpoint (and cut the ledger to match) or delete it; the ref keeps no reflog. So every
//! checkpoint vnx makes is also written, signature included, to a witness file in the user's
//! state directory (`$XDG_STATE_HOME/vnx/witness/`, one file per repository and ledger).
//! [`super::anchoring`] reads it back: a witnessed checkpoint the ref no longer
//! holds is a rollback, and the ledger must still extend it. A process running as the user can
//! rewrite the witness too; this closes the hole for whatever cannot reach the user's state
//! directory, and for tools that only know about the repository.

use std::fs;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use hex::FromHex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Anchor, Checkpoint, CheckpointError};

/// The latest checkpoint of one ledger, as this machine saw it made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    /// The checkpoint commit (full id).
    pub commit: String,
    /// The ledger's path relative to the repository root.
    pub ledger: String,
    /// The lines the checkpoint covers.
    pub lines: u64,
    /// SHA-256 of its last line.
    pub head: String,
    /// SHA-256 over every covered line's hash.
    pub history: String,
    /// When it was made.
    pub time: String,
    /// The key that signed it (hex).
    pub public_key: String,
    /// Its signature (hex).
    pub signature: String,
}

/// The witness file for `ledger` (its name relative to the repository root) in `dir`.
pub fn path(dir: &Path, anchor: &Anchor, ledger: &str) -> PathBuf {
    let common = anchor.common_dir();
    let common = fs::canonicalize(&common).unwrap_or(common);
    let mut h = Sha256::new();
    h.update(common.to_string_lossy().as_bytes());
    h.update([0]);
    h.update(ledger.as_bytes());
    dir.join(format!("{}.json", &hex::encode(h.finalize())[..32]))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + use<> {
    let path = path.to_owned();
    move |source| CheckpointError::Witness { path, source }
}

/// Writes the witness atomically (0600 in a 0700 directory).
pub fn write(dir: &Path, anchor: &Anchor, witness: &Witness) -> Result<(), CheckpointError> {
    vnx_core::files::private_dir(dir).map_err(io_err(dir))?;
    let path = path(dir, anchor, &witness.ledger);
    let data = serde_json::to_vec_pretty(witness).expect("witnesses serialize");
    vnx_core::files::write_atomic_private(&path, &data, true).map_err(io_err(&path))
}

/// Reads the witness of `ledger`, if this machine made a checkpoint of it.
pub fn read(dir: &Path, anchor: &Anchor, ledger: &str) -> Result<Option<Witness>, CheckpointError> {
    let path = path(dir, anchor, ledger);
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path)(e)),
    };
    serde_json::from_slice(&data)
        .map(Some)
        .map_err(|e| io_err(&path)(std::io::Error::other(e.to_string())))
}

impl Witness {
    /// The checkpoint it witnesses, its signature checked again.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        let hash = |h: &str| <[u8; 32]>::from_hex(h).ok();
        let public_key = hash(&self.public_key)?;
        let sig = <[u8; 64]>::from_hex(&self.signature).ok()?;
        let body = super::statement_body(
            &self.ledger,
            self.lines,
            &hash(&self.head)?,
            &hash(&self.history)?,
            &self.time,
        );
        let signature_ok = VerifyingKey::from_bytes(&public_key)
            .and_then(|k| k.verify(body.as_bytes(), &Signature::from_bytes(&sig)))
            .is_ok();
        Some(Checkpoint {
            id: self.commit.chars().take(12).collect(),
            ledger: self.ledger.clone(),
            lines: self.lines,
            head: hash(&self.head)?,
            history: hash(&self.history)?,
            time: self.time.clone(),
            public_key,
            signature_ok,
        })
    }
}
