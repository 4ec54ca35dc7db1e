//! What a dispatch's end records: the worker's own `report.json`, `dispatch_completed` (how
//! it ended, what the worker and its CLI said, what teardown kept) and the phantom guard's
//! `dispatch_corrected`.

use serde::{Deserialize, Serialize};

use crate::ids::{CommitId, DispatchId, Timestamp};

use super::kinds::Lane;
use super::worktree::{CheckoutChange, TeardownAction};
use super::{
    CompletionSignal, DiffStats, DispatchStatus, Extra, RemoteOrigin, SessionTampering,
    StreamSummary, TeardownClass, Usage, UsageSource, VnxCommit, WorktreeCommand,
};

/// What the worker says about its assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    /// The worker says the task is done.
    Done,
    /// The worker says it could not do the task.
    Failed,
}

impl ReportStatus {
    /// The status as `vnx report --status` spells it.
    pub fn name(self) -> &'static str {
        match self {
            ReportStatus::Done => "done",
            ReportStatus::Failed => "failed",
        }
    }
}

/// `report.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkerReport {
    /// The dispatch the worker reports for.
    pub dispatch_id: DispatchId,
    /// What it reports.
    pub status: ReportStatus,
    /// One line from the worker: what changed, or what stopped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// RFC 3339.
    pub reported_at: Timestamp,
    /// HMAC-SHA-256 under the dispatch's seal (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// `dispatch_completed`: how the dispatch ended, what the worker and its CLI said, and what
/// teardown kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchCompleted {
    /// The dispatch this receipt completes.
    pub dispatch_id: DispatchId,
    /// `unknown` when the line has none (it was not written by vnx).
    #[serde(default)]
    pub status: DispatchStatus,
    /// What the status was decided from.
    #[serde(default)]
    pub completion_signal: CompletionSignal,
    /// The lane the worker ran in (absent when it never started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<Lane>,
    /// Seconds from the supervisor's start to the worker's end, to the millisecond.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    /// The worker's output log, `dispatches/<id>/worker.log`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_log: Option<String>,
    /// The worker's exit code, when it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal that ended the worker, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_signal: Option<i32>,
    /// Why the dispatch is not done, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Files the worker left in its temporary directory, which was removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temp_files_removed: Option<u64>,
    /// Seconds the dispatch waited for a concurrency slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_wait_seconds: Option<f64>,
    /// The worker's `vnx report`, when one was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<WorkerReport>,
    /// Why a report file was refused (not sealed for this dispatch, too large, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_rejected: Option<String>,
    /// Set when the supervisor died before recording the end and `vnx recover` recorded it
    /// (from the sealed report, teardown done then): what it found, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<String>,
    /// Set when `vnx resume` closed a lost dispatch to continue it: the next `vnx resume`
    /// starts the follow-up if a killed resume had not. Absent from every other completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_for_resume: Option<bool>,
    /// The CLI's session (or thread) id, for resuming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Token counts the CLI reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_usage: Option<Usage>,
    /// Where `token_usage` was read when not from the CLI's output stream: an interactive
    /// worker's session file (written by the worker's CLI: informational, as all usage is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_usage_source: Option<UsageSource>,
    /// A claimed token count over `MAX_PLAUSIBLE_TOKENS`, refused: `token_usage` is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_usage_refused: Option<u64>,
    /// Lines of the CLI's session file that claimed a usage no dispatch can have used
    /// (over `MAX_PLAUSIBLE_TOKENS`), skipped while the rest counted: only a worker writes
    /// them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_usage_lines_skipped: Option<u64>,
    /// What the worker did to the session file vnx followed for its usage while it ran
    /// (cut it short, replaced or deleted it): the count read before stood.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_file_tampered: Vec<SessionTampering>,
    /// The project's setup and teardown commands run in the worktree, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub worktree_commands: Vec<WorktreeCommand>,
    /// What the CLI's own output said about the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli_events: Option<StreamSummary>,
    /// Whether the main checkout changed while the worker ran (it should not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_checkout_changed: Option<bool>,
    /// How it changed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_checkout: Option<CheckoutChange>,
    /// vnx's own files removed from the worktree before classification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnx_files_removed: Option<Vec<String>>,
    /// The commit vnx made of the changes a worker that reported done left uncommitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnx_commit: Option<VnxCommit>,
    /// Why vnx could not commit them (the dispatch is then not done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnx_commit_error: Option<String>,
    /// What the worker changed, committed and not (untracked files included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_stats: Option<DiffStats>,
    /// What teardown found: dirty, clean, pushed or committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown_class: Option<TeardownClass>,
    /// Why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown_reason: Option<String>,
    /// Commits on the dispatch branch that are not on its base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commits: Option<u64>,
    /// The worktree's HEAD when the worker ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_commit: Option<CommitId>,
    /// What teardown did to the worktree and the branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown_action: Option<TeardownAction>,
    /// Why teardown could not classify or release the worktree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown_error: Option<String>,
    /// Worker-derived members left out to keep the receipt under the ledger's line limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oversized_fields_dropped: Option<Vec<String>>,
    /// Set when the receipt was written on a remote host and re-attested here: which line of
    /// the host's ledger it came from (see [`RemoteOrigin`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteOrigin>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

