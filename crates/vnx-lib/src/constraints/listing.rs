//! One constraint as `vnx constraints list --json` and `vnx mcp` show it: id, rule,
//! severity, enforcement, reason, override settings, and its pin or budget.

use super::{Constraint, Rule};

/// The constraint as a JSON object (see docs/json.md, `vnx constraints list --json`).
pub fn json(c: &Constraint) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": c.id,
        "rule": c.rule.name(),
        "audit_severity": c.severity.name(),
        "enforcement": c.enforcement.name(),
        "reason": c.reason,
        "override_allowed": c.override_allowed,
        "override_variable": c.override_variable(),
        "override_reason_required": c.override_reason_required,
    });
    if let Rule::RequireRoute(pin) = &c.rule {
        v["pin"] = serde_json::json!({
            "model": pin.model,
            "semantics": pin.semantics,
            "model_order": pin.model_order,
        });
    }
    if let Rule::TokenBudget(b) = &c.rule {
        v["budget"] = serde_json::json!({
            "provider": b.selector.provider,
            "model": b.selector.model,
            "role": b.selector.role,
            "period": b.period,
            "max_tokens": b.max_tokens,
        });
    }
    v
}
