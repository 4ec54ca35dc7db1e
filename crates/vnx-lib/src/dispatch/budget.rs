//! A dispatch's budget, held while its worker runs (ADR 0094): the limit asked for
//! (`--budget tokens=N,cost=X`, the role's `budget:`, the project's `budget.project_day`),
//! the smallest of them kept with what counts against it already (the chain a follow-up
//! continues, the day's other dispatches), and the tally the supervisor keeps as the
//! worker's usage grows: a warning at [`WARN_PERCENT`], the end at 100 %.

use std::path::Path;

use crate::ids::DispatchId;
use crate::ledger::LedgerError;
use crate::receipts::{Typed, Usage};

pub use crate::receipts::{Budget, WARN_PERCENT};

/// Where a limit comes from, as [`Budget::from`] records it.
pub mod from {
    /// `--budget` on the command (or the action's input).
    pub const DISPATCH: &str = "dispatch";
    /// The role's `budget:`.
    pub const ROLE: &str = "role";
    /// The project's `budget.project_day`.
    pub const PROJECT_DAY: &str = "project_day";
    /// The dispatch a follow-up continues (and the raises of it).
    pub const CHAIN: &str = "chain";
    /// A best-of group's budget, an equal share of it per candidate.
    pub const GROUP: &str = "group";
}

/// A budget that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// `--budget`'s text is not `tokens=N`, `cost=X` or both, comma-separated.
    #[error("budget `{text}` is not understood: {why}")]
    Malformed {
        /// The text given.
        text: String,
        /// What is wrong with it.
        why: String,
    },
}

impl BudgetError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            BudgetError::Malformed { .. } => Some(
                "write it as tokens=N, cost=X or both, as in `--budget tokens=200000,cost=5` \
                 (N may end in k or M)"
                    .into(),
            ),
        }
    }
}

/// Reads `tokens=N,cost=X` (either or both; `cost_usd` for `cost`; N may end in `k` or
/// `M`).
pub fn parse(text: &str) -> Result<Budget, BudgetError> {
    let bad = |why: &str| BudgetError::Malformed {
        text: text.chars().take(200).collect(),
        why: why.to_owned(),
    };
    let mut budget = Budget::default();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| bad("each part is KEY=VALUE"))?;
        match key.trim() {
            "tokens" => {
                budget.tokens = Some(
                    tokens(value.trim()).ok_or_else(|| bad("tokens is a whole number above 0"))?,
                )
            }
            "cost" | "cost_usd" => {
                let usd: f64 = value
                    .trim()
                    .trim_start_matches('$')
                    .parse()
                    .map_err(|_| bad("cost is a number of US dollars"))?;
                if !usd.is_finite() || usd <= 0.0 {
                    return Err(bad("cost is a number of US dollars above 0"));
                }
                budget.cost_usd = Some(usd);
            }
            _ => return Err(bad("the keys are tokens and cost")),
        }
    }
    if budget.tokens.is_none() && budget.cost_usd.is_none() {
        return Err(bad("it names no limit"));
    }
    budget.from = Some(from::DISPATCH.to_owned());
    Ok(budget)
}

/// A count of tokens: digits, optionally ending in `k` (thousands) or `M` (millions); above 0.
pub fn tokens(text: &str) -> Option<u64> {
    let (digits, times) = match text.strip_suffix(['k', 'K']) {
        Some(d) => (d, 1_000),
        None => match text.strip_suffix('M') {
            Some(d) => (d, 1_000_000),
            None => (text, 1),
        },
    };
    let n: u64 = digits.replace('_', "").parse().ok()?;
    n.checked_mul(times).filter(|n| *n > 0)
}

/// All the tokens a usage counts: the CLI's total, else input plus output (as spend counts).
pub fn tokens_of(usage: &Usage) -> u64 {
    usage
        .total_tokens
        .unwrap_or(usage.input_tokens.saturating_add(usage.output_tokens))
}

/// Of the limits that apply, the one with the fewest tokens left (a limit of cost alone
/// counts as having all tokens left); `None` when none applies.
pub fn tightest(limits: impl IntoIterator<Item = Budget>) -> Option<Budget> {
    let left = |b: &Budget| {
        b.tokens
            .map_or(u64::MAX, |t| t.saturating_sub(b.spent_before.unwrap_or(0)))
    };
    limits.into_iter().min_by_key(left)
}

