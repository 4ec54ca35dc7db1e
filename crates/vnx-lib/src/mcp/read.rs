//! The dispatch questions `vnx mcp` answers, synchronously and without writing: the list and
//! one dispatch whole (as `vnx status` and `vnx show` read them, without draining the queue
//! or appending pending completions), a worker's log tail, a dispatch's diff, and waiting for
//! dispatches (as `vnx wait` waits). Each answer carries its evidence (`evidence`).

use crate::ids::DispatchId;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};

use serde::Serialize;

use super::evidence::{self, Cited, Evidence};
use super::{McpError, Settings};
use crate::dispatch::detail;
use crate::dispatch::fold;
use crate::dispatch::view::{self, DispatchState};
use crate::tmux::Tmux;

/// The most a client may ask for; more is refused, not cut.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Dispatches in one list.
    pub dispatches: u64,
    /// Receipts in one tail.
    pub receipts: u64,
    /// Bytes of a log tail or a diff.
    pub bytes: u64,
    /// Seconds one wait may block.
    pub wait_seconds: u64,
    /// Dispatches one wait may wait for.
    pub wait_ids: usize,
    /// Paths one diff may be limited to (each becomes an argument of git).
    pub diff_paths: usize,
    /// Bytes of the ledger served whole as a resource.
    pub ledger_bytes: u64,
}

/// The limits `vnx mcp` enforces (documented in docs/reference.md).
pub const LIMITS: Limits = Limits {
    dispatches: 1000,
    receipts: 1000,
    bytes: 1 << 20,
    wait_seconds: 600,
    wait_ids: 64,
    diff_paths: 1000,
    ledger_bytes: 8 << 20,
};

/// `value`, or `default` when absent; an error naming `what` when over `max`.
pub fn bounded(value: Option<u64>, default: u64, max: u64, what: &str) -> Result<u64, McpError> {
    match value.unwrap_or(default) {
        v if v > max => Err(McpError::bad(format!(
            "{what} {v} is over the maximum of {max}"
        ))),
        v => Ok(v),
    }
}

/// Checks that `id` is a dispatch id, before anything reads with it.
pub fn check_id(id: &str) -> Result<DispatchId, McpError> {
    DispatchId::parse(id).map_err(|_| {
        McpError::bad(format!(
            "{:?} is not a dispatch id (a letter or digit, then at most 63 letters, digits, - or _)",
            id.chars().take(80).collect::<String>()
        ))
    })
}

/// Every dispatch as `vnx status` shows it (queue positions and verification marked), and
/// the record of `want`. Read through the read index (ADR 0045) when it holds.
/// `want` names the dispatches needed (others may come too); the count is of every
/// dispatch listed.
pub(super) fn states(s: &Settings, want: fold::Want<'_>) -> Result<view::StatesRead, McpError> {
    // The index is authenticated with the signing key; without one there is none.
    let attestor = s
        .key
        .as_deref()
        .and_then(|k| {
            crate::ledger::checkpoint::CheckpointKey::load(k)
                .ok()
                .flatten()
        })
        .map(|k| crate::ledger::attest::Attestor::new(&k));
    let trusted = evidence::trusted_keys(s).unwrap_or_default();
    let data_dir = crate::project::Project::at(&s.root).data_dir();
    let index = fold::index::path_in(&data_dir);
    let options = fold::ReadOptions {
        index: Some(&index),
        attestor: attestor.as_ref(),
        trusted: &trusted,
        key: s.key.as_deref(),
        witness_dir: s.witness_dir.as_deref(),
        threads: s.threads,
        max_violations: 10_000,
        write: false,
    };
    let tmux = Tmux::new(&s.tmux_socket);
    Ok(view::read_states(
        &s.ledger, &data_dir, &options, want, &tmux,
    )?)
}

// What a list keeps: the arguments of the MCP tool `list_dispatches` as its clients send
// them (the doc comments are their schema's descriptions).
/// Filters of `list_dispatches`.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ListArgs")]
pub struct Filter {
    /// Only these dispatch ids.
    #[serde(default, rename = "dispatch_ids")]
    pub ids: Vec<String>,
    /// Only dispatches in these states: queued, expired, running, blocked, stalled, lost, done,
    /// failed, needs_input, timeout, cancelled, merged, released, unverified.
    #[serde(default)]
    pub states: Vec<String>,
    /// Only dispatches of this provider (a built-in CLI or a declared one).
    pub provider: Option<String>,
    /// Only dispatches of this role (implementer, reviewer, …).
    pub role: Option<String>,
    /// Only dispatches of this model.
    pub model: Option<String>,
    /// Only running dispatches (running, blocked or stalled).
    #[serde(default)]
    pub running: bool,
    /// At most this many, the newest (default 100, at most 1000).
    pub limit: Option<u64>,
}

