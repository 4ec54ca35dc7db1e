//! The gate receipts: `gate_request` (written before a gate runs), `gate_result` (its
//! evidence) and `gate_report` (a gate-check's GO or HOLD); with the verdicts they record: a
//! gate's status and exit, a gate-check's decision, a reviewer's verdict and findings.

use serde::{Deserialize, Serialize};

use crate::ids::{CommitId, DispatchId};

use super::Extra;

/// What a gate run on a merge result checks: the merge of the dispatch's head into the base's
/// head, whose commit is the request's and the result's `head_commit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OnMerge {
    /// The dispatch's head (the completion's), the merge's second parent.
    pub dispatch_head: CommitId,
    /// The base branch.
    pub base_ref: String,
    /// The base's head the merge was formed on, its first parent.
    pub base_tip: CommitId,
}

/// `gate_request`: a gate is about to run, on this head, under this contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateRequest {
    /// The dispatch whose work the gate checks.
    pub dispatch_id: DispatchId,
    /// The gate's name in .vnx/config.yaml.
    pub gate: String,
    /// `command`, `review` or `screenshots`.
    pub kind: String,
    /// The gate-check run: its UTC time and two random bytes.
    pub run: String,
    /// The commit the gate checks (the completion's head).
    pub head_commit: CommitId,
    /// The commit the dispatch started from.
    pub base_commit: CommitId,
    /// The gate's definition as configured.
    pub definition: serde_json::Value,
    /// SHA-256 of the definition's canonical JSON.
    pub definition_sha256: String,
    /// The request file the gate was given (review gates: the reviewer's prompt).
    pub request_path: String,
    /// SHA-256 of that file.
    pub request_sha256: String,
    /// SHA-256 over dispatch, gate, definition, head and request: a result counts only for it.
    pub contract_hash: String,
    /// Set when the gate checks a merge result in the merge queue: `head_commit` is then the
    /// merge commit, not the dispatch's head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_merge: Option<OnMerge>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `gate_result`: what one gate found, with the hashes of every file it left.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateResult {
    /// The dispatch whose work the gate checked.
    pub dispatch_id: DispatchId,
    /// The gate's name in .vnx/config.yaml.
    pub gate: String,
    /// `command`, `review` or `screenshots`.
    pub kind: String,
    /// The gate-check run it belongs to.
    pub run: String,
    /// What the gate found; only `pass` counts.
    pub status: GateStatus,
    /// Why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The same reason when the gate did not pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// The contract of the request this result answers.
    pub contract_hash: String,
    /// The commit the gate checked.
    pub head_commit: CommitId,
    /// SHA-256 of the definition it ran under.
    pub definition_sha256: String,
    /// SHA-256 of the request it was given.
    pub request_sha256: String,
    /// Seconds the gate ran.
    pub duration_seconds: f64,
    /// What ran: the command, or the reviewer CLI with the request replaced by its hash.
    pub argv: Vec<String>,
    /// How the gate's process ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<GateExit>,
    /// The reviewer's provider (review gates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The reviewer's model (review gates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The reviewer CLI's session id (review gates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The reviewer's verdict (review gates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<ReviewVerdict>,
    /// The reviewer's findings by weight (review gates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding_counts: Option<ReviewCounts>,
    /// The reviewer's first findings, messages shortened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<ReviewFinding>,
    /// The gate's output log.
    pub output_path: String,
    /// SHA-256 of that log, when it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_sha256: Option<String>,
    /// The result file, `result.json`.
    pub result_path: String,
    /// SHA-256 of that file.
    pub result_sha256: String,
    /// The human report, `report.md`.
    pub report_path: String,
    /// SHA-256 of that file.
    pub report_sha256: String,
    /// Whether the throwaway checkout the gate ran in was removed (or scrubbed back into the
    /// gates' worktree pool).
    pub worktree_removed: bool,
    /// The gates' pool entry the gate ran in (a warm checkout whose cache directories only
    /// earlier gates wrote), when it ran in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooled_worktree: Option<String>,
    /// Set when the gate checked a merge result in the merge queue (as its request says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_merge: Option<OnMerge>,
    /// The bubblewrap sandbox the gate's command ran in: a sandboxed dispatch's command gates
    /// run in its shape, with the gate's checkout the only writable path. Absent: no sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<super::Shape>,
    /// The images a screenshots gate took, each with its hash (ADR 0125).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub screenshots: Vec<Screenshot>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One image a screenshots gate took of the dispatch's preview (ADR 0125).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Screenshot {
    /// The page's path on the preview, as the gate lists it (`/about`).
    pub path: String,
    /// The window's width, in CSS pixels.
    pub width: u32,
    /// The window's height, in CSS pixels.
    pub height: u32,
    /// The PNG file, under the gate's directory in `.vnx-data/gates/`.
    pub file: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// `gate_report`'s `status`: the decision in lower case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GateReportStatus {
    /// Every required gate passed.
    Go,
    /// Something is missing or did not pass.
    Hold,
}

