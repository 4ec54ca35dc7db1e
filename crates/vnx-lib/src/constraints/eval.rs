//! Judging one dispatch's route against the constraints, before anything is created: model
//! pins first (a pin may fill in the model), then `forbid_route` rules on the route as it will
//! run. Every constraint that matches yields a [`Decision`]; `forbid_import` rules are source
//! scans and yield none here. The semantics are in `adr/0011-constraint-semantics.md`.

use std::collections::{BTreeMap, BTreeSet};

use super::budget::{Period, Spend};
use super::override_key;
use super::{
    Budget, Constraint, Constraints, Enforcement, Pin, PinSemantics, RouteMatch, Rule, Severity,
};
use crate::ids::norm;
use crate::provider::{Lane, Permission};

pub use crate::receipts::ConstraintVerdict as Verdict;

/// What a dispatch asks for, as the constraints see it.
#[derive(Clone, Copy, Debug)]
pub struct Route<'a> {
    /// The provider asked for.
    pub provider: &'a str,
    /// The model the dispatcher named, if any.
    pub model: Option<&'a str>,
    /// The dispatch's role.
    pub role: &'a str,
    /// Its lane.
    pub lane: Lane,
    /// Its permission posture.
    pub permission: Permission,
    /// Whether its worker runs in vnx's sandbox.
    pub sandboxed: bool,
}

/// The tag vnx derives for a posture that skips the CLI's approvals and sandbox.
pub const SKIP_PERMISSIONS: &str = "skip_permissions";

impl Route<'_> {
    /// The `via` tags vnx derives: the lane (`interactive` or `headless`), and
    /// `skip_permissions` when the posture is `full`.
    pub fn via(&self) -> Vec<&'static str> {
        let mut tags = vec![self.lane.name()];
        if self.permission == Permission::Full {
            tags.push(SKIP_PERMISSIONS);
        }
        tags
    }
}

/// One constraint's decision about one dispatch.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Decision {
    /// The constraint's `id`.
    pub constraint_id: String,
    /// `forbid_route` or `require_route`.
    pub rule: &'static str,
    /// What it decided.
    pub decision: Verdict,
    /// Its severity.
    pub audit_severity: Severity,
    /// Where VNX enforces it (recorded).
    pub enforcement: Enforcement,
    /// Its reason, as written.
    pub reason: String,
    /// What matched, in words.
    pub detail: String,
    /// `VNX_OVERRIDE_<ID>`, which overrides it.
    pub override_variable: String,
    /// Whether it may be overridden.
    pub override_allowed: bool,
    /// Whether the override variable was set to 1 for this dispatch.
    pub override_requested: bool,
    /// The reason given in `VNX_OVERRIDE_<KEY>_REASON`, if any.
    pub override_reason: Option<String>,
    /// Whether an override of this constraint needs that reason.
    pub override_reason_required: bool,
}

/// The overrides a dispatcher set: the `<KEY>` of every `VNX_OVERRIDE_<KEY>=1` (see
/// [`override_key`]), and the reasons given in `VNX_OVERRIDE_<KEY>_REASON`, by `<KEY>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// The `<KEY>` of each `VNX_OVERRIDE_<KEY>=1` set.
    pub keys: BTreeSet<String>,
    /// `VNX_OVERRIDE_<KEY>_REASON` values, by key.
    pub reasons: BTreeMap<String, String>,
}

impl Overrides {
    fn requested(&self, c: &Constraint) -> bool {
        self.keys.contains(&override_key(&c.id))
    }

    fn reason(&self, c: &Constraint) -> Option<String> {
        self.reasons
            .get(&override_key(&c.id))
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
    }
}

/// The constraints' verdict on a route.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// The model the dispatch runs with: the one requested, or the one a pin filled in.
    pub model: Option<String>,
    /// The constraint whose pin supplied the model, if one did.
    pub pinned_by: Option<String>,
    /// One per matched constraint, in file order.
    pub decisions: Vec<Decision>,
}

impl Evaluation {
    /// The decisions that refuse the dispatch.
    pub fn refusals(&self) -> Vec<&Decision> {
        self.decisions
            .iter()
            .filter(|d| d.decision == Verdict::Refused)
            .collect()
    }
}

/// The recorded spend each token budget counts, by budget id: the dispatches its keys match,
/// in its current period, as the caller summed them from the ledger.
pub type Spending = BTreeMap<String, Spend>;

