//! Where a governed repository keeps vnx's files: the main checkout's root, its `.vnx-data/`
//! runtime directory and the receipt ledger inside it (the same relative path as Python VNX).

use std::path::{Path, PathBuf};

/// Runtime data directory, relative to the repository root (git-ignored by `vnx init`).
pub const DATA_DIR: &str = ".vnx-data";

/// Paths of one governed repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    /// The main checkout's root, even when discovered from inside a linked worktree.
    pub root: PathBuf,
}

impl Project {
    /// Finds the repository containing `dir`; `None` outside any git repository.
    pub fn discover(dir: &Path) -> Option<Project> {
        let repo = git2::Repository::discover(dir).ok()?;
        if repo.is_bare() {
            return None;
        }
        let root = repo.commondir().parent()?.to_path_buf();
        Some(Project {
            root: std::fs::canonicalize(&root).unwrap_or(root),
        })
    }

    /// `.vnx-data/`.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join(DATA_DIR)
    }

    /// `.vnx-data/state/t0_receipts.ndjson`.
    pub fn ledger(&self) -> PathBuf {
        self.data_dir()
            .join("state")
            .join(crate::ledger::LEDGER_FILE)
    }
}