/// The budget a follow-up of `continued` (whose `dispatch_started` recorded `started`) is
/// held to: its budget, raised by each `budget_raised` of it, with what it used added to what
/// counted before it. `None` when it had none.
pub fn of_chain(
    ledger: &Path,
    continued: &DispatchId,
    started: Option<&Budget>,
) -> Result<Option<Budget>, LedgerError> {
    let Some(started) = started else {
        return Ok(None);
    };
    let mut budget = started.clone();
    let needle = continued.as_str().as_bytes();
    let (lines, _) = crate::ledger::tail::last_lines(ledger, usize::MAX, |l| {
        memchr::memmem::find(l, needle).is_some()
    })?;
    let mut used = 0u64;
    // A worker stopped at its budget may end without its CLI's totals: what the watch saw
    // counts then.
    let mut seen = 0u64;
    for line in &lines {
        match Typed::of_line(line) {
            Some(Typed::BudgetReached(r)) if r.receipt.dispatch_id == *continued => {
                seen = r
                    .receipt
                    .tokens_used
                    .saturating_sub(started.spent_before.unwrap_or(0));
            }
            Some(Typed::BudgetRaised(r)) if r.receipt.dispatch_id == *continued => {
                budget.tokens = Some(r.receipt.tokens_limit);
            }
            Some(Typed::DispatchCompleted(r)) if r.receipt.dispatch_id == *continued => {
                used = r
                    .receipt
                    .token_usage
                    .as_ref()
                    .filter(|u| u.implausible().is_none())
                    .map_or(0, tokens_of);
            }
            _ => {}
        }
    }
    let used = used.max(seen);
    budget.spent_before = Some(budget.spent_before.unwrap_or(0).saturating_add(used));
    budget.from = Some(from::CHAIN.to_owned());
    Ok(Some(budget))
}

/// The limits a dispatch may be held to, one of them kept ([`tightest`]).
pub struct Limits<'a> {
    /// `--budget`.
    pub asked: Option<&'a Budget>,
    /// The role's `budget:`.
    pub role: Option<&'a Budget>,
    /// The project's `budget.project_day`.
    pub project_day: Option<&'a Budget>,
    /// For a follow-up: the dispatch it continues and the budget its `dispatch_started`
    /// recorded.
    pub continues: Option<(&'a DispatchId, Option<&'a Budget>)>,
}

/// The budget a dispatch is held to while it runs, from `limits` and the ledger at `now`;
/// `None` when none applies. A follow-up is held to its chain's (raised as people raised
/// it) rather than its role's again, and `--budget` on a follow-up counts what the chain
/// used before it.
pub fn resolve(
    ledger: &Path,
    limits: &Limits<'_>,
    now: jiff::Timestamp,
) -> Result<Option<Budget>, LedgerError> {
    let chain = match limits.continues {
        Some((id, started)) => of_chain(ledger, id, started)?,
        None => None,
    };
    let before = chain.as_ref().and_then(|c| c.spent_before);
    let mut all = Vec::new();
    if let Some(asked) = limits.asked {
        all.push(Budget {
            spent_before: before,
            ..asked.clone()
        });
    }
    match chain {
        Some(chain) => all.push(chain),
        None if limits.continues.is_none() => all.extend(limits.role.cloned()),
        None => {}
    }
    if let Some(day) = limits.project_day {
        all.push(of_project_day(ledger, day, now)?);
    }
    Ok(tightest(all))
}

/// A best-of group's budget shared by its `candidates`: each is held to an equal part of
/// what is left of it (its tokens and its dollars), so that together they spend no more than
/// the one budget the group was given.
pub fn share(budget: &mut Budget, candidates: u32) {
    let n = u64::from(candidates.max(1));
    if let Some(tokens) = budget.tokens {
        let before = budget.spent_before.unwrap_or(0);
        budget.tokens = Some(before.saturating_add(tokens.saturating_sub(before) / n));
    }
    if let Some(usd) = budget.cost_usd {
        budget.cost_usd = Some(usd / n as f64);
    }
    budget.from = Some(from::GROUP.to_owned());
}