/// Judges `route` given the dispatcher's overrides and the recorded spend of each budget (a
/// budget missing from `spending` counts as nothing spent).
pub fn evaluate(
    constraints: &Constraints,
    route: &Route<'_>,
    overrides: &Overrides,
    spending: &Spending,
) -> Evaluation {
    let via = route.via();
    let mut eval = Evaluation {
        model: route.model.map(str::to_owned),
        ..Evaluation::default()
    };
    let mut decided: Vec<(usize, Decision)> = Vec::new();
    // Pins first: a pin may fill in the model that `forbid_route` rules then see.
    for (i, c) in constraints.constraints.iter().enumerate() {
        if let Rule::RequireRoute(pin) = &c.rule
            && matches(&pin.selector, route, None, &via)
        {
            decided.push((i, judge_pin(c, pin, &mut eval, overrides)));
        }
    }
    for (i, c) in constraints.constraints.iter().enumerate() {
        if let Rule::ForbidRoute(m) = &c.rule
            && matches(m, route, eval.model.as_deref(), &via)
        {
            let detail = describe(m, route, eval.model.as_deref(), &via);
            decided.push((i, violation(c, false, detail, overrides)));
        }
    }
    // Budgets last, on the route as it will run (a pin may have named the model).
    for (i, c) in constraints.constraints.iter().enumerate() {
        if let Rule::TokenBudget(b) = &c.rule
            && matches(&b.selector, route, eval.model.as_deref(), &via)
        {
            let spent = spending.get(&c.id).cloned().unwrap_or_default();
            decided.push((i, judge_budget(c, b, &spent, overrides)));
        }
    }
    decided.sort_by_key(|(i, _)| *i);
    eval.decisions = decided.into_iter().map(|(_, d)| d).collect();
    eval
}

/// A budget's decision: a violation once the recorded spend has reached the limit, else
/// allowed; either way the detail gives the figures, and the dispatches whose usage was
/// never reported (whose spend is unknown, not zero).
fn judge_budget(c: &Constraint, b: &Budget, spent: &Spend, overrides: &Overrides) -> Decision {
    let period = match b.period {
        Period::All => "on record".to_owned(),
        p => format!("this {} (UTC)", p.name()),
    };
    let mut detail = format!(
        "{} of {} tokens recorded {period}, over {} dispatch(es)",
        spent.total_tokens, b.max_tokens, spent.dispatches
    );
    if spent.unreported > 0 {
        detail.push_str(&format!(
            "; {} of them reported no usage, so they are not counted",
            spent.unreported
        ));
    }
    if spent.total_tokens >= b.max_tokens {
        violation(c, false, format!("budget spent: {detail}"), overrides)
    } else {
        decision(c, Verdict::Allowed, detail, overrides)
    }
}

fn judge_pin(c: &Constraint, pin: &Pin, eval: &mut Evaluation, overrides: &Overrides) -> Decision {
    let kind = match pin.semantics {
        PinSemantics::Floor => "floor",
        PinSemantics::Default => "default",
    };
    let Some(model) = eval.model.clone() else {
        eval.model = Some(pin.model.clone());
        eval.pinned_by = Some(c.id.clone());
        let detail = format!("no model given: pinned `{}` ({kind} pin)", pin.model);
        return decision(c, Verdict::Pinned, detail, overrides);
    };
    if model_is(&model, &pin.model) {
        let detail = format!("model `{model}` is the pinned {kind} `{}`", pin.model);
        return decision(c, Verdict::Allowed, detail, overrides);
    }
    match pin.semantics {
        PinSemantics::Default => {
            let detail = format!("model `{model}` is not the pinned default `{}`", pin.model);
            violation(c, false, detail, overrides)
        }
        PinSemantics::Floor => {
            let Some(order) = &pin.model_order else {
                let detail = format!(
                    "model `{model}` cannot be compared with the floor `{}`: the constraint has \
                     no model_order",
                    pin.model
                );
                return violation(c, true, detail, overrides);
            };
            let position = |m: &str| order.iter().position(|o| model_is(m, o));
            let shown = order.join(" < ");
            match (position(&model), position(&pin.model)) {
                (Some(have), Some(floor)) if have >= floor => {
                    let detail = format!(
                        "model `{model}` is at or above the floor `{}` ({shown})",
                        pin.model
                    );
                    decision(c, Verdict::Allowed, detail, overrides)
                }
                (Some(_), _) => {
                    let detail = format!(
                        "model `{model}` is below the floor `{}` ({shown})",
                        pin.model
                    );
                    violation(c, true, detail, overrides)
                }
                (None, _) => {
                    let detail = format!(
                        "model `{model}` is not in model_order ({shown}), so it cannot be \
                         compared with the floor `{}`",
                        pin.model
                    );
                    violation(c, true, detail, overrides)
                }
            }
        }
    }
}

