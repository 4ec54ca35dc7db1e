//! The local Ed25519 key that signs checkpoints: created with mode 0600 (its directory 0700)
//! on first use, loaded and refused when others may read it, its public half and its file.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use ed25519_dalek::SigningKey;
use hex::FromHex;

use super::{CheckpointError, CheckpointKey};

const KEY_HEADER: &str = "vnx-ed25519-seed-v1 ";

impl CheckpointKey {
    /// Loads the key at `path`, creating it (mode 0600, parent 0700) on first use. Returns
    /// whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(CheckpointKey, bool), CheckpointError> {
        let io = |source| CheckpointError::KeyIo {
            path: path.to_owned(),
            source,
        };
        match fs::read_to_string(path) {
            Ok(text) => {
                let mode = fs::metadata(path).map_err(io)?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(CheckpointError::KeyInsecure {
                        path: path.to_owned(),
                        mode: mode & 0o7777,
                    });
                }
                let seed = text
                    .trim()
                    .strip_prefix(KEY_HEADER)
                    .and_then(|h| <[u8; 32]>::from_hex(h).ok())
                    .ok_or_else(|| CheckpointError::KeyMalformed {
                        path: path.to_owned(),
                    })?;
                Ok((
                    CheckpointKey {
                        key: SigningKey::from_bytes(&seed),
                        path: path.to_owned(),
                    },
                    false,
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o700)
                        .create(dir)
                        .map_err(io)?;
                }
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| io(std::io::Error::other(e.to_string())))?;
                // Written whole under a temporary name, then linked into place: processes
                // creating the key at once never read half a key, and one key wins.
                let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
                let written = (|| {
                    let mut f = OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(&tmp)?;
                    f.write_all(format!("{KEY_HEADER}{}\n", hex::encode(seed)).as_bytes())?;
                    f.sync_all()?;
                    fs::hard_link(&tmp, path)
                })();
                let _ = fs::remove_file(&tmp);
                match written {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        return CheckpointKey::load_or_create(path);
                    }
                    Err(e) => return Err(io(e)),
                }
                Ok((
                    CheckpointKey {
                        key: SigningKey::from_bytes(&seed),
                        path: path.to_owned(),
                    },
                    true,
                ))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Loads the key at `path` if it exists (checking its permissions), without creating it.
    pub fn load(path: &Path) -> Result<Option<CheckpointKey>, CheckpointError> {
        if !path.exists() {
            return Ok(None);
        }
        CheckpointKey::load_or_create(path).map(|(k, _)| Some(k))
    }

    /// The public half, which checkpoints and attestations carry.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The key itself, for attestations (`attest`).
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// Where the key file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
