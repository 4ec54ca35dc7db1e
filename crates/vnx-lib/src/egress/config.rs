//! The `egress:` section of `provider_constraints.yaml` (vnx's extension, beside `budgets:`):
//! its raw, span-carrying shape and its validation into a [`Policy`]. An unknown key, action
//! or rule id, a bad pattern or an out-of-range number is an error at its line and column
//! (the constraints loader adds the file's path).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::{Action, Pattern, Policy};

/// The section as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEgress {
    action: Option<Spanned<String>>,
    providers: Option<BTreeMap<String, Spanned<String>>>,
    rules: Option<BTreeMap<String, Spanned<String>>>,
    allow: Option<Vec<Spanned<String>>>,
    patterns: Option<Vec<RawPattern>>,
    entropy: Option<RawEntropy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPattern {
    id: Spanned<String>,
    regex: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntropy {
    threshold: Option<Spanned<f64>>,
    min_length: Option<Spanned<u64>>,
}

/// An error in the section: where, and what.
pub type Invalid = (Location, String);

/// The most a pattern's compiled program may take (bounds a hostile or careless pattern).
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Validates the section; `exempted` are the providers exempt when it names none. `exempt`
/// is allowed only as a provider's action or the default.
pub fn validate(raw: RawEgress, exempted: &[&str]) -> Result<Policy, Invalid> {
    let mut policy = Policy::shipped(exempted);
    if let Some(a) = &raw.action {
        policy.action = action(a, true)?;
    }
    if let Some(providers) = raw.providers {
        // The file's list replaces the default exemptions.
        policy.providers.clear();
        for (name, a) in providers {
            if name.trim().is_empty() {
                return Err((
                    a.referenced,
                    "egress.providers: an empty provider name".into(),
                ));
            }
            policy
                .providers
                .insert(crate::ids::norm(&name), action(&a, true)?);
        }
    }
    let mut ids: BTreeSet<String> = super::rules::BUILTIN
        .iter()
        .map(|r| r.id)
        .chain([super::rules::UNSCANNABLE])
        .map(str::to_owned)
        .collect();
    for p in raw.patterns.unwrap_or_default() {
        if !crate::ids::is_kebab(&p.id.value) {
            return Err((
                p.id.referenced,
                format!(
                    "egress pattern id `{}` is not kebab-case: use 1-64 lowercase letters and \
                     digits in words joined by single `-`",
                    p.id.value.escape_debug()
                ),
            ));
        }
        if !ids.insert(p.id.value.clone()) {
            return Err((
                p.id.referenced,
                format!(
                    "egress pattern id `{}` is taken (by a built-in rule or another pattern)",
                    p.id.value
                ),
            ));
        }
        let regex = compile(&format!("egress pattern `{}`", p.id.value), &p.regex)?;
        policy.patterns.push(Pattern {
            id: p.id.value,
            source: p.regex.value,
            regex,
        });
    }
    if let Some(rules) = raw.rules {
        // The file's floors replace the default ones.
        policy.rules.clear();
        for (id, a) in rules {
            if !ids.contains(&id) {
                return Err((
                    a.referenced,
                    format!(
                        "egress.rules: unknown rule `{}`; the built-in rules are {}, \
                         `{}` (a file that could not be scanned), and `patterns:` adds its own",
                        id.escape_debug(),
                        super::rules::BUILTIN
                            .iter()
                            .map(|r| r.id)
                            .collect::<Vec<_>>()
                            .join(", "),
                        super::rules::UNSCANNABLE
                    ),
                ));
            }
            let Some(a) = action(&a, false)? else {
                unreachable!("action() refuses exempt when it is not allowed")
            };
            policy.rules.insert(id, a);
        }
    }
    for a in raw.allow.unwrap_or_default() {
        let whole = Spanned {
            value: format!("^(?:{})$", a.value),
            referenced: a.referenced,
            defined: a.defined,
        };
        let regex = compile("egress.allow", &whole)?;
        policy.allow.push(Pattern {
            id: a.value.clone(),
            source: a.value,
            regex,
        });
    }
    if let Some(e) = raw.entropy {
        if let Some(t) = e.threshold {
            if !(1.0..=8.0).contains(&t.value) {
                return Err((
                    t.referenced,
                    format!(
                        "egress.entropy.threshold {} is outside 1..=8 bits per byte",
                        t.value
                    ),
                ));
            }
            policy.entropy_threshold = t.value;
        }
        if let Some(m) = e.min_length {
            if !(8..=256).contains(&m.value) {
                return Err((
                    m.referenced,
                    format!("egress.entropy.min_length {} is outside 8..=256", m.value),
                ));
            }
            policy.entropy_min_length = m.value as usize;
        }
    }
    Ok(policy)
}

/// An action as written; `exempt` (as `None`) only where `exempt_ok`.
fn action(raw: &Spanned<String>, exempt_ok: bool) -> Result<Option<Action>, Invalid> {
    Ok(Some(match raw.value.as_str() {
        "refuse" => Action::Refuse,
        "redact" => Action::Redact,
        "warn" => Action::Warn,
        "exempt" if exempt_ok => return Ok(None),
        other => {
            let allowed = if exempt_ok {
                "refuse, redact, warn or exempt"
            } else {
                "refuse, redact or warn (a rule's action is a floor; exempt a provider instead)"
            };
            return Err((
                raw.referenced,
                format!(
                    "unknown egress action `{}`; use {allowed}",
                    other.escape_debug()
                ),
            ));
        }
    }))
}

/// A pattern compiled with a bounded size; one that matches the empty text is refused (it
/// would find a secret everywhere).
fn compile(who: &str, raw: &Spanned<String>) -> Result<regex::bytes::Regex, Invalid> {
    let regex = regex::bytes::RegexBuilder::new(&raw.value)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            let why = e
                .to_string()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            (raw.referenced, format!("{who}: invalid regex: {why}"))
        })?;
    if regex.is_match(b"") {
        return Err((
            raw.referenced,
            format!("{who}: the regex matches the empty text, so it would match everywhere"),
        ));
    }
    Ok(regex)
}
