//! A worktree's git admin directory, which a worker can write: found from its `.git` file,
//! checked to hold only plain files and directories, and checked to still belong to this
//! repository (not one of the worker's own).

use std::fs::{self};
use std::path::{Path, PathBuf};

/// A worktree's git admin directory (`.git/worktrees/<name>`), from its `.git` file.
pub(crate) fn admin_dir(path: &Path) -> Option<PathBuf> {
    // The worker can replace `.git`: never read through a link or wait on a FIFO.
    let bytes = crate::files::read_bounded(&path.join(".git"), 4096).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let dir = text.strip_prefix("gitdir:")?.trim();
    Some(path.join(dir))
}

/// The most entries a worktree's admin directory may hold before vnx stops looking (git
/// keeps a dozen files there).
const MAX_ADMIN_ENTRIES: usize = 10_000;

/// Whether `admin` (a worktree's git admin directory, which a sandboxed worker can write)
/// holds anything but directories and regular files. git, run by vnx outside the sandbox,
/// writes `COMMIT_EDITMSG`, `logs/HEAD`, `index` and `HEAD` there: through a link the
/// worker planted it would write any file the user can (the ledger, `~/.bashrc`, vnx's own
/// hooks), and on a FIFO it would block.
fn admin_not_plain(admin: &Path) -> Option<&'static str> {
    let mut pending = vec![admin.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            return Some("its git admin directory cannot be read");
        };
        for entry in entries {
            seen += 1;
            if seen > MAX_ADMIN_ENTRIES {
                return Some("its git admin directory holds too many files");
            }
            let Ok(entry) = entry else {
                return Some("its git admin directory cannot be read");
            };
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push(entry.path()),
                Ok(t) if t.is_file() => {}
                _ => {
                    return Some(
                        "its git admin directory holds a link, FIFO or device (planted by \
                         its worker?)",
                    );
                }
            }
        }
    }
    None
}

/// Why the checkout at `path` no longer belongs to the repository whose common directory is
/// `common_dir` (canonical), if it does not: its `.git` file, its admin directory's `gitdir`
/// and `commondir` are files a worker can write, and a git run in a checkout that names a
/// repository of the worker's own reads that repository's config (an fsmonitor, a filter)
/// and would run its commands outside any sandbox.
pub(crate) fn foreign_git(common_dir: &Path, path: &Path) -> Option<&'static str> {
    let Some(admin) = admin_dir(path).and_then(|a| fs::canonicalize(a).ok()) else {
        return Some("its .git names no git directory");
    };
    if admin.parent() != Some(common_dir.join("worktrees").as_path()) {
        return Some("its .git names another repository's directory");
    }
    if let Some(why) = admin_not_plain(&admin) {
        return Some(why);
    }
    // With `extensions.worktreeConfig` on (as `git sparse-checkout` turns it on), git reads
    // the admin directory's `config.worktree`: a worker could set an fsmonitor or a filter
    // there, run by vnx's git outside its sandbox. vnx never makes one, so one is foreign.
    if admin.join("config.worktree").symlink_metadata().is_ok() {
        return Some("its git admin directory holds a config.worktree (written by its worker?)");
    }
    let read = |name: &str| {
        crate::files::read_bounded(&admin.join(name), 4096)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let back = read("gitdir");
    let ours = fs::canonicalize(path.join(".git")).ok();
    if ours.is_none() || fs::canonicalize(back.trim()).ok() != ours {
        return Some("git's registration names another checkout");
    }
    let common = read("commondir");
    if fs::canonicalize(admin.join(common.trim())).ok().as_deref() != Some(common_dir) {
        return Some("its registration names another repository");
    }
    nested_repository(&admin, path)
}

/// Why git must not run in the checkout at `path`, if the index in `admin` tracks a gitlink
/// whose directory holds a `.git`: a repository of its own, whose config a worker writes. `git
/// add` and `git worktree remove` look inside it whatever vnx's settings say, and run what its
/// config names (a clean filter, an fsmonitor), outside any sandbox. The index is read
/// in-process; one that cannot be read (a worker's doing: vnx's checkouts have plain ones)
/// cannot be cleared of holding one.
fn nested_repository(admin: &Path, path: &Path) -> Option<&'static str> {
    use std::os::unix::ffi::OsStrExt;
    /// The mode of a gitlink entry, and the mask of an entry's type bits.
    const GITLINK: u32 = 0o160000;
    const TYPE: u32 = 0o170000;
    let file = admin.join("index");
    if file.symlink_metadata().is_err() {
        return None;
    }
    let Ok(index) = git2::Index::open(&file) else {
        return Some("its index cannot be read to rule out a nested git repository");
    };
    let nested = index.iter().any(|e| {
        e.mode & TYPE == GITLINK
            && path
                .join(std::ffi::OsStr::from_bytes(&e.path))
                .join(".git")
                .symlink_metadata()
                .is_ok()
    });
    nested.then_some("it holds a nested git repository (a checked-out gitlink)")
}
