//! A dispatch's budget held while its worker runs (ADR 0094): the limit its `dispatch_started`
//! records ([`Budget`]), and the receipts of the live watch — `budget_warning` at 80 %,
//! `budget_reached` when the worker was stopped at 100 %, and `budget_raised` when a person
//! raised the limit so the dispatch goes on.

use serde::{Deserialize, Serialize};

use crate::ids::DispatchId;

use super::Extra;

/// The share of a budget at which a dispatch is warned, in percent.
pub const WARN_PERCENT: u64 = 80;

/// A budget: the most tokens and US dollars a dispatch,
/// with its follow-ups and its best-of group's candidates, may use.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Budget {
    /// The most tokens (all tokens, as the CLI counts its total).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// The most US dollars: the CLI's own running cost where it records one, else its tokens
    /// at the price `prices:` gives its model, else its end-of-run cost (ADR 0098).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Where the limit comes from: `dispatch` (`--budget`), `role` (`roles.<role>.budget`)
    /// or `project_day` (`budget.project_day`), the smallest of those set being kept; `chain`
    /// for a follow-up held to the budget of the dispatch it continues; `group` for a best-of
    /// candidate's equal share of its group's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Tokens the dispatch's chain (the dispatches it follows up) and its group's other
    /// candidates had used when it started: they count against the same budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spent_before: Option<u64>,
    /// US dollars the dispatch's chain, its group's other candidates or the day's other
    /// dispatches had cost when it started (ADR 0098): they count against `cost_usd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_before_usd: Option<f64>,
}

/// What a dispatch has used of its budget, as `budget_warning` and `budget_reached` record
/// it (their members, flattened; the schema describes it only in them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(description = "")]
pub struct BudgetUse {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// Tokens used, its chain's and group's before it included.
    pub tokens_used: u64,
    /// The budget's tokens (0: it limits dollars only).
    pub tokens_limit: u64,
    /// US dollars used, its chain's and group's before it included, when the budget limits
    /// dollars and the cost could be told (ADR 0098).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_used_usd: Option<f64>,
    /// The budget's US dollars, when it limits dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_limit_usd: Option<f64>,
    /// The limit crossed: `tokens` or `cost`; absent: `tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// The budget: `project_day` for the project's day budget (every dispatch of the day
    /// together, ADR 0100); absent: the dispatch's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<String>,
}

/// `budget_warning`: a running dispatch used [`WARN_PERCENT`] of its budget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BudgetWarning {
    /// What it used.
    #[serde(flatten)]
    pub used: BudgetUse,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `budget_reached`: a running dispatch used its whole budget, and its worker was stopped at
/// its next turn boundary (interrupted, its session and worktree kept): the dispatch needs
/// input until a person raises the budget or cancels it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BudgetReached {
    /// What it used.
    #[serde(flatten)]
    pub used: BudgetUse,
    /// How the worker was stopped (`interrupted`: its CLI's own interrupt; `stopped`: it did
    /// not stop at it and was ended; `ended`: its run had ended by itself before a poll saw
    /// the budget crossed, and the dispatch is held at its end).
    pub how: String,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `budget_raised`: a person raised the budget of a dispatch that reached it
/// (`vnx approve ID --budget +N`); the follow-up that goes on is its own `dispatch_started`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BudgetRaised {
    /// The dispatch whose budget was reached.
    pub dispatch_id: DispatchId,
    /// Tokens added.
    pub added_tokens: u64,
    /// The budget's tokens from now on (0: it limits dollars only).
    pub tokens_limit: u64,
    /// US dollars added (`vnx approve ID --budget +$X`, ADR 0098).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_usd: Option<f64>,
    /// The budget's US dollars from now on, when it limits dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_limit_usd: Option<f64>,
    /// The budget raised: `project_day` for the project's day budget (every dispatch of the day
    /// together, ADR 0100); absent: the dispatch's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<String>,
    /// Who raised it: the user `vnx` ran as, or the client that asked.
    pub by: String,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}