/// The dispatches `filter` keeps, in start order (the newest `limit` of them).
pub fn list(s: &Settings, filter: &Filter) -> Result<serde_json::Value, McpError> {
    for id in &filter.ids {
        check_id(id)?;
    }
    if let Some(bad) = filter
        .states
        .iter()
        .find(|st| !view::STATUSES.contains(&st.as_str()))
    {
        return Err(McpError::bad(format!(
            "unknown state {bad:?}; states are {}",
            view::STATUSES.join(", ")
        )));
    }
    let limit = bounded(filter.limit, 100, LIMITS.dispatches, "limit")? as usize;
    // Without a filter, the newest `limit` are all a list needs (and the open ones come
    // along); with one, every dispatch is read.
    let unfiltered = filter.ids.is_empty()
        && filter.states.is_empty()
        && !filter.running
        && filter.provider.is_none()
        && filter.role.is_none()
        && filter.model.is_none();
    let want = if unfiltered {
        fold::Want::Recent(limit)
    } else {
        fold::Want::All
    };
    let read = states(s, want)?;
    let all = read.states;
    if let Some(unknown) = filter
        .ids
        .iter()
        .find(|id| !all.iter().any(|d| &d.id == *id))
    {
        return Err(McpError::UnknownDispatch {
            id: unknown.to_string(),
        });
    }
    let same = |want: &Option<String>, have: &Option<String>| {
        want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
    };
    let kept: Vec<&DispatchState> = all
        .iter()
        .filter(|d| {
            (filter.ids.is_empty() || filter.ids.iter().any(|i| *i == d.id))
                && (filter.states.is_empty() || filter.states.iter().any(|st| st == d.status))
                && (!filter.running || d.state.is_live())
                && same(&filter.provider, &d.provider)
                && same(&filter.role, &d.role)
                && same(&filter.model, &d.model)
        })
        .collect();
    let matched = if unfiltered { read.listed } else { kept.len() };
    let shown = &kept[kept.len().saturating_sub(limit)..];
    let cited = shown
        .iter()
        .filter_map(|d| {
            let p = d.proof.as_ref()?;
            Some(Cited {
                line: Some(p.line),
                seq: p.seq,
                event_type: Some(p.event_type.clone()),
                dispatch_id: Some(d.id.to_string()),
                line_sha256: p.line_sha256.clone(),
            })
        })
        .collect();
    // Each with the files it shares with other dispatches in play, as `vnx status` lists them.
    let radar = crate::radar::scan(&s.root, &all, &mut Default::default());
    #[derive(Serialize)]
    struct Entry<'a> {
        #[serde(flatten)]
        state: &'a DispatchState,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        overlaps: Vec<crate::radar::Overlap>,
    }
    let dispatches: Vec<Entry<'_>> = shown
        .iter()
        .map(|d| Entry {
            state: d,
            overlaps: radar.overlaps(&d.id),
        })
        .collect();
    #[derive(Serialize)]
    struct Listed<'a> {
        dispatches: Vec<Entry<'a>>,
        matched: usize,
        truncated: bool,
    }
    evidence::answer(
        Listed {
            dispatches,
            matched,
            truncated: shown.len() < matched,
        },
        Evidence::new(&s.ledger, cited)?,
    )
}

/// One dispatch whole, as `vnx show ID --json` prints it.
pub fn detail_of(s: &Settings, id: &str) -> Result<detail::Detail, McpError> {
    detail_of_id(s, &check_id(id)?)
}

/// [`detail_of`] for an id already checked.
pub(super) fn detail_of_id(s: &Settings, id: &DispatchId) -> Result<detail::Detail, McpError> {
    let read = states(s, fold::Want::Ids(std::slice::from_ref(id)))?;
    let Some(state) = read.states.into_iter().find(|d| d.id == *id) else {
        return Err(McpError::UnknownDispatch { id: id.to_string() });
    };
    let receipts = read.record.map(|r| r.receipts).unwrap_or_default();
    Ok(detail::of_record(&s.ledger, state, &receipts)?)
}