/// A violation's decision: overridden when asked and allowed; otherwise refused when `strict`
/// (a floor) or blocking, warned when `warn`, allowed (recorded) when `info`.
fn violation(c: &Constraint, strict: bool, mut detail: String, overrides: &Overrides) -> Decision {
    let requested = overrides.requested(c);
    let missing_reason = c.override_reason_required && overrides.reason(c).is_none();
    let verdict = if requested && c.override_allowed && !missing_reason {
        Verdict::Overridden
    } else if strict || c.severity == Severity::Blocking {
        Verdict::Refused
    } else if c.severity == Severity::Warn {
        Verdict::Warned
    } else {
        Verdict::Allowed
    };
    if requested && !c.override_allowed {
        detail.push_str(&format!(
            "; {}=1 is set, but this constraint allows no override",
            c.override_variable()
        ));
    } else if requested && missing_reason {
        detail.push_str(&format!(
            "; {}=1 is set, but this constraint's override needs a reason in {}",
            c.override_variable(),
            c.reason_variable()
        ));
    }
    decision(c, verdict, detail, overrides)
}

fn decision(c: &Constraint, verdict: Verdict, detail: String, overrides: &Overrides) -> Decision {
    Decision {
        constraint_id: c.id.clone(),
        rule: c.rule.name(),
        decision: verdict,
        audit_severity: c.severity,
        enforcement: c.enforcement,
        reason: c.reason.clone(),
        detail,
        override_variable: c.override_variable(),
        override_allowed: c.override_allowed,
        override_requested: overrides.requested(c),
        override_reason: overrides.reason(c),
        override_reason_required: c.override_reason_required,
    }
}

fn any_of(spec: &[String], actual: &str) -> bool {
    let actual = norm(actual);
    spec.iter().any(|s| norm(s) == actual)
}

/// A model name and, for `vendor/name`, its last segment (as VNX compares them).
fn aliases(model: &str) -> Vec<String> {
    let n = norm(model);
    let mut out = vec![n.clone()];
    if let Some((_, last)) = n.rsplit_once('/')
        && !last.is_empty()
    {
        out.push(last.to_owned());
    }
    out
}

fn model_is(actual: &str, spec: &str) -> bool {
    let spec = aliases(spec);
    aliases(actual).iter().any(|a| spec.contains(a))
}

/// Whether the provider, model and role keys `m` names match a dispatch's (as a route rule
/// compares them: trimmed, any case, a `vendor/name` model also by its last segment). Budgets
/// count recorded spend with it, so they count what they judge.
pub fn keys_match(m: &RouteMatch, provider: &str, model: Option<&str>, role: &str) -> bool {
    m.provider.as_ref().is_none_or(|p| any_of(p, provider))
        && m.role.as_ref().is_none_or(|r| any_of(r, role))
        && m.model
            .as_ref()
            .is_none_or(|spec| model.is_some_and(|model| spec.iter().any(|s| model_is(model, s))))
}

/// Whether every key `m` names matches the route (with `model` as the model).
fn matches(m: &RouteMatch, route: &Route<'_>, model: Option<&str>, via: &[&str]) -> bool {
    keys_match(m, route.provider, model, route.role)
        // vnx dispatches carry no task class: a rule about one matches none of them.
        && m.task_class.is_none()
        && m.via.as_ref().is_none_or(|v| via.iter().any(|t| any_of(v, t)))
        && m.sandboxed.is_none_or(|s| s == route.sandboxed)
}

/// The matched keys in words, e.g. "provider demo, via headless".
fn describe(m: &RouteMatch, route: &Route<'_>, model: Option<&str>, via: &[&str]) -> String {
    let mut parts = Vec::new();
    if m.provider.is_some() {
        parts.push(format!("provider {}", route.provider));
    }
    if m.model.is_some() {
        parts.push(format!("model {}", model.unwrap_or_default()));
    }
    if m.role.is_some() {
        parts.push(format!("role {}", route.role));
    }
    if let Some(v) = &m.via {
        let tags: Vec<&str> = via.iter().copied().filter(|t| any_of(v, t)).collect();
        parts.push(format!("via {}", tags.join(", ")));
    }
    if m.sandboxed.is_some() {
        let not = if route.sandboxed { "" } else { "not " };
        parts.push(format!("{not}sandboxed"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_match_by_name_or_last_segment_ignoring_case() {
        assert!(model_is("Sonnet", " sonnet "));
        assert!(model_is("vendor/big-model-4", "big-model-4"));
        assert!(model_is("big-model-4", "vendor/big-model-4"));
        assert!(!model_is("sonnet", "opus"));
        assert!(!model_is("a/", "b/"));
    }

    #[test]
    fn full_posture_is_tagged_skip_permissions() {
        let route = Route {
            provider: "other",
            model: None,
            role: "r",
            lane: Lane::Interactive,
            permission: Permission::Full,
            sandboxed: false,
        };
        assert_eq!(route.via(), ["interactive", "skip_permissions"]);
        let route = Route {
            permission: Permission::Edits,
            lane: Lane::Headless,
            ..route
        };
        assert_eq!(route.via(), ["headless"]);
    }
}
