//! One dispatch whole, for `vnx show`: its state as [`crate::dispatch::view`] lists it, what its
//! receipts add (lane, posture, base, timings, tokens, gate results, the merge; read back
//! from the lines its record cites), the receipts themselves, and its diff against its base.

use crate::ids::{CommitId, DispatchId};
use std::path::Path;

use serde::Serialize;

use crate::dispatch::fold::{Cite, CiteReader, Records};
use crate::dispatch::view::DispatchState;
use crate::ledger::LedgerError;
use crate::process::{self, Cmd};
use crate::receipts::Typed;

/// One dispatch whole.
#[derive(Clone, Debug, Serialize)]
pub struct Detail {
    /// What `status` shows of it.
    #[serde(flatten)]
    pub state: DispatchState,
    /// Headless or interactive.
    pub lane: Option<String>,
    /// The permission posture.
    pub permission: Option<String>,
    /// The commit its branch started from, and the branch that names it.
    pub base_commit: Option<CommitId>,
    /// The base as recorded (`refs/heads/…`).
    pub base_ref: Option<String>,
    /// Seconds the worker ran.
    pub duration_seconds: Option<f64>,
    /// Tokens in and out, as the CLI reported them.
    pub token_usage: Option<crate::provider::events::Usage>,
    /// Where `token_usage` was read when not from the CLI's output (an interactive worker's
    /// session file).
    pub token_usage_source: Option<crate::receipts::UsageSource>,
    /// The CLI's session (or thread) id, as the completion recorded it.
    pub session_id: Option<String>,
    /// Where the CLIs kept their state for it, as its signed `dispatch_started` recorded
    /// (`show --log` finds an interactive worker's session file there); not printed.
    #[serde(skip)]
    pub cli_homes: Option<crate::receipts::CliHomes>,
    /// The CLI session its worker was told to use, as its signed `dispatch_started`
    /// recorded (ADR 0052); not printed.
    #[serde(skip)]
    pub started_session_id: Option<String>,
    /// The latest result of each gate.
    pub gates: Vec<GateLine>,
    /// The merge commit, once merged.
    pub merge_commit: Option<CommitId>,
    /// The commit vnx made of the work left uncommitted when a person accepted it.
    pub accepted_commit: Option<crate::receipts::VnxCommit>,
    /// Who asked to stop it (`vnx cancel`, a front end, an MCP client), as the latest signed
    /// `dispatch_cancel_requested` recorded (render it escaped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
    /// The permission prompts a person denied (`vnx deny`), in order: who, what it asked
    /// to do, and the message the worker was told (render them escaped).
    pub denials: Vec<String>,
    /// How many tool calls the worker's CLI itself refused, as its output counted them.
    pub cli_denials: u64,
    /// Its receipts: line, event, time.
    pub receipts: Vec<ReceiptLine>,
    /// Each merge the queue took out for a conflict: its line, the base tried and the
    /// paths that conflicted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<ConflictLine>,
    /// The base vnx merged into the branch before this follow-up's worker started
    /// (`follow-up --rebase`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebase: Option<crate::receipts::Rebase>,
    /// The graph around it (`--after`), in words: why it is held, what it waits or waited
    /// for, what waits for it (see [`crate::dispatch::queue::after::lines_alone`], which
    /// the readers that know the data directory fill it with).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub graph: Vec<String>,
}

/// A merge taken out of the queue for a conflict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConflictLine {
    /// The `merge_dequeued`'s line.
    pub seq: Option<u64>,
    /// The branch it was to merge into.
    pub base_ref: String,
    /// The base's head it conflicted with.
    pub base_tip: CommitId,
    /// The paths that conflicted.
    pub paths: Vec<String>,
}

/// A gate's latest result.
#[derive(Clone, Debug, Serialize)]
pub struct GateLine {
    /// The gate's name.
    pub gate: String,
    /// pass, fail or error.
    pub status: String,
    /// The commit it checked.
    pub head_commit: CommitId,
    /// Why, when it did not pass.
    pub reason: Option<String>,
}

impl Detail {
    /// Whether a `review_comment` is among its own receipts (signed or not: the review's
    /// reader judges them). Most dispatches have none, and this reads nothing, where reading
    /// the comments (`review::recorded`) reads the ledger.
    pub fn has_review_comments(&self) -> bool {
        use crate::receipts::Kind as _;
        (self.receipts.iter()).any(|r| r.event_type == crate::receipts::ReviewComment::EVENT)
    }
}

/// One of the dispatch's receipts.
#[derive(Clone, Debug, Serialize)]
pub struct ReceiptLine {
    /// Its line number on the ledger.
    pub seq: Option<u64>,
    /// Its kind.
    pub event_type: String,
    /// When it was written.
    pub timestamp: Option<String>,
}

