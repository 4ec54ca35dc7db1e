//! The tally a supervisor keeps as a worker's usage grows (ADR 0094, ADR 0098): where the
//! usage stands against a budget's tokens and dollars, a warning at [`WARN_PERCENT`] and the
//! end at 100 %, each crossed once, and what a dispatch stopped at its budget says.

use super::{Budget, WARN_PERCENT, dollars, to_millionth};

/// Where a running dispatch stands against its budget's tokens and dollars, as its usage
/// grows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// The budget's tokens; `None`: it limits dollars only.
    pub limit: Option<u64>,
    /// Tokens that counted before the worker started.
    pub before: u64,
    /// The budget's US dollars; `None`: it limits tokens only.
    pub cost_limit: Option<f64>,
    /// Dollars that counted before the worker started.
    pub cost_before: f64,
    warned: bool,
    reached: bool,
}

/// Which of a budget's limits a reading crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// Its tokens.
    Tokens,
    /// Its US dollars.
    Cost,
}

impl Which {
    /// As receipts name it: `tokens`, `cost`.
    pub fn name(self) -> &'static str {
        match self {
            Which::Tokens => "tokens",
            Which::Cost => "cost",
        }
    }
}

/// The usage when a threshold was crossed, what counted before included.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    /// Tokens used.
    pub tokens: u64,
    /// US dollars used, when the budget limits dollars and a cost was known.
    pub cost_usd: Option<f64>,
    /// The limit crossed.
    pub which: Which,
}

/// A threshold the usage crossed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Crossed {
    /// [`WARN_PERCENT`] of a limit is used.
    Warning(Reading),
    /// A whole limit is used.
    Reached(Reading),
}

impl Tally {
    /// The tally of `budget`; `None` when it limits neither tokens nor dollars.
    pub fn of(budget: &Budget) -> Option<Tally> {
        if budget.tokens.is_none() && budget.cost_usd.is_none() {
            return None;
        }
        let mut tally = Tally::default();
        tally.rebase(budget);
        Some(tally)
    }

    /// Holds the tally to `budget` from now on (its limits and what counts before the
    /// worker's use, as they changed while it ran), the thresholds already crossed kept.
    pub fn rebase(&mut self, budget: &Budget) {
        self.limit = budget.tokens;
        self.before = budget.spent_before.unwrap_or(0);
        self.cost_limit = budget.cost_usd;
        self.cost_before = budget.cost_before_usd.unwrap_or(0.0);
    }

    /// The worker's usage so far is `live` tokens costing `live_cost` dollars (when known):
    /// the threshold it crossed first, once each (the end also once the warning was missed).
    pub fn step(&mut self, live: u64, live_cost: Option<f64>) -> Option<Crossed> {
        let tokens = self.before.saturating_add(live);
        let cost = live_cost
            .filter(|_| self.cost_limit.is_some())
            .map(|c| to_millionth(self.cost_before + c.max(0.0)));
        let reading = |which| Reading {
            tokens,
            cost_usd: cost,
            which,
        };
        let over_tokens = |percent: u64| {
            self.limit.is_some_and(|limit| {
                let at = limit / 100 * percent + limit % 100 * percent / 100;
                tokens >= at
            })
        };
        let over_cost = |percent: u64| {
            self.cost_limit
                .zip(cost)
                .is_some_and(|(limit, cost)| cost >= to_millionth(limit * percent as f64 / 100.0))
        };
        // The limit `percent` % of which is used, its tokens first.
        let over = |percent: u64| {
            if over_tokens(percent) {
                Some(Which::Tokens)
            } else {
                over_cost(percent).then_some(Which::Cost)
            }
        };
        if !self.reached
            && let Some(which) = over(100)
        {
            self.reached = true;
            self.warned = true;
            return Some(Crossed::Reached(reading(which)));
        }
        if !self.warned
            && let Some(which) = over(WARN_PERCENT)
        {
            self.warned = true;
            return Some(Crossed::Warning(reading(which)));
        }
        None
    }
}

