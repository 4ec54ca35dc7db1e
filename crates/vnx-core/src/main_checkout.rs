//! Finding a repository's main checkout from any directory in it: the checkout itself, a
//! linked worktree, a submodule, or a checkout whose git directory lives elsewhere.

use std::path::{Path, PathBuf};

use crate::process::{self, Cmd};

/// The main checkout's root for the repository containing `dir`, whether `dir` is in it, in a
/// linked worktree, in a submodule, or in a repository whose git directory lives elsewhere
/// (`--separate-git-dir`, where `git worktree list` names the git directory instead).
pub fn main_root(dir: &Path) -> Option<PathBuf> {
    main_root_of(git2::Repository::discover(dir).ok().as_ref(), dir)
}

/// [`main_root`] for a caller that has the repository containing `dir` open already (found by
/// `git2::Repository::discover(dir)`): it is not opened again.
pub fn main_root_of(repo: Option<&git2::Repository>, dir: &Path) -> Option<PathBuf> {
    // A checkout that is not a linked worktree is its own main checkout: libgit2 says so
    // without starting git (what `--show-toplevel` would print there).
    // (A `.git` that is a file, as `--separate-git-dir` and submodules make, asks git:
    // libgit2 names the git directory's parent as the checkout there.)
    if let Some(repo) = repo
        && !repo.is_worktree()
        && let Some(workdir) = repo.workdir()
        && repo.path().parent() == Some(workdir)
        && repo.path().file_name() == Some(std::ffi::OsStr::new(".git"))
    {
        return Some(std::fs::canonicalize(workdir).unwrap_or_else(|_| workdir.to_owned()));
    }
    let git = || Cmd::git().arg("-C").arg(dir);
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
