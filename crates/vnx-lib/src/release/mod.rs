//! `vnx worktree-release`: finds the work teardown preserved — `dispatch/*` branches and
//! `.vnx-data/worktrees/dispatch-*` worktrees, with or without receipts — re-classifies each
//! against the current base and remote, and releases only what is provably safe: landed in
//! the base (`proof`) or exactly on the remote. Releasing (`apply`) records a
//! `worktree_released` receipt for every action. Nothing unlanded and unpushed is deleted.
//! `vnx tidy` (`tidy`) reads the same classification with each dispatch's state and releases
//! what is settled.

mod apply;
mod discard;
mod inventory;
pub mod journal;
pub mod proof;
pub mod prune;
pub mod tidy;

pub use apply::apply;
pub use discard::discard;

use crate::ids::{CommitId, DispatchId};
use std::path::PathBuf;

use crate::dispatch::liveness;
use crate::ledger::LedgerError;
use crate::process::ProcessError;
use crate::tmux::Tmux;
use crate::worktree::{RemoteState, Repo, WorktreeError};

use inventory::{Found, Recorded};

pub use crate::receipts::{
    ReleaseClass as Class, ReleaseEvidence as Evidence, ReleaseRule as Rule,
};

/// The receipt every release writes.
pub const EVENT: &str = <crate::receipts::WorktreeReleased as crate::receipts::Kind>::EVENT;

/// What the caller resolved.
#[derive(Clone, Debug)]
pub struct Options {
    /// What "landed" is measured against: a ref of the main checkout (`HEAD`, `main`,
    /// `origin/main`).
    pub base: String,
    /// The remote a pushed branch must be on, exactly.
    pub remote: String,
    /// The ledger receipts are read from and written to.
    pub ledger: PathBuf,
    /// The keys whose `pr_merged` receipts prove a landing on the forge (none: that proof is
    /// not used).
    pub trusted_keys: Vec<[u8; 32]>,
}

/// Errors that stop the whole command (a single item's failure is reported on the item).
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The base names no commit.
    #[error("base {base:?} does not name a commit in {root}")]
    BadBase {
        /// The base given.
        base: String,
        /// The repository.
        root: PathBuf,
    },
    /// The repository could not be read.
    #[error("could not read the repository at {root}")]
    Git {
        /// The repository.
        root: PathBuf,
        /// What running git said.
        #[source]
        source: ProcessError,
    },
    #[error(
        "released dispatch {id} but could not record its worktree_released receipt; stopped \
         before releasing more"
    )]
    /// A dispatch was released but its receipt could not be written; nothing more is released.
    Unrecorded {
        /// The dispatch released.
        id: String,
        /// Why the ledger refused.
        #[source]
        source: LedgerError,
    },
    /// A release's journal could not be kept.
    #[error("could not keep the release's journal {path}")]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The trusted keys could not be read.
    #[error(transparent)]
    Keys(#[from] crate::ledger::checkpoint::CheckpointError),
    /// A worktree operation failed.
    #[error(transparent)]
    Worktree(#[from] WorktreeError),
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl ReleaseError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            ReleaseError::BadBase { .. } => {
                Some("pass --base with a branch, tag or commit (e.g. main or origin/main)".into())
            }
            ReleaseError::Worktree(e) => e.hint(),
            ReleaseError::Ledger(e) => e.hint(),
            ReleaseError::Unrecorded { source, .. } => source.hint(),
            ReleaseError::Journal { .. } => {
                Some("check that .vnx-data/pending is writable and the disk has room".into())
            }
            ReleaseError::Keys(e) => e.hint(),
            ReleaseError::Git { .. } => None,
        }
    }
}

/// What releasing an item takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Actions {
    /// vnx locked the worktree when it was dirty; it is unlocked just before removal.
    pub unlock_worktree: bool,
    /// Remove the worktree.
    pub remove_worktree: bool,
    /// Delete the branch.
    pub delete_branch: bool,
    /// The dispatch directory of a dispatch that never started.
    pub remove_dispatch_dir: bool,
}

impl Actions {
    /// Whether there is anything to do.
    pub fn any(&self) -> bool {
        self.remove_worktree || self.delete_branch || self.remove_dispatch_dir
    }
}

