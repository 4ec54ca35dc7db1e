//! What a dispatch's work changed since the commit it started from: its branch's commits
//! since their merge base with that commit, and what its worktree holds uncommitted (changed,
//! staged, new; not ignored), as file names, read in process through libgit2 (no git, filter,
//! hook or fsmonitor runs), bounded, a worktree's git files checked as a worker's first
//! (`pool::foreign_git`); and that list recorded in the dispatch's directory by its
//! supervisor as the worker goes and at its end (`changes.json`), read back bounded and never
//! through a link, for the conflict radar.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::ids::CommitId;

/// The most files one dispatch's changes are listed with (the rest counted as cut).
pub const MAX_FILES: usize = 2_000;

/// The files one dispatch changed, and how they were seen.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Changed {
    /// The paths, relative to the repository's root (a rename counts as both).
    pub files: BTreeSet<String>,
    /// Whether its worktree was read (else only its branch's commits).
    pub worktree: bool,
    /// Whether more files changed than [`MAX_FILES`].
    pub cut: bool,
    /// Why its changes could not be read, when they could not (its worktree's git files are
    /// not vnx's, its commits are not here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unseen: Option<String>,
}

/// Changes already read: a branch's committed ones by merge base and tip, which never change,
/// and a worktree's uncommitted ones for `fresh` (zero, the default: read at every scan).
#[derive(Debug, Default)]
pub struct Cache {
    committed: HashMap<(git2::Oid, git2::Oid), (BTreeSet<String>, bool)>,
    uncommitted: HashMap<PathBuf, (std::time::Instant, BTreeSet<String>, bool)>,
    fresh: std::time::Duration,
}

impl Cache {
    /// A cache that reads a worktree again only once `fresh` has passed since it last did
    /// (a dashboard redrawing every second need not walk every worktree each time).
    pub fn fresh_for(fresh: std::time::Duration) -> Cache {
        Cache {
            fresh,
            ..Cache::default()
        }
    }
}

/// Where a dispatch's work is: the repository's common git directory (canonical), its
/// worktree while it exists, its branch, the commit it started from and the head it recorded.
pub struct Work<'a> {
    /// The repository's git common directory, canonical.
    pub common_dir: &'a Path,
    /// Its worktree, when it is still here.
    pub worktree: Option<&'a Path>,
    /// Its branch (`dispatch/<id>`).
    pub branch: Option<&'a str>,
    /// The commit it started from.
    pub base: &'a CommitId,
    /// The head its completion recorded, for when the branch is gone.
    pub head: Option<&'a CommitId>,
}

/// What `work` changed, read now in `repo` (the main repository).
pub fn read(repo: &git2::Repository, work: &Work<'_>, cache: &mut Cache) -> Changed {
    let mut out = Changed::default();
    let Some(base) = oid(work.base) else {
        out.unseen = Some("its base is not a commit id".into());
        return out;
    };
    let worktree = work
        .worktree
        .filter(|w| w.symlink_metadata().is_ok_and(|m| m.is_dir()));
    let wt_repo = match worktree {
        Some(w) => match super::pool::foreign_git(work.common_dir, w) {
            Some(why) => {
                out.unseen = Some(why.to_owned());
                None
            }
            None => open_worktree(w),
        },
        None => None,
    };
    // The tip: the worktree's HEAD while it is here, else the branch (the recorded head when
    // the branch is gone).
    let tip = wt_repo
        .as_ref()
        .and_then(|r| r.head().ok()?.target())
        .or_else(|| {
            repo.find_reference(&format!("refs/heads/{}", work.branch?))
                .ok()?
                .target()
        })
        .or_else(|| work.head.and_then(oid));
    if let Some(tip) = tip {
        let (files, cut) = committed(repo, base, tip, cache);
        out.files = files;
        out.cut = cut;
    }
    if let (Some(r), Some(w)) = (&wt_repo, worktree) {
        out.worktree = true;
        let now = std::time::Instant::now();
        let (files, cut) = match cache.uncommitted.get(w) {
            Some((at, files, cut)) if now.duration_since(*at) < cache.fresh => {
                (files.clone(), *cut)
            }
            _ => {
                let mut files = BTreeSet::new();
                let cut = uncommitted(r, &mut files);
                if !cache.fresh.is_zero() {
                    cache
                        .uncommitted
                        .insert(w.to_path_buf(), (now, files.clone(), cut));
                }
                (files, cut)
            }
        };
        for f in files {
            out.cut |= add_paths(&mut out.files, [Some(Path::new(&f))]);
        }
        out.cut |= cut;
    }
    out
}

