//! What the provider constraints decided about a dispatch, in words and as receipts: the
//! refusal's message and hint, and one `constraint_decision` receipt per decision.

use crate::constraints::{self, Decision, Route};
use crate::ledger::Receipt;
use crate::ledger::json::{Object, Value};

use super::{Spec, receipt};
use crate::skills::Skill;

/// Why constraints refused a dispatch: their reasons, one per line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Reasons(pub(super) String);

pub(super) fn refusal_message(id: &str, refusals: &[Decision]) -> String {
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

pub(super) fn refusal_hint(refusals: &[Decision]) -> String {
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
             --permission), or the constraint in provider_constraints.yaml",
            d.constraint_id
        ));
    }
    hint.join("; ")
}

/// The route a decision was about, as a receipt records it.
fn route_value(spec: &Spec) -> Value<'static> {
    let route = Route {
        provider: &spec.provider,
        model: spec.model.as_deref(),
        role: &spec.role,
        lane: spec.lane,
        permission: spec.permission,
    };
    let mut o = Object::default();
    o.insert("provider", Value::string(spec.provider.clone()));
    o.insert(
        "model",
        spec.model.clone().map_or(Value::Null, Value::string),
    );
    o.insert("role", Value::string(spec.role.clone()));
    o.insert("lane", Value::string(spec.lane.name()));
    o.insert("permission", Value::string(spec.permission.name()));
    o.insert(
        "via",
        Value::Array(route.via().into_iter().map(Value::string).collect()),
    );
    Value::Object(o)
}

/// One `constraint_decision` receipt per decision.
pub(super) fn decision_receipts(spec: &Spec, decisions: &[Decision], sha256: &str) -> Vec<Receipt> {
    decisions
        .iter()
        .map(|d| {
            receipt(vec![
                ("event_type", Value::string("constraint_decision")),
                ("dispatch_id", Value::string(spec.id.clone())),
                ("constraint_id", Value::string(d.constraint_id.clone())),
                ("rule", Value::string(d.rule)),
                ("decision", Value::string(d.decision.name())),
                ("audit_severity", Value::string(d.audit_severity.name())),
                ("enforcement", Value::string(d.enforcement.name())),
                ("reason", Value::string(d.reason.clone())),
                ("detail", Value::string(d.detail.clone())),
                (
                    "override_variable",
                    Value::string(d.override_variable.clone()),
                ),
                ("override_allowed", Value::Bool(d.override_allowed)),
                ("override_requested", Value::Bool(d.override_requested)),
                (
                    "override_reason",
                    d.override_reason.clone().map_or(Value::Null, Value::string),
                ),
                ("route", route_value(spec)),
                ("constraints_file", Value::string(constraints::FILE)),
                ("constraints_sha256", Value::string(sha256.to_owned())),
            ])
        })
        .collect()
}

/// `dispatch_started`'s `skills`: each skill's name and the SHA-256 of its `SKILL.md`.
pub(super) fn skills_value(skills: &[Skill]) -> Value<'static> {
    Value::Array(
        skills
            .iter()
            .map(|s| {
                let mut o = Object::default();
                o.insert("name", Value::string(s.name.clone()));
                o.insert("sha256", Value::string(s.sha256.clone()));
                Value::Object(o)
            })
            .collect(),
    )
}

/// `dispatch_started`'s `constraint_decisions`: each constraint's id and decision.
pub(super) fn decisions_value(decisions: &[Decision]) -> Value<'static> {
    Value::Array(
        decisions
            .iter()
            .map(|d| {
                let mut o = Object::default();
                o.insert("id", Value::string(d.constraint_id.clone()));
                o.insert("decision", Value::string(d.decision.name()));
                Value::Object(o)
            })
            .collect(),
    )
}