impl std::fmt::Display for ReceiptLine {
    /// `    12  dispatch_completed   2026-11-23T…`: seq, event, time.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seq = self.seq.map_or_else(|| "-".to_owned(), |n| n.to_string());
        write!(
            f,
            "{seq:>6}  {:<22} {}",
            self.event_type,
            self.timestamp.as_deref().unwrap_or("")
        )
    }
}

/// The dispatch whole, given its state as [`crate::dispatch::view::list`] made it (its record is read again,
/// from the lines that mention it).
pub fn of(ledger: &Path, state: DispatchState) -> Result<Detail, LedgerError> {
    let records = Records::read_only(ledger, &[state.id.as_str()])?;
    let cites = records
        .get(&state.id)
        .map(|r| r.receipts.clone())
        .unwrap_or_default();
    of_record(ledger, state, &cites)
}

/// The dispatch whole, given its state and its receipts (as its record cites them): what
/// they add, read back from the ledger.
pub fn of_record(
    ledger: &Path,
    state: DispatchState,
    receipts: &[Cite],
) -> Result<Detail, LedgerError> {
    let id = state.id.clone();
    let id = id.as_str();
    let mut d = Detail {
        state,
        lane: None,
        permission: None,
        base_commit: None,
        base_ref: None,
        duration_seconds: None,
        token_usage: None,
        token_usage_source: None,
        session_id: None,
        cli_homes: None,
        started_session_id: None,
        gates: Vec::new(),
        merge_commit: None,
        accepted_commit: None,
        cancelled_by: None,
        denials: Vec::new(),
        cli_denials: 0,
        receipts: Vec::new(),
        conflicts: Vec::new(),
        rebase: None,
        graph: Vec::new(),
    };
    if receipts.is_empty() {
        return Ok(d);
    }
    let reader = CiteReader::open(ledger)?;
    for cite in receipts {
        let line = reader.read(*cite)?;
        let Some(typed) = Typed::of_line(&line) else {
            continue;
        };
        let (event, seq, at, about) = header(&line);
        match typed {
            Typed::DispatchStarted(r) if r.receipt.dispatch_id == id => {
                d.lane = Some(r.receipt.lane.name().to_owned());
                d.permission = Some(r.receipt.permission.name().to_owned());
                d.base_commit = Some(r.receipt.base_commit);
                d.base_ref = Some(r.receipt.base_ref);
                d.cli_homes = r.receipt.cli_homes;
                d.started_session_id = r.receipt.session_id;
                d.rebase = r.receipt.continues.and_then(|c| c.rebase);
            }
            Typed::MergeDequeued(r)
                if r.receipt.dispatch_id == id
                    && r.receipt.reason == crate::receipts::DequeueReason::Conflict =>
            {
                d.conflicts.push(ConflictLine {
                    seq: r.seq,
                    base_ref: r.receipt.base_ref,
                    base_tip: r.receipt.base_tip,
                    paths: r.receipt.conflicts,
                });
            }
            Typed::DispatchCompleted(r) if r.receipt.dispatch_id == id => {
                d.duration_seconds = r.receipt.duration_seconds;
                d.token_usage = r.receipt.token_usage;
                d.token_usage_source = r.receipt.token_usage_source;
                d.session_id = r.receipt.session_id;
                d.cli_denials = r
                    .receipt
                    .cli_events
                    .as_ref()
                    .map_or(0, |e| e.permission_denials);
            }
            Typed::DispatchAnswered(r)
                if r.receipt.dispatch_id == id
                    && r.receipt.answer == crate::receipts::PermissionAnswer::Deny =>
            {
                let a = r.receipt;
                let what = crate::dispatch::answer::asked(a.tool.as_deref(), a.command.as_deref());
                let what = what.as_deref().filter(|w| !w.is_empty());
                let mut line = format!("by {}: {}", a.by, what.unwrap_or("a request"));
                if let Some(m) = a.message {
                    line.push_str(&format!(" (told: {m})"));
                }
                d.denials.push(line);
            }
            Typed::GateResult(r) if r.receipt.dispatch_id == id => {
                let g = r.receipt;
                d.gates.retain(|x| x.gate != g.gate);
                d.gates.push(GateLine {
                    gate: g.gate,
                    status: g.status.name().to_owned(),
                    head_commit: g.head_commit,
                    reason: g.failure_reason.or(g.reason),
                });
            }
            Typed::DispatchAccepted(r) if r.receipt.dispatch_id == id => {
                d.accepted_commit = r.receipt.vnx_commit;
            }
            Typed::DispatchCancelRequested(r) if r.receipt.dispatch_id == id => {
                d.cancelled_by = Some(r.receipt.by);
            }
            Typed::MergeCompleted(r) if r.receipt.dispatch_id == id => {
                d.merge_commit = Some(r.receipt.merge_commit);
            }
            Typed::Other(_) => continue,
            _ => {}
        }
        if about.as_deref() == Some(id) {
            d.receipts.push(ReceiptLine {
                seq,
                event_type: event,
                timestamp: at,
            });
        }
    }
    Ok(d)
}

