//! A dispatch's budget, held while its worker runs (ADR 0094): the limit asked for
//! (`--budget tokens=N,cost=X`, the role's `budget:`, the project's `budget.project_day`),
//! the smallest of them kept with what counts against it already (the chain a follow-up
//! continues, the day's other dispatches), and the tally the supervisor keeps as the
//! worker's usage grows: a warning at [`WARN_PERCENT`], the end at 100 %. The tally holds
//! tokens and US dollars (ADR 0098): a cost is the CLI's own where it records one, else its
//! tokens at the price `prices:` gives its model ([`cost_of`]); either limit crossing counts.

use std::path::Path;

use crate::config::Prices;
pub use crate::config::{cost_of, dollars, to_millionth};
use crate::ids::DispatchId;
use crate::ledger::LedgerError;
use crate::receipts::{Typed, Usage};

pub use crate::receipts::{Budget, WARN_PERCENT};

pub mod day;
mod tally;

pub use tally::{
    Crossed, Reading, Tally, Which, of_the_day, reached_cost_reason, reached_reason, reading_reason,
};

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
            BudgetError::Malformed { text, .. } if text.contains('+') => Some(
                "write a raise as +N tokens, +$X dollars or both, as in `--budget +50k,+$2` \
                 (`cost+X` for dollars too)"
                    .into(),
            ),
            BudgetError::Malformed { .. } => Some(
                "write it as tokens=N, cost=X or both, as in `--budget tokens=200000,cost=5` \
                 (N may end in k or M)"
                    .into(),
            ),
        }
    }
}

/// What a person adds to a budget a dispatch was stopped at (`vnx approve ID --budget`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Raise {
    /// Tokens added.
    pub tokens: u64,
    /// US dollars added.
    pub usd: f64,
}

impl Raise {
    /// As `--budget` takes it: `+N`, `+$X` or both, comma-separated.
    pub fn text(&self) -> String {
        let mut parts = Vec::new();
        if self.tokens > 0 {
            parts.push(format!("+{}", self.tokens));
        }
        if self.usd > 0.0 {
            parts.push(format!("+${}", self.usd));
        }
        parts.join(",")
    }

    /// In words: "N tokens", "$X", "N tokens and $X".
    pub fn words(&self) -> String {
        let mut parts = Vec::new();
        if self.tokens > 0 {
            parts.push(format!("{} tokens", self.tokens));
        }
        if self.usd > 0.0 {
            parts.push(dollars(self.usd));
        }
        parts.join(" and ")
    }
}

/// Reads a raise: `+N` tokens (N may end in `k` or `M`; the `+` is optional),
/// `+$X` or `cost+X` US dollars, or both, comma-separated.
pub fn parse_raise(text: &str) -> Result<Raise, BudgetError> {
    let bad = |why: &str| BudgetError::Malformed {
        text: format!("+{}", text.chars().take(200).collect::<String>()),
        why: why.to_owned(),
    };
    let mut raise = Raise::default();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let part = part.strip_prefix("tokens").unwrap_or(part);
        let (usd, rest) = match part.strip_prefix("cost") {
            Some(rest) => (true, rest),
            None => (false, part),
        };
        let rest = rest.strip_prefix('+').unwrap_or(rest);
        let (usd, rest) = match rest.strip_prefix('$') {
            Some(rest) => (true, rest),
            None => (usd, rest),
        };
        if usd {
            let x: f64 = rest
                .parse()
                .map_err(|_| bad("dollars are a number, as in +$2"))?;
            if !x.is_finite() || x <= 0.0 || raise.usd > 0.0 {
                return Err(bad("dollars are added once, a number above 0"));
            }
            raise.usd = x;
        } else {
            let n = tokens(rest).ok_or_else(|| bad("tokens are a whole number above 0"))?;
            if raise.tokens > 0 {
                return Err(bad("tokens are added once"));
            }
            raise.tokens = n;
        }
    }
    if raise.tokens == 0 && raise.usd == 0.0 {
        return Err(bad("it adds nothing"));
    }
    Ok(raise)
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
/// counts as having all tokens left), held also to the fewest dollars any of them has left
/// (ADR 0098); `None` when none applies.
pub fn tightest(limits: impl IntoIterator<Item = Budget>) -> Option<Budget> {
    let all: Vec<Budget> = limits.into_iter().collect();
    let left = |b: &Budget| {
        b.tokens
            .map_or(u64::MAX, |t| t.saturating_sub(b.spent_before.unwrap_or(0)))
    };
    let usd_left = |b: &Budget| {
        b.cost_usd
            .map(|c| c - b.cost_before_usd.unwrap_or(0.0))
            .unwrap_or(f64::INFINITY)
    };
    let mut kept = all.iter().min_by_key(|b| left(b))?.clone();
    let cheapest = all
        .iter()
        .filter(|b| b.cost_usd.is_some())
        .min_by(|a, b| usd_left(a).total_cmp(&usd_left(b)));
    if let Some(c) = cheapest
        && usd_left(c) < usd_left(&kept)
    {
        kept.cost_usd = c.cost_usd;
        kept.cost_before_usd = c.cost_before_usd;
    }
    Some(kept)
}

