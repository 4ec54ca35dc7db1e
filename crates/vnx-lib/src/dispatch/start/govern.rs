//! What the provider constraints decided about a dispatch, in words and as receipts: the
//! refusal's message and hint, and one `constraint_decision` receipt per decision.

use crate::constraints::{self, Decision, Route};
use crate::ledger::Receipt;
use crate::receipts::{self, ConstraintDecision, DecisionRef, RouteRef, SkillRef};
use crate::skills::Skill;

use crate::dispatch::Spec;

/// Why constraints refused a dispatch: their reasons, one per line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Reasons(pub(crate) String);

pub(crate) fn refusal_message(id: &str, refusals: &[Decision]) -> String {
    let what: Vec<String> = refusals
        .iter()
        .map(|d| format!("`{}` ({})", d.constraint_id, d.detail))
        .collect();
    let noun = if refusals.len() == 1 {
        "constraint"
    } else {
        "constraints"
    };
    format!("dispatch {id} refused by {noun} {}", what.join(", "))
}

pub(crate) fn refusal_hint(refusals: &[Decision]) -> String {
    let (open, closed): (Vec<&Decision>, Vec<&Decision>) =
        refusals.iter().partition(|d| d.override_allowed);
    let mut hint = Vec::new();
    if !open.is_empty() {
        let vars: Vec<String> = open
            .iter()
            .map(|d| {
                if d.override_reason_required {
                    format!(
                        "{}=1 with {}_REASON=\"why\"",
                        d.override_variable, d.override_variable
                    )
                } else {
                    format!("{}=1", d.override_variable)
                }
            })
            .collect();
        hint.push(format!(
            "to run it anyway, set {} for this dispatch (the override is recorded)",
            vars.join(" and ")
        ));
    }
    for d in closed {
        hint.push(format!(
            "`{}` allows no override: change the dispatch (provider, model, lane, \
             --permission, --sandbox), or the constraint in provider_constraints.yaml",
            d.constraint_id
        ));
    }
    hint.join("; ")
}

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
