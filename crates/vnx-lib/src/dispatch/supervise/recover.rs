//! Recording the end of a dispatch whose supervisor died after its worker reported
//! (`vnx recover`): the sealed report is checked again (the seal is made from the signing
//! key, so it outlives the supervisor), then the end is recorded as the supervisor would
//! have: a done worker's changes committed, the worktree classified and released, the
//! phantom guard applied, the signed `dispatch_completed` appended, marked `recovered`.
//!
//! Everything the recovery acts on comes from evidence a worker cannot write: the dispatch's
//! attested `dispatch_started` (worktree, branch, base, placed files, sandbox) and the
//! report's MAC. The dispatch directory's `spec.json` is read only for what the start does
//! not record, and only if it agrees with the start; nothing there is followed through a
//! link or waited on.

use crate::ids::DispatchId;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use crate::dispatch::supervise::signals::{self, ReportFile, ReportStatus};
use crate::dispatch::supervise::{Concluded, conclude};
use crate::dispatch::view::{DispatchState, State};
use crate::dispatch::{DispatchError, Spec, liveness};
use crate::ledger::attest::{self, Attestor};
use crate::ledger::json::{self, Value};
use crate::ledger::{LedgerError, tail};
use crate::receipts::{
    self, CompletionSignal, DispatchCompleted, DispatchStarted, DispatchStatus, Kind,
};
use crate::worktree::{Repo, TeardownClass};

/// The largest `spec.json` read back.
const MAX_SPEC: u64 = 4 << 20;

/// What recovering one dispatch recorded.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Recovered {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// How it ended (after the phantom guard).
    pub status: DispatchStatus,
    /// What teardown found, when it could classify the worktree.
    pub teardown_class: Option<TeardownClass>,
    /// The entry hash of the last line appended (the completion, or its correction).
    pub entry_hash: String,
}

/// Why a dispatch cannot be recovered.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// Nothing of that id started here.
    #[error("dispatch {id} is not known here")]
    Unknown {
        /// The id asked for.
        id: String,
    },
    /// It is not lost: it ended, runs, waits in a queue, or runs on a remote host.
    #[error(
        "dispatch {id} is {state}, not lost: only a dispatch whose supervisor died is recovered"
    )]
    NotLost {
        /// The dispatch.
        id: String,
        /// Its state, as `vnx status` names it.
        state: String,
    },
    /// Something of it still runs (its lock is held, or a process works in its worktree).
    #[error("dispatch {id} is still alive: {why}")]
    Alive {
        /// The dispatch.
        id: String,
        /// What keeps it alive.
        why: String,
    },
    /// No trusted key attests its start.
    #[error("dispatch {id} has no attested dispatch_started")]
    Unattested {
        /// The dispatch.
        id: String,
    },
    /// Its worker left no report this dispatch's seal vouches for.
    #[error("dispatch {id} has no sealed report: {why}")]
    NoReport {
        /// The dispatch.
        id: String,
        /// Missing, or why the report file was refused.
        why: String,
    },
    /// Its `spec.json` cannot be read safely, or contradicts the signed start.
    #[error("dispatch {id}'s {} cannot be used: {problem}", path.display())]
    Spec {
        /// The dispatch.
        id: String,
        /// The spec file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The ledger could not be read or written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Teardown or the completion's append failed.
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
}

/// Where the project keeps things, as the recovery needs them.
pub struct Recovery<'a> {
    /// The repository (main checkout and common git directory).
    pub repo: &'a Repo,
    /// The ledger.
    pub ledger: &'a Path,
    /// The keys whose attestations count.
    pub trusted: &'a [[u8; 32]],
    /// Signs the completion, and makes the report seal again.
    pub attestor: &'a Attestor,
}

