//! A port per dispatch, from the range the config names: stable (the same id always tries
//! the same port first, and a follow-up keeps its dispatch's), and unique among the
//! dispatches that hold one. A claim is a file `.vnx-data/ports/<port>` holding the dispatch
//! id, made with `O_EXCL`; the supervisor removes it at the end. A claim left by a dispatch
//! that has ended (or never started, and whose directory is gone) is taken over.

use crate::ids::DispatchId;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The port claims' directory under the data directory.
pub const PORTS_DIR: &str = "ports";

/// Why no port could be claimed.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Every port of the range is held by a dispatch that has not ended.
    #[error("every port of {low}-{high} is held by an open dispatch")]
    Exhausted {
        /// The range's first port.
        low: u16,
        /// Its last port.
        high: u16,
    },
    /// A claim file could not be written or read.
    #[error("cannot claim a port in {path}")]
    Io {
        /// The claim file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Claims a port of `range` for dispatch `id`: `preferred` first (a follow-up's dispatch's
/// port), then the port its id hashes to, then the next ones in turn. `open(owner)` says
/// whether the dispatch holding a claim may still use it.
pub fn claim(
    data_dir: &Path,
    range: (u16, u16),
    id: &DispatchId,
    preferred: Option<u16>,
    open: impl Fn(&str) -> bool,
) -> Result<u16, PortError> {
    let dir = data_dir.join(PORTS_DIR);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| PortError::Io { path, source }
    };
    crate::files::private_dir(&dir).map_err(io(&dir))?;
    let (low, high) = range;
    let size = u32::from(high - low) + 1;
    let hash = Sha256::digest(id.as_str().as_bytes());
    let first = u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]) % size;
    let candidates = preferred
        .filter(|p| (low..=high).contains(p))
        .into_iter()
        .chain((0..size).map(|i| low + ((first + i) % size) as u16));
    for port in candidates {
        let path = dir.join(port.to_string());
        match create(&path, id) {
            Ok(()) => return Ok(port),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let owner = std::fs::read_to_string(&path).unwrap_or_default();
                if owner.trim() == id {
                    return Ok(port);
                }
                if !open(owner.trim()) {
                    // A stale claim: take it over (another claimant may race us to it; the
                    // create decides).
                    let _ = std::fs::remove_file(&path);
                    match create(&path, id) {
                        Ok(()) => return Ok(port),
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(io(&path)(e)),
                    }
                }
            }
            Err(e) => return Err(io(&path)(e)),
        }
    }
    Err(PortError::Exhausted { low, high })
}

/// Gives up dispatch `id`'s claim on `port`, if it still holds it.
pub fn release(data_dir: &Path, port: u16, id: &DispatchId) {
    let path = data_dir.join(PORTS_DIR).join(port.to_string());
    if std::fs::read_to_string(&path).is_ok_and(|owner| owner.trim() == id) {
        let _ = std::fs::remove_file(path);
    }
}

/// Makes the claim `path` of dispatch `id`, private; fails if it exists.
fn create(path: &Path, id: &DispatchId) -> std::io::Result<()> {
    crate::files::write_private(path, id.as_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_stable_unique_and_taken_over_when_stale() {
        let d = tempfile::tempdir().unwrap();
        let all_open = |_: &str| true;
        let a = claim(
            d.path(),
            (41000, 41003),
            &DispatchId::parse("D-0000000a").unwrap(),
            None,
            all_open,
        )
        .unwrap();
        assert_eq!(
            claim(
                d.path(),
                (41000, 41003),
                &DispatchId::parse("D-0000000a").unwrap(),
                None,
                all_open
            )
            .unwrap(),
            a,
            "the same dispatch asking again keeps its port"
        );
        let mut seen = vec![a];
        for id in ["D-0000000b", "D-0000000c", "D-0000000d"] {
            let id = DispatchId::parse(id).unwrap();
            let p = claim(d.path(), (41000, 41003), &id, None, all_open).unwrap();
            assert!(!seen.contains(&p), "{p} given twice");
            seen.push(p);
        }
        assert!(matches!(
            claim(
                d.path(),
                (41000, 41003),
                &DispatchId::parse("D-0000000e").unwrap(),
                None,
                all_open
            ),
            Err(PortError::Exhausted { .. })
        ));
        // Once a holder has ended, its port goes to the next dispatch.
        let p = claim(
            d.path(),
            (41000, 41003),
            &DispatchId::parse("D-0000000e").unwrap(),
            None,
            |o| o != "D-0000000b",
        )
        .unwrap();
        assert_eq!(p, seen[1]);
        // Released, a preferred port (a follow-up's) is taken first.
        release(d.path(), a, &DispatchId::parse("D-0000000a").unwrap());
        release(d.path(), a, &DispatchId::parse("D-0000000f").unwrap());
        assert_eq!(
            claim(
                d.path(),
                (41000, 41003),
                &DispatchId::parse("D-0000000f").unwrap(),
                Some(a),
                all_open
            )
            .unwrap(),
            a
        );
    }
}
