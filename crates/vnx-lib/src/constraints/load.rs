//! Loading `provider_constraints.yaml`: the raw, span-carrying schema and its validation, so
//! that every error names the file, line and column.

use crate::ids::{is_kebab, norm};
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};
use sha2::{Digest, Sha256};

use super::{
    Budget, Constraint, Constraints, Enforcement, LoadError, Pin, PinSemantics, RouteMatch, Rule,
    Severity,
};
use crate::yaml::{self, Spot};

/// Reads and validates the constraints file at `path`. A missing file is an error: vnx does
/// not dispatch ungoverned.
pub fn load(path: &Path) -> Result<Constraints, LoadError> {
    let open = |p: &Path| crate::files::open_untrusted(p, 1);
    match yaml::read(path, yaml::MAX_BYTES, open)? {
        Some(text) => parse(&text, path),
        None => Err(LoadError::Missing {
            path: path.to_owned(),
        }),
    }
}

/// Parses and validates constraints text; `path` is only used in errors.
pub fn parse(text: &str, path: &Path) -> Result<Constraints, LoadError> {
    let raw: RawFile = yaml::parse(text, path)?;
    let v = Validator { path };
    let Some(version) = raw.version else {
        return Err(LoadError::Invalid(Spot::new(
            path,
            1,
            1,
            "`version: 1` is missing",
        )));
    };
    if version.value.trim() != "1" {
        return v.err(
            &version.referenced,
            format!(
                "unsupported version {}; this vnx reads version 1",
                quoted(&version.value)
            ),
        );
    }
    let mut constraints = Vec::new();
    let mut ids = BTreeSet::new();
    for raw in raw.constraints.unwrap_or_default() {
        let c = v.constraint(raw, &mut ids)?;
        constraints.push(c);
    }
    for raw in raw.budgets.unwrap_or_default() {
        let c = v.budget(raw, &mut ids)?;
        constraints.push(c);
    }
    let exempted = egress_exempted();
    let egress = match raw.egress {
        None => crate::egress::Policy::shipped(&exempted),
        Some(e) => {
            crate::egress::config::validate(e, &exempted).or_else(|(at, m)| v.err(&at, m))?
        }
    };
    Ok(Constraints {
        path: path.to_owned(),
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
        constraints,
        egress,
    })
}

// ---- raw, span-carrying schema ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: Option<Spanned<String>>,
    constraints: Option<Vec<RawConstraint>>,
    /// vnx's extension: token budgets (a key Python VNX does not read).
    budgets: Option<Vec<RawBudget>>,
    /// vnx's extension: the egress policy (`crate::egress::config`).
    egress: Option<crate::egress::config::RawEgress>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudget {
    id: Spanned<String>,
    provider: Option<Spanned<Names>>,
    model: Option<Spanned<Names>>,
    role: Option<Spanned<Names>>,
    period: Spanned<String>,
    max_tokens: Spanned<u64>,
    reason: Spanned<String>,
    audit_severity: Spanned<String>,
    override_allowed: Option<bool>,
    override_reason_required: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConstraint {
    id: Spanned<String>,
    rule: Spanned<String>,
    forbidden_route: Option<Spanned<RawRoute>>,
    required_route: Option<Spanned<RawRoute>>,
    forbidden_import: Option<Spanned<RawImport>>,
    reason: Spanned<String>,
    enforcement: Spanned<String>,
    audit_severity: Spanned<String>,
    override_allowed: Option<bool>,
    /// vnx's extension: an override needs `VNX_OVERRIDE_<KEY>_REASON`.
    override_reason_required: Option<Spanned<bool>>,
    pin_semantics: Option<Spanned<String>>,
    /// vnx's extension: the order `floor` compares models in, lowest first.
    model_order: Option<Spanned<Names>>,
}

/// The keys of a route block; which are allowed depends on the block.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    provider: Option<Spanned<Names>>,
    model: Option<Spanned<Names>>,
    role: Option<Spanned<Names>>,
    task_class: Option<Spanned<Names>>,
    via: Option<Spanned<Names>>,
    /// vnx's extension: whether the worker runs in vnx's sandbox.
    sandboxed: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImport {
    patterns: Spanned<Names>,
}

/// A string, or a list of strings.
struct Names(Vec<String>);

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NamesVisitor;
        impl<'de> Visitor<'de> for NamesVisitor {
            type Value = Names;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Names, E> {
                Ok(Names(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Names, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(Names(out))
            }
        }
        deserializer.deserialize_any(NamesVisitor)
    }
}

// ---- validation ----

struct Validator<'p> {
    path: &'p Path,
}

