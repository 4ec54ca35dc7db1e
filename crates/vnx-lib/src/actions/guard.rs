//! Who acts, and whether they may decide for a dispatch (ADR 0095): an agent acting through
//! `vnx mcp --act` is named by its MCP client, and is a dispatch's worker when its real
//! ancestry, its environment or its directory says so; a worker may never approve, merge or
//! raise the budget of itself (its follow-ups included) or of a dispatch it started
//! ([`may_govern`]). Which dispatch a worker is is read from its ancestry ([`ancestry`]: the
//! supervisor it descends from), never from a variable the worker sets: one it sets, or an
//! ancestry that shows no supervisor, only makes it a worker that decides for none. What a
//! worker started is read from the ledger (`dispatch_started.started_by_dispatch`), every
//! line of it counted, so a line the worker wrote can only add a refusal.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::ActionError;
use crate::ids::DispatchId;
use crate::ledger::tail;
use crate::receipts::Typed;

pub mod ancestry;

pub use ancestry::Ancestor;

/// The longest client name and version kept, in characters.
const MAX_CLIENT: usize = 80;

/// A dispatch's worker, as the acting agent's ancestry, environment or directory shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Worker {
    /// The worker of this dispatch.
    Of(DispatchId),
    /// A worker whose dispatch is not known (an id that is not one, one the process set
    /// itself with no supervisor above it, a directory under the project's `.vnx-data/`
    /// that names none): it decides for no dispatch.
    Unidentified(String),
}

impl Worker {
    /// In words: "the worker of D-…", "a dispatch's worker (what shows it)".
    pub fn describe(&self) -> String {
        match self {
            Worker::Of(id) => format!("the worker of {id}"),
            Worker::Unidentified(what) => format!("a dispatch's worker ({what})"),
        }
    }
}

/// Who acts through an agent front end: the MCP client's name and version, and the worker
/// it runs in, if it runs in one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The client as it named itself (`orchestrator 1.0`), cut and cleaned.
    pub client: String,
    /// The dispatch's worker it runs in.
    pub worker: Option<Worker>,
}

/// What tells whether the acting process is a dispatch's worker, read by the front end: the
/// supervisor gives its worker `VNX_DISPATCH_ID` and `VNX_WORKTREE` (which the worker can
/// unset or set), a worker runs inside its worktree (which it can leave), and every process
/// of a worker descends from its dispatch's supervisor (which it cannot change).
#[derive(Clone, Debug, Default)]
pub struct Surroundings {
    /// `VNX_DISPATCH_ID`, when set.
    pub dispatch_id: Option<String>,
    /// `VNX_WORKTREE`, when set.
    pub worktree: Option<PathBuf>,
    /// The current directory, its links resolved.
    pub cwd: Option<PathBuf>,
    /// The acting process's ancestors, its parent first ([`ancestry::of_this_process`]).
    pub ancestors: Vec<Ancestor>,
}

impl Actor {
    /// The actor an MCP client that named itself `name` (and `version`) is, in `worker`.
    pub fn mcp(name: &str, version: &str, worker: Option<Worker>) -> Actor {
        let clean = |s: &str| -> String {
            let s: String = s
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_CLIENT)
                .collect();
            s.trim().to_owned()
        };
        let (name, version) = (clean(name), clean(version));
        let client = match (name.is_empty(), version.is_empty()) {
            (true, _) => "an unnamed client".to_owned(),
            (false, true) => name,
            (false, false) => format!("{name} {version}"),
        };
        Actor { client, worker }
    }

    /// Who acts, as receipts record it (`by`, `started_by`): `orchestrator 1.0 via MCP`,
    /// and, for a worker, `… in the worker of D-…`.
    pub fn by(&self) -> String {
        match &self.worker {
            None => format!("{} via MCP", self.client),
            Some(Worker::Of(id)) => format!("{} via MCP in the worker of {id}", self.client),
            Some(Worker::Unidentified(_)) => {
                format!("{} via MCP in a dispatch's worker", self.client)
            }
        }
    }

    /// The dispatch whose worker acts, when it is known.
    pub fn worker_id(&self) -> Option<&DispatchId> {
        match &self.worker {
            Some(Worker::Of(id)) => Some(id),
            _ => None,
        }
    }
}

