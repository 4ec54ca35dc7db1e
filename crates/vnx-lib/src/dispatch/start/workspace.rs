//! Files vnx places inside a dispatch's worktree for its worker, and takes out again before
//! the worktree is classified: a CLI whose hooks are read from the workspace gets them there
//! when the worktree has no such file (its module places them, `CodingCli::place_hooks`), and
//! they are removed here — only if unchanged — so that they never make the worktree look
//! dirty.

use std::fs;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

pub use crate::receipts::Placed;

/// The most of a placed file read back to see whether the worker changed it; a larger one
/// is kept as changed.
const MAX_PLACED_READ: u64 = 1 << 20;

/// Removes what vnx placed, if the worker left it unchanged; returns what was removed.
pub fn remove(placed: &[Placed]) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for p in placed {
        // The worker may have replaced it with a link or a FIFO: neither is followed or
        // waited on, and either counts as changed (kept).
        let unchanged = crate::files::read_bounded(&p.path, MAX_PLACED_READ)
            .is_ok_and(|data| hex::encode(Sha256::digest(&data)) == p.sha256);
        if unchanged && fs::remove_file(&p.path).is_ok() {
            removed.push(p.path.clone());
            if let Some(dir) = &p.made_dir {
                // Fails, as it should, when the worker put something else there.
                let _ = fs::remove_dir(dir);
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A settings file as a CLI's module places one.
    fn place(wt: &std::path::Path) -> Option<Placed> {
        crate::provider::cli::hook::place_file(wt, ".cli", "settings.json", b"{\"hooks\": {}}")
            .unwrap()
    }

    #[test]
    fn placed_files_go_only_if_unchanged_and_never_replace_the_repositorys() {
        let wt = tempfile::tempdir().unwrap();
        let placed = place(wt.path()).unwrap();
        assert!(place(wt.path()).is_none());
        let path = placed.path.clone();
        assert_eq!(remove(&[placed]), [path]);
        assert!(!wt.path().join(".cli").exists());

        let placed = place(wt.path()).unwrap();
        fs::write(&placed.path, "{}").unwrap();
        assert!(
            remove(&[placed]).is_empty(),
            "a changed file is the worker's"
        );
        assert!(wt.path().join(".cli/settings.json").exists());
    }

    #[test]
    fn a_placed_file_made_a_fifo_or_link_is_kept_without_waiting_or_following() {
        let wt = tempfile::tempdir().unwrap();
        let placed = place(wt.path()).unwrap();
        // A link to a file with the placed content would pass the hash check if followed.
        let twin = wt.path().join("twin.json");
        fs::copy(&placed.path, &twin).unwrap();
        fs::remove_file(&placed.path).unwrap();
        std::os::unix::fs::symlink(&twin, &placed.path).unwrap();
        assert!(remove(std::slice::from_ref(&placed)).is_empty());
        assert!(fs::symlink_metadata(&placed.path).unwrap().is_symlink());

        fs::remove_file(&placed.path).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &placed.path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(remove(&[placed])).unwrap());
        let removed = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("remove blocked on a FIFO");
        assert!(removed.is_empty());
    }
}