/// Recovers one dispatch, as `state` (from [`crate::dispatch::view::list`]) shows it.
pub fn recover(r: &Recovery<'_>, state: &DispatchState) -> Result<Recovered, RecoverError> {
    let id = state.id.as_str();
    if state.state != State::Lost || state.host.is_some() {
        return Err(RecoverError::NotLost {
            id: id.to_owned(),
            state: match &state.host {
                Some(host) if state.state == State::Lost => format!("lost on host {host}"),
                _ => state.state.name().to_owned(),
            },
        });
    }
    let data_dir = r.repo.root.join(crate::project::DATA_DIR);
    let dispatch_dir = data_dir.join("dispatches").join(id);
    // Held until the completion is on the ledger: a second recovery, or a supervisor, waits.
    let _held = take_lock(&dispatch_dir, id)?;
    let started = attested_start(r, id)?;
    let worktree = PathBuf::from(&started.worktree);
    if let Some(pid) = liveness::process_inside(&worktree) {
        return Err(RecoverError::Alive {
            id: id.to_owned(),
            why: format!("process {pid} works in its worktree"),
        });
    }
    let seal = signals::seal_for(r.attestor, id);
    let report = match signals::read_report(&dispatch_dir, id, &seal) {
        ReportFile::Accepted(report) => report,
        ReportFile::Rejected(why) => {
            return Err(RecoverError::NoReport {
                id: id.to_owned(),
                why,
            });
        }
        ReportFile::Missing => {
            return Err(RecoverError::NoReport {
                id: id.to_owned(),
                why: format!("its worker wrote no {}", signals::REPORT),
            });
        }
    };
    let spec = spec_of(r, &dispatch_dir, &started)?;
    let status = match report.status {
        ReportStatus::Done => DispatchStatus::Done,
        ReportStatus::Failed => DispatchStatus::Failed,
    };
    let completed = DispatchCompleted {
        lane: Some(started.lane),
        worker_log: Some(
            dispatch_dir
                .join("worker.log")
                .to_string_lossy()
                .into_owned(),
        ),
        failure_reason: (status == DispatchStatus::Failed)
            .then(|| "the worker reported failure".to_owned()),
        report: Some(report),
        recovered: Some(
            "its supervisor died before recording the end; recorded by `vnx recover` from \
             the worker's sealed report, with teardown done then"
                .to_owned(),
        ),
        ..DispatchCompleted::new(state.id.clone(), status, CompletionSignal::Report)
    };
    let Concluded {
        status,
        class,
        appended,
        ..
    } = conclude(&spec, r.repo, completed, r.attestor)?;
    Ok(Recovered {
        dispatch_id: state.id.clone(),
        status,
        teardown_class: class,
        entry_hash: appended
            .lines
            .last()
            .map(|l| l.entry_hash.clone())
            .unwrap_or_default(),
    })
}

/// The dispatch's lock, taken without waiting, never through a link or on a FIFO; a lock
/// file that is gone is made again.
fn take_lock(dispatch_dir: &Path, id: &str) -> Result<File, RecoverError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dispatch_dir.join(liveness::LOCK_FILE);
    let spec_err = |problem: String| RecoverError::Spec {
        id: id.to_owned(),
        path: path.clone(),
        problem,
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| spec_err(format!("cannot open the lock: {e}")))?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(spec_err("the lock is not a regular file".into()));
    }
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(RecoverError::Alive {
            id: id.to_owned(),
            why: format!("something holds {}", path.display()),
        }),
        Err(TryLockError::Error(e)) => Err(spec_err(format!("cannot lock: {e}"))),
    }
}

/// The dispatch's `dispatch_started`, if a trusted key attests it.
fn attested_start(r: &Recovery<'_>, id: &str) -> Result<DispatchStarted, RecoverError> {
    let needle = format!("\"dispatch_id\":\"{id}\"");
    let (lines, _) = tail::last_lines(r.ledger, usize::MAX, |l| {
        memchr::memmem::find(l, needle.as_bytes()).is_some()
            && memchr::memmem::find(l, b"\"event_type\":\"dispatch_started\"").is_some()
    })?;
    let mut any = false;
    for raw in lines.iter().rev() {
        let Some(object) = json::object_of_line(raw) else {
            continue;
        };
        if object.get("event_type").and_then(Value::as_str) != Some(DispatchStarted::EVENT)
            || object.get("dispatch_id").and_then(Value::as_str) != Some(id)
        {
            continue;
        }
        any = true;
        if attest::check(&object, r.trusted).is_valid()
            && let Some(read) = receipts::read::<DispatchStarted>(&object)
        {
            return Ok(read.receipt);
        }
    }
    Err(if any {
        RecoverError::Unattested { id: id.to_owned() }
    } else {
        RecoverError::Unknown { id: id.to_owned() }
    })
}