/// Whether the process `seen` describes is a dispatch's worker in the project at `root`, and
/// whose: the dispatch of the outermost supervisor among its ancestors (what a worker starts
/// is always below its own); else, when it or an ancestor carries `VNX_DISPATCH_ID` or
/// `VNX_WORKTREE`, a worker whose dispatch is not known (an id set by the process itself,
/// or kept by one that left its supervisor, proves nothing); else the dispatch whose
/// worktree (recorded on `ledger`) or whose directory in the project's `.vnx-data/` its
/// directory, or an ancestor's, is in.
pub fn worker_of(
    root: &Path,
    ledger: &Path,
    seen: &Surroundings,
) -> Result<Option<Worker>, ActionError> {
    let parse = |text: &str, what: String| match DispatchId::parse(text) {
        Ok(id) => Worker::Of(id),
        Err(_) => Worker::Unidentified(what),
    };
    if let Some((pid, id)) =
        (seen.ancestors.iter().rev()).find_map(|a| Some((a.pid, a.supervises.as_deref()?)))
    {
        let what = format!("process {pid}, its supervisor, names {id:?}");
        return Ok(Some(parse(id, what)));
    }
    let claimed = (seen.dispatch_id.iter().filter(|t| !t.is_empty()))
        .map(|t| format!("VNX_DISPATCH_ID={t} with no dispatch's supervisor above it"))
        .chain(seen.ancestors.iter().filter_map(|a| {
            let id = a.dispatch_id.as_deref().filter(|t| !t.is_empty())?;
            Some(format!(
                "process {} above it says VNX_DISPATCH_ID={id}, with no dispatch's supervisor \
                 above it",
                a.pid
            ))
        }))
        .next();
    if let Some(what) = claimed {
        return Ok(Some(Worker::Unidentified(what)));
    }
    let data = root.join(crate::project::DATA_DIR);
    let worktrees = if ledger.exists() {
        recorded_worktrees(ledger)?
    } else {
        Vec::new()
    };
    let dirs = (seen.worktree.iter().chain(&seen.cwd))
        .chain(seen.ancestors.iter().rev().filter_map(|a| a.cwd.as_ref()));
    for dir in dirs {
        if let Some((_, id)) = worktrees.iter().find(|(w, _)| dir.starts_with(w)) {
            return Ok(Some(Worker::Of(id.clone())));
        }
        if let Ok(inside) = dir.strip_prefix(&data) {
            return Ok(Some(named_by(inside).map_or_else(
                || Worker::Unidentified(dir.display().to_string()),
                Worker::Of,
            )));
        }
    }
    Ok(seen
        .worktree
        .as_ref()
        .map(|w| Worker::Unidentified(format!("VNX_WORKTREE={}", w.display()))))
}

/// The dispatch a path under `.vnx-data/` names: `worktrees/dispatch-<id>/…` or
/// `dispatches/<id>/…`.
fn named_by(inside: &Path) -> Option<DispatchId> {
    let mut parts = inside.components().map(|c| c.as_os_str().to_str());
    let id = match (parts.next()??, parts.next()??) {
        ("worktrees", dir) => dir.strip_prefix("dispatch-")?,
        ("dispatches", dir) => dir,
        _ => return None,
    };
    DispatchId::parse(id).ok()
}

/// Every worktree a dispatch recorded, with its dispatch, longest first.
fn recorded_worktrees(ledger: &Path) -> Result<Vec<(PathBuf, DispatchId)>, ActionError> {
    let mut found: Vec<(PathBuf, DispatchId)> = started(ledger)?
        .into_iter()
        .filter(|s| !s.worktree.is_empty())
        .map(|s| (PathBuf::from(s.worktree), s.dispatch_id))
        .collect();
    found.sort_by_key(|(w, _)| std::cmp::Reverse(w.as_os_str().len()));
    Ok(found)
}

