//! Pruning old dispatch and gate directories (`vnx prune`): the files vnx keeps per dispatch
//! (`.vnx-data/dispatches/ID`: instruction, prompt, spec, worker log, report) and per gate run
//! (`.vnx-data/gates/ID`), removed once nothing can need them any more. The receipts stay on
//! the ledger; only the files beside them go.
//!
//! A dispatch's directories are kept, whatever their age, while anything may still read them:
//! it has not ended on the ledger (running, blocked, or lost and awaiting recovery); its
//! worktree or its branch still exists (a follow-up, gate check or merge reads its
//! instruction and spec); an open dispatch continues it; or its lock, or one of its gate
//! runs' locks, is held.
//!
//! Gate checkouts a killed gate run left go too, whatever their age: a checkout git still has
//! registered under `.vnx-data/gates/` whose run's lock is free (see
//! [`crate::gate::run_lock`]; a run holds it while its checkouts exist, so one that is free
//! names a `gate-check` or `merge` that died before removing its own). Each is removed with
//! `git worktree remove --force --force`, which deletes the files without following links
//! or running anything in the checkout, and drops the registration; one whose `.git` its gate
//! redirected is removed without running git in it (a checkout of a worker's head is hostile
//! input). A checkout holds only a checkout of a recorded head: removing it loses no work.

use crate::ids::DispatchId;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::dispatch::liveness::LOCK_FILE;
use crate::dispatch::view::{self, DispatchState};
use crate::gate::run_lock;
use crate::ledger::LedgerError;
use crate::process::{self, Cmd};
use crate::tmux::Tmux;
use crate::worktree::Repo;

/// One dispatch whose directories may go.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Prunable {
    /// The dispatch id (the directories' name).
    pub dispatch_id: DispatchId,
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
    pub dispatch_id: DispatchId,
    /// Why they stay.
    pub reason: String,
}

/// A gate checkout a killed gate run left: registered with git under `.vnx-data/gates/`,
/// its run's lock free.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LeftCheckout {
    /// The dispatch whose head it checked out.
    pub dispatch_id: DispatchId,
    /// The gate run that made it.
    pub run: String,
    /// The gate it was made for.
    pub gate: String,
    /// The checkout, as git registered it.
    pub path: PathBuf,
    /// Why it may go, in words.
    pub reason: String,
}

/// What pruning would do.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PrunePlan {
    /// Directories old enough that nothing needs.
    pub prune: Vec<Prunable>,
    /// Directories old enough that something still needs.
    pub kept: Vec<Kept>,
    /// Gate checkouts killed gate runs left, whatever their age.
    pub gate_checkouts: Vec<LeftCheckout>,
}

/// How removing one leftover gate checkout went.
#[derive(Debug)]
pub struct CheckoutRemoved {
    /// The checkout.
    pub path: PathBuf,
    /// `None` when removed; else why not.
    pub error: Option<String>,
}

/// How removing one dispatch's directories went.
#[derive(Debug)]
pub struct Pruned {
    /// The dispatch id.
    pub dispatch_id: DispatchId,
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

impl PruneError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            PruneError::Ledger(_) => "`vnx audit-chain verify` says what is wrong with the ledger",
            PruneError::List { .. } => "check the permissions of .vnx-data",
        }
    }
}

/// The dispatch and gate directories idle for longer than `older_than` at `now`, split into
/// those nothing needs and those kept, and the gate checkouts killed gate runs left (see the
/// module documentation).
pub fn plan(
    repo: &Repo,
    ledger: &Path,
    tmux: &Tmux,
    older_than: Duration,
    now: SystemTime,
) -> Result<PrunePlan, PruneError> {
    let data = repo.root.join(crate::project::DATA_DIR);
    let roots = [data.join("dispatches"), data.join(crate::gate::GATES_DIR)];
    let mut ids: std::collections::BTreeMap<DispatchId, Vec<PathBuf>> = Default::default();
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
            // Only directories named for a dispatch are the dispatches'.
            let id = e
                .file_name()
                .to_str()
                .and_then(|n| DispatchId::parse(n).ok());
            if let (true, Some(id)) = (is_dir, id) {
                ids.entry(id).or_default().push(e.path());
            }
        }
    }
    let states = view::list(ledger, tmux)?;
    let git = git2::Repository::open(&repo.root).ok();
    let mut out = PrunePlan {
        gate_checkouts: gate_leftovers(&repo.root),
        ..PrunePlan::default()
    };
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

