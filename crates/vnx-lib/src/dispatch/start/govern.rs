//! What the provider constraints decided about a dispatch, in words and as receipts: the
//! refusal's message and hint, and one `constraint_decision` receipt per decision.

use crate::constraints::{self, Decision, Route};
use crate::ledger::Receipt;
use crate::receipts::{self, ConstraintDecision, DecisionRef, RouteRef, SkillRef};
use crate::skills::Skill;

use crate::dispatch::Spec;

/// The route a decision was about, as a receipt records it.
fn route_ref(spec: &Spec) -> RouteRef {
    let route = Route {
        provider: spec.provider.name(),
        model: spec.model.as_deref(),
        role: &spec.role,
        lane: spec.lane,
        permission: spec.permission,
        sandboxed: spec.sandbox.is_some(),
    };
    RouteRef {
        provider: spec.provider.to_string(),
        model: spec.model.clone(),
        role: spec.role.clone(),
        lane: spec.lane,
        permission: spec.permission,
        via: route.via().into_iter().map(str::to_owned).collect(),
        sandboxed: route.sandboxed,
    }
}

/// One `constraint_decision` receipt per decision.
pub(crate) fn decision_receipts(spec: &Spec, decisions: &[Decision], sha256: &str) -> Vec<Receipt> {
    decisions
        .iter()
        .map(|d| {
            receipts::write(&ConstraintDecision {
                dispatch_id: spec.id.clone(),
                constraint_id: d.constraint_id.clone(),
                rule: d.rule.to_owned(),
                decision: d.decision,
                audit_severity: d.audit_severity,
                enforcement: d.enforcement,
                reason: d.reason.clone(),
                detail: d.detail.clone(),
                override_variable: d.override_variable.clone(),
                override_allowed: d.override_allowed,
                override_requested: d.override_requested,
                override_reason: d.override_reason.clone(),
                route: route_ref(spec),
                constraints_file: constraints::FILE.to_owned(),
                constraints_sha256: sha256.to_owned(),
                extra: Default::default(),
            })
        })
        .collect()
}

/// `dispatch_started`'s `skills`: each skill's name and the SHA-256 of its `SKILL.md`.
pub(crate) fn skill_refs(skills: &[Skill]) -> Vec<SkillRef> {
    skills
        .iter()
        .map(|s| SkillRef {
            name: s.name.clone(),
            sha256: s.sha256.clone(),
        })
        .collect()
}

/// `dispatch_started`'s `constraint_decisions`: each constraint's id and decision.
pub(crate) fn decision_refs(decisions: &[Decision]) -> Vec<DecisionRef> {
    decisions
        .iter()
        .map(|d| DecisionRef {
            id: d.constraint_id.clone(),
            decision: d.decision,
        })
        .collect()
}
