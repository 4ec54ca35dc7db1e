//! Dispatches as the ledger and tmux show them: which started, which completed and how (a
//! phantom guard's correction overriding the completion's status), which are still running,
//! and which lost their supervisor; and waiting for completions.

use std::collections::BTreeMap;
use std::path::Path;

use crate::ledger::LedgerError;
use crate::ledger::json::{self, Mode, Value};
use crate::ledger::tail::{self, Followed};
use crate::tmux::Tmux;

use super::liveness;

/// A dispatch's state.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DispatchState {
    pub id: String,
    pub role: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub started_at: Option<String>,
    /// `running`, `lost` (no completion, and neither its session, its supervisor nor its
    /// worker lives), or the completion's status.
    pub state: String,
    pub teardown_class: Option<String>,
    pub worktree: Option<String>,
    pub session: Option<String>,
}

fn text(o: &json::Object<'_>, key: &str) -> Option<String> {
    o.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn parse(line: &[u8]) -> Option<json::Object<'static>> {
    match json::parse(std::str::from_utf8(line).ok()?.trim(), Mode::Python).ok()? {
        Value::Object(o) => Some(o.into_owned()),
        _ => None,
    }
}

fn is_event_of(line: &[u8], id: &str, event: &str) -> bool {
    // A cheap test first: most lines are about other dispatches.
    memchr::memmem::find(line, id.as_bytes()).is_some()
        && parse(line).is_some_and(|o| {
            text(&o, "event_type").as_deref() == Some(event)
                && text(&o, "dispatch_id").as_deref() == Some(id)
        })
}

fn is_completion_of(line: &[u8], id: &str) -> bool {
    is_event_of(line, id, "dispatch_completed")
}

/// The phantom guard's correction of a dispatch's completion, if the ledger has one. Read
/// under the append lock (shared), so a group commit that wrote a completion and its
/// correction is never seen half-written.
pub fn correction(ledger: &Path, id: &str) -> Result<Option<Vec<u8>>, LedgerError> {
    let lock = std::fs::File::open(crate::ledger::lock_path(ledger)).ok();
    if let Some(lock) = &lock {
        let _ = lock.lock_shared();
    }
    let (found, _) = tail::last_lines(ledger, 1, |l| is_event_of(l, id, "dispatch_corrected"))?;
    Ok(found.into_iter().next())
}

/// What waiting reports for a completion line: with its correction, when a `done` has one.
fn settled(ledger: &Path, id: &str, line: Vec<u8>) -> Result<Waited, LedgerError> {
    let done = parse(&line).is_some_and(|o| text(&o, "status").as_deref() == Some("done"));
    Ok(
        match done.then(|| correction(ledger, id)).transpose()?.flatten() {
            Some(correction) => Waited::Corrected {
                completion: line,
                correction,
            },
            None => Waited::Completed(line),
        },
    )
}

/// Whether the ledger records the dispatch's start.
pub fn started(ledger: &Path, id: &str) -> Result<bool, LedgerError> {
    Ok(start(ledger, id)?.is_some())
}

/// The dispatch's `dispatch_started` receipt, if the ledger has one.
fn start(ledger: &Path, id: &str) -> Result<Option<json::Object<'static>>, LedgerError> {
    let (found, _) = tail::last_lines(ledger, 1, |l| is_event_of(l, id, "dispatch_started"))?;
    Ok(found.into_iter().next().and_then(|l| parse(&l)))
}

/// What keeps a started dispatch alive besides its session: its lock, or a process in its
/// worktree (see `liveness`).
fn alive_without_session(id: &str, worktree: Option<&str>) -> bool {
    let Some(wt) = worktree.map(Path::new) else {
        return false;
    };
    liveness::dispatch_dir_of(wt, id)
        .is_some_and(|dir| liveness::alive(&dir, Some(wt), None).is_some())
}

/// The completion receipt of a dispatch, if the ledger has one.
pub fn completion(ledger: &Path, id: &str) -> Result<Option<Vec<u8>>, LedgerError> {
    let (found, _) = tail::last_lines(ledger, 1, |l| is_completion_of(l, id))?;
    Ok(found.into_iter().next())
}

/// Every dispatch on the ledger, in start order.
pub fn list(ledger: &Path, tmux: &Tmux) -> Result<Vec<DispatchState>, LedgerError> {
    list_with(ledger, &tmux.sessions())
}

