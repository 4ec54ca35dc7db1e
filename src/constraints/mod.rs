//! `provider_constraints.yaml`: VNX's schema (`version: 1`, `constraints[]` with `forbid_route`,
//! `require_route` and `forbid_import` rules), loaded strictly — an unknown version, rule,
//! severity, enforcement, pin or field is an error naming the file, line and column. How a
//! dispatch's route is judged against the rules is in `eval`; the source scan behind
//! `forbid_import` is in `imports`.

pub mod eval;
pub mod imports;

pub use eval::{Decision, Evaluation, Overrides, Route, Verdict, evaluate};
pub use imports::{ImportHit, ScanError, ScanReport, scan_imports, tracked_files};

use std::collections::BTreeSet;
use std::fmt;
use std::io::Read;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};
use sha2::{Digest, Sha256};

use crate::config::ConfigError;

/// The constraints file, relative to the repository root.
pub const FILE: &str = "provider_constraints.yaml";

/// A constraints file larger than this is refused before parsing.
const MAX_BYTES: u64 = 1024 * 1024;

/// A loaded, validated constraints file.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraints {
    pub path: PathBuf,
    /// SHA-256 of the file's bytes, recorded with every decision.
    pub sha256: String,
    pub constraints: Vec<Constraint>,
}

/// One entry of `constraints:`.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    /// Kebab-case, unique in the file.
    pub id: String,
    pub rule: Rule,
    pub reason: String,
    pub enforcement: Enforcement,
    pub severity: Severity,
    pub override_allowed: bool,
    /// vnx's extension: an override counts only with a reason in
    /// `VNX_OVERRIDE_<KEY>_REASON`, which the decision records.
    pub override_reason_required: bool,
}

impl Constraint {
    /// The variable that overrides it: `VNX_OVERRIDE_` and [`override_key`] of the id.
    pub fn override_variable(&self) -> String {
        format!("VNX_OVERRIDE_{}", override_key(&self.id))
    }

    /// The variable that gives an override's reason: the override variable and `_REASON`.
    pub fn reason_variable(&self) -> String {
        format!("{}_REASON", self.override_variable())
    }
}

/// The part of `VNX_OVERRIDE_<KEY>` that names a constraint: the id uppercased, `-` → `_`
/// (as VNX).
pub fn override_key(id: &str) -> String {
    id.to_ascii_uppercase().replace('-', "_")
}

/// What a constraint says.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// Dispatches whose route matches are violations.
    ForbidRoute(RouteMatch),
    /// Dispatches whose route matches `selector` must run on `model` (a model pin).
    RequireRoute(Pin),
    /// The project's own source must not contain these (a source scan, not a dispatch rule).
    ForbidImport { patterns: Vec<String> },
}

impl Rule {
    pub fn name(&self) -> &'static str {
        match self {
            Rule::ForbidRoute(_) => "forbid_route",
            Rule::RequireRoute(_) => "require_route",
            Rule::ForbidImport { .. } => "forbid_import",
        }
    }
}

/// Route keys: each named key must match the dispatch (a list means "any of"); values are
/// compared trimmed and case-insensitively. `None`: the key is not named.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RouteMatch {
    pub provider: Option<Vec<String>>,
    pub model: Option<Vec<String>>,
    pub role: Option<Vec<String>>,
    /// vnx dispatches have no task class, so a rule naming one matches none of them.
    pub task_class: Option<Vec<String>>,
    pub via: Option<Vec<String>>,
}

/// A `require_route` model pin.
#[derive(Clone, Debug, PartialEq)]
pub struct Pin {
    /// Which dispatches it applies to (provider, role, via; never model).
    pub selector: RouteMatch,
    /// The required model.
    pub model: String,
    pub semantics: PinSemantics,
    /// vnx's extension for `floor`: models from lowest to highest, including `model`.
    pub model_order: Option<Vec<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinSemantics {
    /// The model is the minimum: a dispatch naming none gets it, a lower one is refused.
    Floor,
    /// The model is used when a dispatch names none; another one is a violation of the
    /// constraint's severity.
    Default,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Blocking,
    Warn,
    Info,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Blocking => "blocking",
            Severity::Warn => "warn",
            Severity::Info => "info",
        }
    }
}

/// Where VNX enforces a rule. Recorded; the severity decides what a violation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    CodeRaise,
    CodeWarn,
    CiGrep,
}

