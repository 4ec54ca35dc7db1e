//! Budgets in `.vnx/config.yaml` (ADR 0094): a role's `budget: {tokens: N, cost_usd: X}`
//! (each of its dispatches, with their follow-ups) and the project's
//! `budget: {project_day: {tokens: N, cost_usd: X}}` (every dispatch of a UTC day together),
//! validated with line and column. The smallest that applies holds while a worker runs.
//! Also `prices:` (ADR 0098): what a model's tokens cost, as the project states it (vnx
//! ships no price list), model name (exact, or a `*` glob) to US dollars per million input,
//! output, cache-read and cache-write tokens: a cost limit's count where a CLI records no
//! running cost of its own.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::{Checked, Validator};
use crate::receipts::{Budget, Usage};

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

/// A model's price in US dollars per million tokens (`prices:`, ADR 0098).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Price {
    /// Per million input tokens (those not read from or written to the prompt cache).
    pub input: f64,
    /// Per million output tokens.
    pub output: f64,
    /// Per million input tokens read from the prompt cache (default: `input`).
    pub cache_read: f64,
    /// Per million input tokens written to the prompt cache (default: `input`).
    pub cache_write: f64,
}

impl Price {
    /// What `usage` costs at this price, in US dollars. The cache reads and writes a CLI
    /// counts apart are priced apart; its input count is taken as it counts it.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let per = |n: u64, usd: f64| n as f64 * usd / 1_000_000.0;
        per(usage.input_tokens, self.input)
            + per(usage.output_tokens, self.output)
            + per(usage.cached_input_tokens.unwrap_or(0), self.cache_read)
            + per(
                usage.cache_creation_input_tokens.unwrap_or(0),
                self.cache_write,
            )
    }
}

/// The `prices:` map: a model's name (exact, or a pattern with `*`) to its price, in the
/// order written.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Prices(pub Vec<(String, Price)>);

impl Prices {
    /// The price of `model`: the entry naming it exactly, else the first pattern that
    /// matches it; `None` when none does.
    pub fn of(&self, model: &str) -> Option<&Price> {
        let exact = self.0.iter().find(|(name, _)| name == model);
        exact
            .or_else(|| {
                self.0.iter().find(|(name, _)| {
                    name.contains('*')
                        && crate::provider::declared::glob(name.as_bytes(), model.as_bytes())
                })
            })
            .map(|(_, p)| p)
    }

    /// Whether no price is stated.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a dispatch's usage costs: the CLI's own figure where it gives one, else its tokens
/// at the price configured for its model; `None` when neither is known.
pub fn cost_of(cli_cost: Option<f64>, usage: Option<&Usage>, price: Option<&Price>) -> Option<f64> {
    let priced = usage.zip(price).map(|(u, p)| p.cost(u));
    let cli_cost = cli_cost.filter(|c| c.is_finite() && *c >= 0.0);
    match (cli_cost, priced) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Dollars kept to a millionth (what receipts record): a sum of prices reads as written.
pub fn to_millionth(usd: f64) -> f64 {
    (usd * 1_000_000.0).round() / 1_000_000.0
}

/// Dollars as people read them: `$0.0156`, `$2.00`.
pub fn dollars(usd: f64) -> String {
    let text = format!("{usd:.4}");
    let text = text.trim_end_matches('0');
    match text.split_once('.') {
        Some((whole, frac)) if frac.len() < 2 => format!("${whole}.{frac:0<2}"),
        _ => format!("${text}"),
    }
}

/// `{input, output, cache_read, cache_write}` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrice {
    input: Spanned<f64>,
    output: Spanned<f64>,
    cache_read: Option<Spanned<f64>>,
    cache_write: Option<Spanned<f64>>,
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

    /// The top-level `prices:`: each model's price, each a number at least 0.
    pub(super) fn prices(
        &self,
        raw: super::checked::Entries<Spanned<RawPrice>>,
    ) -> Checked<Prices> {
        let mut prices = Vec::new();
        for (name, price) in raw.0 {
            if name.value.trim().is_empty() || name.value.len() > 200 {
                let msg = "prices: a model's name is 1 to 200 characters".to_owned();
                return self.err(&name.referenced, msg);
            }
            let at = format!("prices.{}", name.value);
            let usd = |key: &str, v: &Spanned<f64>| {
                if v.value.is_finite() && v.value >= 0.0 {
                    Ok(v.value)
                } else {
                    let msg = format!("{at}.{key} must be a number at least 0, not {}", v.value);
                    self.err(&v.referenced, msg)
                }
            };
            let raw = price.value;
            let input = usd("input", &raw.input)?;
            let read = raw
                .cache_read
                .as_ref()
                .map(|v| usd("cache_read", v))
                .transpose()?;
            let write = (raw.cache_write.as_ref())
                .map(|v| usd("cache_write", v))
                .transpose()?;
            prices.push((
                name.value,
                Price {
                    input,
                    output: usd("output", &raw.output)?,
                    cache_read: read.unwrap_or(input),
                    cache_write: write.unwrap_or(input),
                },
            ));
        }
        Ok(Prices(prices))
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
    use super::Prices;

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
    fn a_models_price_is_its_exact_name_else_the_first_pattern() {
        let text = "version: 1\nprices:\n  model-a-*: {input: 3, output: 15}\n  \
                    model-a-large: {input: 15, output: 75, cache_read: 1.5}\n  \
                    '*': {input: 1, output: 2}\n";
        let config = super::super::parse(text, Path::new(".vnx/config.yaml")).unwrap();
        let p = &config.prices;
        assert_eq!(p.of("model-a-large").map(|p| p.input), Some(15.0));
        assert_eq!(p.of("model-a-small").map(|p| p.output), Some(15.0));
        assert_eq!(p.of("gpt-5").map(|p| p.input), Some(1.0));
        let opus = p.of("model-a-large").unwrap();
        assert_eq!((opus.cache_read, opus.cache_write), (1.5, 15.0));
        let usage = crate::receipts::Usage {
            input_tokens: 1_000_000,
            output_tokens: 100_000,
            cached_input_tokens: Some(2_000_000),
            cache_creation_input_tokens: None,
            total_tokens: None,
        };
        assert!((opus.cost(&usage) - (15.0 + 7.5 + 3.0)).abs() < 1e-9);
        assert_eq!(Prices::default().of("x"), None);
    }

    #[test]
    fn dollars_read_as_people_write_them() {
        assert_eq!(super::dollars(2.0), "$2.00");
        assert_eq!(super::dollars(1.5), "$1.50");
        assert_eq!(super::dollars(0.0156), "$0.0156");
        assert_eq!(super::dollars(0.015), "$0.015");
        assert_eq!(super::dollars(12.345_67), "$12.3457");
    }

    #[test]
    fn a_price_is_a_number_at_least_zero_with_its_place() {
        let (line, column, message) =
            parse_err("version: 1\nprices:\n  m: {input: 1, output: -2}\n");
        assert_eq!(
            message,
            "prices.m.output must be a number at least 0, not -2"
        );
        assert_eq!((line, column), (3, 25));
        let (_, _, message) = parse_err("version: 1\nprices:\n  m: {input: 1}\n");
        assert!(message.contains("output"), "{message}");
        let (_, _, message) =
            parse_err("version: 1\nprices:\n  m: {input: 1, output: 1, per: 2}\n");
        assert!(message.contains("unknown field `per`"), "{message}");
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