impl DispatchCompleted {
    /// The completion of `dispatch_id` with `status`, told by `completion_signal`, recording
    /// nothing else yet (the writer fills in what it knows).
    pub fn new(
        dispatch_id: DispatchId,
        status: DispatchStatus,
        completion_signal: CompletionSignal,
    ) -> DispatchCompleted {
        DispatchCompleted {
            dispatch_id,
            status,
            completion_signal,
            lane: None,
            duration_seconds: None,
            worker_log: None,
            exit_code: None,
            exit_signal: None,
            failure_reason: None,
            temp_files_removed: None,
            slot_wait_seconds: None,
            report: None,
            report_rejected: None,
            recovered: None,
            closed_for_resume: None,
            session_id: None,
            token_usage: None,
            token_usage_source: None,
            token_usage_refused: None,
            token_usage_lines_skipped: None,
            session_file_tampered: Vec::new(),
            worktree_commands: Vec::new(),
            cli_events: None,
            main_checkout_changed: None,
            main_checkout: None,
            vnx_files_removed: None,
            vnx_commit: None,
            vnx_commit_error: None,
            diff_stats: None,
            teardown_class: None,
            teardown_reason: None,
            commits: None,
            head_commit: None,
            teardown_action: None,
            teardown_error: None,
            oversized_fields_dropped: None,
            remote: None,
            extra: Default::default(),
        }
    }

    /// Drops the members taken from the worker (its events, its report, the checkout lists,
    /// …), in that order, until `fits` says the receipt fits; names what was dropped.
    pub fn shed_until(&mut self, fits: impl Fn(&DispatchCompleted) -> bool) {
        if fits(self) {
            return;
        }
        let mut dropped = Vec::new();
        type Take = fn(&mut DispatchCompleted) -> bool;
        let members: [(&str, Take); 5] = [
            ("cli_events", |c| c.cli_events.take().is_some()),
            ("report", |c| c.report.take().is_some()),
            ("main_checkout", |c| c.main_checkout.take().is_some()),
            ("failure_reason", |c| c.failure_reason.take().is_some()),
            ("session_id", |c| c.session_id.take().is_some()),
        ];
        for (field, take) in members {
            if take(self) {
                dropped.push(field.to_owned());
            }
            if fits(self) {
                break;
            }
        }
        self.oversized_fields_dropped = Some(dropped);
    }
}

/// `dispatch_corrected`: the phantom guard's correction of a `done` that changed nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchCorrected {
    /// The dispatch whose completion is corrected.
    pub dispatch_id: DispatchId,
    /// The corrected status (failed).
    pub status: DispatchStatus,
    /// The status the completion said (done).
    pub previous_status: DispatchStatus,
    /// The kind of receipt corrected (`dispatch_completed`).
    pub corrects: String,
    /// Always true: the phantom guard rejected a `done`.
    pub phantom_rejected: bool,
    /// Why, in words.
    pub reason: String,
    /// The same reason, under the name failures carry.
    pub failure_reason: String,
    /// The completion's diff statistics, which show no change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_stats: Option<DiffStats>,
    /// The completion's teardown class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown_class: Option<TeardownClass>,
    /// The completion's head commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_commit: Option<CommitId>,
    /// Set when the receipt was written on a remote host and re-attested here: which line of
    /// the host's ledger it came from (see [`RemoteOrigin`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteOrigin>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}
