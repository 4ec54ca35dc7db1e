//! Budgets in `.vnx/config.yaml` (ADR 0094): a role's `budget: {tokens: N, cost_usd: X}`
//! (each of its dispatches, with their follow-ups) and the project's
//! `budget: {project_day: {tokens: N, cost_usd: X}}` (every dispatch of a UTC day together),
//! validated with line and column. The smallest that applies holds while a worker runs.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::validation::{Checked, Validator};
use crate::receipts::Budget;

/// The top-level `budget:` section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BudgetConfig {
    /// Every dispatch of a UTC day together; `None`: no such limit.
    pub project_day: Option<Budget>,
}

/// `{tokens: N, cost_usd: X}` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBudget {
    tokens: Option<Spanned<i64>>,
    cost_usd: Option<Spanned<f64>>,
}

/// `budget:` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBudgetConfig {
    project_day: Option<Spanned<RawBudget>>,
}

impl Validator<'_> {
    /// A budget: `tokens` a whole number above 0, `cost_usd` a number above 0, one at least.
    pub(super) fn budget(
        &self,
        at: &str,
        spanned: Spanned<RawBudget>,
        from: &str,
    ) -> Checked<Budget> {
        let raw = spanned.value;
        let mut budget = Budget {
            from: Some(from.to_owned()),
            ..Budget::default()
        };
        if let Some(t) = raw.tokens {
            let Some(n) = u64::try_from(t.value).ok().filter(|n| *n > 0) else {
                let msg = format!(
                    "{at}.tokens must be a whole number above 0, not {}",
                    t.value
                );
                return self.err(&t.referenced, msg);
            };
            budget.tokens = Some(n);
        }
        if let Some(c) = raw.cost_usd {
            if !(c.value.is_finite() && c.value > 0.0) {
                let msg = format!("{at}.cost_usd must be a number above 0, not {}", c.value);
                return self.err(&c.referenced, msg);
            }
            budget.cost_usd = Some(c.value);
        }
        if budget.tokens.is_none() && budget.cost_usd.is_none() {
            let msg = format!("{at} must name tokens, cost_usd or both");
            return self.err(&spanned.referenced, msg);
        }
        Ok(budget)
    }

    /// The top-level `budget:`.
    pub(super) fn budget_config(&self, raw: RawBudgetConfig) -> Checked<BudgetConfig> {
        Ok(BudgetConfig {
            project_day: raw
                .project_day
                .map(|b| {
                    // As `dispatch::budget::from::PROJECT_DAY` names it.
                    self.budget("budget.project_day", b, "project_day")
                })
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::tests::parse_err;

    #[test]
    fn a_role_and_the_project_day_hold_budgets() {
        let text = "version: 1\nroles:\n  implementer:\n    budget: {tokens: 200000, cost_usd: 5}\n\
                    budget:\n  project_day: {tokens: 2000000}\n";
        let config = super::super::parse(text, Path::new(".vnx/config.yaml")).unwrap();
        let role = config.roles["implementer"].budget.clone().unwrap();
        assert_eq!((role.tokens, role.cost_usd), (Some(200_000), Some(5.0)));
        assert_eq!(role.from.as_deref(), Some("role"));
        let day = config.budget.project_day.unwrap();
        assert_eq!(
            (day.tokens, day.from.as_deref()),
            (Some(2_000_000), Some("project_day"))
        );
    }

    #[test]
    fn a_budget_names_a_limit_above_zero() {
        for (text, said) in [
            (
                "version: 1\nroles:\n  implementer:\n    budget: {tokens: 0}\n",
                "roles.implementer.budget.tokens must be a whole number above 0, not 0",
            ),
            (
                "version: 1\nbudget:\n  project_day: {cost_usd: -1}\n",
                "budget.project_day.cost_usd must be a number above 0, not -1",
            ),
            (
                "version: 1\nbudget:\n  project_day: {}\n",
                "budget.project_day must name tokens, cost_usd or both",
            ),
        ] {
            let (_, _, message) = parse_err(text);
            assert_eq!(message, said, "{text}");
        }
    }
}
