//! The supervisor's record of what its worker changed (`worktree::changes`), which the
//! conflict radar reads instead of walking every worktree: made again while the worker shows
//! activity, at most every [`EVERY`], and once more when it ended, before teardown (which
//! commits or keeps those changes, and may remove the worktree).

use std::time::{Duration, Instant};

use crate::dispatch::spec::Spec;
use crate::worktree::changes::{self, Cache, Work};

/// How often a busy worker's changes are read again.
pub(super) const EVERY: Duration = Duration::from_secs(10);

/// When the changes are read next, and whether the worker did anything since the last read.
pub(super) struct ChangesWatch {
    next: Instant,
    active: bool,
    cache: Cache,
}

impl ChangesWatch {
    /// A watch whose first read is a few seconds after `now`.
    pub(super) fn new(now: Instant) -> ChangesWatch {
        ChangesWatch {
            next: now + Duration::from_secs(2),
            active: true,
            cache: Cache::default(),
        }
    }

    /// When the changes are read next, if the worker did anything since the last read.
    pub(super) fn due(&self) -> Option<Instant> {
        self.active.then_some(self.next)
    }

    /// Reads and records the changes when it is time and the worker was `active` since.
    pub(super) fn tick(&mut self, spec: &Spec, now: Instant, active: bool) {
        self.active |= active;
        if now < self.next || !self.active {
            return;
        }
        record(spec, &mut self.cache);
        self.active = false;
        self.next = now + EVERY;
    }
}

/// Reads what `spec`'s worker changed and records it in its dispatch directory; nothing when
/// the repository cannot be opened (the radar then reads the dispatch itself).
pub(super) fn record(spec: &Spec, cache: &mut Cache) {
    let Ok(repo) = git2::Repository::open(&spec.repo_root) else {
        return;
    };
    let common =
        std::fs::canonicalize(&spec.git_common_dir).unwrap_or_else(|_| spec.git_common_dir.clone());
    let work = Work {
        common_dir: &common,
        worktree: Some(&spec.worktree),
        branch: Some(&spec.branch),
        base: &spec.base_commit,
        head: None,
    };
    let changed = changes::read(&repo, &work, cache);
    let _ = changes::record(&spec.dispatch_dir, &changed);
}