/// One dispatch whole, with its best-of group, citing every receipt about it.
pub fn show(s: &Settings, id: &str) -> Result<serde_json::Value, McpError> {
    let id = &check_id(id)?;
    let d = detail_of_id(s, id)?;
    let trusted = evidence::trusted_keys(s)?;
    let group = crate::group::read::memberships(&s.ledger, &trusted)?.remove(id);
    // Its pull request as the forge cache last read it (the server never calls the forge).
    let pr = d.state.branch.clone().and_then(|branch| {
        let data = s.root.join(crate::project::DATA_DIR);
        crate::forge::watch::cached(&s.ledger, &trusted, &data, &[(d.state.id.clone(), branch)])
            .into_values()
            .next()
    });
    // Its review comments, as `vnx show --json` lists them.
    let states = || crate::dispatch::view::list(&s.ledger, &Tmux::new(&s.tmux_socket));
    let review_comments = crate::review::shown(&s.root, &s.ledger, &d, &trusted, states)?;
    #[derive(Serialize)]
    struct Shown {
        #[serde(flatten)]
        detail: detail::Detail,
        group: Option<crate::group::read::Membership>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pr: Option<crate::forge::watch::PrStatus>,
        review_comments: Vec<crate::review::Comment>,
    }
    evidence::answer(
        Shown {
            detail: d,
            group,
            pr,
            review_comments,
        },
        Evidence::of_dispatch(&s.ledger, id)?,
    )
}

/// The last `max_bytes` of a dispatch's worker log (the file vnx writes, never a path a
/// receipt names).
pub fn log(s: &Settings, id: &str, max_bytes: Option<u64>) -> Result<serde_json::Value, McpError> {
    let max = bounded(max_bytes, 64 << 10, LIMITS.bytes, "max_bytes")?;
    let id = &check_id(id)?;
    let d = detail_of_id(s, id)?;
    let path = crate::dispatch::worker_log(&s.root, &d.state.id);
    let io = |source| McpError::Io {
        path: path.clone(),
        source,
    };
    let (size, text) = match crate::files::open_untrusted(&path, 3) {
        Ok(mut f) => {
            let size = f.metadata().map_err(io)?.len();
            f.seek(SeekFrom::Start(size.saturating_sub(max)))
                .map_err(io)?;
            let mut buf = Vec::new();
            f.take(max).read_to_end(&mut buf).map_err(io)?;
            (Some(size), String::from_utf8_lossy(&buf).into_owned())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, String::new()),
        Err(e) => return Err(io(e)),
    };
    evidence::answer(
        serde_json::json!({
            "dispatch_id": id,
            "path": path,
            "exists": size.is_some(),
            "size": size,
            "truncated": size.is_some_and(|n| n > max),
            "text": text,
        }),
        Evidence::of_dispatch(&s.ledger, id)?,
    )
}

/// Checks a path a client names inside a worktree: relative, and without `..`, so that it
/// cannot leave the project.
pub fn check_path(p: &str) -> Result<(), McpError> {
    let path = Path::new(p);
    let inside = !p.is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if inside {
        Ok(())
    } else {
        Err(McpError::bad(format!(
            "path {:?} leaves the project: give a path relative to the dispatch's worktree, \
             without `..`",
            p.chars().take(200).collect::<String>()
        )))
    }
}

/// A dispatch's changes against its base, as `vnx show ID --diff` prints them (only of
/// `paths` when given), at most `max_bytes`. git reads only the dispatch's worktree under
/// `.vnx-data/worktrees/` or the main checkout, and refreshes no index.
pub fn diff(
    s: &Settings,
    id: &str,
    stat: bool,
    paths: &[String],
    max_bytes: Option<u64>,
) -> Result<serde_json::Value, McpError> {
    let max = bounded(max_bytes, 256 << 10, LIMITS.bytes, "max_bytes")? as usize;
    if paths.len() > LIMITS.diff_paths {
        return Err(McpError::bad(format!(
            "give at most {} paths (got {}); a directory stands for everything under it",
            LIMITS.diff_paths,
            paths.len()
        )));
    }
    for p in paths {
        check_path(p)?;
    }
    let id = &check_id(id)?;
    let d = detail_of_id(s, id)?;
    if let Some(base) = &d.base_commit
        && !crate::evidence::is_commit_id(base.as_str())
    {
        return Err(McpError::bad(format!(
            "the start receipt of {id} names base {base:?}, which is not a commit id"
        )));
    }
    if let Some(wt) = d.state.worktree.as_deref().map(Path::new)
        && wt.exists()
    {
        let root = crate::project::Project::at(&s.root)
            .data_dir()
            .join("worktrees");
        let inside = std::fs::canonicalize(wt)
            .ok()
            .zip(std::fs::canonicalize(&root).ok())
            .is_some_and(|(wt, root)| wt.starts_with(root));
        if !inside {
            return Err(McpError::bad(format!(
                "the start receipt of {id} names worktree {}, which is not under {}",
                wt.display(),
                root.display()
            )));
        }
    }
    let mut text = detail::diff_with(&s.root, &d, stat, paths, true)?;
    let size = text.len();
    if size > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    evidence::answer(
        serde_json::json!({
            "dispatch_id": id,
            "base_commit": d.base_commit,
            "head_commit": d.state.head_commit,
            "stat": stat,
            "paths": paths,
            "size": size,
            "truncated": size > max,
            "diff": text,
        }),
        Evidence::of_dispatch(&s.ledger, id)?,
    )
}