/// The gate checkouts killed gate runs left in the repository at `root`: registered with git
/// under `.vnx-data/gates/<id>/<run>/<gate>/checkout`, their run's lock free. Never one whose
/// run is alive, however old.
pub fn gate_leftovers(root: &Path) -> Vec<LeftCheckout> {
    let Some(gates) = gates_dir(root) else {
        return Vec::new();
    };
    let Ok(git) = git2::Repository::open(root) else {
        return Vec::new();
    };
    let Ok(names) = git.worktrees() else {
        return Vec::new();
    };
    let mut left: Vec<LeftCheckout> = names
        .iter()
        .flatten()
        .flatten()
        .filter_map(|name| git.find_worktree(name).ok())
        .filter_map(|wt| {
            let path = wt.path().to_owned();
            let owner = run_lock::owner(&gates, &path)?;
            if run_lock::alive(&owner.run_dir) {
                return None;
            }
            let gone = if path.symlink_metadata().is_err() {
                "; missing on disk"
            } else {
                ""
            };
            Some(LeftCheckout {
                reason: format!(
                    "its gate run's lock ({}/{}) is free: the run was killed before it removed \
                     its checkout{gone}",
                    owner.run,
                    run_lock::LOCK_FILE
                ),
                dispatch_id: owner.dispatch_id,
                run: owner.run,
                gate: owner.gate,
                path,
            })
        })
        .collect();
    left.sort_by(|a, b| a.path.cmp(&b.path));
    left
}

/// `.vnx-data/gates/` as git names its checkouts (links resolved), when it exists.
fn gates_dir(root: &Path) -> Option<PathBuf> {
    let gates = root
        .join(crate::project::DATA_DIR)
        .join(crate::gate::GATES_DIR);
    std::fs::canonicalize(gates).ok()
}

/// Removes each leftover gate checkout and its registration, each under its run's lock
/// (taken again, so a run that is alive after all is never touched).
pub fn remove_gate_checkouts(repo: &Repo, items: &[LeftCheckout]) -> Vec<CheckoutRemoved> {
    items
        .iter()
        .map(|item| CheckoutRemoved {
            path: item.path.clone(),
            error: remove_checkout(repo, &item.path).err(),
        })
        .collect()
}

fn remove_checkout(repo: &Repo, path: &Path) -> Result<(), String> {
    let owner = gates_dir(&repo.root)
        .and_then(|gates| run_lock::owner(&gates, path))
        .ok_or_else(|| format!("{} is no longer a gate checkout", path.display()))?;
    let _run = run_lock::claim(&owner.run_dir)?;
    // A `.git` the gate's command redirected (or an admin directory holding a link): git
    // would read what the worker's code chose, so the files go without it.
    if path.symlink_metadata().is_ok()
        && let Some(why) = repo.foreign_git(path)
    {
        return repo
            .remove_unread(path)
            .map_err(|e| format!("{}: {why}: {e}", path.display()));
    }
    let _lock = repo.lock().map_err(|e| e.to_string())?;
    // Twice forced: one the gate's command locked goes too; a scratch checkout holds no work.
    process::run_ok(
        &Cmd::git()
            .arg("-C")
            .arg(&repo.root)
            .args(["worktree", "remove", "--force", "--force"])
            .arg(path),
    )
    .map(drop)
    .map_err(|e| e.to_string())
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
    // Holding each lock file there is while removing: the dispatch's, and each gate run's.
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
        for run in subdirs(dir) {
            held.extend(run_lock::claim(&run)?);
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
    id: &DispatchId,
    state: Option<&DispatchState>,
    all: &[DispatchState],
) -> Option<String> {
    let data = repo.root.join(crate::project::DATA_DIR);
    if crate::dispatch::liveness::locked(&data.join("dispatches").join(id)) {
        return Some("its lock is held: it runs".into());
    }
    let gates = data.join(crate::gate::GATES_DIR).join(id);
    if let Some(run) = subdirs(&gates).find(|run| run_lock::alive(run)) {
        return Some(format!(
            "its gate run {} holds its lock: it runs",
            run.file_name().unwrap_or_default().to_string_lossy()
        ));
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
    if let Some(open) = all.iter().find(|s| {
        s.continues.as_ref().map(|i| i.as_str()) == Some(id.as_str()) && s.completion.is_none()
    }) {
        return Some(format!("the open dispatch {} continues it", open.id));
    }
    None
}

/// The directories in `dir` (links not followed).
fn subdirs(dir: &Path) -> impl Iterator<Item = PathBuf> + use<> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
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