/// Whether the dispatch of `spec` has its cost read while its worker runs: its CLI's
/// session records a running cost (`SessionStore::live_cost`), or `prices:` prices its
/// model (with no model named, any price may be its default's). Otherwise a cost limit
/// holds at its end.
pub fn cost_read_live(spec: &crate::dispatch::Spec) -> bool {
    let recorded = (spec.cli())
        .and_then(|c| c.sessions())
        .is_some_and(|s| s.live_cost());
    // With no model named, the CLI's default may have a price: its stream names it.
    let priced = match spec.model.as_deref() {
        Some(model) => spec.prices.of(model).is_some(),
        None => !spec.prices.is_empty(),
    };
    recorded || priced
}

/// The budget a follow-up of `continued` (whose `dispatch_started` recorded `started`) is
/// held to: its budget, raised by each `budget_raised` of it, with what it used added to what
/// counted before it. `None` when it had none.
pub fn of_chain(
    ledger: &Path,
    continued: &DispatchId,
    started: Option<&Budget>,
    prices: Option<(&Prices, Option<&str>)>,
) -> Result<Option<Budget>, LedgerError> {
    // A day's budget an older vnx recorded as the dispatch's own is held beside it now.
    let Some(started) = started.filter(|b| b.from.as_deref() != Some(from::PROJECT_DAY)) else {
        return Ok(None);
    };
    let mut budget = started.clone();
    let needle = continued.as_str().as_bytes();
    let (lines, _) = crate::ledger::tail::last_lines(ledger, usize::MAX, |l| {
        memchr::memmem::find(l, needle).is_some()
    })?;
    let mut used = 0u64;
    let mut cost = 0f64;
    // A worker stopped at its budget may end without its CLI's totals: what the watch saw
    // counts then.
    let (mut seen, mut seen_cost) = (0u64, 0f64);
    for line in &lines {
        match Typed::of_line(line) {
            Some(Typed::BudgetReached(r)) if r.receipt.used.dispatch_id == *continued => {
                let r = &r.receipt.used;
                seen = r
                    .tokens_used
                    .saturating_sub(started.spent_before.unwrap_or(0));
                seen_cost = r.cost_used_usd.map_or(0.0, |c| {
                    (c - started.cost_before_usd.unwrap_or(0.0)).max(0.0)
                });
            }
            Some(Typed::BudgetRaised(r)) if r.receipt.dispatch_id == *continued => {
                if r.receipt.tokens_limit > 0 {
                    budget.tokens = Some(r.receipt.tokens_limit);
                }
                if let Some(usd) = r.receipt.cost_limit_usd {
                    budget.cost_usd = Some(usd);
                }
            }
            Some(Typed::DispatchCompleted(r)) if r.receipt.dispatch_id == *continued => {
                let usage = (r.receipt.token_usage.as_ref()).filter(|u| u.implausible().is_none());
                used = usage.map_or(0, tokens_of);
                let events = r.receipt.cli_events.as_ref();
                let said = events.and_then(|e| e.cost_usd);
                // Priced as the model it was started on, else the one its CLI reported.
                let price = prices.and_then(|(p, model)| {
                    p.of(model.or(events.and_then(|e| e.model.as_deref()))?)
                });
                cost = cost_of(said, usage, price).unwrap_or(0.0);
            }
            _ => {}
        }
    }
    let used = used.max(seen);
    budget.spent_before = Some(budget.spent_before.unwrap_or(0).saturating_add(used));
    if budget.cost_usd.is_some() {
        let before = budget.cost_before_usd.unwrap_or(0.0) + cost.max(seen_cost);
        budget.cost_before_usd = Some(to_millionth(before));
    }
    budget.from = Some(from::CHAIN.to_owned());
    Ok(Some(budget))
}

/// The limits a dispatch may be held to, one of them kept ([`tightest`]).
pub struct Limits<'a> {
    /// `--budget`.
    pub asked: Option<&'a Budget>,
    /// The role's `budget:`.
    pub role: Option<&'a Budget>,
    /// For a follow-up: the dispatch it continues and the budget its `dispatch_started`
    /// recorded.
    pub continues: Option<(&'a DispatchId, Option<&'a Budget>)>,
    /// The project's `prices:` and the dispatch's model: what ended dispatches' tokens cost
    /// where their CLI said no cost.
    pub prices: Option<(&'a Prices, Option<&'a str>)>,
}

