//! A dispatch of `--plan` (ADR 0092): the plan step its `dispatch_started` records
//! (planning read-only, or following a plan a person approved), and a person's decision on a
//! plan, `plan_approved` or `plan_denied`, bound to the SHA-256 of the plan's text as its
//! completion recorded it.

use serde::{Deserialize, Serialize};

use crate::ids::DispatchId;

use super::Extra;
use super::kinds::Permission;

/// Which step of a planned dispatch a dispatch is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanStage {
    /// It works read-only and ends with its plan, which waits for a person.
    Planning,
    /// It carries out a plan a person approved.
    Approved,
}

/// The plan step a `dispatch_started` records for a dispatch of `--plan` (absent on every
/// other dispatch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlanStep {
    /// Planning, or carrying out an approved plan.
    pub stage: PlanStage,
    /// The posture the edits run in once the plan is approved (planning runs read-only,
    /// whatever the role's posture is).
    pub edits_permission: Permission,
    /// (approved) The dispatch that wrote the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_in: Option<DispatchId>,
    /// (approved) SHA-256 of the plan approved, as its completion recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_sha256: Option<String>,
}

/// `plan_approved`: a person approved the plan a planning dispatch ended with; the follow-up
/// that carries it out is its own `dispatch_started`, whose plan step names this plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlanApproved {
    /// The planning dispatch.
    pub dispatch_id: DispatchId,
    /// SHA-256 of the plan's text as the dispatch's completion recorded it: a different
    /// plan is not approved by this receipt.
    pub plan_sha256: String,
    /// Who approved it: the user `vnx` ran as, or the device a page was paired with.
    pub by: String,
    /// What the person added for the worker (`--message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The planning dispatch's head when its plan was approved (its planning changed
    /// nothing: the commit the chain began planning at): the follow-up that carries the plan
    /// out must start there. Absent: approved by a vnx from before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_commit: Option<crate::ids::CommitId>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `plan_denied`: a person sent a plan back to planning, saying why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlanDenied {
    /// The planning dispatch.
    pub dispatch_id: DispatchId,
    /// SHA-256 of the plan's text as the dispatch's completion recorded it.
    pub plan_sha256: String,
    /// Who denied it.
    pub by: String,
    /// What the worker is told (`--message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// SHA-256 of a plan's text, in hex: what an approval binds to.
pub fn plan_sha256(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_changed_by_a_byte_has_another_hash() {
        assert_ne!(plan_sha256("1. edit a.rs"), plan_sha256("1. edit a.rs "));
        assert_eq!(plan_sha256("").len(), 64);
    }
}
