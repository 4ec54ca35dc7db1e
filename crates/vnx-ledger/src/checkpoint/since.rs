//! What a ledger's anchoring is made of, named without reading a checkpoint, and what it
//! gained since a reader last saw it: a reader that verified the ledger against one
//! anchoring (the read index, ADR 0045) checks only the checkpoints anchored since, not
//! every one again.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::{Anchor, Checkpoint, CheckpointError, trusted_keys, witness};

/// What [`super::anchoring`] reads for a ledger, each part named by a digest or a commit:
/// equal inputs mean it returns the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnchoringInputs {
    /// The repository, the ledger's name in it and the keys trusted to sign checkpoints.
    pub fixed: [u8; 32],
    /// The commit `refs/vnx/checkpoints` points at: through its parents it names every
    /// checkpoint, and git names each object by its content.
    pub tip: Option<[u8; 20]>,
    /// The witness file's bytes (`None`: no witness directory, or no witness in it).
    pub witness: Option<[u8; 32]>,
}

/// The inputs of the anchoring of the ledger at `path`, read without walking a checkpoint
/// (a project whose every merge anchored one would pay for the walk on every read); `None`
/// when the ledger lies outside any git repository.
pub fn anchoring_inputs(
    path: &Path,
    local_key: Option<&Path>,
    witness_dir: Option<&Path>,
) -> Result<Option<AnchoringInputs>, CheckpointError> {
    use std::os::unix::ffi::OsStrExt;
    let Some(anchor) = Anchor::find(path)? else {
        return Ok(None);
    };
    let name = anchor.ledger_name(path);
    let mut h = Sha256::new();
    h.update(b"vnx anchoring inputs v2\0");
    h.update(anchor.root().as_os_str().as_bytes());
    h.update([0]);
    h.update(name.as_bytes());
    h.update(b"\0keys");
    for key in trusted_keys(&anchor, local_key)? {
        h.update(key);
    }
    let tip = anchor.checkpoint_tip()?.map(|oid| {
        let mut t = [0u8; 20];
        t.copy_from_slice(oid.as_bytes());
        t
    });
    let witness = match witness_dir {
        Some(dir) => {
            let file = witness::path(dir, &anchor, &name);
            match read_bounded(&file) {
                Ok(bytes) => Some(Sha256::digest(&bytes).into()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => return Err(CheckpointError::Witness { path: file, source }),
            }
        }
        None => None,
    };
    Ok(Some(AnchoringInputs {
        fixed: h.finalize().into(),
        tip,
        witness,
    }))
}

/// The witness file's first MiB (a witness is a few hundred bytes) and its length, never
/// through a link.
fn read_bounded(file: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = vnx_core::files::open_untrusted(file, 2)?;
    let len = f.metadata()?.len();
    let mut bytes = len.to_le_bytes().to_vec();
    f.take(1 << 20).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// What the anchoring of a ledger gained since its checkpoint ref named a given commit.
#[derive(Clone, Debug)]
pub struct Since {
    /// The checkpoints anchored for the ledger since, oldest first.
    pub checkpoints: Vec<Checkpoint>,
    /// The keys trusted to sign them (see [`trusted_keys`]).
    pub trusted_keys: Vec<[u8; 32]>,
    /// The checkpoint this machine's witness holds, if any.
    pub witnessed: Option<Checkpoint>,
}

/// The checkpoints anchored for the ledger at `path` above commit `since` of its checkpoint
/// ref (`None`: every one), with the keys trusted and the witnessed checkpoint; `None` when
/// the ledger lies outside any repository, or the ref does not descend from `since` within
/// `most` commits (moved back or elsewhere: only a whole verification says what that means).
pub fn anchored_since(
    path: &Path,
    local_key: Option<&Path>,
    witness_dir: Option<&Path>,
    since: Option<[u8; 20]>,
    most: usize,
) -> Result<Option<Since>, CheckpointError> {
    let Some(anchor) = Anchor::find(path)? else {
        return Ok(None);
    };
    let name = anchor.ledger_name(path);
    let since = match since.map(|s| git2::Oid::from_bytes(&s)) {
        Some(Ok(oid)) => Some(oid),
        Some(Err(_)) => return Ok(None),
        None => None,
    };
    // The witness before the ref, as `anchoring` reads them: a checkpoint made between the
    // reads is then in the list.
    let witnessed = match witness_dir {
        Some(dir) => witness::read(dir, &anchor, &name)?.and_then(|w| w.checkpoint()),
        None => None,
    };
    let Some(checkpoints) = anchor.list_since(&name, since, most)? else {
        return Ok(None);
    };
    Ok(Some(Since {
        checkpoints,
        trusted_keys: trusted_keys(&anchor, local_key)?,
        witnessed,
    }))
}
