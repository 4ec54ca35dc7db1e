//! The best-of-N receipts: `group_started` (one task sent to several candidates as one
//! group), `group_decision` (every candidate's evidence and the winner, if any), and the
//! `group` member a candidate's `dispatch_started` carries.

use serde::{Deserialize, Serialize};

use crate::ids::{CommitId, DispatchId, GroupId};

use super::{DispatchStatus, Extra, GateDecision, GateStatus};

/// The `group` member of a candidate's `dispatch_started`: which group it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupMember {
    /// The group's id (`G-` and twelve hex digits; eight in groups made before 0.2).
    pub group_id: GroupId,
    /// The candidate's position in the group, from 1, as the candidates were given.
    pub index: u32,
    /// How many candidates the group has.
    pub size: u32,
}

/// How a candidate entered its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CandidateEntry {
    /// Its dispatch was launched.
    Launched,
    /// A provider constraint refused it (its `constraint_decision` receipts say why).
    Refused,
    /// It was planned but its launch failed.
    LaunchFailed,
}

impl CandidateEntry {
    /// The entry as receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            CandidateEntry::Launched => "launched",
            CandidateEntry::Refused => "refused",
            CandidateEntry::LaunchFailed => "launch_failed",
        }
    }
}

/// One candidate as `group_started` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupCandidate {
    /// Its position in the group, from 1.
    pub index: u32,
    /// Its dispatch id (a refused candidate's id names its `constraint_decision` receipts).
    pub dispatch_id: DispatchId,
    /// The provider asked for.
    pub provider: String,
    /// The model asked for; `null` for the CLI's default.
    pub model: Option<String>,
    /// Whether it was launched, refused or failed to launch.
    pub entry: CandidateEntry,
    /// Why it was not launched, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `group_started`: one task sent to several candidates as one group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupStarted {
    /// The group's id.
    pub group_id: GroupId,
    /// The role every candidate plays.
    pub role: String,
    /// SHA-256 of the instruction every candidate was given.
    pub instruction_sha256: String,
    /// The base every candidate started from, as given.
    pub base_ref: String,
    /// The candidates, in the order given (the order breaks ties).
    pub candidates: Vec<GroupCandidate>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A receipt the decision rests on: its line number and the SHA-256 of its line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LineRef {
    /// Its line number.
    pub seq: Option<u64>,
    /// SHA-256 of its line.
    pub line_sha256: String,
}

/// One gate of a candidate's gate report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateStanding {
    /// The gate's name.
    pub gate: String,
    /// `command`, `review` or `screenshots`.
    pub kind: String,
    /// What it found.
    pub status: GateStatus,
    /// The contract its result answers.
    pub contract_hash: String,
}

/// What a candidate's review gates said (only review gates that passed count here; a
/// failed review fails the gates).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReviewStanding {
    /// Whether every review gate the role requires passed.
    pub passed: bool,
    /// How many review gates ran.
    pub gates: u32,
    /// Their findings that did not block (major and minor), summed.
    pub findings: u64,
}

/// The size of a candidate's change, from its completion's `diff_stats` (committed and
/// uncommitted summed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChangeSize {
    /// Lines added and removed.
    pub lines: u64,
    /// Files touched.
    pub files: u64,
}

/// Whether a candidate won.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CandidateVerdict {
    /// It won the group.
    Won,
    /// It qualified and ranked below the winner.
    Lost,
    /// It could not win: not done, gates not passed, refused, or evidence missing.
    Disqualified,
}

/// One candidate's evidence, as `group_decision` records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CandidateEvidence {
    /// Its position in the group, from 1.
    pub index: u32,
    /// Its dispatch id.
    pub dispatch_id: DispatchId,
    /// The provider asked for.
    pub provider: String,
    /// The model its start recorded (or asked for, if it never started).
    pub model: Option<String>,
    /// How it entered the group.
    pub entry: CandidateEntry,
    /// How its dispatch ended, as its attested completion says (and a correction); `null`
    /// when it never completed.
    pub status: Option<DispatchStatus>,
    /// Its attested completion receipt.
    pub completion: Option<LineRef>,
    /// The head its completion recorded.
    pub head_commit: Option<CommitId>,
    /// The gate-check run for this decision.
    pub gate_run: Option<String>,
    /// Its GO or HOLD.
    pub gate_decision: Option<GateDecision>,
    /// Its attested `gate_report` receipt.
    pub gate_report: Option<LineRef>,
    /// Each gate the report lists.
    pub gates: Vec<GateStanding>,
    /// What its review gates said, if the role requires any.
    pub review: Option<ReviewStanding>,
    /// The size of its change.
    pub change: Option<ChangeSize>,
    /// Won, lost or disqualified.
    pub verdict: CandidateVerdict,
    /// Its place among the qualified candidates, from 1.
    pub rank: Option<u32>,
    /// Why it won, lost or could not win, in words.
    pub reason: String,
}

/// `group_decision`: every candidate's evidence, and the winner by the documented rule
/// (ADR 0029): gates, then review, then the smaller change, then the order given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupDecision {
    /// The group decided.
    pub group_id: GroupId,
    /// The rule applied, by name and version.
    pub rule: String,
    /// The winning dispatch; `null` when no candidate qualified.
    pub winner: Option<DispatchId>,
    /// Why, in words.
    pub reason: String,
    /// Every candidate, in the group's order.
    pub candidates: Vec<CandidateEvidence>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}
