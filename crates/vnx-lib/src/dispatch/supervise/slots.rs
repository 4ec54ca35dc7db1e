//! Per-provider concurrency slots: at most N workers of one provider run at once across all
//! dispatches of a repository. A slot is an exclusive `flock` on
//! `.vnx-data/slots/<provider>/<n>.lock`, so a crashed supervisor frees its slot with its
//! last file descriptor.

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// A held slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    /// Which of the provider's slots it is (0-based).
    pub index: u32,
    _lock: File,
}

/// Tries every slot of `provider` until one is free or `give_up` says to stop (polled about
/// every 100 ms). Returns the slot and how long it waited.
pub fn acquire(
    slots_dir: &Path,
    provider: &str,
    limit: u32,
    give_up: impl Fn() -> bool,
) -> io::Result<Option<(Slot, Duration)>> {
    let dir = slots_dir.join(provider);
    crate::files::private_dir(&dir)?;
    let started = Instant::now();
    loop {
        for index in 0..limit.max(1) {
            let path = dir.join(format!("{index}.lock"));
            if let Some(file) = crate::files::lock_file(&path, false)? {
                return Ok(Some((Slot { index, _lock: file }, started.elapsed())));
            }
        }
        if give_up() {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_exclusive_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let (a, _) = acquire(dir.path(), "alpha", 2, || true).unwrap().unwrap();
        let (b, _) = acquire(dir.path(), "alpha", 2, || true).unwrap().unwrap();
        assert_ne!(a.index, b.index);
        assert!(acquire(dir.path(), "alpha", 2, || true).unwrap().is_none());
        assert!(acquire(dir.path(), "beta", 2, || true).unwrap().is_some());
        drop(a);
        assert!(acquire(dir.path(), "alpha", 2, || true).unwrap().is_some());
    }
}
