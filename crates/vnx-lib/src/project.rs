//! Where a governed repository keeps vnx's files: the main checkout's root, its committed
//! `.vnx/config.yaml`, its `.vnx-data/` runtime directory and the receipt ledger inside it
//! (the same relative path as Python VNX). How they are written and read safely is
//! [`crate::files`].

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError};
use crate::main_checkout::main_root;

/// Runtime data directory, relative to the repository root (git-ignored by `vnx init`).
pub const DATA_DIR: &str = ".vnx-data";

/// The committed project configuration, relative to the repository root (written by
/// `vnx init`, read by [`Project::load_config`]).
pub const CONFIG: &str = ".vnx/config.yaml";

/// Paths of one governed repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    /// The main checkout's root, even when discovered from inside a linked worktree.
    pub root: PathBuf,
}

impl Project {
    /// Finds the repository containing `dir`; `None` outside any git repository (or in a
    /// bare one).
    pub fn discover(dir: &Path) -> Option<Project> {
        Some(Project {
            root: main_root(dir)?,
        })
    }

    /// The project whose main checkout's root is `root` (already known: nothing is discovered).
    pub fn at(root: &Path) -> Project {
        Project {
            root: root.to_owned(),
        }
    }

    /// `.vnx/config.yaml`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join(CONFIG)
    }

    /// The project's configuration, loaded and validated ([`crate::config::load`]); the
    /// default when the file is missing.
    pub fn load_config(&self) -> Result<Config, ConfigError> {
        crate::config::load(&self.config_path())
    }

    /// `.vnx-data/`.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join(DATA_DIR)
    }

    /// Caches vnx may rebuild at any time (e.g. worker CLI versions).
    pub fn cache_dir(&self) -> PathBuf {
        self.data_dir().join("cache")
    }

    /// `.vnx-data/state/t0_receipts.ndjson`.
    pub fn ledger(&self) -> PathBuf {
        self.data_dir()
            .join("state")
            .join(crate::ledger::LEDGER_FILE)
    }
}
