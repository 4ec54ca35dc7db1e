//! Concurrency slots as claims: `.vnx-data/slots/<provider>/<n>.claim` holding the id of the
//! dispatch that holds slot `n`, made with `O_EXCL` under the queue lock by whoever starts
//! the dispatch, and removed by its supervisor once its completion is on the ledger. Unlike a
//! `flock`, a claim outlives the launcher and passes to the tmux-spawned supervisor. A claim
//! whose dispatch no longer lives (see `liveness`) is stale, and is removed by the next
//! claimant, which also holds the queue lock. While the claimant launches the dispatch
//! (outside the queue lock, before the dispatch has a directory or session), it holds a
//! `flock` on the claim file, which counts as alive.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::ids::DispatchId;

/// A fresh claim, locked by its claimant until it is dropped (the launch is then over, and
/// the dispatch's own liveness holds the slot).
#[derive(Debug)]
pub struct Claim {
    /// Which slot (0-based).
    pub index: u32,
    _lock: File,
}

/// Whether a claimant still holds the claim file's lock (a launch under way). The claim file
/// is opened as a regular file only, never a link followed or a FIFO blocked on (something
/// may plant one where claims live).
fn launching(path: &Path) -> bool {
    let claim = crate::files::open_hostile(path).ok();
    // Held (would block), or unknown (any other error): a launch under way.
    claim.is_some_and(|f| f.try_lock_shared().is_err())
}

/// The dispatch id a claim file names (bounded: an id is short), or nothing.
fn owner_of(path: &Path) -> String {
    crate::files::read_bounded(path, 256)
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default()
}

/// The slots' directory under the data directory (shared with the supervisor's `flock`s).
pub const SLOTS_DIR: &str = "slots";

fn dir(data_dir: &Path, provider: &str) -> PathBuf {
    data_dir.join(SLOTS_DIR).join(provider)
}

/// The claims on `provider`'s slots whose dispatch `alive` says still lives, as (slot,
/// dispatch id); stale ones (and any whose owner is not a dispatch id) are removed. Called
/// under the queue lock.
pub fn held(
    data_dir: &Path,
    provider: &str,
    alive: impl Fn(&DispatchId) -> bool,
) -> Vec<(u32, String)> {
    let Ok(read) = std::fs::read_dir(dir(data_dir, provider)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in read.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(index) = name
            .strip_suffix(".claim")
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let owner = owner_of(&e.path());
        let owner = owner.as_str();
        if launching(&e.path()) || DispatchId::parse(owner).is_ok_and(|id| alive(&id)) {
            out.push((index, owner.to_owned()));
        } else {
            let _ = std::fs::remove_file(e.path());
        }
    }
    out.sort();
    out
}

/// Claims a free slot of `provider` (one of `0..limit` no claim holds) for dispatch `id`.
/// `None` when every slot is held. Called under the queue lock, after [`held`] removed the
/// stale claims.
pub fn claim(
    data_dir: &Path,
    provider: &str,
    limit: u32,
    id: &DispatchId,
) -> std::io::Result<Option<Claim>> {
    use std::os::unix::fs::OpenOptionsExt;
    let d = dir(data_dir, provider);
    crate::files::private_dir(&d)?;
    for index in 0..limit {
        let p = d.join(format!("{index}.claim"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&p)
        {
            Ok(mut f) => {
                f.lock()?;
                f.write_all(id.as_str().as_bytes())?;
                f.sync_all()?;
                return Ok(Some(Claim { index, _lock: f }));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Gives up dispatch `id`'s claim on a slot of `provider`, if it holds one.
pub fn release(data_dir: &Path, provider: &str, id: &DispatchId) {
    let Ok(read) = std::fs::read_dir(dir(data_dir, provider)) else {
        return;
    };
    for e in read.flatten() {
        if e.file_name().to_string_lossy().ends_with(".claim") && owner_of(&e.path()) == id.as_str()
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_exclusive_stale_ones_go_and_release_frees() {
        let d = tempfile::tempdir().unwrap();
        let id = |s: &str| DispatchId::parse(s).unwrap();
        let slot = |p: &str, s: &str| claim(d.path(), p, 2, &id(s)).unwrap().map(|c| c.index);
        let all = |_: &DispatchId| true;
        let launching = claim(d.path(), "demo", 2, &id("D-0000000a"))
            .unwrap()
            .unwrap();
        assert_eq!(launching.index, 0);
        assert_eq!(slot("demo", "D-0000000b"), Some(1));
        assert_eq!(slot("demo", "D-0000000c"), None);
        assert_eq!(slot("beta", "D-0000000c"), Some(0));
        assert_eq!(held(d.path(), "demo", all).len(), 2);
        // While its claimant launches it, a claim holds even if its dispatch looks dead; a
        // dead holder's claim is removed, and its slot is free again.
        let live = held(d.path(), "demo", |_| false);
        assert_eq!(live, vec![(0, "D-0000000a".to_owned())]);
        assert_eq!(slot("demo", "D-0000000c"), Some(1));
        drop(launching);
        assert_eq!(
            held(d.path(), "demo", |o| o != "D-0000000a"),
            vec![(1, "D-0000000c".to_owned())]
        );
        release(d.path(), "demo", &id("D-0000000c"));
        assert!(held(d.path(), "demo", all).is_empty());
    }
}