impl Enforcement {
    pub fn name(self) -> &'static str {
        match self {
            Enforcement::CodeRaise => "code_raise",
            Enforcement::CodeWarn => "code_warn",
            Enforcement::CiGrep => "ci_grep",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("{path} is missing")]
    Missing { path: PathBuf },
    #[error("could not read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `line` and `column` are 1-based; 0 when unknown.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

impl LoadError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            LoadError::Missing { .. } => "run `vnx init` to install the default constraints \
                 (a file with `version: 1` and `constraints: []` forbids nothing)"
                .into(),
            LoadError::Io { .. } => return None,
            LoadError::Invalid { .. } => {
                "fix the file; its header comment describes the schema (`vnx init --force` \
                 restores the shipped one)"
                    .into()
            }
        })
    }
}

/// Reads and validates the constraints file at `path`. A missing file is an error: vnx does
/// not dispatch ungoverned.
pub fn load(path: &Path) -> Result<Constraints, LoadError> {
    let file = std::fs::File::open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => LoadError::Missing {
            path: path.to_owned(),
        },
        _ => LoadError::Io {
            path: path.to_owned(),
            source,
        },
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| LoadError::Io {
            path: path.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(invalid(
            path,
            0,
            0,
            "the file is larger than 1 MiB, the most vnx reads",
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        invalid(path, line, 0, "the file is not valid UTF-8")
    })?;
    parse(&text, path)
}

/// Parses and validates constraints text; `path` is only used in errors.
pub fn parse(text: &str, path: &Path) -> Result<Constraints, LoadError> {
    let raw: RawFile = crate::config::parse_yaml(text, path).map_err(|e| match e {
        ConfigError::Invalid {
            path,
            line,
            column,
            message,
        } => LoadError::Invalid {
            path,
            line,
            column,
            message,
        },
        ConfigError::Io { path, source } => LoadError::Io { path, source },
    })?;
    let v = Validator { path };
    let Some(version) = raw.version else {
        return Err(invalid(path, 1, 1, "`version: 1` is missing"));
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
    Ok(Constraints {
        path: path.to_owned(),
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
        constraints,
    })
}

// ---- raw, span-carrying schema ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: Option<Spanned<String>>,
    constraints: Option<Vec<RawConstraint>>,
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
        struct NamesVisitor(PhantomData<()>);
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
        deserializer.deserialize_any(NamesVisitor(PhantomData))
    }
}

// ---- validation ----

struct Validator<'p> {
    path: &'p Path,
}

type Checked<T> = Result<T, LoadError>;

impl Validator<'_> {
    fn err<T>(&self, at: &Location, message: String) -> Checked<T> {
        let n = |v: u64| usize::try_from(v).unwrap_or(0);
        Err(invalid(self.path, n(at.line()), n(at.column()), &message))
    }

    fn constraint(&self, raw: RawConstraint, ids: &mut BTreeSet<String>) -> Checked<Constraint> {
        let id = raw.id;
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
        let who = format!("constraint `{}`", id.value);
        let reason = raw.reason.value.trim().to_owned();
        if reason.is_empty() {
            return self.err(&raw.reason.referenced, format!("{who}: `reason` is empty"));
        }
        let severity = match raw.audit_severity.value.as_str() {
            "blocking" => Severity::Blocking,
            "warn" => Severity::Warn,
            "info" => Severity::Info,
            other => {
                return self.err(
                    &raw.audit_severity.referenced,
                    format!(
                        "{who}: unknown audit_severity {}; use blocking, warn or info",
                        quoted(other)
                    ),
                );
            }
        };
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
                    &["provider", "model", "role", "task_class", "via"],
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
        let override_reason_required = match raw.override_reason_required {
            Some(r) if r.value && !override_allowed => {
                return self.err(
                    &r.referenced,
                    format!("{who}: `override_reason_required` needs `override_allowed: true`"),
                );
            }
            Some(r) => r.value,
            None => false,
        };
        Ok(Constraint {
            id: id.value,
            rule,
            reason,
            enforcement,
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

/// A value as route matching compares it.
pub(crate) fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

fn is_kebab(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn invalid(path: &Path, line: usize, column: usize, message: &str) -> LoadError {
    LoadError::Invalid {
        path: path.to_owned(),
        line,
        column,
        message: message.to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kebab_case() {
        for ok in ["a", "no-skip-permissions", "t0-opus-only"] {
            assert!(is_kebab(ok), "{ok}");
        }
        for bad in ["", "A", "a--b", "-a", "a-", "a_b", &"a".repeat(65)] {
            assert!(!is_kebab(bad), "{bad}");
        }
        assert_eq!(override_key("no-skip-permissions"), "NO_SKIP_PERMISSIONS");
    }
}