/// How an MCP client waits: past a permission prompt or not, for any of the dispatches or
/// for each, for how long.
#[derive(Clone, Copy, Debug)]
pub struct Waiting {
    /// Also return when a dispatch is blocked on a permission prompt.
    pub until_blocked: bool,
    /// Return once any of them ended (the others read `running`), not once each did.
    pub any: bool,
    /// At most this many seconds (30 when not given; at most [`LIMITS`]' `wait_seconds`).
    pub timeout: Option<u64>,
}

/// Waits, as `vnx wait` does (the same `actions::wait`), until each dispatch (or, with
/// `any`, the first of them) completed (done, failed, needs_input, …), was lost, or (with
/// `until_blocked`) is blocked, for at most `timeout` seconds; those still running then read
/// `running`, and `ended` names those that did not. Unlike `vnx wait`, it neither drains the
/// queue, nor catches up with hosts, nor appends pending completions.
pub fn wait(s: &Settings, ids: &[String], how: Waiting) -> Result<serde_json::Value, McpError> {
    let Waiting {
        until_blocked,
        any,
        timeout,
    } = how;
    if ids.is_empty() || ids.len() > LIMITS.wait_ids {
        return Err(McpError::bad(format!(
            "give 1 to {} dispatch ids (got {})",
            LIMITS.wait_ids,
            ids.len()
        )));
    }
    let secs = bounded(timeout, 30, LIMITS.wait_seconds, "timeout_seconds")?;
    let ids = ids
        .iter()
        .map(|id| check_id(id))
        .collect::<Result<Vec<DispatchId>, McpError>>()?;
    let known: Vec<DispatchId> = states(s, fold::Want::Ids(&ids))?
        .states
        .into_iter()
        .map(|d| d.id)
        .collect();
    if let Some(unknown) = ids.iter().find(|id| !known.contains(id)) {
        return Err(McpError::UnknownDispatch {
            id: unknown.to_string(),
        });
    }
    // The wait `vnx wait` waits, without its duties: nothing drained or appended here.
    let how = crate::actions::wait::Wait {
        until_blocked,
        any,
        until_pr: None,
        timeout: Some(std::time::Duration::from_secs(secs)),
    };
    let waited = crate::actions::wait::wait(
        &crate::project::Project::at(&s.root),
        &ids,
        &Tmux::new(&s.tmux_socket),
        &how,
        &mut Listening,
    )
    .map_err(|e| match e {
        crate::actions::ActionError::Ledger(e) => McpError::Ledger(e),
        e => McpError::Session {
            what: format!("could not wait: {e}"),
        },
    })?
    .waited;
    let mut cited = Vec::new();
    let mut settled = Vec::new();
    for id in &ids {
        let Some(w) = waited.get(id) else { continue };
        let lines: Vec<&[u8]> = match w {
            view::Waited::Completed(c) => vec![&c.line],
            view::Waited::Corrected {
                completion,
                correction,
            } => vec![&completion.line, &correction.line],
            view::Waited::Blocked(l) | view::Waited::Closed(l) => vec![l],
            _ => Vec::new(),
        };
        cited.extend(lines.into_iter().map(|l| Cited::of(None, l)));
        settled.push(
            serde_json::to_value(crate::dispatch::settled::settled(id, w)).map_err(|e| {
                McpError::Session {
                    what: format!("could not render {id}: {e}"),
                }
            })?,
        );
    }
    evidence::answer(
        serde_json::json!({
            "dispatches": settled,
            "all_done": waited.values().all(view::Waited::succeeded),
            "ended": ended(&ids, &waited),
            "timeout_seconds": secs,
        }),
        Evidence::new(&s.ledger, cited)?,
    )
}

/// Those of `ids` the wait saw end (complete, be lost, be blocked, leave the queue), in the
/// order given: each but the ones still running.
pub fn ended<'a>(
    ids: &'a [DispatchId],
    waited: &std::collections::BTreeMap<DispatchId, view::Waited>,
) -> Vec<&'a DispatchId> {
    ids.iter()
        .filter(|id| {
            waited
                .get(*id)
                .is_some_and(|w| !matches!(w, view::Waited::StillRunning))
        })
        .collect()
}

/// The MCP server's end of a wait: it answers once the wait is over, so it hears nothing as
/// it goes, and does none of the wait's duties (it writes nothing).
struct Listening;

impl crate::actions::wait::Front for Listening {
    fn heard(&mut self, _: crate::actions::wait::WaitEvent<'_>) -> std::ops::ControlFlow<()> {
        std::ops::ControlFlow::Continue(())
    }
}