/// What `apply` did to an item.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Done {
    /// Whether vnx's lock was removed.
    pub worktree_unlocked: bool,
    /// Whether the worktree was removed.
    pub worktree_removed: bool,
    /// Whether the branch was deleted.
    pub branch_deleted: bool,
    /// Whether the dispatch directory was removed.
    pub dispatch_dir_removed: bool,
    /// `-d` (git's own merge check passed) or `-D` (after vnx's proof, re-checked under the
    /// worktree lock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch_delete: Option<&'static str>,
    /// Why nothing was done after all (the state changed since it was classified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// What git refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The `worktree_released` receipt's line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_seq: Option<u64>,
}

/// One preserved dispatch.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Item {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// `dispatch/<id>`, when the branch exists.
    pub branch: Option<String>,
    /// The branch's tip, when it exists.
    pub tip: Option<CommitId>,
    /// `.vnx-data/worktrees/dispatch-<id>`, when it exists or git lists it.
    pub worktree: Option<PathBuf>,
    /// What the ledger says about the dispatch (`None`: no receipts, e.g. another ledger).
    pub recorded: Option<Recorded>,
    /// `.vnx-data/dispatches/<id>`, when it exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatch_dir: Option<PathBuf>,
    /// What it is now.
    pub class: Class,
    /// Why, in words.
    pub reason: String,
    /// Why releasing it is safe, when it is.
    pub evidence: Option<Evidence>,
    /// The paths its branch conflicts in with the base, when it has not landed and does:
    /// merging its tip into the base conflicts now, or the merge queue took it out for a
    /// conflict and nothing continued or merged it since (a worker's file names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<Vec<String>>,
    /// What releasing it takes.
    pub actions: Actions,
    /// What `apply` did, once it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done: Option<Done>,
}

/// The base as resolved.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Base {
    /// As given (`HEAD`, `origin/main`).
    #[serde(rename = "ref")]
    pub reference: String,
    /// The branch `HEAD` points at, when the base is `HEAD`.
    pub branch: Option<String>,
    /// The commit it resolved to.
    pub commit: CommitId,
}

/// Every preserved dispatch and what releasing would do.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    /// The base the branches were proven against.
    pub base: Base,
    /// The remote asked whether branches are pushed.
    pub remote: String,
    /// Whether `apply` ran.
    pub applied: bool,
    /// Every preserved dispatch found.
    pub items: Vec<Item>,
}

/// Lists and classifies the preserved dispatches of `repo`. Reads only: nothing is changed
/// (a merge proof may store merged objects that no ref names). Sessions are looked up on the
/// socket each dispatch recorded, and on `tmux`'s.
pub fn plan(repo: &Repo, options: &Options, tmux: &Tmux) -> Result<Plan, ReleaseError> {
    let base = resolve_base(repo, &options.base)?;
    let found = inventory::find(repo, &options.ledger)?
        .into_iter()
        // A dispatch directory alone is a leftover only when the dispatch never started.
        .filter(|f| {
            f.tip.is_some()
                || f.worktree.is_some()
                || f.dispatch_dir
                    .as_deref()
                    .is_some_and(|d| never_started(f.recorded.as_ref(), d))
        });
    let mut remote = inventory::RemoteHeads::new(repo, &options.remote);
    let items = found
        .map(|f| classify(repo, &base, f, &mut remote, tmux, options))
        .collect();
    Ok(Plan {
        base,
        remote: options.remote.clone(),
        applied: false,
        items,
    })
}

fn resolve_base(repo: &Repo, reference: &str) -> Result<Base, ReleaseError> {
    let bad = || ReleaseError::BadBase {
        base: reference.to_owned(),
        root: repo.root.clone(),
    };
    let git = git2::Repository::open(&repo.root).map_err(|_| bad())?;
    let commit = git
        .revparse_single(reference)
        .and_then(|o| o.peel_to_commit())
        .map_err(|_| bad())?
        .id()
        .into();
    let head = git.head().ok();
    let branch = head
        .as_ref()
        .filter(|h| reference == "HEAD" && h.is_branch())
        .and_then(|h| h.shorthand().ok())
        .map(str::to_owned);
    Ok(Base {
        reference: reference.to_owned(),
        branch,
        commit,
    })
}

