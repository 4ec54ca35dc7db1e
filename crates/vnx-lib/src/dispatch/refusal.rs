//! What a refused dispatch's error says, below the start that refuses it: the provider
//! constraints' refusal in words and its hint, and the egress policy's findings listed.

use crate::constraints::Decision;
use crate::egress::Finding;

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

/// The findings, listed for a message: `rule at source:line:column, …`.
pub fn list(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
