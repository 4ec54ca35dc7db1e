//! The gate receipts: `gate_request` (written before a gate runs), `gate_result` (its
//! evidence) and `gate_report` (a gate-check's GO or HOLD).

use serde::{Deserialize, Serialize};

use super::{Extra, Kind};
use crate::gate::review::{Counts, Finding, Verdict};
use crate::gate::{Decision, Exit, Status};

/// `gate_request`: a gate is about to run, on this head, under this contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateRequest {
    pub dispatch_id: String,
    pub gate: String,
    /// `command` or `review`.
    pub kind: String,
    pub run: String,
    pub head_commit: String,
    pub base_commit: String,
    /// The gate's definition as configured.
    pub definition: serde_json::Value,
    pub definition_sha256: String,
    pub request_path: String,
    pub request_sha256: String,
    pub contract_hash: String,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Kind for GateRequest {
    const EVENT: &'static str = "gate_request";
}

/// `gate_result`: what one gate found, with the hashes of every file it left.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateResult {
    pub dispatch_id: String,
    pub gate: String,
    pub kind: String,
    pub run: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub contract_hash: String,
    pub head_commit: String,
    pub definition_sha256: String,
    pub request_sha256: String,
    pub duration_seconds: f64,
    pub argv: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<Exit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding_counts: Option<Counts>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    pub output_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_sha256: Option<String>,
    pub result_path: String,
    pub result_sha256: String,
    pub report_path: String,
    pub report_sha256: String,
    pub worktree_removed: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Kind for GateResult {
    const EVENT: &'static str = "gate_result";
}

/// `gate_report`'s `status`: the decision in lower case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GateReportStatus {
    Go,
    Hold,
}

/// One gate as a `gate_report` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateReportEntry {
    pub gate: String,
    pub kind: String,
    pub status: Status,
    pub contract_hash: String,
    pub head_commit: String,
}

/// `gate_report`: a gate-check's decision and what it rests on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateReport {
    pub dispatch_id: String,
    pub run: String,
    pub status: GateReportStatus,
    pub decision: Decision,
    pub reasons: Vec<String>,
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_commit: Option<String>,
    /// The gates the role requires; `None` when it names none.
    pub required: Option<Vec<String>>,
    pub gates: Vec<GateReportEntry>,
    pub report_path: String,
    pub report_sha256: String,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Kind for GateReport {
    const EVENT: &'static str = "gate_report";
}