/// Every `dispatch_started` on the ledger.
fn started(ledger: &Path) -> Result<Vec<crate::receipts::DispatchStarted>, ActionError> {
    let (lines, _) = tail::last_lines(ledger, usize::MAX, |l| {
        memchr::memmem::find(l, b"dispatch_started").is_some()
    })?;
    Ok(lines
        .iter()
        .filter_map(|l| match Typed::of_line(l) {
            Some(Typed::DispatchStarted(r)) => Some(r.receipt),
            _ => None,
        })
        .collect())
}

/// Whether `actor` may decide for dispatch `target` (answer its prompt or plan, merge it,
/// raise its budget): anyone but a dispatch's worker may; a worker may not for a dispatch of
/// its own follow-up chain or one that it, or a dispatch it started, started (read from
/// `ledger`); a worker whose dispatch is not known decides for none. `doing` names the
/// action in the refusal (`approve`, `merge`).
pub fn may_govern(
    ledger: &Path,
    actor: &Actor,
    doing: &str,
    target: &DispatchId,
) -> Result<(), ActionError> {
    let refused = |why: String| ActionError::NotYours {
        by: actor.by(),
        doing: doing.to_owned(),
        target: target.clone(),
        why,
    };
    let me = match &actor.worker {
        None => return Ok(()),
        Some(Worker::Unidentified(what)) => {
            return Err(refused(format!(
                "it runs in a dispatch's worker ({what}), which decides for no dispatch"
            )));
        }
        Some(Worker::Of(id)) => id,
    };
    let lines = if ledger.exists() {
        started(ledger)?
    } else {
        Vec::new()
    };
    // Each dispatch's chain (the first of its follow-ups) and the chains that started it.
    let mut chain: BTreeMap<&DispatchId, BTreeSet<&DispatchId>> = BTreeMap::new();
    let mut parents: BTreeMap<&DispatchId, BTreeSet<&DispatchId>> = BTreeMap::new();
    for s in &lines {
        let first = s.continues.as_ref().map(|c| &c.first);
        chain.entry(&s.dispatch_id).or_default().extend(first);
        parents
            .entry(&s.dispatch_id)
            .or_default()
            .extend(&s.started_by_dispatch);
    }
    let roots = |id: &DispatchId| -> BTreeSet<DispatchId> {
        let mut r: BTreeSet<DispatchId> = chain
            .get(id)
            .into_iter()
            .flatten()
            .map(|d| (*d).clone())
            .collect();
        r.insert(id.clone());
        r
    };
    let mine = roots(me);
    // The target, its chain, and every dispatch that started one of them, to the top.
    let mut seen: BTreeSet<DispatchId> = BTreeSet::new();
    let mut todo = vec![target.clone()];
    while let Some(id) = todo.pop() {
        for r in roots(&id) {
            if !seen.insert(r.clone()) {
                continue;
            }
            if mine.contains(&r) {
                return Err(refused(if r == *target || roots(target).contains(&r) {
                    format!(
                        "it runs in the worker of {me}, and {target} is that dispatch's own work"
                    )
                } else if r == *me {
                    format!("it runs in the worker of {me}, which started {target}")
                } else {
                    format!("it runs in the worker of {me}, which started {target} (through {r})")
                }));
            }
            for chained in chain
                .iter()
                .filter(|(_, f)| f.contains(&r))
                .map(|(d, _)| *d)
            {
                todo.push(chained.clone());
            }
            todo.extend(parents.get(&r).into_iter().flatten().map(|p| (*p).clone()));
        }
        todo.extend(parents.get(&id).into_iter().flatten().map(|p| (*p).clone()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