/// The project-day limit `day` with what the day's ended dispatches used counted before it.
pub fn of_project_day(
    ledger: &Path,
    day: &Budget,
    now: jiff::Timestamp,
) -> Result<Budget, LedgerError> {
    let used = if ledger.exists() {
        crate::cost::entries(ledger)?
            .iter()
            .filter(|e| crate::constraints::budget::Period::Day.contains(now, e.completed_at))
            .filter_map(crate::cost::Entry::tokens)
            .fold(0u64, u64::saturating_add)
    } else {
        0
    };
    Ok(Budget {
        spent_before: Some(used),
        from: Some(from::PROJECT_DAY.to_owned()),
        ..day.clone()
    })
}

/// Where a running dispatch stands against its budget's tokens, as its usage grows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    /// The budget's tokens.
    pub limit: u64,
    /// What counted before the worker started.
    pub before: u64,
    warned: bool,
    reached: bool,
}

/// A threshold the usage crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crossed {
    /// [`WARN_PERCENT`] of the budget is used (tokens used).
    Warning(u64),
    /// The whole budget is used (tokens used).
    Reached(u64),
}

impl Tally {
    /// The tally of `budget`'s tokens; `None` when it limits no tokens.
    pub fn of(budget: &Budget) -> Option<Tally> {
        Some(Tally {
            limit: budget.tokens?,
            before: budget.spent_before.unwrap_or(0),
            warned: false,
            reached: false,
        })
    }

    /// The worker's usage so far is `live` tokens: the threshold it crossed first, once each.
    pub fn step(&mut self, live: u64) -> Option<Crossed> {
        let used = self.before.saturating_add(live);
        if !self.reached && used >= self.limit {
            self.reached = true;
            self.warned = true;
            return Some(Crossed::Reached(used));
        }
        let warn_at = self.limit / 100 * WARN_PERCENT + self.limit % 100 * WARN_PERCENT / 100;
        if !self.warned && used >= warn_at {
            self.warned = true;
            return Some(Crossed::Warning(used));
        }
        None
    }
}

/// What a dispatch stopped at its budget says: "budget reached: N of M tokens".
pub fn reached_reason(used: u64, limit: u64) -> String {
    format!("budget reached: {used} of {limit} tokens")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_groups_candidates_share_what_is_left_of_its_budget() {
        let mut b = Budget {
            tokens: Some(10_000),
            cost_usd: Some(3.0),
            from: Some(from::DISPATCH.to_owned()),
            spent_before: Some(1_000),
        };
        share(&mut b, 3);
        assert_eq!(
            b.tokens,
            Some(4_000),
            "1,000 spent, then a third of 9,000 each"
        );
        assert_eq!(b.cost_usd, Some(1.0));
        assert_eq!(b.from.as_deref(), Some(from::GROUP));
        let mut none = Budget::default();
        share(&mut none, 2);
        assert_eq!(none.tokens, None);
    }

    #[test]
    fn a_budget_reads_tokens_and_cost() {
        let b = parse("tokens=200k, cost=5").unwrap();
        assert_eq!((b.tokens, b.cost_usd), (Some(200_000), Some(5.0)));
        assert_eq!(parse("tokens=2M").unwrap().tokens, Some(2_000_000));
        assert_eq!(parse("cost_usd=$0.5").unwrap().cost_usd, Some(0.5));
        for bad in [
            "",
            "tokens",
            "tokens=0",
            "tokens=-3",
            "cost=nan",
            "dollars=3",
            "tokens=1e3",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_tally_warns_once_then_reaches_once() {
        let b = Budget {
            tokens: Some(1000),
            spent_before: Some(300),
            ..Budget::default()
        };
        let mut t = Tally::of(&b).unwrap();
        assert_eq!(t.step(100), None);
        assert_eq!(t.step(500), Some(Crossed::Warning(800)));
        assert_eq!(t.step(600), None);
        assert_eq!(t.step(700), Some(Crossed::Reached(1000)));
        assert_eq!(t.step(900), None);
        // A jump past both is the end at once.
        let mut t = Tally::of(&b).unwrap();
        assert_eq!(t.step(5000), Some(Crossed::Reached(5300)));
        assert_eq!(t.step(6000), None);
    }

    #[test]
    fn the_tightest_limit_has_the_fewest_tokens_left() {
        let a = Budget {
            tokens: Some(1000),
            spent_before: Some(900),
            ..Budget::default()
        };
        let b = Budget {
            tokens: Some(500),
            ..Budget::default()
        };
        let c = Budget {
            cost_usd: Some(1.0),
            ..Budget::default()
        };
        assert_eq!(tightest([b.clone(), a.clone(), c]), Some(a));
        assert_eq!(tightest([]), None);
    }
}
