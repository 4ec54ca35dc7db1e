//! Where a governed repository keeps vnx's files: the main checkout's root, its `.vnx-data/`
//! runtime directory and the receipt ledger inside it (the same relative path as Python VNX).

use std::path::{Path, PathBuf};

use crate::process::{self, Cmd};

/// Runtime data directory, relative to the repository root (git-ignored by `vnx init`).
pub const DATA_DIR: &str = ".vnx-data";

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

/// The main checkout's root for the repository containing `dir`, whether `dir` is in it, in a
/// linked worktree, in a submodule, or in a repository whose git directory lives elsewhere
/// (`--separate-git-dir`, where `git worktree list` names the git directory instead).
pub fn main_root(dir: &Path) -> Option<PathBuf> {
    let git = || Cmd::new("git").arg("-C").arg(dir);
    let out = process::run_ok(&git().args([
        "rev-parse",
        "--path-format=absolute",
        "--show-toplevel",
        "--git-dir",
        "--git-common-dir",
    ]))
    .ok()?;
    let mut lines = out.lines();
    let (toplevel, git_dir, common_dir) = (lines.next()?, lines.next()?, lines.next()?);
    let root = if git_dir == common_dir {
        PathBuf::from(toplevel)
    } else {
        // A linked worktree: git lists the main worktree first.
        let list = process::run_ok(&git().args(["worktree", "list", "--porcelain", "-z"])).ok()?;
        PathBuf::from(list.split('\0').next()?.strip_prefix("worktree ")?)
    };
    Some(std::fs::canonicalize(&root).unwrap_or(root))
}

/// `mkdir -p` for the user's own tree (`.vnx/`, `skills/…`): the directories get the modes the
/// user's umask gives, even while vnx's own umask keeps its files private.
pub fn create_user_dir_all(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_user_dir_all(parent)?;
    }
    match std::fs::create_dir(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    if let Some(mask) = process::user_umask() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777 & !mask))?;
    }
    Ok(())
}

/// vnx's own directories and files under `.vnx-data/` are private to the user, whatever the
/// umask: directories `0700`, files `0600` (another local user must not read prompts and
/// logs, nor replace the `vnx` on a worker's PATH). The CLI also sets vnx's umask to `077`
/// ([`crate::process::private_umask`]), which covers every other file vnx writes there.
pub mod private {
    use std::fs::{DirBuilder, OpenOptions};
    use std::io::{self, Write};
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    use std::path::Path;

    pub const DIR_MODE: u32 = 0o700;
    pub const FILE_MODE: u32 = 0o600;

    /// `mkdir -p` with private modes for every directory it creates.
    pub fn create_dir_all(path: &Path) -> io::Result<()> {
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(path)
    }

    /// `mkdir` (failing when it exists) with a private mode.
    pub fn create_dir(path: &Path) -> io::Result<()> {
        DirBuilder::new().mode(DIR_MODE).create(path)
    }

    /// Options that create a file private.
    pub fn options() -> OpenOptions {
        let mut o = OpenOptions::new();
        o.mode(FILE_MODE);
        o
    }

    /// Creates a private file that must not exist yet and writes `data`.
    pub fn write_new(path: &Path, data: &[u8]) -> io::Result<()> {
        let mut f = options().write(true).create_new(true).open(path)?;
        f.write_all(data)
    }
}
