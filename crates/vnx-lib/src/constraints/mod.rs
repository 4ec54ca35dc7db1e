//! `provider_constraints.yaml`: VNX's schema (`version: 1`, `constraints[]` with `forbid_route`,
//! `require_route` and `forbid_import` rules), loaded strictly — an unknown version, rule,
//! severity, enforcement, pin or field is an error naming the file, line and column. vnx
//! adds `budgets:` (token budgets, judged as constraints with rule `token_budget`) and
//! `egress:` (the egress policy, validated by `crate::egress::config`). How a
//! dispatch's route is judged against the rules is in `eval`; the source scan behind
//! `forbid_import` is in `imports`; loading is in `load`.

pub mod budget;
pub mod eval;
pub mod imports;
pub mod listing;
mod load;

pub use eval::{Decision, Evaluation, Overrides, Route, Spending, Verdict, evaluate, keys_match};
pub use imports::{ImportHit, ScanError, ScanReport, scan_imports, tracked_files};
pub use load::{default_egress, load, parse};

pub use crate::receipts::{ConstraintEnforcement as Enforcement, ConstraintSeverity as Severity};

use std::path::PathBuf;

/// The constraints file, relative to the repository root.
pub const FILE: &str = "provider_constraints.yaml";

/// What the credential relay scans the bodies that leave with (ADR 0124): the egress policy
/// of the project at `repo_root` for `provider`; `None` where the provider is exempt.
pub fn relay_scan(
    repo_root: &std::path::Path,
    provider: &str,
) -> Result<Option<crate::provider::relay::Scan>, String> {
    let path = repo_root.join(FILE);
    let constraints = load(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let exempt = constraints.egress.provider_action(provider).is_none();
    Ok((!exempt).then(|| crate::provider::relay::Scan {
        policy: constraints.egress,
        provider: provider.to_owned(),
    }))
}

/// A loaded, validated constraints file.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraints {
    /// The file loaded.
    pub path: PathBuf,
    /// SHA-256 of the file's bytes, recorded with every decision.
    pub sha256: String,
    /// Its constraints, in file order.
    pub constraints: Vec<Constraint>,
    /// vnx's extension, `egress:`: what is done about secrets a provider would receive
    /// (the default policy when the file has no `egress:`).
    pub egress: crate::egress::Policy,
}

/// One entry of `constraints:`.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    /// Kebab-case, unique in the file.
    pub id: String,
    /// What it says.
    pub rule: Rule,
    /// Why, as written.
    pub reason: String,
    /// Where VNX enforces it (recorded).
    pub enforcement: Enforcement,
    /// What a violation does.
    pub severity: Severity,
    /// Whether `VNX_OVERRIDE_<ID>=1` may override it.
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
    ForbidImport {
        /// The text patterns forbidden.
        patterns: Vec<String>,
    },
    /// vnx's extension, from the file's `budgets:`: once the tokens recorded for the
    /// dispatches it matches reach a limit in the current period, a matching dispatch is a
    /// violation.
    TokenBudget(Budget),
}

/// A token budget (`budgets:` in the file).
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    /// Which dispatches it counts and judges (provider, model, role; never via).
    pub selector: RouteMatch,
    /// The stretch of time it counts.
    pub period: budget::Period,
    /// The tokens allowed in a period.
    pub max_tokens: u64,
}

impl Rule {
    /// The rule's name as the file spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Rule::ForbidRoute(_) => "forbid_route",
            Rule::RequireRoute(_) => "require_route",
            Rule::ForbidImport { .. } => "forbid_import",
            Rule::TokenBudget(_) => "token_budget",
        }
    }
}

/// Route keys: each named key must match the dispatch (a list means "any of"); values are
/// compared trimmed and case-insensitively. `None`: the key is not named.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RouteMatch {
    /// Providers it matches; any when `None`.
    pub provider: Option<Vec<String>>,
    /// Models it matches; any when `None`.
    pub model: Option<Vec<String>>,
    /// Roles it matches; any when `None`.
    pub role: Option<Vec<String>>,
    /// vnx dispatches have no task class, so a rule naming one matches none of them.
    pub task_class: Option<Vec<String>>,
    /// Lanes and postures it matches (`headless`, `skip_permissions`, ...); any when `None`.
    pub via: Option<Vec<String>>,
    /// vnx's extension: `Some(true)` matches only dispatches whose worker runs in vnx's
    /// sandbox, `Some(false)` only those whose worker does not; either when `None`.
    pub sandboxed: Option<bool>,
}

/// A `require_route` model pin.
/// A model pin: which dispatches, and the model they must run on.
#[derive(Clone, Debug, PartialEq)]
pub struct Pin {
    /// Which dispatches it applies to (provider, role, via; never model).
    pub selector: RouteMatch,
    /// The required model.
    pub model: String,
    /// Whether the model is a floor or a default.
    pub semantics: PinSemantics,
    /// vnx's extension for `floor`: models from lowest to highest, including `model`.
    pub model_order: Option<Vec<String>>,
}

/// What a pin's model means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinSemantics {
    /// The model is the minimum: a dispatch naming none gets it, a lower one is refused.
    Floor,
    /// The model is used when a dispatch names none; another one is a violation of the
    /// constraint's severity.
    Default,
}

/// Why `provider_constraints.yaml` could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// There is no such file (dispatching needs one).
    #[error("{path} is missing")]
    Missing {
        /// Where it should be.
        path: PathBuf,
    },
    /// It could not be read, or is not YAML of the file's shape (too large, not UTF-8, a
    /// syntax or type error, an unknown or duplicate key).
    #[error(transparent)]
    Yaml(#[from] crate::yaml::YamlError),
    /// A value the file's shape allows but the constraints do not. `line` and `column` are
    /// 1-based; 0 when unknown.
    #[error(transparent)]
    Invalid(crate::yaml::Spot),
}

impl LoadError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            LoadError::Missing { .. } => "run `vnx init` to install the default constraints \
                 (a file with `version: 1` and `constraints: []` forbids nothing)"
                .into(),
            LoadError::Yaml(crate::yaml::YamlError::Io { .. }) => return None,
            LoadError::Yaml(_) | LoadError::Invalid(_) => {
                "fix the file; its header comment describes the schema (`vnx init --force` \
                 restores the shipped one)"
                    .into()
            }
        })
    }
}
