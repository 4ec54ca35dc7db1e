//! The conflict radar: for each dispatch still in play (running, or ended with work that has
//! not landed), the files it changed against the commit it started from — its branch's
//! commits since their merge base with that commit, and, while its worktree is here, what its
//! worktree holds uncommitted — and, for each, the files another dispatch in play also changed
//! (`scan`, `Radar::overlaps`); the order that merges the dispatches overlapping least first
//! (`order`). Read in process through libgit2, bounded, a worktree's git files checked first
//! (a worker writes them): nothing here runs git or anything a worker planted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::dispatch::state::DispatchState;
use crate::ids::DispatchId;
use crate::worktree::changes;

mod order;

pub use crate::worktree::changes::{Cache, Changed, MAX_FILES};
pub use order::{Ordered, order, order_after};

/// A file one dispatch changed that others in play changed too.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Overlap {
    /// The path.
    pub file: String,
    /// The other dispatches that changed it.
    pub with: Vec<DispatchId>,
}

/// The changes of the dispatches in play, and which files more than one of them changed.
#[derive(Clone, Debug, Default)]
pub struct Radar {
    changed: BTreeMap<DispatchId, Changed>,
    by_file: BTreeMap<String, Vec<DispatchId>>,
}

impl Radar {
    /// The radar of these changes.
    pub fn of(changed: BTreeMap<DispatchId, Changed>) -> Radar {
        let mut by_file: BTreeMap<String, Vec<DispatchId>> = BTreeMap::new();
        for (id, c) in &changed {
            for f in &c.files {
                by_file.entry(f.clone()).or_default().push(id.clone());
            }
        }
        by_file.retain(|_, ids| ids.len() > 1);
        Radar { changed, by_file }
    }

    /// What dispatch `id` changed, when it is in play.
    pub fn changed(&self, id: &DispatchId) -> Option<&Changed> {
        self.changed.get(id)
    }

    /// The files `id` changed that another dispatch in play changed too, each with those
    /// dispatches, by path.
    pub fn overlaps(&self, id: &DispatchId) -> Vec<Overlap> {
        let Some(c) = self.changed.get(id) else {
            return Vec::new();
        };
        // The shared files are few: walk them, not every file the dispatch changed.
        if self.by_file.len() < c.files.len() {
            self.by_file
                .iter()
                .filter(|(f, ids)| ids.contains(id) && c.files.contains(*f))
                .map(|(f, ids)| overlap(f, ids, id))
                .collect()
        } else {
            c.files
                .iter()
                .filter_map(|f| Some(overlap(f, self.by_file.get(f)?, id)))
                .collect()
        }
    }

    /// The files `id` shares, by the other dispatch, in a line (`shares a.rs, b.rs with d-2;
    /// a.rs with d-3`), at most three files each; `None` when it shares none. The paths are a
    /// worker's: a front end escapes the line.
    pub fn line(&self, id: &DispatchId) -> Option<String> {
        let mut by_other: BTreeMap<&DispatchId, Vec<&str>> = BTreeMap::new();
        let overlaps = self.overlaps(id);
        for o in &overlaps {
            for w in &o.with {
                by_other.entry(w).or_default().push(&o.file);
            }
        }
        let parts: Vec<String> = by_other
            .iter()
            .map(|(other, files)| {
                let more = files.len().saturating_sub(3);
                let more = if more > 0 {
                    format!(" (+{more} more)")
                } else {
                    String::new()
                };
                format!(
                    "{}{more} with {other}",
                    files[..files.len().min(3)].join(", ")
                )
            })
            .collect();
        (!parts.is_empty()).then(|| format!("shares {}", parts.join("; ")))
    }

    /// Whether any two dispatches in play changed the same file.
    pub fn any(&self) -> bool {
        !self.by_file.is_empty()
    }
}

fn overlap(file: &str, ids: &[DispatchId], id: &DispatchId) -> Overlap {
    Overlap {
        file: file.to_owned(),
        with: ids.iter().filter(|o| *o != id).cloned().collect(),
    }
}

/// Whether a dispatch is in play for the radar ([`DispatchState::in_play`]).
pub fn in_play(s: &DispatchState) -> bool {
    s.in_play()
}

/// The changes of the dispatches in play among `states` in the repository at `root`: each as
/// its supervisor last recorded it in its directory (as the worker went, and
/// at its end), else read now (`cache` keeps what is read, for a caller that scans again).
pub fn scan(root: &Path, states: &[DispatchState], cache: &mut Cache) -> Radar {
    let mut repo = None;
    let changed = states
        .iter()
        .filter(|s| in_play(s))
        .map(|s| {
            let dir = crate::dispatch::dir_of(root, &s.id);
            if let Some(c) = changes::recorded(&dir) {
                return (s.id.clone(), c);
            }
            let repo = repo.get_or_insert_with(|| git2::Repository::open(root).ok());
            let Some(repo) = repo.as_ref() else {
                return (s.id.clone(), Changed::default());
            };
            (s.id.clone(), read_now(repo, s, cache))
        })
        .collect();
    Radar::of(changed)
}

/// What dispatch `s` changed, read now.
fn read_now(repo: &git2::Repository, s: &DispatchState, cache: &mut Cache) -> Changed {
    let Some(base) = s.base_commit.as_ref() else {
        return Changed {
            unseen: Some("its start records no base commit".into()),
            ..Changed::default()
        };
    };
    let common =
        std::fs::canonicalize(repo.commondir()).unwrap_or_else(|_| repo.commondir().into());
    let worktree = s.worktree.as_deref().map(PathBuf::from);
    let work = changes::Work {
        common_dir: &common,
        worktree: worktree.as_deref(),
        branch: s.branch.as_deref(),
        base,
        head: s.head_commit.as_ref(),
    };
    changes::read(repo, &work, cache)
}

#[cfg(test)]
mod tests;
