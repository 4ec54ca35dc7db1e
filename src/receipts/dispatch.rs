//! The dispatch receipts: `dispatch_started`, `dispatch_completed`, the phantom guard's
//! `dispatch_corrected`, and `constraint_decision`; with the dispatch status and the
//! completion signal as enums, and the verdict "did this dispatch succeed".

use serde::{Deserialize, Serialize};

use super::{Extra, Kind};
use crate::constraints::{Enforcement, Severity, Verdict};
use crate::dispatch::signals::Report;
use crate::dispatch::workspace::Placed;
use crate::evidence_reach::Reach;
use crate::provider::events::{StreamSummary, Usage};
use crate::provider::hooks::HookKind;
use crate::provider::kinds::PromptTransport;
use crate::provider::{self, Lane, Permission};
use crate::worktree::{DiffStats, TeardownClass};

/// How a dispatch ended.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DispatchStatus {
    /// The worker reported done (or, for a provider whose completion is its exit, exited 0).
    Done,
    /// The worker, its CLI, or vnx around it failed.
    Failed,
    /// The worker ended its turn or exited without reporting: a person must look.
    NeedsInput,
    /// The deadline passed.
    Timeout,
    /// The supervisor was told to stop.
    Cancelled,
    /// A status a later version writes.
    #[default]
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

impl DispatchStatus {
    /// The status as receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            DispatchStatus::Done => "done",
            DispatchStatus::Failed => "failed",
            DispatchStatus::NeedsInput => "needs_input",
            DispatchStatus::Timeout => "timeout",
            DispatchStatus::Cancelled => "cancelled",
            DispatchStatus::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for DispatchStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a completion was decided from.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CompletionSignal {
    /// The worker's `vnx report`.
    Report,
    /// The worker's exit status.
    Exit,
    /// Claude Code's `Stop` hook (end of a turn).
    ClaudeStopHook,
    /// Gemini CLI's `AfterAgent` hook.
    GeminiAfterAgentHook,
    /// Codex's `notify` program.
    CodexNotify,
    /// The dispatch's deadline.
    Deadline,
    /// A signal to the supervisor (cancel).
    SupervisorSignal,
    /// The worker could not be started.
    SpawnFailed,
    /// The dispatch's tmux session could not be started.
    LaunchFailed,
    /// A signal a later version writes.
    #[default]
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

impl CompletionSignal {
    /// The signal as receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            CompletionSignal::Report => "report",
            CompletionSignal::Exit => "exit",
            CompletionSignal::ClaudeStopHook => "claude_stop_hook",
            CompletionSignal::GeminiAfterAgentHook => "gemini_after_agent_hook",
            CompletionSignal::CodexNotify => "codex_notify",
            CompletionSignal::Deadline => "deadline",
            CompletionSignal::SupervisorSignal => "supervisor_signal",
            CompletionSignal::SpawnFailed => "spawn_failed",
            CompletionSignal::LaunchFailed => "launch_failed",
            CompletionSignal::Unknown => "unknown",
        }
    }

    /// The signal a turn that ended through `hook` is recorded as.
    pub fn of_hook(hook: HookKind) -> CompletionSignal {
        match hook {
            HookKind::None => CompletionSignal::Exit,
            HookKind::ClaudeStop => CompletionSignal::ClaudeStopHook,
            HookKind::GeminiAfterAgent => CompletionSignal::GeminiAfterAgentHook,
            HookKind::CodexNotify => CompletionSignal::CodexNotify,
        }
    }
}

impl std::fmt::Display for CompletionSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A file `.worktreeinclude` copied into the worktree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncludedFile {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// A skill the prompt was composed with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SkillRef {
    pub name: String,
    /// SHA-256 of its `SKILL.md`.
    pub sha256: String,
}

/// A constraint's decision, as `dispatch_started` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DecisionRef {
    pub id: String,
    pub decision: Verdict,
}

