//! `egress_decision`: what the egress policy found in what a dispatch's provider would
//! receive (the prompt, the files `.worktreeinclude` copies) and what it did — refused,
//! redacted or warned. Each finding is a rule id, a location and the SHA-256 of the matched
//! text; the text itself is never recorded.

use serde::{Deserialize, Serialize};

use crate::ids::DispatchId;

use super::Extra;

/// What a finding does to a dispatch, from mildest to strictest.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EgressAction {
    /// It is sent as it is; the receipt records it.
    Warn,
    /// The prompt is sent with the secret replaced by `[REDACTED:<rule>]`; an included file
    /// holding it, or that could not be scanned, is withheld (not copied into the worktree).
    Redact,
    /// The dispatch is refused: nothing is made but the receipt.
    Refuse,
}

impl EgressAction {
    /// As the file and receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            EgressAction::Warn => "warn",
            EgressAction::Redact => "redact",
            EgressAction::Refuse => "refuse",
        }
    }
}

/// What the policy did to the dispatch: its strictest action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EgressVerdict {
    /// Every finding is under `warn`: the prompt and files went as they were.
    Warned,
    /// Findings under `redact` were replaced in the prompt by `[REDACTED:<rule>]`, and
    /// included files holding one were not copied.
    Redacted,
    /// A finding under `refuse`: nothing was made but this receipt.
    Refused,
}

impl EgressVerdict {
    /// The verdict of a strictest action.
    pub fn of(action: EgressAction) -> EgressVerdict {
        match action {
            EgressAction::Warn => EgressVerdict::Warned,
            EgressAction::Redact => EgressVerdict::Redacted,
            EgressAction::Refuse => EgressVerdict::Refused,
        }
    }
}

/// Where a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EgressSource {
    /// The composed prompt, as composed (before redaction).
    Prompt,
    /// A file `.worktreeinclude` copies (its `path` is given).
    WorktreeInclude,
}

/// One secret found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EgressFinding {
    /// The rule's id: a built-in rule or one of the policy's `patterns`.
    pub rule: String,
    /// What was done about it: the stricter of the provider's action and the rule's.
    pub action: EgressAction,
    /// Where.
    pub source: EgressSource,
    /// The included file's path relative to the repository root (`worktree_include` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// 1-based line of the secret's first byte.
    pub line: u64,
    /// 1-based column, in bytes, of its first byte.
    pub column: u64,
    /// Byte offset of its first byte.
    pub byte_offset: u64,
    /// Its length in bytes.
    pub bytes: u64,
    /// SHA-256 of the matched text (lowercase hex); the text is never recorded.
    pub sha256: String,
}

/// `egress_decision`: the egress policy's findings about one dispatch and what it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EgressDecision {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// Its provider, whose action applied.
    pub provider: String,
    /// The strictest action taken.
    pub decision: EgressVerdict,
    /// Every finding, the prompt's first, then each included file's.
    pub findings: Vec<EgressFinding>,
    /// Included files not copied into the worktree (a finding under `redact`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
    /// SHA-256 of the prompt as sent (redacted when it was); `null` when refused.
    pub prompt_sha256: Option<String>,
    /// The constraints file that holds the policy, relative to the repository root.
    pub constraints_file: String,
    /// SHA-256 of that file as it was applied.
    pub constraints_sha256: String,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}
