//! Where a review comment can go and what it points at, read through libgit2 (nothing is
//! run, nothing in a worktree the worker could have changed is read): the lines of a file on
//! the new side of a dispatch's diff from its base to its recorded head (added and context
//! lines), a line's text at a commit, and the lines around it. A file's blob is read only up
//! to a bound; its text is the worker's, for the caller to bound and escape.

use std::collections::BTreeSet;
use std::path::Path;

use super::ReviewError;
use crate::ids::{CommitId, DispatchId};

/// The largest file whose lines are read.
pub const MAX_BLOB: usize = 8 * 1024 * 1024;

/// The repository at `root`.
pub fn open(root: &Path, id: &DispatchId) -> Result<git2::Repository, ReviewError> {
    git2::Repository::open(root).map_err(|source| ReviewError::Git {
        id: id.clone(),
        repo: root.to_owned(),
        source,
    })
}

/// The line numbers of `file` on the new side of the diff from `base` to `head`: its added
/// lines and the context lines around them (none when the diff leaves the file alone).
pub fn new_side(
    repo: &git2::Repository,
    id: &DispatchId,
    base: &CommitId,
    head: &CommitId,
    file: &str,
) -> Result<BTreeSet<u64>, ReviewError> {
    let err = |source| ReviewError::Git {
        id: id.clone(),
        repo: repo.path().to_owned(),
        source,
    };
    let tree = |c: &CommitId| -> Result<git2::Tree<'_>, git2::Error> {
        repo.find_commit(git2::Oid::from_str(c.as_str())?)?.tree()
    };
    let (old, new) = (tree(base).map_err(err)?, tree(head).map_err(err)?);
    let mut opts = git2::DiffOptions::new();
    opts.pathspec(file)
        .disable_pathspec_match(true)
        .context_lines(3);
    let diff = repo
        .diff_tree_to_tree(Some(&old), Some(&new), Some(&mut opts))
        .map_err(err)?;
    let mut lines = BTreeSet::new();
    diff.foreach(
        &mut |_, _| true,
        None,
        None,
        Some(&mut |delta, _, line| {
            let ours = delta.new_file().path().and_then(Path::to_str) == Some(file);
            if ours && matches!(line.origin(), '+' | ' ') {
                lines.extend(line.new_lineno().map(u64::from));
            }
            true
        }),
    )
    .map_err(err)?;
    Ok(lines)
}

/// The text of `file` at `commit`, when it is there, a blob no larger than [`MAX_BLOB`].
fn text_at(repo: &git2::Repository, commit: &CommitId, file: &str) -> Option<String> {
    let commit = repo
        .find_commit(git2::Oid::from_str(commit.as_str()).ok()?)
        .ok()?;
    let entry = commit.tree().ok()?.get_path(Path::new(file)).ok()?;
    let blob = repo.find_blob(entry.id()).ok()?;
    (blob.size() <= MAX_BLOB).then(|| String::from_utf8_lossy(blob.content()).into_owned())
}

/// Line `line` (1 is the first) of `file` at `commit`, without its line break.
pub fn line_at(
    repo: &git2::Repository,
    commit: &CommitId,
    file: &str,
    line: u64,
) -> Option<String> {
    let text = text_at(repo, commit, file)?;
    let n = usize::try_from(line.checked_sub(1)?).ok()?;
    text.lines().nth(n).map(str::to_owned)
}

/// Lines `line - around ..= line + around` of `file` at `commit`, numbered (none when it is
/// not there).
pub fn around(
    repo: &git2::Repository,
    commit: &CommitId,
    file: &str,
    line: u64,
    around: u64,
) -> Vec<(u64, String)> {
    let Some(text) = text_at(repo, commit, file) else {
        return Vec::new();
    };
    let first = line.saturating_sub(around).max(1);
    text.lines()
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l))
        .skip_while(|(n, _)| *n < first)
        .take_while(|(n, _)| *n <= line + around)
        .map(|(n, l)| (n, l.to_owned()))
        .collect()
}
