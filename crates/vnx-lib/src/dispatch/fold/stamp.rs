//! What lets a read trust that the ledger has not changed since a verified read without
//! reading it again: the file's identity, size and change times, taken before its bytes were
//! read, and git's racy-clean rule (ADR 0045).
//!
//! Any write to a file moves its change time (`ctime`), which no program can set back short
//! of changing the system clock; a file showing the same device, inode, size, `mtime` and
//! `ctime` as when it was read is the file that was read, unless it was written within the
//! same tick of the clock that stamps change times. A stamp is therefore trusted only when
//! the change times it records lie more than [`RACY_NS`] before the moment it was taken:
//! any later write then shows a later `ctime`.

use std::os::unix::fs::MetadataExt;
use std::time::SystemTime;

use borsh::{BorshDeserialize, BorshSerialize};

/// How long before a stamp's taking the file's change times must lie for it to be trusted:
/// far more than a clock tick (file times come from a coarse clock), and than the times of
/// file systems that keep only seconds.
pub const RACY_NS: i128 = 2_000_000_000;

/// A file's identity, size and change times, and when they were taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Stamp {
    /// The device the file is on.
    pub dev: u64,
    /// Its inode.
    pub ino: u64,
    /// Its size.
    pub size: u64,
    /// Its modification time (seconds, nanoseconds).
    pub mtime: (i64, i64),
    /// Its status change time (seconds, nanoseconds).
    pub ctime: (i64, i64),
    /// The wall clock when the stamp was taken (seconds, nanoseconds since the epoch).
    pub taken: (i64, i64),
}

impl Stamp {
    /// The stamp of the open file `file`, the clock read before its status.
    pub fn take(file: &std::fs::File) -> std::io::Result<Stamp> {
        let taken = match SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                i64::from(d.subsec_nanos()),
            ),
            // A clock before 1970 trusts no stamp.
            Err(_) => (i64::MIN, 0),
        };
        Ok(Stamp::of(&file.metadata()?, taken))
    }

    /// The stamp of a file whose status is `meta`, taken at `taken`.
    pub fn of(meta: &std::fs::Metadata, taken: (i64, i64)) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            taken,
        }
    }

    /// Whether the file now showing `now` is the file this stamp was taken of, unchanged
    /// since: the same identity, size and change times, and this stamp not racy.
    pub fn holds(&self, now: &Stamp) -> bool {
        self.trustworthy()
            && (self.dev, self.ino, self.size, self.mtime, self.ctime)
                == (now.dev, now.ino, now.size, now.mtime, now.ctime)
    }

    /// Whether a later write would show a change time different from the ones recorded:
    /// both lie more than [`RACY_NS`] before the stamp was taken.
    pub fn trustworthy(&self) -> bool {
        let ns = |(s, n): (i64, i64)| i128::from(s) * 1_000_000_000 + i128::from(n);
        let taken = ns(self.taken);
        ns(self.ctime) + RACY_NS < taken && ns(self.mtime) + RACY_NS < taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(ctime: i64, taken: i64) -> Stamp {
        Stamp {
            dev: 1,
            ino: 2,
            size: 3,
            mtime: (ctime, 0),
            ctime: (ctime, 0),
            taken: (taken, 0),
        }
    }

    #[test]
    fn a_stamp_taken_soon_after_a_change_is_not_trusted() {
        // Written within the racy window of the stamp: a second write in the same clock
        // tick would not show.
        assert!(!stamp(100, 101).holds(&stamp(100, 500)));
        assert!(!stamp(100, 102).trustworthy());
        assert!(stamp(100, 103).holds(&stamp(100, 500)));
    }

    #[test]
    fn any_difference_in_identity_size_or_times_is_a_change() {
        let s = stamp(100, 200);
        for changed in [
            Stamp { dev: 9, ..s },
            Stamp { ino: 9, ..s },
            Stamp { size: 9, ..s },
            Stamp {
                mtime: (100, 1),
                ..s
            },
            Stamp {
                ctime: (100, 1),
                ..s
            },
        ] {
            assert!(!s.holds(&changed), "{changed:?}");
        }
        // When the next stamp was taken does not matter.
        assert!(s.holds(&Stamp {
            taken: (900, 0),
            ..s
        }));
    }

    #[test]
    fn a_change_time_after_the_stamp_was_taken_is_not_trusted() {
        // A clock set back, or a file from the future.
        assert!(!stamp(300, 200).trustworthy());
    }

    #[test]
    fn a_real_write_moves_the_change_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let before = Stamp::take(&std::fs::File::open(&path).unwrap()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        // The same size, the modification time put back: the status change time moves.
        std::fs::write(&path, b"abd").unwrap();
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(
            SystemTime::UNIX_EPOCH
                + std::time::Duration::new(before.mtime.0 as u64, before.mtime.1 as u32),
        )
        .unwrap();
        let after = Stamp::take(&std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!((before.size, before.mtime), (after.size, after.mtime));
        assert_ne!(before.ctime, after.ctime);
        let trusted = Stamp {
            taken: (before.ctime.0 + 10, 0),
            ..before
        };
        assert!(!trusted.holds(&after));
    }
}
