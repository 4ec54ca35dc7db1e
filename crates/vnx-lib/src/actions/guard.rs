//! Who acts, and whether they may decide for a dispatch (ADR 0095): an agent acting through
//! `vnx mcp --act` is named by its MCP client, and is a dispatch's worker when its
//! environment or its directory says so; a worker may never approve, merge or raise the
//! budget of itself (its follow-ups included) or of a dispatch it started ([`may_govern`]).
//! What a worker started is read from the ledger (`dispatch_started.started_by_dispatch`),
//! every line of it counted, so a line the worker wrote can only add a refusal.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::ActionError;
use crate::ids::DispatchId;
use crate::ledger::tail;
use crate::receipts::Typed;

/// The longest client name and version kept, in characters.
const MAX_CLIENT: usize = 80;

/// A dispatch's worker, as the acting agent's environment or directory shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Worker {
    /// The worker of this dispatch.
    Of(DispatchId),
    /// A worker whose dispatch is not known (an id that is not one, a directory under the
    /// project's `.vnx-data/` that names none): it decides for no dispatch.
    Unidentified(String),
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

/// What tells whether the acting process is a dispatch's worker, read by the front end:
/// the supervisor gives its worker `VNX_DISPATCH_ID` and `VNX_WORKTREE`, and a worker runs
/// inside its worktree.
#[derive(Clone, Debug, Default)]
pub struct Surroundings {
    /// `VNX_DISPATCH_ID`, when set.
    pub dispatch_id: Option<String>,
    /// `VNX_WORKTREE`, when set.
    pub worktree: Option<PathBuf>,
    /// The current directory, its links resolved.
    pub cwd: Option<PathBuf>,
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

/// Whether the process `seen` describes is a dispatch's worker in the project at `root`
/// (strictly: `VNX_DISPATCH_ID` set, or `VNX_WORKTREE` set, or a directory inside the
/// project's `.vnx-data/` or inside a worktree a dispatch on `ledger` recorded).
pub fn worker_of(
    root: &Path,
    ledger: &Path,
    seen: &Surroundings,
) -> Result<Option<Worker>, ActionError> {
    if let Some(text) = seen.dispatch_id.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Some(match DispatchId::parse(text) {
            Ok(id) => Worker::Of(id),
            Err(_) => Worker::Unidentified(format!("VNX_DISPATCH_ID={text}")),
        }));
    }
    let data = root.join(crate::project::DATA_DIR);
    let worktrees = if ledger.exists() {
        recorded_worktrees(ledger)?
    } else {
        Vec::new()
    };
    for dir in seen.worktree.iter().chain(&seen.cwd) {
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