type Checked<T> = Result<T, LoadError>;

impl Validator<'_> {
    fn err<T>(&self, at: &Location, message: String) -> Checked<T> {
        let (line, column) = yaml::line_col(at);
        Err(LoadError::Invalid(Spot::new(
            self.path, line, column, message,
        )))
    }

    /// A kebab-case id, unique across constraints and budgets.
    fn id(&self, id: Spanned<String>, ids: &mut BTreeSet<String>) -> Checked<String> {
        if !is_kebab(&id.value) {
            return self.err(
                &id.referenced,
                format!(
                    "id {} is not kebab-case: use 1-64 lowercase letters and digits in \
                     words joined by single `-`",
                    quoted(&id.value)
                ),
            );
        }
        if !ids.insert(id.value.clone()) {
            return self.err(&id.referenced, format!("id `{}` is used twice", id.value));
        }
        Ok(id.value)
    }

    fn reason(&self, who: &str, raw: Spanned<String>) -> Checked<String> {
        let reason = raw.value.trim().to_owned();
        if reason.is_empty() {
            return self.err(&raw.referenced, format!("{who}: `reason` is empty"));
        }
        Ok(reason)
    }

    fn constraint(&self, raw: RawConstraint, ids: &mut BTreeSet<String>) -> Checked<Constraint> {
        let id = self.id(raw.id, ids)?;
        let who = format!("constraint `{id}`");
        let reason = self.reason(&who, raw.reason)?;
        let severity = self.severity(&who, &raw.audit_severity)?;
        let enforcement = match raw.enforcement.value.as_str() {
            "code_raise" => Enforcement::CodeRaise,
            "code_warn" => Enforcement::CodeWarn,
            "ci_grep" => Enforcement::CiGrep,
            other => {
                return self.err(
                    &raw.enforcement.referenced,
                    format!(
                        "{who}: unknown enforcement {}; use code_raise, code_warn or ci_grep",
                        quoted(other)
                    ),
                );
            }
        };
        let rule_at = raw.rule.referenced;
        let wanted = match raw.rule.value.as_str() {
            "forbid_route" => "forbidden_route",
            "require_route" => "required_route",
            "forbid_import" => "forbidden_import",
            other => {
                return self.err(
                    &rule_at,
                    format!(
                        "{who}: unknown rule {}; use forbid_route, require_route or forbid_import",
                        quoted(other)
                    ),
                );
            }
        };
        // Exactly the block the rule names.
        let blocks = [
            (
                "forbidden_route",
                raw.forbidden_route.as_ref().map(|b| b.referenced),
            ),
            (
                "required_route",
                raw.required_route.as_ref().map(|b| b.referenced),
            ),
            (
                "forbidden_import",
                raw.forbidden_import.as_ref().map(|b| b.referenced),
            ),
        ];
        for (name, at) in blocks {
            if let Some(at) = at
                && name != wanted
            {
                return self.err(
                    &at,
                    format!(
                        "{who}: `{name}` does not go with rule {}; it takes `{wanted}`",
                        raw.rule.value
                    ),
                );
            }
        }
        if (enforcement == Enforcement::CiGrep) != (wanted == "forbidden_import") {
            return self.err(
                &raw.enforcement.referenced,
                format!(
                    "{who}: enforcement ci_grep (a source scan) goes with rule forbid_import, \
                     and only with it"
                ),
            );
        }
        let only_pins = |field: &str, at: &Location| -> Checked<()> {
            self.err(
                at,
                format!("{who}: `{field}` applies to require_route (model pins) only"),
            )
        };
        if wanted != "required_route" {
            if let Some(p) = &raw.pin_semantics {
                only_pins("pin_semantics", &p.referenced)?;
            }
            if let Some(o) = &raw.model_order {
                only_pins("model_order", &o.referenced)?;
            }
        }
        let rule = match wanted {
            "forbidden_route" => {
                let Some(block) = raw.forbidden_route else {
                    return self.err(&rule_at, format!("{who}: `forbidden_route` is missing"));
                };
                let at = block.referenced;
                let route = self.route(
                    &who,
                    block.value,
                    &[
                        "provider",
                        "model",
                        "role",
                        "task_class",
                        "via",
                        "sandboxed",
                    ],
                )?;
                if route == RouteMatch::default() {
                    return self.err(
                        &at,
                        format!("{who}: `forbidden_route` names no key, so it would forbid every dispatch"),
                    );
                }
                Rule::ForbidRoute(route)
            }
            "required_route" => {
                let Some(block) = raw.required_route else {
                    return self.err(&rule_at, format!("{who}: `required_route` is missing"));
                };
                self.pin(&who, block, raw.pin_semantics, raw.model_order)?
            }
            _ => {
                let Some(block) = raw.forbidden_import else {
                    return self.err(&rule_at, format!("{who}: `forbidden_import` is missing"));
                };
                let patterns =
                    self.names(&who, "forbidden_import.patterns", block.value.patterns)?;
                Rule::ForbidImport { patterns }
            }
        };
        let override_allowed = raw.override_allowed.unwrap_or(false);
        let override_reason_required =
            self.reason_required(&who, override_allowed, raw.override_reason_required)?;
        Ok(Constraint {
            id,
            rule,
            reason,
            enforcement,
            severity,
            override_allowed,
            override_reason_required,
        })
    }

    fn severity(&self, who: &str, raw: &Spanned<String>) -> Checked<Severity> {
        match raw.value.as_str() {
            "blocking" => Ok(Severity::Blocking),
            "warn" => Ok(Severity::Warn),
            "info" => Ok(Severity::Info),
            other => self.err(
                &raw.referenced,
                format!(
                    "{who}: unknown audit_severity {}; use blocking, warn or info",
                    quoted(other)
                ),
            ),
        }
    }

    fn reason_required(
        &self,
        who: &str,
        override_allowed: bool,
        raw: Option<Spanned<bool>>,
    ) -> Checked<bool> {
        Ok(match raw {
            Some(r) if r.value && !override_allowed => {
                return self.err(
                    &r.referenced,
                    format!("{who}: `override_reason_required` needs `override_allowed: true`"),
                );
            }
            Some(r) => r.value,
            None => false,
        })
    }

    /// A `budgets:` entry, as a constraint with rule `token_budget`.
    fn budget(&self, raw: RawBudget, ids: &mut BTreeSet<String>) -> Checked<Constraint> {
        let id = self.id(raw.id, ids)?;
        let who = format!("budget `{id}`");
        let reason = self.reason(&who, raw.reason)?;
        let severity = self.severity(&who, &raw.audit_severity)?;
        let Some(period) = super::budget::Period::parse(&raw.period.value) else {
            return self.err(
                &raw.period.referenced,
                format!(
                    "{who}: unknown period {}; use day, week, month or all",
                    quoted(&raw.period.value)
                ),
            );
        };
        if raw.max_tokens.value == 0 {
            return self.err(
                &raw.max_tokens.referenced,
                format!("{who}: `max_tokens` must be at least 1"),
            );
        }
        let keys = RawRoute {
            provider: raw.provider,
            model: raw.model,
            role: raw.role,
            task_class: None,
            via: None,
            sandboxed: None,
        };
        let selector = self.route(&who, keys, &["provider", "model", "role"])?;
        let override_allowed = raw.override_allowed.unwrap_or(false);
        let override_reason_required =
            self.reason_required(&who, override_allowed, raw.override_reason_required)?;
        Ok(Constraint {
            id,
            rule: Rule::TokenBudget(Budget {
                selector,
                period,
                max_tokens: raw.max_tokens.value,
            }),
            reason,
            enforcement: Enforcement::CodeRaise,
            severity,
            override_allowed,
            override_reason_required,
        })
    }

    fn pin(
        &self,
        who: &str,
        block: Spanned<RawRoute>,
        semantics: Option<Spanned<String>>,
        order: Option<Spanned<Names>>,
    ) -> Checked<Rule> {
        let at = block.referenced;
        let mut raw = block.value;
        let model = raw.model.take();
        let selector = self.route(who, raw, &["provider", "role", "via"])?;
        let Some(model) = model else {
            return self.err(
                &at,
                format!("{who}: `required_route` needs `model`, the model it pins"),
            );
        };
        let model_at = model.referenced;
        let models = self.names(who, "required_route.model", model)?;
        let semantics = match semantics {
            None => PinSemantics::Floor,
            Some(s) => match s.value.as_str() {
                "floor" => PinSemantics::Floor,
                "default" => PinSemantics::Default,
                other => {
                    return self.err(
                        &s.referenced,
                        format!(
                            "{who}: unknown pin_semantics {}; use floor or default",
                            quoted(other)
                        ),
                    );
                }
            },
        };
        if models.len() != 1 {
            return self.err(
                &model_at,
                format!("{who}: a model pin names one model, not a list"),
            );
        }
        let model = models.into_iter().next().unwrap_or_default();
        let model_order = match order {
            None => None,
            Some(order) if semantics == PinSemantics::Default => {
                return self.err(
                    &order.referenced,
                    format!("{who}: `model_order` goes with pin_semantics floor, not default"),
                );
            }
            Some(order) => {
                let at = order.referenced;
                let list = self.names(who, "model_order", order)?;
                let mut seen = BTreeSet::new();
                if let Some(dup) = list.iter().find(|m| !seen.insert(norm(m))) {
                    return self.err(&at, format!("{who}: `model_order` lists `{dup}` twice"));
                }
                if !list.iter().any(|m| norm(m) == norm(&model)) {
                    return self.err(
                        &at,
                        format!("{who}: `model_order` must include the floor `{model}`"),
                    );
                }
                Some(list)
            }
        };
        Ok(Rule::RequireRoute(Pin {
            selector,
            model,
            semantics,
            model_order,
        }))
    }

    /// A route block's keys, each allowed only if listed in `allowed`.
    fn route(&self, who: &str, raw: RawRoute, allowed: &[&str]) -> Checked<RouteMatch> {
        let mut out = RouteMatch::default();
        if let Some(s) = raw.sandboxed {
            if !allowed.contains(&"sandboxed") {
                return self.err(
                    &s.referenced,
                    format!(
                        "{who}: `sandboxed` is not a key of this route block (allowed: {})",
                        allowed.join(", ")
                    ),
                );
            }
            out.sandboxed = Some(s.value);
        }
        let fields = [
            ("provider", raw.provider, &mut out.provider),
            ("model", raw.model, &mut out.model),
            ("role", raw.role, &mut out.role),
            ("task_class", raw.task_class, &mut out.task_class),
            ("via", raw.via, &mut out.via),
        ];
        for (name, value, slot) in fields {
            let Some(value) = value else { continue };
            if !allowed.contains(&name) {
                return self.err(
                    &value.referenced,
                    format!(
                        "{who}: `{name}` is not a key of this route block (allowed: {})",
                        allowed.join(", ")
                    ),
                );
            }
            *slot = Some(self.names(who, name, value)?);
        }
        Ok(out)
    }

    /// A non-empty list of non-empty strings.
    fn names(&self, who: &str, what: &str, names: Spanned<Names>) -> Checked<Vec<String>> {
        if names.value.0.is_empty() {
            return self.err(
                &names.referenced,
                format!("{who}: `{what}` is an empty list"),
            );
        }
        if names.value.0.iter().any(|n| n.trim().is_empty()) {
            return self.err(
                &names.referenced,
                format!("{who}: `{what}` holds an empty string"),
            );
        }
        Ok(names.value.0)
    }
}

/// A user-supplied value quoted for a message: control characters escaped, at most 80
/// characters.
fn quoted(s: &str) -> String {
    let mut out: String = s.chars().take(80).flat_map(char::escape_debug).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    format!("`{out}`")
}

/// The providers exempt from the egress policy by default: the local and offline ones
/// (`CodingCli::egress_exempt`).
fn egress_exempted() -> Vec<&'static str> {
    (crate::provider::cli::CLIS.iter())
        .filter(|cli| cli.egress_exempt())
        .map(|cli| cli.provider().name())
        .collect()
}

/// The egress policy of a constraints file without `egress:`, as the shipped file's.
pub fn default_egress() -> crate::egress::Policy {
    crate::egress::Policy::shipped(&egress_exempted())
}

#[cfg(test)]
mod tests {

    #[test]
    fn override_keys_are_upper_snake_case() {
        assert_eq!(
            super::super::override_key("no-skip-permissions"),
            "NO_SKIP_PERMISSIONS"
        );
    }
}
