//! Recorded spend: the token usage that `dispatch_completed` receipts carry, summed by
//! dispatch, provider, model, role or day, and the spend a token budget counts. Only figures a
//! CLI reported count; a dispatch that ended without one is counted as unreported, never
//! estimated.

use crate::ids::DispatchId;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::constraints::{LoadError, RouteMatch, keys_match};
use crate::ledger::LedgerError;
use crate::ledger::tail;
use crate::provider::events::Usage;
use crate::receipts::Typed;

/// One ended dispatch, as spend sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// Its provider, model and role, as started.
    pub provider: String,
    /// Its model, when one was named.
    pub model: Option<String>,
    /// Its role.
    pub role: String,
    /// When it completed.
    pub completed_at: jiff::Timestamp,
    /// What its CLI reported, if it reported anything.
    pub usage: Option<Usage>,
    /// What its CLI said it cost, in US dollars, if it said (a finite, non-negative figure).
    pub cost_usd: Option<f64>,
}

impl Entry {
    /// All tokens it used: the CLI's total when it gives one, else input plus output.
    pub fn tokens(&self) -> Option<u64> {
        self.usage.as_ref().map(|u| {
            u.total_tokens
                .unwrap_or(u.input_tokens.saturating_add(u.output_tokens))
        })
    }
}