/// What a dispatch stopped at its budget says: "budget reached: N of M tokens", or for its
/// dollars "budget reached: $X of $Y".
pub fn reached_reason(used: u64, limit: u64) -> String {
    format!("budget reached: {used} of {limit} tokens")
}

/// "budget reached: $X of $Y".
pub fn reached_cost_reason(used: f64, limit: f64) -> String {
    format!("budget reached: {} of {}", dollars(used), dollars(limit))
}

/// What a [`Tally`]'s reading says: tokens or dollars, as the limit it crossed; of the
/// project's day budget when `project_day` ("project day budget reached: …").
pub fn reading_reason(tally: &Tally, reading: &Reading, project_day: bool) -> String {
    let why = match (reading.which, reading.cost_usd, tally.cost_limit) {
        (Which::Cost, Some(used), Some(limit)) => reached_cost_reason(used, limit),
        _ => reached_reason(reading.tokens, tally.limit.unwrap_or(0)),
    };
    of_the_day(why, project_day)
}

/// `why` said of the project's day budget when `project_day`.
pub fn of_the_day(why: String, project_day: bool) -> String {
    match project_day {
        true => format!("project day {why}"),
        false => why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tally_warns_once_then_reaches_once() {
        let b = Budget {
            tokens: Some(1000),
            spent_before: Some(300),
            ..Budget::default()
        };
        let at = |tokens| Reading {
            tokens,
            cost_usd: None,
            which: Which::Tokens,
        };
        let mut t = Tally::of(&b).unwrap();
        assert_eq!(t.step(100, None), None);
        assert_eq!(t.step(500, None), Some(Crossed::Warning(at(800))));
        assert_eq!(t.step(600, None), None);
        assert_eq!(t.step(700, None), Some(Crossed::Reached(at(1000))));
        assert_eq!(t.step(900, None), None);
        // A jump past both is the end at once.
        let mut t = Tally::of(&b).unwrap();
        assert_eq!(t.step(5000, None), Some(Crossed::Reached(at(5300))));
        assert_eq!(t.step(6000, None), None);
    }

    #[test]
    fn the_tally_crosses_at_its_dollars_too() {
        let b = Budget {
            tokens: Some(1_000_000),
            cost_usd: Some(1.0),
            cost_before_usd: Some(0.25),
            ..Budget::default()
        };
        let mut t = Tally::of(&b).unwrap();
        // No cost known yet: tokens alone hold.
        assert_eq!(t.step(100, None), None);
        assert_eq!(t.step(200, Some(0.5)), None);
        let warned = t.step(300, Some(0.55)).unwrap();
        assert_eq!(
            warned,
            Crossed::Warning(Reading {
                tokens: 300,
                cost_usd: Some(0.8),
                which: Which::Cost
            })
        );
        let Some(Crossed::Reached(r)) = t.step(400, Some(0.75)) else {
            panic!("reached at $1.00")
        };
        assert_eq!((r.which, r.cost_usd), (Which::Cost, Some(1.0)));
        assert_eq!(
            reading_reason(&t, &r, false),
            "budget reached: $1.00 of $1.00"
        );
        assert_eq!(t.step(500, Some(9.0)), None);
        // A budget of dollars alone; its tokens are still counted.
        let only = Budget {
            cost_usd: Some(0.015),
            ..Budget::default()
        };
        let mut t = Tally::of(&only).unwrap();
        assert_eq!(t.limit, None);
        assert_eq!(t.step(u64::MAX, None), None, "no token limit to cross");
        let Some(Crossed::Reached(r)) = t.step(5200, Some(0.0156)) else {
            panic!("reached")
        };
        assert_eq!(
            reading_reason(&t, &r, false),
            "budget reached: $0.0156 of $0.015"
        );
        assert_eq!(Tally::of(&Budget::default()), None);
    }
}