/// The budget a dispatch is held to while it runs, from `limits` and the ledger (the
/// project's day is held beside it, [`day::DayHold`]); `None` when none applies. A follow-up is held to its chain's (raised as people raised
/// it) rather than its role's again, and `--budget` on a follow-up counts what the chain
/// used before it.
pub fn resolve(ledger: &Path, limits: &Limits<'_>) -> Result<Option<Budget>, LedgerError> {
    let chain = match limits.continues {
        Some((id, started)) => of_chain(ledger, id, started, limits.prices)?,
        None => None,
    };
    let before = chain.as_ref().and_then(|c| c.spent_before);
    let mut all = Vec::new();
    if let Some(asked) = limits.asked {
        let cost_before = chain.as_ref().and_then(|c| c.cost_before_usd);
        all.push(Budget {
            spent_before: before,
            cost_before_usd: cost_before.filter(|_| asked.cost_usd.is_some()),
            ..asked.clone()
        });
    }
    match chain {
        Some(chain) => all.push(chain),
        None if limits.continues.is_none() => all.extend(limits.role.cloned()),
        None => {}
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
        let before = budget.cost_before_usd.unwrap_or(0.0);
        budget.cost_usd = Some(to_millionth(before + (usd - before).max(0.0) / n as f64));
    }
    budget.from = Some(from::GROUP.to_owned());
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
            cost_before_usd: Some(0.3),
        };
        share(&mut b, 3);
        assert_eq!(
            b.tokens,
            Some(4_000),
            "1,000 spent, then a third of 9,000 each"
        );
        assert_eq!(
            b.cost_usd,
            Some(1.2),
            "$0.30 spent, then a third of $2.70 each"
        );
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
        // The fewest tokens left, held also to the dollars of a cost limit.
        let held = Budget {
            cost_usd: Some(1.0),
            ..a.clone()
        };
        assert_eq!(tightest([b.clone(), a.clone(), c]), Some(held));
        assert_eq!(tightest([b.clone(), a.clone()]), Some(a));
        assert_eq!(tightest([]), None);
        // Of two cost limits, the one with fewer dollars left.
        let d = Budget {
            cost_usd: Some(5.0),
            cost_before_usd: Some(4.5),
            ..Budget::default()
        };
        let e = Budget {
            cost_usd: Some(2.0),
            ..Budget::default()
        };
        assert_eq!(tightest([e, d.clone()]), Some(d));
    }

    #[test]
    fn a_raise_adds_tokens_dollars_or_both() {
        let r = |t| parse_raise(t).unwrap();
        assert_eq!(
            r("+50k"),
            Raise {
                tokens: 50_000,
                usd: 0.0
            }
        );
        assert_eq!(
            r("3000"),
            Raise {
                tokens: 3000,
                usd: 0.0
            }
        );
        assert_eq!(
            r("+$2"),
            Raise {
                tokens: 0,
                usd: 2.0
            }
        );
        assert_eq!(
            r("cost+2.5"),
            Raise {
                tokens: 0,
                usd: 2.5
            }
        );
        assert_eq!(
            r("cost+$0.01"),
            Raise {
                tokens: 0,
                usd: 0.01
            }
        );
        assert_eq!(
            r("+50k, +$2"),
            Raise {
                tokens: 50_000,
                usd: 2.0
            }
        );
        assert_eq!(
            r("tokens+1M,cost+1"),
            Raise {
                tokens: 1_000_000,
                usd: 1.0
            }
        );
        for bad in [
            "", "+", "+$", "+$-1", "+$0", "+0", "cost+nan", "+1,+2", "+$1,+$1", "x",
        ] {
            assert!(parse_raise(bad).is_err(), "{bad}");
        }
        let hint = parse_raise("+lots").unwrap_err().hint().unwrap();
        assert!(hint.contains("+$X"), "{hint}");
    }

    proptest::proptest! {
        #[test]
        fn a_raise_reads_what_it_writes_and_never_panics(
            tokens in 0u64..10_000_000,
            cents in 0u32..100_000,
            junk in ".{0,40}",
        ) {
            let _ = parse_raise(&junk);
            let usd = f64::from(cents) / 100.0;
            let mut parts = Vec::new();
            if tokens > 0 {
                parts.push(format!("+{tokens}"));
            }
            if cents > 0 {
                parts.push(format!("+${usd}"));
            }
            let read = parse_raise(&parts.join(","));
            if parts.is_empty() {
                proptest::prop_assert!(read.is_err());
            } else {
                proptest::prop_assert_eq!(read.unwrap(), Raise { tokens, usd });
            }
        }
    }
}