/// Whether the dispatch directory belongs to a dispatch that never started: the ledger has no
/// `dispatch_started` for it and no supervisor ever ran in it (no worker log).
pub(crate) fn never_started(recorded: Option<&Recorded>, dir: &std::path::Path) -> bool {
    !recorded.is_some_and(|r| r.started) && !dir.join("worker.log").exists()
}

/// How long a dispatch whose completion is on the ledger is given for its supervisor to finish
/// what it does after the completion and leave, before it counts as running.
const SUPERVISOR_FINISHING: std::time::Duration = std::time::Duration::from_secs(15);

/// Whether the tmux session the dispatch recorded is there now.
fn recorded_live_now(f: &Found) -> bool {
    f.recorded
        .as_ref()
        .and_then(Recorded::tmux)
        .is_some_and(|(socket, name)| Tmux::new(socket).has_session(&name))
}

/// What keeps the dispatch alive, if anything (see `dispatch::liveness`).
pub(crate) fn alive(
    repo: &Repo,
    id: &DispatchId,
    worktree: Option<&std::path::Path>,
    session: (&str, bool),
) -> Option<liveness::Alive> {
    let dir = inventory::dispatches_dir(repo).join(id);
    liveness::alive(&dir, worktree, Some(session))
}

fn classify(
    repo: &Repo,
    base: &Base,
    f: Found,
    remote: &mut inventory::RemoteHeads,
    tmux: &Tmux,
    options: &Options,
) -> Item {
    let unstarted = f
        .dispatch_dir
        .as_deref()
        .is_some_and(|d| never_started(f.recorded.as_ref(), d));
    let nothing_else = f.tip.is_none() && f.worktree.is_none();
    let mut item = classify_work(repo, base, f, remote, tmux, options);
    if unstarted && item.class != Class::Running {
        if nothing_else {
            item.class = Class::Unstarted;
            item.reason = "its launcher died before the dispatch started, and left only its \
                           dispatch directory"
                .into();
            item.actions.remove_dispatch_dir = true;
        } else if item.actions.any() {
            item.reason
                .push_str("; its launcher died before the dispatch started");
            item.actions.remove_dispatch_dir = true;
        }
    }
    item
}

