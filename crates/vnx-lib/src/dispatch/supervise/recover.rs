//! Recording the end of a dispatch whose supervisor died after its worker reported
//! (`vnx recover`): the sealed report is checked again (the seal is made from the signing
//! key, so it outlives the supervisor), then the end is recorded as the supervisor would
//! have: a done worker's changes committed, the worktree classified and released, the
//! phantom guard applied, the signed `dispatch_completed` appended, marked `recovered`; the
//! worktree it released deleted at once. A worktree an earlier teardown released already is
//! classified from the branch it left. A supervisor that could not commit for want of space
//! leaves its dispatch marked, and any later command resumes its end ([`resume_uncommitted`]).
//!
//! Everything the recovery acts on comes from evidence a worker cannot write: the dispatch's
//! attested `dispatch_started` (worktree, branch, base, placed files, sandbox), the report's
//! MAC, the project's config and this command's own environment. The dispatch directory's
//! `spec.json`, which the worker can rewrite, is never read: the spec teardown needs is made
//! from those alone, field by field (`spec_of`).

use crate::ids::DispatchId;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use crate::dispatch::start::include::Included;
use crate::dispatch::supervise::conclude;
use crate::dispatch::supervise::pending;
use crate::dispatch::supervise::signals::{self, ReportFile, ReportStatus};
use crate::dispatch::view::{DispatchState, State};
use crate::dispatch::{DispatchError, Spec, liveness};
use crate::ledger::attest::{self, Attestor};
use crate::ledger::json::{self, Value};
use crate::ledger::{LedgerError, tail};
use crate::provider::{Invocation, OutputFormat};
use crate::receipts::{
    self, CompletionSignal, DispatchCompleted, DispatchStarted, DispatchStatus, Kind,
};
use crate::worktree::{Repo, TeardownClass};

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
    /// Its end is on the ledger already.
    #[error("dispatch {id} has ended ({state}): its end is recorded already")]
    Ended {
        /// The dispatch.
        id: String,
        /// Its state, as `vnx status` names it.
        state: String,
    },
    /// It never started: it waits in the queue, or its time to start passed.
    #[error("dispatch {id} is {state}: it never started, so it has no end to record")]
    NotStarted {
        /// The dispatch.
        id: String,
        /// Its state, as `vnx status` names it.
        state: String,
    },
    /// Its supervisor lives, and records the end itself.
    #[error("dispatch {id} is {state}: its supervisor lives and records its end itself")]
    Running {
        /// The dispatch.
        id: String,
        /// Its state, as `vnx status` names it.
        state: String,
    },
    /// It ran on a remote host: its worktree and report are there.
    #[error("dispatch {id} ran on host {host}: its end is recovered there")]
    OnHost {
        /// The dispatch.
        id: String,
        /// The host.
        host: String,
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
    /// Its lock file cannot be used safely (a link, not a regular file).
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
    /// The project's config, for what teardown needs that the start does not record (the
    /// worktree pool).
    pub config: &'a crate::config::Config,
}

/// Recovers one dispatch, as `state` (from [`crate::dispatch::view::list`]) shows it.
pub fn recover(r: &Recovery<'_>, state: &DispatchState) -> Result<Recovered, RecoverError> {
    let id = state.id.to_string();
    let named = state.state.name().to_owned();
    match (state.state, state.place.place()) {
        (State::Lost, None) => record(r, &state.id, DIED),
        (State::Lost, Some(place)) => Err(RecoverError::OnHost {
            id,
            host: place.to_string(),
        }),
        (State::Ended(_), _) => Err(RecoverError::Ended { id, state: named }),
        (State::Queued | State::Expired, _) => Err(RecoverError::NotStarted { id, state: named }),
        (State::Running | State::Blocked | State::Stalled | State::Limited | State::Paused, _) => {
            Err(RecoverError::Running { id, state: named })
        }
    }
}

/// What [`resume_uncommitted`] did for one marked dispatch.
#[derive(Debug)]
pub enum Resumed {
    /// Its end is recorded now.
    Recorded(Recovered),
    /// Its supervisor still lives (and retries itself).
    Alive,
    /// Its end was on the ledger already: the mark went.
    Ended,
    /// Its end could not be recorded (still no space, or a refusal).
    Failed(RecoverError),
}

/// Resumes the end of every dispatch a supervisor marked because its done worker's work
/// could not be committed for want of space (see `pending::mark_uncommitted`): as
/// `vnx recover` records it, from the signed start and the sealed report, once the lock
/// says no supervisor lives. What cannot be committed yet stays marked.
pub fn resume_uncommitted(r: &Recovery<'_>) -> Vec<(DispatchId, Resumed)> {
    let data_dir = r.repo.root.join(crate::project::DATA_DIR);
    pending::uncommitted(&data_dir)
        .into_iter()
        .map(|id| {
            let dispatch_dir = data_dir.join("dispatches").join(id.as_str());
            let resumed = if liveness::locked(&dispatch_dir) {
                Resumed::Alive
            } else if pending::completion_on_ledger(r.ledger, &id).unwrap_or(false) {
                pending::unmark_uncommitted(&data_dir, &id);
                Resumed::Ended
            } else {
                pending::unmark_uncommitted(&data_dir, &id);
                match record(r, &id, FULL_DISK) {
                    Ok(done) => Resumed::Recorded(done),
                    Err(RecoverError::Alive { .. }) => {
                        // Something still works in its worktree: tried again later.
                        let _ = pending::mark_uncommitted(&data_dir, &id);
                        Resumed::Alive
                    }
                    Err(e) => Resumed::Failed(e),
                }
            };
            (id, resumed)
        })
        .collect()
}

