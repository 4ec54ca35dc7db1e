//! What a token budget counts: the stretch of time (`Period`) and the spend of the
//! dispatches it matches (`Spend`, which `cost` adds up from the ledger).

use serde::Serialize;

/// The recorded spend of a group of dispatches.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Spend {
    /// What the group is (a dispatch id, a provider, a day, …).
    pub key: String,
    /// Dispatches that ended in the group.
    pub dispatches: u64,
    /// Of them, those whose CLI reported no usage: their spend is unknown, not zero.
    pub unreported: u64,
    /// Input tokens reported.
    pub input_tokens: u64,
    /// Output tokens reported.
    pub output_tokens: u64,
    /// Input tokens served from a prompt cache, where the CLI says.
    pub cached_input_tokens: u64,
    /// All tokens reported (the CLI's total, else input plus output).
    pub total_tokens: u64,
    /// US dollars the CLIs said the dispatches cost (where they say it), summed; `None` when none
    /// said.
    pub cost_usd: Option<f64>,
}

/// The stretch of time a budget counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// The current UTC day.
    Day,
    /// The current ISO week (from Monday, UTC).
    Week,
    /// The current calendar month (UTC).
    Month,
    /// Everything on record.
    All,
}

impl Period {
    /// The period a name spells (`day`, `week`, `month`, `all`).
    pub fn parse(name: &str) -> Option<Period> {
        Some(match name.trim() {
            "day" => Period::Day,
            "week" => Period::Week,
            "month" => Period::Month,
            "all" => Period::All,
            _ => return None,
        })
    }

    /// The name as the file spells it.
    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::All => "all",
        }
    }

    /// Whether `at` falls in the period that contains `now`.
    pub fn contains(self, now: jiff::Timestamp, at: jiff::Timestamp) -> bool {
        let utc = |t: jiff::Timestamp| t.to_zoned(jiff::tz::TimeZone::UTC).date();
        let (now, at) = (utc(now), utc(at));
        match self {
            Period::Day => now == at,
            Period::Week => {
                now.iso_week_date().year() == at.iso_week_date().year()
                    && now.iso_week_date().week() == at.iso_week_date().week()
            }
            Period::Month => now.year() == at.year() && now.month() == at.month(),
            Period::All => true,
        }
    }
}