/// Every dispatch on the ledger that completed, in completion order.
pub fn entries(ledger: &Path) -> Result<Vec<Entry>, LedgerError> {
    let (lines, _) = tail::last_lines(ledger, usize::MAX, |l| {
        memchr::memmem::find(l, b"dispatch_started").is_some()
            || memchr::memmem::find(l, b"dispatch_completed").is_some()
    })?;
    let mut started: BTreeMap<DispatchId, (String, Option<String>, String)> = BTreeMap::new();
    let mut out = Vec::new();
    for line in &lines {
        match Typed::of_line(line) {
            Some(Typed::DispatchStarted(r)) => {
                let s = r.receipt;
                started.insert(s.dispatch_id, (s.provider, s.model, s.role));
            }
            Some(Typed::DispatchCompleted(r)) => {
                let Some((provider, model, role)) = started.get(&r.receipt.dispatch_id) else {
                    continue;
                };
                let Some(at) = r.timestamp.as_deref().and_then(|t| t.parse().ok()) else {
                    continue;
                };
                let cost_usd = r
                    .receipt
                    .cli_events
                    .as_ref()
                    .and_then(|e| e.cost_usd)
                    .filter(|c| c.is_finite() && *c >= 0.0);
                out.push(Entry {
                    cost_usd,
                    dispatch_id: r.receipt.dispatch_id,
                    provider: provider.clone(),
                    model: model.clone(),
                    role: role.clone(),
                    completed_at: at,
                    // A usage with no count at all (Python VNX's `input`/`output` names read
                    // as nothing here) is no report, not a report of zero.
                    // Nor is a count no dispatch can have used (an older vnx recorded
                    // what a worker claimed): unknown, so it cannot fill a budget.
                    usage: r.receipt.token_usage.filter(|u| {
                        u.input_tokens
                            .saturating_add(u.output_tokens)
                            .saturating_add(u.total_tokens.unwrap_or(0))
                            > 0
                            && u.implausible().is_none()
                    }),
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The most dispatches a graph's walk visits.
const MAX_GRAPH: usize = 100_000;

/// The dispatches that descend from `roots` on `ledger`: themselves, the follow-ups that
/// continue any of them, and the dispatches that started after any of them (`--after`),
/// through each other, as their starts record it: what a graph's cost sums.
pub fn descendants(
    ledger: &Path,
    roots: &[DispatchId],
) -> Result<BTreeSet<DispatchId>, LedgerError> {
    let (lines, _) = tail::last_lines(ledger, usize::MAX, |l| {
        memchr::memmem::find(l, b"dispatch_started").is_some()
    })?;
    let mut children: BTreeMap<DispatchId, Vec<DispatchId>> = BTreeMap::new();
    for line in &lines {
        if let Some(Typed::DispatchStarted(r)) = Typed::of_line(line) {
            let s = r.receipt;
            let parents = (s.continues.iter().map(|c| c.dispatch_id.clone())).chain(
                s.after
                    .iter()
                    .flat_map(|a| a.on.iter().map(|d| d.dispatch_id.clone())),
            );
            for p in parents {
                children.entry(p).or_default().push(s.dispatch_id.clone());
            }
        }
    }
    let mut seen: BTreeSet<DispatchId> = BTreeSet::new();
    let mut next: Vec<DispatchId> = roots.to_vec();
    while let Some(id) = next.pop() {
        if seen.len() >= MAX_GRAPH || !seen.insert(id.clone()) {
            continue;
        }
        next.extend(children.remove(&id).unwrap_or_default());
    }
    Ok(seen)
}

/// The spend of the graph descending from `roots` (see [`descendants`]), summed as one group
/// keyed `graph`, and how many dispatches the graph holds (ended or not).
pub fn of_graph(ledger: &Path, roots: &[DispatchId]) -> Result<(Spend, usize), LedgerError> {
    let ids = descendants(ledger, roots)?;
    let mut total = Spend {
        key: "graph".into(),
        ..Spend::default()
    };
    for e in entries(ledger)?
        .iter()
        .filter(|e| ids.contains(&e.dispatch_id))
    {
        total.add(e);
    }
    Ok((total, ids.len()))
}

/// The spend in words: dispatches, tokens and dollars where reported.
pub fn describe(s: &Spend) -> String {
    let usd = s.cost_usd.map(|c| format!(", ${c:.2}")).unwrap_or_default();
    let unknown = match s.unreported {
        0 => String::new(),
        n => format!(" ({n} without a usage report)"),
    };
    format!(
        "{} ended, {} tokens{usd}{unknown}",
        s.dispatches, s.total_tokens
    )
}

/// The completed dispatches and where each budget stands, as [`spend`] counts them.
pub type Counted = (Vec<Entry>, Vec<BudgetState>);

/// What `vnx cost` counts: the dispatches that completed on or after `since` (a UTC day),
/// and where each budget of the constraints file at `constraints` stands at `now` (none
/// without the file), counting every completion whatever `since`. A ledger that cannot be
/// read fails the outer result; constraints that cannot be read, the inner one.
pub fn spend(
    ledger: &Path,
    constraints: &Path,
    since: Option<jiff::civil::Date>,
    now: jiff::Timestamp,
) -> Result<Result<Counted, LoadError>, LedgerError> {
    let mut entries = if ledger.exists() {
        entries(ledger)?
    } else {
        Vec::new()
    };
    let budgets = match crate::constraints::load(constraints) {
        Ok(loaded) => budgets(&entries, &loaded.constraints, now),
        Err(LoadError::Missing { .. }) => Vec::new(),
        Err(e) => return Ok(Err(e)),
    };
    if let Some(day) = since {
        entries.retain(|e| e.completed_at.to_zoned(jiff::tz::TimeZone::UTC).date() >= day);
    }
    Ok(Ok((entries, budgets)))
}

/// What spend is grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// Each dispatch on its own.
    Dispatch,
    /// Provider.
    Provider,
    /// Model (`-` for dispatches that named none).
    Model,
    /// Role.
    Role,
    /// The UTC day it completed.
    Day,
}

impl GroupBy {
    /// Every grouping, as the command line spells them.
    pub const NAMES: [&'static str; 5] = ["dispatch", "provider", "model", "role", "day"];

    /// The grouping a name spells.
    pub fn parse(name: &str) -> Option<GroupBy> {
        Some(match name {
            "dispatch" => GroupBy::Dispatch,
            "provider" => GroupBy::Provider,
            "model" => GroupBy::Model,
            "role" => GroupBy::Role,
            "day" => GroupBy::Day,
            _ => return None,
        })
    }

    fn key(self, e: &Entry) -> String {
        match self {
            GroupBy::Dispatch => e.dispatch_id.to_string(),
            GroupBy::Provider => e.provider.clone(),
            GroupBy::Model => e.model.clone().unwrap_or_else(|| "-".into()),
            GroupBy::Role => e.role.clone(),
            GroupBy::Day => e
                .completed_at
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date()
                .to_string(),
        }
    }
}

pub use crate::constraints::budget::{Period, Spend};

impl Spend {
    fn add(&mut self, e: &Entry) {
        // Saturating: a count a worker forged near u64::MAX must not wrap to little.
        self.dispatches += 1;
        if let Some(cost) = e.cost_usd {
            self.cost_usd = Some(self.cost_usd.unwrap_or(0.0) + cost);
        }
        match &e.usage {
            None => self.unreported += 1,
            Some(u) => {
                self.input_tokens = self.input_tokens.saturating_add(u.input_tokens);
                self.output_tokens = self.output_tokens.saturating_add(u.output_tokens);
                self.cached_input_tokens = self
                    .cached_input_tokens
                    .saturating_add(u.cached_input_tokens.unwrap_or(0));
                self.total_tokens = self.total_tokens.saturating_add(e.tokens().unwrap_or(0));
            }
        }
    }
}

/// The spend of `entries` by `by`, in key order (days oldest first).
pub fn summarize(entries: &[Entry], by: GroupBy) -> Vec<Spend> {
    let mut groups: BTreeMap<String, Spend> = BTreeMap::new();
    for e in entries {
        let key = by.key(e);
        groups
            .entry(key.clone())
            .or_insert_with(|| Spend {
                key,
                ..Spend::default()
            })
            .add(e);
    }
    groups.into_values().collect()
}

/// The recorded spend of the dispatches a budget's keys (provider, model, role) match, in
/// the period containing `now`.
pub fn spent(entries: &[Entry], keys: &RouteMatch, period: Period, now: jiff::Timestamp) -> Spend {
    let mut total = Spend {
        key: period.name().into(),
        ..Spend::default()
    };
    for e in entries.iter().filter(|e| {
        period.contains(now, e.completed_at)
            && keys_match(keys, &e.provider, e.model.as_deref(), &e.role)
    }) {
        total.add(e);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, provider: &str, at: &str, tokens: Option<(u64, u64)>) -> Entry {
        Entry {
            dispatch_id: crate::ids::DispatchId::parse(id).unwrap(),
            provider: provider.into(),
            model: None,
            role: "implementer".into(),
            completed_at: at.parse().unwrap(),
            usage: tokens.map(|(i, o)| Usage {
                input_tokens: i,
                output_tokens: o,
                ..Usage::default()
            }),
            cost_usd: None,
        }
    }

    #[test]
    fn periods_are_utc_calendar_stretches() {
        let now: jiff::Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
        let at = |t: &str| t.parse::<jiff::Timestamp>().unwrap();
        assert!(Period::Day.contains(now, at("2026-11-23T00:00:00Z")));
        assert!(!Period::Day.contains(now, at("2026-11-22T23:59:59Z")));
        // 2026-11-23 is a Monday: the Sunday before is last week.
        assert!(!Period::Week.contains(now, at("2026-11-22T12:00:00Z")));
        assert!(Period::Week.contains(now, at("2026-11-29T12:00:00Z")));
        assert!(Period::Month.contains(now, at("2026-11-01T00:00:00Z")));
        assert!(!Period::Month.contains(now, at("2025-11-23T10:00:00Z")));
        assert!(Period::All.contains(now, at("2001-01-01T00:00:00Z")));
    }

    #[test]
    fn sums_count_unreported_dispatches_apart() {
        let all = [
            entry("D-1", "alpha", "2026-11-22T10:00:00Z", Some((100, 20))),
            entry("D-2", "alpha", "2026-11-23T10:00:00Z", None),
            entry("D-3", "beta", "2026-11-23T11:00:00Z", Some((5, 5))),
        ];
        let by_provider = summarize(&all, GroupBy::Provider);
        assert_eq!(by_provider.len(), 2);
        assert_eq!(by_provider[0].key, "alpha");
        assert_eq!(by_provider[0].total_tokens, 120);
        assert_eq!(by_provider[0].dispatches, 2);
        assert_eq!(by_provider[0].unreported, 1);
        let by_day = summarize(&all, GroupBy::Day);
        assert_eq!(by_day[0].key, "2026-11-22");
        assert_eq!(by_day[1].total_tokens, 10);
        let now = "2026-11-23T12:00:00Z".parse().unwrap();
        let alpha = RouteMatch {
            provider: Some(vec!["Alpha".into()]),
            ..RouteMatch::default()
        };
        let today = spent(&all, &alpha, Period::Day, now);
        assert_eq!(
            (today.dispatches, today.unreported, today.total_tokens),
            (1, 1, 0)
        );
        let ever = spent(&all, &alpha, Period::All, now);
        assert_eq!(ever.total_tokens, 120);
        // Models match as route rules match them: `vendor/name` by its last segment too.
        let mut routed = entry("D-4", "beta", "2026-11-23T11:00:00Z", Some((7, 0)));
        routed.model = Some("openai/GPT-5".into());
        let gpt5 = RouteMatch {
            model: Some(vec!["gpt-5".into()]),
            ..RouteMatch::default()
        };
        assert_eq!(spent(&[routed], &gpt5, Period::Day, now).total_tokens, 7);
    }
}

/// Where a token budget of `provider_constraints.yaml` stands.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BudgetState {
    /// The budget's constraint id.
    pub id: String,
    /// Its period (`day`, `week`, `month` or `all`).
    pub period: &'static str,
    /// Its limit.
    pub max_tokens: u64,
    /// What its dispatches spent in the current period.
    pub spent: Spend,
    /// Whether the limit is reached.
    pub reached: bool,
}

/// Where each token budget among `constraints` stands at `now`, given the ledger's `entries`.
pub fn budgets(
    entries: &[Entry],
    constraints: &[crate::constraints::Constraint],
    now: jiff::Timestamp,
) -> Vec<BudgetState> {
    constraints
        .iter()
        .filter_map(|c| match &c.rule {
            crate::constraints::Rule::TokenBudget(b) => {
                let spent = spent(entries, &b.selector, b.period, now);
                Some(BudgetState {
                    id: c.id.clone(),
                    period: b.period.name(),
                    max_tokens: b.max_tokens,
                    reached: spent.total_tokens >= b.max_tokens,
                    spent,
                })
            }
            _ => None,
        })
        .collect()
}