/// What a completion `vnx recover` records says about it.
const DIED: &str = "its supervisor died before recording the end; recorded by `vnx recover` \
                    from the worker's sealed report, with teardown done then";
/// What a completion resumed after a full disk says about it.
const FULL_DISK: &str = "its supervisor could not commit the worker's work for want of space \
                         and recorded nothing; recorded once space returned, from the \
                         worker's sealed report, with teardown done then";

/// Records the end of lost dispatch `dispatch_id`, saying `why` it was recorded so.
fn record(
    r: &Recovery<'_>,
    dispatch_id: &DispatchId,
    why: &str,
) -> Result<Recovered, RecoverError> {
    let id = dispatch_id;
    let data_dir = r.repo.root.join(crate::project::DATA_DIR);
    let dispatch_dir = data_dir.join("dispatches").join(id);
    // Held until the completion is on the ledger: a second recovery, or a supervisor, waits.
    let _held = take_lock(&dispatch_dir, id)?;
    let started = attested_start(r, id)?;
    let worktree = PathBuf::from(&started.worktree);
    if let Some(pid) = liveness::process_inside(&worktree) {
        return Err(RecoverError::Alive {
            id: id.to_string(),
            why: format!("process {pid} works in its worktree"),
        });
    }
    let seal = signals::seal_for(r.attestor, id);
    let report = match signals::read_report(&dispatch_dir, id, &seal) {
        ReportFile::Accepted(report) => Ok(report),
        ReportFile::Rejected(why) => Err(why),
        ReportFile::Missing => Err(format!("its worker wrote no {}", signals::REPORT)),
    };
    let report = report.map_err(|why| RecoverError::NoReport {
        id: id.to_string(),
        why,
    })?;
    let spec = spec_of(r, &dispatch_dir, &started);
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
        recovered: Some(why.to_owned()),
        ..DispatchCompleted::new(dispatch_id.clone(), status, CompletionSignal::Report)
    };
    // A supervisor (or recovery) killed giving the worktree back to its pool after it
    // detached HEAD left the worktree at its branch's tip, on no branch: put back on it, the
    // worktree is classified from what it holds, as the give-back had classified it.
    if crate::dispatch::start::launch::pool_of(r.repo, &spec).is_some() {
        r.repo.reattach_given_back(&spec.worktree, &spec.branch);
    }
    let concluded = conclude(
        &spec,
        r.repo,
        completed,
        r.attestor,
        std::time::Duration::ZERO,
        &mut |_| {},
    )?;
    // What teardown released is deleted now, as the supervisor would once the end is on the
    // ledger (not left in the trash for some later dispatch's end).
    r.repo.empty_trash();
    if let (Some(pool), Some(name)) = (
        crate::dispatch::start::launch::pool_of(r.repo, &spec),
        &concluded.pooled,
    ) {
        pool.prove_entry(name);
    }
    Ok(Recovered {
        dispatch_id: dispatch_id.clone(),
        status: concluded.status,
        teardown_class: concluded.class,
        entry_hash: (concluded.appended.lines)
            .last()
            .map(|l| l.entry_hash.clone())
            .unwrap_or_default(),
    })
}

/// The dispatch's lock, taken without waiting, never through a link or on a FIFO; a lock
/// file that is gone is made again.
fn take_lock(dispatch_dir: &Path, id: &DispatchId) -> Result<File, RecoverError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dispatch_dir.join(liveness::LOCK_FILE);
    let spec_err = |problem: String| RecoverError::Spec {
        id: id.to_string(),
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
            id: id.to_string(),
            why: format!("something holds {}", path.display()),
        }),
        Err(TryLockError::Error(e)) => Err(spec_err(format!("cannot lock: {e}"))),
    }
}

/// The dispatch's `dispatch_started`, if a trusted key attests it.
fn attested_start(r: &Recovery<'_>, id: &DispatchId) -> Result<DispatchStarted, RecoverError> {
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
            || object.get("dispatch_id").and_then(Value::as_str) != Some(id.as_str())
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
        RecoverError::Unattested { id: id.to_string() }
    } else {
        RecoverError::Unknown { id: id.to_string() }
    })
}