/// One gate as a `gate_report` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateReportEntry {
    /// The gate's name.
    pub gate: String,
    /// `command`, `review` or `screenshots`.
    pub kind: String,
    /// What it found in this run.
    pub status: GateStatus,
    /// The contract its result answers.
    pub contract_hash: String,
    /// The commit it checked.
    pub head_commit: CommitId,
}

/// `gate_report`: a gate-check's decision and what it rests on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateReport {
    /// The dispatch checked.
    pub dispatch_id: DispatchId,
    /// The gate-check run.
    pub run: String,
    /// The decision in lower case (go or hold).
    pub status: GateReportStatus,
    /// The decision as people read it (GO or HOLD).
    pub decision: GateDecision,
    /// Why the decision is HOLD (empty for GO).
    pub reasons: Vec<String>,
    /// What a GO rests on besides passing gates (a role that requires none, ignored receipts).
    pub notes: Vec<String>,
    /// The dispatch's role, whose gates were run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The commit checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_commit: Option<CommitId>,
    /// The gates the role requires; `None` when it names none.
    pub required: Option<Vec<String>>,
    /// Each gate run, with its status.
    pub gates: Vec<GateReportEntry>,
    /// The report file, `gate-report.json`.
    pub report_path: String,
    /// SHA-256 of that file.
    pub report_sha256: String,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A gate-check's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum GateDecision {
    /// Every required gate passed on the recorded head.
    Go,
    /// Something is missing or did not pass.
    Hold,
}

/// One gate's result: only `Pass` counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GateStatus {
    /// The gate passed.
    Pass,
    /// It ran and did not pass.
    Fail,
    /// The gate could not run, timed out, stalled, or gave no verdict.
    Error,
}

impl GateStatus {
    /// The status as receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            GateStatus::Pass => "pass",
            GateStatus::Fail => "fail",
            GateStatus::Error => "error",
        }
    }
}

/// How a gate's process ended, as the receipt schema's `exit`: a code or a signal name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateExit {
    /// The exit code, when it exited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// The signal's name (`SIGKILL`), when one ended it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

/// The reviewer's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReviewVerdict {
    /// The reviewer passes the work.
    Pass,
    /// The reviewer fails it.
    Fail,
}

/// How much a finding weighs: blocking findings fail the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Weight")]
pub enum ReviewWeight {
    /// Fails the gate whatever the verdict.
    Blocking,
    /// Worth fixing; does not fail the gate.
    Major,
    /// A nit.
    Minor,
}

/// One finding, as the reviewer wrote it, with the weight vnx gives its severity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Finding")]
pub struct ReviewFinding {
    /// The severity as the reviewer wrote it.
    pub severity: String,
    /// The weight vnx gives that severity.
    pub weight: ReviewWeight,
    /// What the reviewer says.
    pub message: String,
    /// The file it is about, when named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The line it is about, when named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

/// Findings by weight (the receipt schema's `finding_counts`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[schemars(rename = "Counts")]
pub struct ReviewCounts {
    /// Blocking findings.
    pub blocking: u64,
    /// Major findings.
    pub major: u64,
    /// Minor findings.
    pub minor: u64,
}
