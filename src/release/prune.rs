//! Pruning old dispatch and gate directories (`vnx prune`): the files vnx keeps per dispatch
//! (`.vnx-data/dispatches/ID`: instruction, prompt, spec, worker log, report) and per gate run
//! (`.vnx-data/gates/ID`), removed once nothing can need them any more. The receipts stay on
//! the ledger; only the files beside them go.
//!
//! A dispatch's directories are kept, whatever their age, while anything may still read them:
//! it has not ended on the ledger (running, blocked, or lost and awaiting recovery); its
//! worktree or its branch still exists (a follow-up, gate check or merge reads its
//! instruction and spec); an open dispatch continues it; or its lock is held.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::dispatch::liveness::LOCK_FILE;
use crate::dispatch::view::{self, DispatchState};
use crate::ledger::LedgerError;
use crate::tmux::Tmux;
use crate::worktree::Repo;

/// One dispatch whose directories may go.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Prunable {
    /// The dispatch id (the directories' name).
    pub dispatch_id: String,
    /// The directories to remove.
    pub paths: Vec<PathBuf>,
    /// Their size in bytes.
    pub bytes: u64,
    /// Seconds since anything in them last changed.
    pub idle_seconds: u64,
    /// Why it may go, in words.
    pub reason: String,
}

/// One dispatch whose old directories are kept, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Kept {
    /// The dispatch id.
    pub dispatch_id: String,
    /// Why they stay.
    pub reason: String,
}

/// What pruning would do.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PrunePlan {
    /// Directories old enough that nothing needs.
    pub prune: Vec<Prunable>,
    /// Directories old enough that something still needs.
    pub kept: Vec<Kept>,
}

/// How removing one dispatch's directories went.
#[derive(Debug)]
pub struct Pruned {
    /// The dispatch id.
    pub dispatch_id: String,
    /// `None` when removed; else why not.
    pub error: Option<String>,
}

/// Errors that stop pruning before anything is removed.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// The ledger could not be read: without it nothing can be called unneeded.
    #[error("cannot tell which dispatches are still open")]
    Ledger(#[from] LedgerError),
    /// A data directory could not be listed.
    #[error("cannot list {path}")]
    List {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The dispatch and gate directories idle for longer than `older_than` at `now`, split into
/// those nothing needs and those kept (see the module documentation).
pub fn plan(
    repo: &Repo,
    ledger: &Path,
    tmux: &Tmux,
    older_than: Duration,
    now: SystemTime,
) -> Result<PrunePlan, PruneError> {
    let data = repo.root.join(crate::project::DATA_DIR);
    let roots = [data.join("dispatches"), data.join(crate::gate::GATES_DIR)];
    let mut ids: std::collections::BTreeMap<String, Vec<PathBuf>> = Default::default();
    for root in &roots {
        let entries = match std::fs::read_dir(root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(PruneError::List {
                    path: root.clone(),
                    source,
                });
            }
        };
        for e in entries.flatten() {
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if let (true, Some(name)) = (is_dir, e.file_name().to_str()) {
                ids.entry(name.to_owned()).or_default().push(e.path());
            }
        }
    }
    let states = view::list(ledger, tmux)?;
    let git = git2::Repository::open(&repo.root).ok();
    let mut out = PrunePlan::default();
    for (id, paths) in ids {
        let (newest, bytes) = paths.iter().fold((None, 0), |(newest, bytes), p| {
            let (n, b) = newest_and_size(p);
            (newest.max(n), bytes + b)
        });
        let idle = newest
            .and_then(|t| now.duration_since(t).ok())
            .unwrap_or_default();
        if idle <= older_than {
            continue;
        }
        let state = states.iter().find(|s| s.id == id);
        match needed(repo, git.as_ref(), &id, state, &states) {
            Some(reason) => out.kept.push(Kept {
                dispatch_id: id,
                reason,
            }),
            None => out.prune.push(Prunable {
                reason: match state {
                    Some(s) => format!("{}, its worktree and branch are gone", s.shown()),
                    None => "never started (no dispatch_started on the ledger)".into(),
                },
                dispatch_id: id,
                paths,
                bytes,
                idle_seconds: idle.as_secs(),
            }),
        }
    }
    Ok(out)
}

/// Removes each dispatch's directories, under its lock so a dispatch that comes back to life
/// (a follow-up claiming it) is never pulled from under it.
pub fn prune(items: &[Prunable]) -> Vec<Pruned> {
    items
        .iter()
        .map(|item| Pruned {
            dispatch_id: item.dispatch_id.clone(),
            error: prune_one(item).err(),
        })
        .collect()
}

fn prune_one(item: &Prunable) -> Result<(), String> {
    // Holding each lock file there is (a gate directory has none) while removing.
    let mut held = Vec::new();
    for dir in &item.paths {
        if let Ok(file) = File::open(dir.join(LOCK_FILE)) {
            match file.try_lock() {
                Ok(()) => held.push(file),
                Err(TryLockError::WouldBlock) => {
                    return Err(format!("{} is locked: it runs again", dir.display()));
                }
                Err(TryLockError::Error(e)) => return Err(format!("{}: {e}", dir.display())),
            }
        }
    }
    for dir in &item.paths {
        std::fs::remove_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(())
}

/// Why a dispatch's directories are still needed, if they are.
fn needed(
    repo: &Repo,
    git: Option<&git2::Repository>,
    id: &str,
    state: Option<&DispatchState>,
    all: &[DispatchState],
) -> Option<String> {
    let data = repo.root.join(crate::project::DATA_DIR);
    if crate::dispatch::liveness::locked(&data.join("dispatches").join(id)) {
        return Some("its lock is held: it runs".into());
    }
    if let Some(s) = state
        && s.completion.is_none()
    {
        return Some(format!("{}: it has not ended on the ledger", s.shown()));
    }
    // The worktree and branch it worked in: its own, or, for a follow-up, the first
    // dispatch's of its chain (as its start recorded them).
    let worktree = state
        .and_then(|s| s.worktree.clone())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo.worktrees_dir().join(format!("dispatch-{id}")));
    if worktree.symlink_metadata().is_ok() {
        return Some(format!(
            "its worktree {} is still there",
            worktree.display()
        ));
    }
    let branch = state
        .and_then(|s| s.branch.clone())
        .unwrap_or_else(|| format!("dispatch/{id}"));
    if git.is_some_and(|g| g.find_branch(&branch, git2::BranchType::Local).is_ok()) {
        return Some(format!("its branch {branch} is still there"));
    }
    if let Some(open) = all
        .iter()
        .find(|s| s.continues.as_deref() == Some(id) && s.completion.is_none())
    {
        return Some(format!("the open dispatch {} continues it", open.id));
    }
    None
}

/// The newest modification time of anything under `path`, and the bytes of its files.
fn newest_and_size(path: &Path) -> (Option<SystemTime>, u64) {
    let Ok(meta) = path.symlink_metadata() else {
        return (None, 0);
    };
    let mut newest = meta.modified().ok();
    let mut bytes = if meta.is_file() { meta.len() } else { 0 };
    if meta.is_dir()
        && let Ok(entries) = std::fs::read_dir(path)
    {
        for e in entries.flatten() {
            let (n, b) = newest_and_size(&e.path());
            newest = newest.max(n);
            bytes += b;
        }
    }
    (newest, bytes)
}