/// The supervisor's spec as teardown needs it, made from what a worker cannot write: each
/// field the signed start records taken from it (the hooks' trust file too, where the start
/// located it: its CLI's `CodingCli::recorded_hook_trust`), the pool from the project's config, what
/// locates the repository and the ledger from this command; everything else left empty
/// (nothing of it is used by teardown).
fn spec_of(r: &Recovery<'_>, dispatch_dir: &Path, started: &DispatchStarted) -> Spec {
    let id = &started.dispatch_id;
    let pool = &r.config.worktree.pool;
    Spec {
        after: started.after.clone(),
        id: id.clone(),
        role: started.role.clone(),
        provider: crate::provider::ProviderName::of(&started.provider),
        model: started.model.clone(),
        session_id: started.session_id.clone(),
        budget: started.budget.clone(),
        project_day: None,
        background_wait_secs: r.config.background_wait_seconds,
        continuation: None,
        limit_wait_secs: r.config.limit_wait_seconds,
        prices: Default::default(),
        limits: started.limits.clone(),
        copy_ignored: Vec::new(),
        permission: started.permission,
        plan: started.plan.clone(),
        lane: started.lane,
        invocation: Invocation {
            argv: started.argv.clone(),
            env: Vec::new(),
            prompt_transport: started.prompt_transport,
            output: OutputFormat::TEXT,
            completion: started.completion,
            hooks: started.hooks.clone(),
            permission_flags: started.permission_flags.clone(),
            allowed_commands: Vec::new(),
            tui: Default::default(),
        },
        binary_version: started.binary_version.clone(),
        prompt_sha256: started.prompt_sha256.clone(),
        deadline_secs: started.deadline_seconds,
        base_commit: started.base_commit.clone(),
        worktree: PathBuf::from(&started.worktree),
        branch: started.branch.clone(),
        repo_root: r.repo.root.clone(),
        git_common_dir: r.repo.common_dir.clone(),
        dispatch_dir: dispatch_dir.to_owned(),
        ledger: r.ledger.to_owned(),
        tmux_socket: String::new(),
        session: format!("vnx-{id}"),
        remote: "origin".into(),
        included: started
            .worktree_include
            .iter()
            .map(|i| Included {
                path: i.path.clone(),
                sha256: i.sha256.clone(),
                bytes: i.bytes,
            })
            .collect(),
        vnx: PathBuf::new(),
        slot_limit: None,
        placed: started.vnx_files_placed.clone(),
        hook_trust: crate::provider::cli::named(&started.provider)
            .and_then(|cli| cli.hooks()?.recorded_trust(started)),
        writes: started.writes,
        // What a dead supervisor read before its worker is gone with it.
        main_before: None,
        completion_retry_secs: 30,
        stall_after_secs: None,
        notify: Vec::new(),
        title: started.title.clone().unwrap_or_default(),
        continues: started.continues.clone(),
        sandbox: started.sandbox.clone(),
        replay_of: started.replay_of.clone(),
        worktree_setup: Vec::new(),
        worktree_teardown: Vec::new(),
        port_range: None,
        preferred_port: None,
        port: started.port,
        pool_size: pool.size,
        pool_keep: pool.keep.clone(),
        pool_entry: started.pooled_worktree.clone(),
        group: started.group.clone(),
        session_homes: None,
    }
}

/// The command that records a lost dispatch's end from its sealed report, for hints.
pub const COMMAND: &str = "vnx recover";

impl RecoverError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            RecoverError::Unknown { .. } => Some("`vnx status` lists the dispatches".into()),
            RecoverError::Ended { id, .. } => Some(format!("`vnx show {id}` shows how it ended")),
            RecoverError::NotStarted { id, .. } => Some(format!(
                "`vnx status {id}` shows it; `vnx cancel {id}` takes a queued one out"
            )),
            RecoverError::Running { id, .. } | RecoverError::Alive { id, .. } => Some(format!(
                "`vnx wait {id}` waits for the end it records; `vnx cancel {id}` stops it"
            )),
            RecoverError::OnHost { id, host } => Some(format!(
                "run `vnx recover {id}` on {host}; the next catch-up with the host brings \
                 its end to this ledger"
            )),
            RecoverError::NoReport { .. } | RecoverError::Unattested { .. } => Some(
                "nothing vouches for an end: look at its worktree and branch, then close it with \
                 `vnx cancel ID` (they are kept for `vnx worktree-release`)"
                    .into(),
            ),
            RecoverError::Spec { .. } => Some(
                "the dispatch directory was changed after the start: close it with `vnx cancel \
                 ID` and review its worktree and branch by hand"
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
            take_lock(d.path(), &DispatchId::parse("D-1").unwrap()),
            Err(RecoverError::Alive { .. })
        ));
        drop(held);
        assert!(take_lock(d.path(), &DispatchId::parse("D-1").unwrap()).is_ok());
        let other = tempfile::tempdir().unwrap();
        std::fs::remove_file(d.path().join(liveness::LOCK_FILE)).unwrap();
        std::os::unix::fs::symlink(
            other.path().join("target"),
            d.path().join(liveness::LOCK_FILE),
        )
        .unwrap();
        assert!(matches!(
            take_lock(d.path(), &DispatchId::parse("D-1").unwrap()),
            Err(RecoverError::Spec { .. })
        ));
        assert!(
            !other.path().join("target").exists(),
            "no file made through the link"
        );
    }
}
