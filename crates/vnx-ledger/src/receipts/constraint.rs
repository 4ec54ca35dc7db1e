//! `constraint_decision`: one provider constraint that matched a dispatch, the route it was
//! about and what it decided; with the constraint vocabulary the receipts record (verdict,
//! severity, enforcement).

use serde::{Deserialize, Serialize};

use crate::ids::DispatchId;

use super::{Extra, Lane, Permission};

/// The route a constraint decision was about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RouteRef {
    /// The provider the dispatch asked for.
    pub provider: String,
    /// The model it asked for; `null` for the CLI's default.
    pub model: Option<String>,
    /// Its role.
    pub role: String,
    /// Its lane.
    pub lane: Lane,
    /// Its permission posture.
    pub permission: Permission,
    /// The route's path, for `forbid_route` matching (provider, then model).
    pub via: Vec<String>,
    /// Whether the worker runs in vnx's sandbox (absent: it does not).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sandboxed: bool,
}

/// `constraint_decision`: one provider constraint that matched a dispatch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConstraintDecision {
    /// The dispatch judged.
    pub dispatch_id: DispatchId,
    /// The constraint's `id` in provider_constraints.yaml.
    pub constraint_id: String,
    /// `forbid_route` or `require_route`.
    pub rule: String,
    /// What it decided.
    pub decision: ConstraintVerdict,
    /// The constraint's severity: blocking refuses, warn records, info notes.
    pub audit_severity: ConstraintSeverity,
    /// Where VNX enforces the rule (recorded as declared).
    pub enforcement: ConstraintEnforcement,
    /// The constraint's reason, as written.
    pub reason: String,
    /// What matched, in words.
    pub detail: String,
    /// The variable that overrides it: `VNX_OVERRIDE_<ID>=1`.
    pub override_variable: String,
    /// Whether the constraint allows an override.
    pub override_allowed: bool,
    /// Whether the override variable was set for this dispatch.
    pub override_requested: bool,
    /// Why, from `VNX_OVERRIDE_<ID>_REASON`.
    pub override_reason: Option<String>,
    /// The route the decision was about.
    pub route: RouteRef,
    /// The constraints file, relative to the repository root.
    pub constraints_file: String,
    /// SHA-256 of that file as it was judged.
    pub constraints_sha256: String,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// What a matched constraint decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintVerdict {
    /// The route satisfies a pin, or violates an `info` constraint (recorded only).
    Allowed,
    /// The route violates a `warn` constraint: it runs, and the receipt says so.
    Warned,
    /// A violation let through by `VNX_OVERRIDE_<ID>=1` on a constraint that allows it.
    Overridden,
    /// A blocking violation, or a model under a floor: the dispatch does not run.
    Refused,
    /// The dispatch named no model and a pin supplied it.
    Pinned,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "Severity")]
/// What a violation of a constraint does.
pub enum ConstraintSeverity {
    /// A violation refuses the dispatch.
    Blocking,
    /// A violation runs, and the receipt says so.
    Warn,
    /// A violation is only recorded.
    Info,
}

impl ConstraintSeverity {
    /// The severity as the file and receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            ConstraintSeverity::Blocking => "blocking",
            ConstraintSeverity::Warn => "warn",
            ConstraintSeverity::Info => "info",
        }
    }
}

/// Where VNX enforces a rule. Recorded; the severity decides what a violation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "Enforcement")]
pub enum ConstraintEnforcement {
    /// VNX raises in code.
    CodeRaise,
    /// VNX warns in code.
    CodeWarn,
    /// VNX checks in CI with a grep.
    CiGrep,
}

impl ConstraintEnforcement {
    /// The enforcement as the file and receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            ConstraintEnforcement::CodeRaise => "code_raise",
            ConstraintEnforcement::CodeWarn => "code_warn",
            ConstraintEnforcement::CiGrep => "ci_grep",
        }
    }
}