/// Every dispatch on the ledger, in start order, given the tmux sessions that are alive.
pub fn list_with(ledger: &Path, live: &[String]) -> Result<Vec<DispatchState>, LedgerError> {
    let (lines, _) = tail::last_lines(ledger, usize::MAX, |l| {
        memchr::memmem::find(l, b"dispatch_").is_some()
    })?;
    let mut states: BTreeMap<String, (usize, DispatchState)> = BTreeMap::new();
    for o in lines.iter().filter_map(|l| parse(l)) {
        let Some(id) = text(&o, "dispatch_id") else {
            continue;
        };
        match text(&o, "event_type").as_deref() {
            Some("dispatch_started") => {
                let order = states.len();
                states.insert(
                    id.clone(),
                    (
                        order,
                        DispatchState {
                            role: text(&o, "role"),
                            provider: text(&o, "provider"),
                            model: text(&o, "model"),
                            started_at: text(&o, "timestamp"),
                            state: "running".into(),
                            teardown_class: None,
                            worktree: text(&o, "worktree"),
                            session: text(&o, "tmux")
                                .and_then(|t| t.split_once(':').map(|(_, s)| s.to_owned())),
                            id,
                        },
                    ),
                );
            }
            Some("dispatch_completed") => {
                if let Some((_, s)) = states.get_mut(&id) {
                    s.state = text(&o, "status").unwrap_or_else(|| "completed".into());
                    s.teardown_class = text(&o, "teardown_class");
                }
            }
            Some("dispatch_corrected") => {
                if let Some((_, s)) = states.get_mut(&id) {
                    s.state = text(&o, "status").unwrap_or_else(|| "failed".into());
                }
            }
            _ => {}
        }
    }
    let mut out: Vec<(usize, DispatchState)> = states.into_values().collect();
    out.sort_by_key(|(order, _)| *order);
    Ok(out
        .into_iter()
        .map(|(_, mut s)| {
            if s.state == "running"
                && !s.session.as_ref().is_some_and(|n| live.contains(n))
                && !alive_without_session(&s.id, s.worktree.as_deref())
            {
                s.state = "lost".into();
            }
            s
        })
        .collect())
}

/// How waiting for one dispatch ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Waited {
    /// Its completion receipt (the raw ledger line).
    Completed(Vec<u8>),
    /// Its completion receipt said `done`, and the phantom guard corrected it (both lines).
    Corrected {
        completion: Vec<u8>,
        correction: Vec<u8>,
    },
    /// Its session is gone, nothing of it runs any more, and no completion was written: the
    /// supervisor died.
    Lost,
}

/// Waits until every dispatch in `ids` has a completion receipt, or has lost its session.
/// Follows the ledger with a filesystem watcher; checks sessions when the ledger is quiet.
pub fn wait(
    ledger: &Path,
    ids: &[String],
    tmux: &Tmux,
) -> Result<BTreeMap<String, Waited>, LedgerError> {
    let mut done: BTreeMap<String, Waited> = BTreeMap::new();
    for id in ids {
        if let Some(line) = completion(ledger, id)? {
            done.insert(id.clone(), settled(ledger, id, line)?);
        }
    }
    if done.len() == ids.len() {
        return Ok(done);
    }
    let (_, end) = tail::last_lines(ledger, 0, |_| true)?;
    let mut failed = None;
    tail::follow(ledger, end, |event| {
        let pending: Vec<&String> = ids.iter().filter(|id| !done.contains_key(*id)).collect();
        match event {
            Followed::Line(line) => {
                for id in pending {
                    if is_completion_of(line, id) {
                        match settled(ledger, id, line.to_vec()) {
                            Ok(w) => done.insert(id.clone(), w),
                            Err(e) => {
                                failed = Some(e);
                                return false;
                            }
                        };
                    }
                }
            }
            Followed::Idle => {
                for id in pending {
                    let worktree = start(ledger, id)
                        .ok()
                        .flatten()
                        .and_then(|o| text(&o, "worktree"));
                    if !tmux.has_session(&format!("vnx-{id}"))
                        && !alive_without_session(id, worktree.as_deref())
                    {
                        // The completion may have landed just before the session ended.
                        let last = completion(ledger, id).ok().flatten();
                        let w = match last.map(|line| settled(ledger, id, line)) {
                            Some(Ok(w)) => w,
                            Some(Err(e)) => {
                                failed = Some(e);
                                return false;
                            }
                            None => Waited::Lost,
                        };
                        done.insert(id.clone(), w);
                    }
                }
            }
            Followed::Restarted => {}
        }
        done.len() < ids.len()
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(done),
    }
}