/// A receipt line's event type, seq, timestamp and the dispatch it is about (a line that
/// merely mentions the id is not).
fn header(line: &[u8]) -> (String, Option<u64>, Option<String>, Option<String>) {
    let v: serde_json::Value = serde_json::from_slice(line).unwrap_or_default();
    let text = |k: &str| v[k].as_str().map(str::to_owned);
    (
        text("event_type").unwrap_or_default(),
        v["seq"].as_u64(),
        text("timestamp"),
        text("dispatch_id"),
    )
}

/// Why a diff could not be made.
#[derive(Debug, thiserror::Error)]
#[error("could not diff dispatch {id}")]
pub struct DiffError {
    /// The dispatch.
    pub id: DispatchId,
    /// What git said.
    #[source]
    pub source: process::ProcessError,
}

/// The dispatch's changes against its base: committed and uncommitted (untracked files too)
/// when its worktree is there, else its branch; `git diff --stat` with `stat`.
pub fn diff(repo_root: &Path, d: &Detail, stat: bool) -> Result<String, DiffError> {
    diff_with(repo_root, d, stat, &[], false)
}

/// [`diff`], only of `paths` (git pathspecs relative to the worktree; all when empty), and,
/// when `read_only`, without git refreshing the worktree's index as a side effect (a file
/// whose modification time alone changed then shows as a diff header without hunks).
pub fn diff_with(
    repo_root: &Path,
    d: &Detail,
    stat: bool,
    paths: &[String],
    read_only: bool,
) -> Result<String, DiffError> {
    let err = |source| DiffError {
        id: d.state.id.clone(),
        source,
    };
    let Some(base) = &d.base_commit else {
        return Ok(String::new());
    };
    let git = |dir: &Path| {
        let cmd = Cmd::git().arg("-C").arg(dir);
        if read_only {
            cmd.env("GIT_OPTIONAL_LOCKS", "0")
                .args(["-c", "diff.autoRefreshIndex=false"])
        } else {
            cmd
        }
    };
    let mode = if stat { "--stat" } else { "--patch" };
    let diff = |dir: &Path| git(dir).args(["diff", "--no-ext-diff", "--no-textconv", mode]);
    let worktree = d
        .state
        .worktree
        .as_deref()
        .map(Path::new)
        .filter(|p| p.exists());
    let wanted = |file: &str| {
        paths.is_empty()
            || paths.iter().any(|p| {
                let p = p.trim_end_matches('/');
                file == p
                    || file
                        .strip_prefix(p)
                        .is_some_and(|rest| rest.starts_with('/'))
            })
    };
    match worktree {
        Some(wt) => {
            // A checkout whose `.git` its worker pointed at a repository of its own would have
            // git read that repository's config (filters, an external diff): not run there.
            let common = git2::Repository::open(repo_root)
                .ok()
                .and_then(|r| std::fs::canonicalize(r.commondir()).ok());
            if let Some(why) = common.and_then(|c| crate::worktree::pool::foreign_git(&c, wt)) {
                return Err(err(process::ProcessError::Failed {
                    command: format!("git -C {} diff", wt.display()),
                    status: "not run".into(),
                    stderr: format!("{why}: vnx runs no git in it"),
                }));
            }
            let mut text = run_keeping_newline(
                &diff(wt)
                    .args([base.as_str(), "--"])
                    .args(paths.iter().map(|p| format!(":(literal){p}"))),
            )
            .map_err(err)?;
            // Untracked files, which `git diff` leaves out, as new files.
            let untracked = process::run_ok(&git(wt).args([
                "ls-files",
                "--others",
                "--exclude-standard",
                "-z",
            ]))
            .map_err(err)?;
            for file in untracked.split('\0').filter(|f| !f.is_empty() && wanted(f)) {
                // Exit 1 is "they differ", which they do.
                let one = process::run(&diff(wt).args(["--no-index", "--", "/dev/null", file]))
                    .map_err(err)?;
                text.push_str(&String::from_utf8_lossy(&one.stdout));
            }
            Ok(text)
        }
        None => {
            let head = d
                .state
                .head_commit
                .as_ref()
                .map(|c| c.to_string())
                .or_else(|| d.state.branch.clone())
                .unwrap_or_default();
            run_keeping_newline(
                &diff(repo_root)
                    .args([&format!("{base}..{head}"), "--"])
                    .args(paths.iter().map(|p| format!(":(literal){p}"))),
            )
            .map_err(err)
        }
    }
}

/// [`process::run_ok`], its output as git wrote it: a patch keeps its final newline (and the
/// untracked files' diffs appended to it start on a line of their own).
fn run_keeping_newline(cmd: &process::Cmd) -> Result<String, process::ProcessError> {
    let out = process::run(cmd)?.ok(cmd.display())?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