/// The supervisor's spec as teardown needs it: read from the dispatch directory (bounded, no
/// links, no FIFOs), everything the signed start records taken from the start, and what
/// locates the repository and the ledger taken from this command.
fn spec_of(
    r: &Recovery<'_>,
    dispatch_dir: &Path,
    started: &DispatchStarted,
) -> Result<Spec, RecoverError> {
    let id = &started.dispatch_id;
    let path = dispatch_dir.join("spec.json");
    let problem = |problem: String| RecoverError::Spec {
        id: id.to_string(),
        path: path.clone(),
        problem,
    };
    let data = crate::files::read_bounded(&path, MAX_SPEC)
        .map_err(|e| problem(format!("cannot be read safely: {e}")))?;
    let mut spec: Spec = serde_json::from_slice(&data)
        .map_err(|e| problem(format!("is not a dispatch spec: {e}")))?;
    // What the signed start says must be what the spec says: a spec the worker rewrote is
    // refused rather than trusted for anything.
    let agrees = [
        ("dispatch id", spec.id == *id),
        ("branch", spec.branch == started.branch),
        ("base commit", spec.base_commit == started.base_commit),
        (
            "worktree",
            spec.worktree.as_os_str() == started.worktree.as_str(),
        ),
        ("provider", spec.provider == started.provider),
        ("phantom guard (writes)", spec.writes == started.writes),
        ("placed files", spec.placed == started.vnx_files_placed),
        ("pool entry", spec.pool_entry == started.pooled_worktree),
        ("sandbox", spec.sandbox == started.sandbox),
        ("port", spec.port == started.port),
        (
            "continued dispatch",
            spec.continues.as_ref().map(|c| (&c.dispatch_id, &c.first))
                == started
                    .continues
                    .as_ref()
                    .map(|c| (&c.dispatch_id, &c.first)),
        ),
        (
            "included files",
            spec.included
                .iter()
                .map(|i| (&i.path, &i.sha256))
                .eq(started
                    .worktree_include
                    .iter()
                    .map(|i| (&i.path, &i.sha256))),
        ),
    ];
    if let Some((what, _)) = agrees.iter().find(|(_, same)| !same) {
        return Err(problem(format!(
            "its {what} is not the one the signed dispatch_started records"
        )));
    }
    spec.repo_root.clone_from(&r.repo.root);
    spec.git_common_dir.clone_from(&r.repo.common_dir);
    spec.dispatch_dir = dispatch_dir.to_owned();
    spec.ledger = r.ledger.to_owned();
    spec.model.clone_from(&started.model);
    spec.remote = "origin".into();
    Ok(spec)
}

/// The command that records a lost dispatch's end from its sealed report, for hints.
pub const COMMAND: &str = "vnx recover";

impl RecoverError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            RecoverError::Unknown { .. } => Some("`vnx status` lists the dispatches".into()),
            RecoverError::NotLost { .. } | RecoverError::Alive { .. } => Some(
                "a running dispatch records its own end: `vnx wait ID`; `vnx cancel ID` stops it"
                    .into(),
            ),
            RecoverError::NoReport { .. } | RecoverError::Unattested { .. } => Some(
                "nothing vouches for an end: look at its worktree and branch, then close it with                  `vnx cancel ID` (they are kept for `vnx worktree-release`)"
                    .into(),
            ),
            RecoverError::Spec { .. } => Some(
                "the dispatch directory was changed after the start: close it with `vnx cancel                  ID` and review its worktree and branch by hand"
                    .into(),
            ),
            RecoverError::Ledger(e) => e.hint(),
            RecoverError::Dispatch(e) => e.hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_held_elsewhere_says_alive_and_a_linked_lock_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let held = liveness::hold(d.path()).unwrap();
        assert!(matches!(
            take_lock(d.path(), "D-1"),
            Err(RecoverError::Alive { .. })
        ));
        drop(held);
        assert!(take_lock(d.path(), "D-1").is_ok());
        let other = tempfile::tempdir().unwrap();
        std::fs::remove_file(d.path().join(liveness::LOCK_FILE)).unwrap();
        std::os::unix::fs::symlink(
            other.path().join("target"),
            d.path().join(liveness::LOCK_FILE),
        )
        .unwrap();
        assert!(matches!(
            take_lock(d.path(), "D-1"),
            Err(RecoverError::Spec { .. })
        ));
        assert!(
            !other.path().join("target").exists(),
            "no file made through the link"
        );
    }
}