/// `dispatch_started`: what was launched, how, from what, and what a worker could reach.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchStarted {
    pub dispatch_id: String,
    pub role: String,
    pub provider: String,
    pub model: Option<String>,
    pub lane: Lane,
    pub permission: Permission,
    pub permission_flags: Vec<String>,
    /// The worker's argv, the prompt replaced by its hash.
    pub argv: Vec<String>,
    pub binary: String,
    pub binary_version: Option<String>,
    pub prompt_transport: PromptTransport,
    /// What ends the dispatch successfully, as the provider declares it.
    pub completion: provider::CompletionSignal,
    pub hooks: HookKind,
    pub vnx_files_placed: Vec<Placed>,
    pub prompt_sha256: String,
    pub instruction_sha256: String,
    pub prompt_bytes: u64,
    pub deadline_seconds: u64,
    pub base_commit: String,
    pub base_ref: String,
    /// Whether the role is expected to change files (the phantom guard).
    pub writes: bool,
    pub branch: String,
    pub worktree: String,
    pub worktree_include: Vec<IncludedFile>,
    /// `socket:session`.
    pub tmux: String,
    pub skills: Vec<SkillRef>,
    pub constraint_decisions: Vec<DecisionRef>,
    pub constraints_sha256: String,
    pub evidence_reach: Reach,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Kind for DispatchStarted {
    const EVENT: &'static str = "dispatch_started";
}

impl DispatchStarted {
    /// The tmux session the dispatch runs in.
    pub fn session(&self) -> Option<&str> {
        self.tmux.split_once(':').map(|(_, s)| s)
    }
}

/// How the main checkout changed while the worker ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckoutChange {
    pub head_before: Option<String>,
    pub head_after: Option<String>,
    pub changed_before: Vec<String>,
    pub changed_after: Vec<String>,
}

/// What teardown did to the worktree and branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TeardownAction {
    pub worktree_removed: bool,
    pub branch_deleted: bool,
    pub locked: bool,
}

/// `dispatch_completed`: how the dispatch ended, what the worker and its CLI said, and what
/// teardown kept.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchCompleted {
    pub dispatch_id: String,
    /// `unknown` when the line has none (it was not written by vnx).
    #[serde(default)]
    pub status: DispatchStatus,
    #[serde(default)]
    pub completion_signal: CompletionSignal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<Lane>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_log: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_signal: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temp_files_removed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_wait_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_rejected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli_events: Option<StreamSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_checkout_changed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_checkout: Option<CheckoutChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnx_files_removed: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_stats: Option<DiffStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown_class: Option<TeardownClass>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commits: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown_action: Option<TeardownAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown_error: Option<String>,
    /// Worker-derived members left out to keep the receipt under the ledger's line limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oversized_fields_dropped: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Kind for DispatchCompleted {
    const EVENT: &'static str = "dispatch_completed";
}

impl DispatchCompleted {
    /// Drops the members taken from the worker (its events, its report, the checkout lists,
    /// …), in that order, until `fits` says the receipt fits; names what was dropped.
    pub fn shed_until(&mut self, fits: impl Fn(&DispatchCompleted) -> bool) {
        if fits(self) {
            return;
        }
        let mut dropped = Vec::new();
        for field in [
            "cli_events",
            "report",
            "main_checkout",
            "failure_reason",
            "session_id",
        ] {
            let had = match field {
                "cli_events" => self.cli_events.take().is_some(),
                "report" => self.report.take().is_some(),
                "main_checkout" => self.main_checkout.take().is_some(),
                "failure_reason" => self.failure_reason.take().is_some(),
                _ => self.session_id.take().is_some(),
            };
            if had {
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
    pub dispatch_id: String,
    pub status: DispatchStatus,
    pub previous_status: DispatchStatus,
    /// The kind of receipt corrected (`dispatch_completed`).
    pub corrects: String,
    pub phantom_rejected: bool,
    pub reason: String,
    pub failure_reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_stats: Option<DiffStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown_class: Option<TeardownClass>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_commit: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Kind for DispatchCorrected {
    const EVENT: &'static str = "dispatch_corrected";
}

/// The route a constraint decision was about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RouteRef {
    pub provider: String,
    pub model: Option<String>,
    pub role: String,
    pub lane: Lane,
    pub permission: Permission,
    /// The route's path, for `forbid_route` matching (provider, then model).
    pub via: Vec<String>,
}

/// `constraint_decision`: one provider constraint that matched a dispatch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConstraintDecision {
    pub dispatch_id: String,
    pub constraint_id: String,
    /// `forbid_route` or `require_route`.
    pub rule: String,
    pub decision: Verdict,
    pub audit_severity: Severity,
    pub enforcement: Enforcement,
    pub reason: String,
    pub detail: String,
    pub override_variable: String,
    pub override_allowed: bool,
    pub override_requested: bool,
    pub override_reason: Option<String>,
    pub route: RouteRef,
    pub constraints_file: String,
    pub constraints_sha256: String,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Kind for ConstraintDecision {
    const EVENT: &'static str = "constraint_decision";
}