/// The file a dispatch's supervisor records its changes in, in its directory.
pub const RECORD: &str = "changes.json";

/// The most bytes a recorded list is read from (a worker can write its dispatch's directory).
const MAX_RECORD: u64 = 4 << 20;

/// Records `changed` in `dispatch_dir` (atomically; not durably: it is read again soon).
pub fn record(dispatch_dir: &Path, changed: &Changed) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(changed).map_err(std::io::Error::other)?;
    crate::files::write_atomic_private(&dispatch_dir.join(RECORD), &bytes, false)
}

/// The changes recorded in `dispatch_dir`, when a readable list is there (bounded, never
/// through a link, its file names at most [`MAX_FILES`]).
pub fn recorded(dispatch_dir: &Path) -> Option<Changed> {
    let bytes = crate::files::read_bounded(&dispatch_dir.join(RECORD), MAX_RECORD).ok()?;
    let mut changed: Changed = serde_json::from_slice(&bytes).ok()?;
    if changed.files.len() > MAX_FILES {
        changed.files = changed.files.into_iter().take(MAX_FILES).collect();
        changed.cut = true;
    }
    Some(changed)
}

fn oid(c: &CommitId) -> Option<git2::Oid> {
    git2::Oid::from_str(c.as_str()).ok()
}

/// A worktree opened as its own repository, without searching upwards.
fn open_worktree(path: &Path) -> Option<git2::Repository> {
    git2::Repository::open_ext(
        path,
        git2::RepositoryOpenFlags::NO_SEARCH,
        std::iter::empty::<&std::ffi::OsStr>(),
    )
    .ok()
}

/// The files changed between the merge base of `base` and `tip`, and `tip`.
fn committed(
    repo: &git2::Repository,
    base: git2::Oid,
    tip: git2::Oid,
    cache: &mut Cache,
) -> (BTreeSet<String>, bool) {
    let from = repo.merge_base(base, tip).unwrap_or(base);
    if from == tip {
        return Default::default();
    }
    if let Some(hit) = cache.committed.get(&(from, tip)) {
        return hit.clone();
    }
    let tree = |o: git2::Oid| repo.find_commit(o).ok()?.tree().ok();
    let (Some(old), Some(new)) = (tree(from), tree(tip)) else {
        return Default::default();
    };
    let mut files = BTreeSet::new();
    let mut cut = false;
    let mut opts = git2::DiffOptions::new();
    opts.ignore_submodules(true);
    if let Ok(diff) = repo.diff_tree_to_tree(Some(&old), Some(&new), Some(&mut opts)) {
        for d in diff.deltas() {
            cut |= add_paths(&mut files, [d.old_file().path(), d.new_file().path()]);
        }
    }
    cache.committed.insert((from, tip), (files.clone(), cut));
    (files, cut)
}

/// Adds what the worktree of `repo` holds uncommitted (staged, changed, untracked; not
/// ignored) to `files`; whether the list was cut.
fn uncommitted(repo: &git2::Repository, files: &mut BTreeSet<String>) -> bool {
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(true)
        .renames_head_to_index(false);
    let Ok(statuses) = repo.statuses(Some(&mut opts)) else {
        return false;
    };
    let mut cut = false;
    for e in statuses.iter() {
        if e.status() == git2::Status::CURRENT {
            continue;
        }
        let path = std::os::unix::ffi::OsStrExt::from_bytes(e.path_bytes());
        cut |= add_paths(files, [Some(Path::new::<std::ffi::OsStr>(path))]);
    }
    cut
}

/// Adds paths to `files` up to [`MAX_FILES`]; whether one did not fit.
fn add_paths<'a>(
    files: &mut BTreeSet<String>,
    paths: impl IntoIterator<Item = Option<&'a Path>>,
) -> bool {
    let mut cut = false;
    for p in paths.into_iter().flatten() {
        let p = p.to_string_lossy();
        if p.is_empty() || files.contains(p.as_ref()) {
            continue;
        }
        if files.len() >= MAX_FILES {
            cut = true;
            continue;
        }
        files.insert(p.into_owned());
    }
    cut
}