fn classify_work(
    repo: &Repo,
    base: &Base,
    f: Found,
    remote: &mut inventory::RemoteHeads,
    tmux: &Tmux,
    options: &Options,
) -> Item {
    let mut item = Item {
        dispatch_id: f.id.clone(),
        branch: f.tip.as_ref().map(|_| f.branch.clone()),
        tip: f.tip.clone(),
        worktree: f.worktree.as_ref().map(|w| w.path.clone()),
        recorded: f.recorded.clone(),
        dispatch_dir: f.dispatch_dir.clone(),
        class: Class::Blocked,
        reason: String::new(),
        evidence: None,
        conflicts: None,
        actions: Actions::default(),
        done: None,
    };
    let keep = |mut item: Item, class, reason: String| {
        item.class = class;
        item.reason = reason;
        item.actions = Actions::default();
        item
    };
    let session = format!("vnx-{}", f.id);
    let session_live = recorded_live_now(&f) || tmux.has_session(&session);
    let worktree_path = f.worktree.as_ref().map(|w| w.path.as_path());
    let mut live = alive(repo, &f.id, worktree_path, (&session, session_live));
    // Ended on the ledger: only its supervisor's last chores (emptying the trash, refilling
    // the pool, starting queued dispatches) keep it alive, and they are waited for (no lock
    // is held here; those chores take the worktree lock).
    if f.recorded.as_ref().is_some_and(|r| r.completed) {
        let start = std::time::Instant::now();
        while live.is_some() && start.elapsed() < SUPERVISOR_FINISHING {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let session_live = recorded_live_now(&f) || tmux.has_session(&session);
            live = alive(repo, &f.id, worktree_path, (&session, session_live));
        }
    }
    if let Some(why) = live {
        return keep(
            item,
            Class::Running,
            format!("{why}: the dispatch may still be running"),
        );
    }
    if f.tip.is_none() && f.worktree.is_none() {
        return keep(item, Class::Blocked, "no worktree or branch is left".into());
    }
    if let Some(wt) = &f.worktree {
        match inventory::worktree_state(wt, &f) {
            Err((class, reason)) => return keep(item, class, reason),
            Ok(unlock) => item.actions.unlock_worktree = unlock,
        }
    }
    let Some(tip) = f.tip.clone() else {
        return keep(
            item,
            Class::Blocked,
            "the worktree's branch has no commit".into(),
        );
    };
    if let Some(at) = &f.checked_out_elsewhere {
        return keep(
            item,
            Class::Blocked,
            format!("{} is checked out at {}", f.branch, at.display()),
        );
    }
    let worktree = f.worktree.is_some();
    let release = |mut item: Item, class, reason: String, evidence| {
        item.class = class;
        item.reason = reason;
        item.evidence = Some(evidence);
        item.actions.remove_worktree = worktree;
        item.actions.delete_branch = true;
        item
    };
    let base_name = base.branch.as_deref().unwrap_or(&base.reference);
    let proven = |rule, tip| Evidence {
        rule,
        tip,
        base_ref: base.reference.clone(),
        base_commit: base.commit.clone(),
        merge_base: None,
        remote: None,
        remote_commit: None,
        pull_request: None,
        merge_commit: None,
    };
    let conflict = f.recorded.as_ref().and_then(|r| r.conflict.as_ref());
    item.conflicts = conflict.cloned();
    match proof::measure(&repo.root, tip.as_str(), base.commit.as_str()) {
        // A branch the merge queue took out for a conflict was never merged: a base whose
        // content came to match it (the task made again, by a replay) is not its landing.
        Ok(proof::Measured::Landed(p)) if p.rule == Rule::Contained && conflict.is_some() => {
            let files = conflict.map(|c| c.join(", ")).unwrap_or_default();
            return keep(
                item,
                Class::Unlanded,
                format!(
                    "not merged: its merge was taken out of the queue for a conflict in \
                     {files}, and {base_name} matching its changes is not its merge"
                ),
            );
        }
        Ok(proof::Measured::Landed(p)) => {
            item.conflicts = None;
            let reason = match p.rule {
                Rule::Ancestor => format!("its tip is in {base_name}'s history"),
                _ => format!(
                    "merging it into {base_name} changes nothing (squash- or rebase-merged)"
                ),
            };
            let evidence = Evidence {
                merge_base: p.merge_base,
                ..proven(p.rule, tip)
            };
            return release(item, Class::Landed, reason, evidence);
        }
        Ok(proof::Measured::Conflicts(paths)) => item.conflicts = Some(paths),
        Ok(proof::Measured::Apart) => {}
        Err(e) => return keep(item, Class::Blocked, format!("could not compare it: {e}")),
    }
    match proof::pr_merged(
        &options.ledger,
        &f.branch,
        tip.as_str(),
        &options.trusted_keys,
    ) {
        Ok(Some(m)) => {
            let reason = format!(
                "its pull request #{} was merged on the forge with its tip as the head",
                m.number
            );
            let evidence = Evidence {
                pull_request: Some(m.number),
                merge_commit: Some(m.merge_commit),
                ..proven(Rule::PrMerged, tip)
            };
            return release(item, Class::Landed, reason, evidence);
        }
        Ok(None) => {}
        Err(e) => {
            return keep(
                item,
                Class::Blocked,
                format!("could not read the ledger: {e}"),
            );
        }
    }
    let state = remote.state(&f.branch, tip.as_str());
    let name = &remote.name;
    let why = match state {
        RemoteState::InSync => {
            let evidence = Evidence {
                remote: Some(name.clone()),
                remote_commit: Some(tip.to_string()),
                ..proven(Rule::Remote, tip)
            };
            let reason = format!("{name}/{} is exactly its tip", f.branch);
            return release(item, Class::Pushed, reason, evidence);
        }
        RemoteState::NoRemote => format!("there is no remote {name}"),
        RemoteState::Absent => format!("{name} has no {}", f.branch),
        RemoteState::Differs(at) => format!("{name} has {} at {at}", f.branch),
        RemoteState::Unreachable(e) => {
            format!("{name} could not be asked ({e}), so it is not pushed")
        }
        RemoteState::NotChecked => "not checked".into(),
    };
    keep(
        item,
        Class::Unlanded,
        format!("not in {base_name}, and {why}"),
    )
}
