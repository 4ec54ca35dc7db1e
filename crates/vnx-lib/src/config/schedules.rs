//! The `schedules:` section of `.vnx/config.yaml`: dispatches started at set times, each an
//! interval (`every: 30m`) or a cron expression (`cron: "0 9 * * 1-5"`, read by the `croner`
//! crate), in UTC, with its task (instruction, role, provider, model, lane, title, deadline)
//! and what happens when its previous run still runs (`overlap:`) or slots passed while
//! nothing fired them (`catch_up:`); validated with line and column. The slot arithmetic
//! (the newest slot at or before a time, the next one after it, how many lie between) is
//! here too, on [`When`], so that what the file says and when it fires are one thing.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::{Checked, Validator, q};
use crate::provider::DeclaredProvider;
use crate::provider::kinds::Lane;

/// The shortest interval `every:` takes.
const MIN_EVERY_SECS: u64 = 60;
/// The longest interval `every:` takes: a year.
const MAX_EVERY_SECS: u64 = 366 * 86_400;
/// The most slots counted between two times (a longer gap is counted as this many).
pub const MAX_COUNTED: u32 = 10_000;

/// When a schedule fires: its slots, in UTC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum When {
    /// Every this many seconds, the slots being the multiples of it since the Unix epoch
    /// (`every: 1d` fires at midnight UTC, `every: 6h` at 00, 06, 12 and 18 UTC).
    Every {
        /// The interval.
        secs: u64,
        /// As the config wrote it (`30m`).
        text: String,
    },
    /// The times a five-field cron expression matches (minute, hour, day of month, month,
    /// day of week; `@daily` and the like too), in UTC.
    Cron {
        /// The expression, parsed.
        cron: Box<croner::Cron>,
        /// As the config wrote it.
        text: String,
    },
}

fn utc(t: jiff::Timestamp) -> jiff::Zoned {
    t.to_zoned(jiff::tz::TimeZone::UTC)
}

impl When {
    /// As receipts and `vnx schedule` show it: `every 30m`, `cron 0 9 * * 1-5`.
    pub fn shown(&self) -> String {
        match self {
            When::Every { text, .. } => format!("every {text}"),
            When::Cron { text, .. } => format!("cron {text}"),
        }
    }

    /// The newest slot at or before `t`.
    pub fn latest(&self, t: jiff::Timestamp) -> Option<jiff::Timestamp> {
        match self {
            When::Every { secs, .. } => {
                let s = t.as_second().div_euclid(*secs as i64) * *secs as i64;
                jiff::Timestamp::from_second(s).ok()
            }
            When::Cron { cron, .. } => {
                // Cron matches whole minutes: a time inside a minute that matches is in it.
                let floor = jiff::Timestamp::from_second(t.as_second().div_euclid(60) * 60).ok()?;
                let found = cron.find_previous_occurrence(&utc(floor), true).ok()?;
                Some(found.timestamp())
            }
        }
    }

    /// The first slot after `t`.
    pub fn next(&self, t: jiff::Timestamp) -> Option<jiff::Timestamp> {
        match self {
            When::Every { secs, .. } => {
                let s = (t.as_second().div_euclid(*secs as i64) + 1) * *secs as i64;
                jiff::Timestamp::from_second(s).ok()
            }
            When::Cron { cron, .. } => {
                let found = cron.find_next_occurrence(&utc(t), false).ok()?;
                Some(found.timestamp())
            }
        }
    }

    /// How many slots lie after `after` and at or before `upto` (at most [`MAX_COUNTED`]).
    pub fn count(&self, after: jiff::Timestamp, upto: jiff::Timestamp) -> u32 {
        if upto <= after {
            return 0;
        }
        match self {
            When::Every { secs, .. } => {
                let k = |t: jiff::Timestamp| t.as_second().div_euclid(*secs as i64);
                u32::try_from(k(upto) - k(after))
                    .unwrap_or(MAX_COUNTED)
                    .min(MAX_COUNTED)
            }
            When::Cron { .. } => {
                let mut n = 0;
                let mut at = after;
                while n < MAX_COUNTED {
                    match self.next(at) {
                        Some(s) if s <= upto => {
                            n += 1;
                            at = s;
                        }
                        _ => break,
                    }
                }
                n
            }
        }
    }
}

/// What a schedule does when its previous dispatch still runs (or waits in the queue).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    /// The slot is skipped, with a `schedule_skipped` receipt.
    #[default]
    Skip,
    /// Another dispatch starts beside it (the provider's slots and the queue still apply).
    Run,
}

/// What a schedule does with slots that passed while nothing fired them (vnx was not
/// running, the machine was off).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// They fire once, as one dispatch, whose receipt says how many were missed.
    #[default]
    Once,
    /// They are skipped, with a `schedule_skipped` receipt; only a slot on time fires.
    Skip,
}

impl Overlap {
    /// As the config spells it.
    pub fn name(self) -> &'static str {
        match self {
            Overlap::Skip => "skip",
            Overlap::Run => "run",
        }
    }
}

impl CatchUp {
    /// As the config spells it.
    pub fn name(self) -> &'static str {
        match self {
            CatchUp::Once => "once",
            CatchUp::Skip => "skip",
        }
    }
}

/// One schedule under `schedules:`.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// When it fires.
    pub when: When,
    /// What its dispatch is asked to do.
    pub instruction: String,
    /// Its dispatch's role; `None`: `defaults.role` (the file then has one).
    pub role: Option<String>,
    /// Its provider; `None`: as `vnx run` picks one (the model's, `defaults.provider`).
    pub provider: Option<String>,
    /// Its model; `None`: as `vnx run` picks one.
    pub model: Option<String>,
    /// Its lane; `None`: as `vnx run` picks one.
    pub lane: Option<Lane>,
    /// The host it runs on (a host of `hosts:`, or `any`); `None`: here.
    pub host: Option<String>,
    /// Its dispatch's title; `None`: `schedule NAME`.
    pub title: Option<String>,
    /// Seconds before its worker is stopped; `None`: as `vnx run`'s default, 3600.
    pub deadline: Option<u64>,
    /// When its previous dispatch still runs.
    pub overlap: Overlap,
    /// After downtime.
    pub catch_up: CatchUp,
    /// Whether it fires at all (`enabled: false` keeps it, shown, without firing).
    pub enabled: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    every: Option<Spanned<String>>,
    cron: Option<Spanned<String>>,
    instruction: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
    provider: Option<Spanned<String>>,
    model: Option<Spanned<String>>,
    lane: Option<Spanned<Lane>>,
    host: Option<Spanned<String>>,
    title: Option<Spanned<String>>,
    deadline: Option<Spanned<i64>>,
    overlap: Option<Spanned<Overlap>>,
    catch_up: Option<Spanned<CatchUp>>,
    enabled: Option<bool>,
}

/// The longest instruction a schedule may hold, in bytes.
const MAX_INSTRUCTION: usize = 64 * 1024;

/// `every:`'s text as seconds: a whole number and a unit, `s`, `m`, `h` or `d` (`90s`,
/// `30m`, `6h`, `1d`).
pub fn parse_every(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = t.split_at(split);
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.parse::<u64>().ok()?.checked_mul(unit)
}

/// A cron expression as `schedules:` takes it: five fields (no seconds, no year), or a
/// nickname (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`).
pub fn parse_cron(text: &str) -> Result<croner::Cron, String> {
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .build();
    let cron = parser.parse(text).map_err(|e| e.to_string())?;
    // A pattern that never matches (`0 0 30 2 *`) is refused rather than never firing.
    let from = utc(jiff::Timestamp::UNIX_EPOCH);
    cron.find_next_occurrence(&from, false)
        .map_err(|_| "it matches no time".to_owned())?;
    Ok(cron)
}

impl Validator<'_> {
    /// `schedules:`; `declared` are the providers the file declares, `hosts` its hosts,
    /// `default_role` `defaults.role`.
    pub(super) fn schedules(
        &self,
        raw: super::checked::Entries<RawSchedule>,
        declared: &BTreeMap<String, DeclaredProvider>,
        hosts: &BTreeMap<String, super::HostConfig>,
        default_role: Option<&str>,
    ) -> Checked<BTreeMap<String, Schedule>> {
        let mut out = BTreeMap::new();
        for (name, s) in raw.0 {
            self.name("", &name, "schedule")?;
            let at = format!("schedules.{}", name.value);
            let when = self.when(&at, &name, s.every, s.cron)?;
            let Some(instruction) = s.instruction else {
                return self.err(&name.referenced, format!("{at} needs an `instruction:`"));
            };
            let bad = instruction.value.trim().is_empty()
                || instruction.value.len() > MAX_INSTRUCTION
                || instruction.value.contains('\0');
            if bad {
                let msg = format!(
                    "{at}.instruction must be text of 1 to {MAX_INSTRUCTION} bytes, without NUL"
                );
                return self.err(&instruction.referenced, msg);
            }
            let role = match s.role {
                Some(role) => {
                    self.name(&format!("{at}.role: "), &role, "role")?;
                    Some(role.value)
                }
                None if default_role.is_none() => {
                    let msg =
                        format!("{at} names no `role:`, and `defaults.role` names none either");
                    return self.err(&name.referenced, msg);
                }
                None => None,
            };
            if let Some(p) = &s.provider {
                self.known_provider(&format!("{at}.provider"), p, declared)?;
            }
            if let Some(m) = &s.model
                && (m.value.trim().is_empty()
                    || m.value.len() > 128
                    || m.value.chars().any(char::is_control))
            {
                let msg = format!(
                    "{at}.model: {} is not a model name (1-128 characters, no control \
                     characters)",
                    q(&m.value)
                );
                return self.err(&m.referenced, msg);
            }
            if let Some(t) = &s.title
                && (t.value.trim().is_empty() || t.value.chars().count() > 200)
            {
                let msg = format!("{at}.title must be 1 to 200 characters");
                return self.err(&t.referenced, msg);
            }
            let deadline = s
                .deadline
                .map(|d| self.between(&format!("{at}.deadline"), &d, 1..=super::MAX_DEADLINE_SECS))
                .transpose()?;
            let host = match s.host {
                Some(h) if h.value == crate::place_name::HERE => None,
                Some(h) if h.value == crate::place_name::ANY && !hosts.is_empty() => Some(h.value),
                Some(h) if hosts.contains_key(&h.value) => Some(h.value),
                Some(h) => {
                    let msg = format!(
                        "{at}.host: {} is no host of `hosts:` (nor `any` with one declared, nor \
                         `here`)",
                        q(&h.value)
                    );
                    return self.err(&h.referenced, msg);
                }
                None => None,
            };
            let schedule = Schedule {
                when,
                instruction: instruction.value,
                role,
                provider: s.provider.map(|p| p.value),
                model: s.model.map(|m| m.value),
                lane: s.lane.map(|l| l.value),
                host,
                title: s.title.map(|t| t.value),
                deadline,
                overlap: s.overlap.map(|o| o.value).unwrap_or_default(),
                catch_up: s.catch_up.map(|c| c.value).unwrap_or_default(),
                enabled: s.enabled.unwrap_or(true),
            };
            out.insert(name.value, schedule);
        }
        Ok(out)
    }

    /// Exactly one of `every:` and `cron:`.
    fn when(
        &self,
        at: &str,
        name: &Spanned<String>,
        every: Option<Spanned<String>>,
        cron: Option<Spanned<String>>,
    ) -> Checked<When> {
        match (every, cron) {
            (Some(_), Some(c)) => {
                let msg = format!("{at} has both `every:` and `cron:`; give one");
                self.err(&c.referenced, msg)
            }
            (None, None) => {
                let msg = format!(
                    "{at} needs `every:` (an interval like 30m, 6h, 1d) or `cron:` (like \
                     \"0 9 * * 1-5\")"
                );
                self.err(&name.referenced, msg)
            }
            (Some(e), None) => match parse_every(&e.value) {
                Some(secs) if (MIN_EVERY_SECS..=MAX_EVERY_SECS).contains(&secs) => {
                    Ok(When::Every {
                        secs,
                        text: e.value.trim().to_owned(),
                    })
                }
                _ => {
                    let msg = format!(
                        "{at}.every: {} is not an interval from 1m to 366d: a whole number \
                         and s, m, h or d, like 90s, 30m, 6h or 1d",
                        q(&e.value)
                    );
                    self.err(&e.referenced, msg)
                }
            },
            (None, Some(c)) => match parse_cron(&c.value) {
                Ok(cron) => Ok(When::Cron {
                    cron: Box::new(cron),
                    text: c.value.trim().to_owned(),
                }),
                Err(why) => {
                    let msg = format!(
                        "{at}.cron: {} is not a cron expression of five fields (minute hour \
                         day-of-month month day-of-week, in UTC): {why}",
                        q(&c.value)
                    );
                    self.err(&c.referenced, msg)
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().unwrap()
    }

    fn every(text: &str) -> When {
        When::Every {
            secs: parse_every(text).unwrap(),
            text: text.into(),
        }
    }

    fn cron(text: &str) -> When {
        When::Cron {
            cron: Box::new(parse_cron(text).unwrap()),
            text: text.into(),
        }
    }

    #[test]
    fn intervals_are_a_number_and_a_unit() {
        assert_eq!(parse_every("90s"), Some(90));
        assert_eq!(parse_every("30m"), Some(1800));
        assert_eq!(parse_every("6h"), Some(21_600));
        assert_eq!(parse_every("1d"), Some(86_400));
        for bad in [
            "",
            "m",
            "30",
            "30 m",
            "1w",
            "-5m",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_every(bad), None, "{bad}");
        }
    }

    #[test]
    fn interval_slots_are_multiples_of_the_interval_since_the_epoch() {
        let w = every("6h");
        assert_eq!(
            w.latest(at("2026-12-01T13:05:00Z")),
            Some(at("2026-12-01T12:00:00Z"))
        );
        assert_eq!(
            w.latest(at("2026-12-01T12:00:00Z")),
            Some(at("2026-12-01T12:00:00Z"))
        );
        assert_eq!(
            w.next(at("2026-12-01T12:00:00Z")),
            Some(at("2026-12-01T18:00:00Z"))
        );
        assert_eq!(
            w.count(at("2026-12-01T12:00:00Z"), at("2026-12-02T12:00:00Z")),
            4
        );
        assert_eq!(
            w.count(at("2026-12-01T12:00:00Z"), at("2026-12-01T17:59:59Z")),
            0
        );
    }

    #[test]
    fn cron_slots_are_its_matches_in_utc() {
        let w = cron("0 9 * * 1-5");
        // 2026-12-04 is a Friday.
        assert_eq!(
            w.next(at("2026-12-04T09:00:00Z")),
            Some(at("2026-12-07T09:00:00Z"))
        );
        assert_eq!(
            w.latest(at("2026-12-06T10:00:00Z")),
            Some(at("2026-12-04T09:00:00Z"))
        );
        assert_eq!(
            w.latest(at("2026-12-04T09:00:30Z")),
            Some(at("2026-12-04T09:00:00Z"))
        );
        assert_eq!(
            w.count(at("2026-12-01T00:00:00Z"), at("2026-12-08T00:00:00Z")),
            5
        );
        assert_eq!(
            cron("@daily").next(at("2026-12-04T09:00:00Z")),
            Some(at("2026-12-05T00:00:00Z"))
        );
    }

    #[test]
    fn cron_refuses_seconds_years_and_patterns_that_never_match() {
        for bad in [
            "",
            "0 9 * *",
            "0 0 9 * * 1",
            "0 9 * * 1 2026",
            "0 0 30 2 *",
            "x 9 * * *",
        ] {
            assert!(parse_cron(bad).is_err(), "{bad}");
        }
    }

    fn a_time() -> impl Strategy<Value = jiff::Timestamp> {
        // 2000 to 2100.
        (946_684_800i64..4_102_444_800).prop_map(|s| jiff::Timestamp::from_second(s).unwrap())
    }

    fn a_when() -> impl Strategy<Value = When> {
        prop_oneof![
            (1u64..=2000).prop_map(|m| When::Every {
                secs: m * 60,
                text: format!("{m}m")
            }),
            prop::sample::select(vec![
                "* * * * *",
                "*/15 * * * *",
                "0 9 * * 1-5",
                "30 3 1 * *",
                "0 0 29 2 *",
                "5 4 * * sun",
                "@hourly",
            ])
            .prop_map(cron),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// The newest slot at or before t is at or before t, and the next slot after it is
        /// after t: no slot lies strictly between them and t.
        #[test]
        fn latest_and_next_bracket_any_time(w in a_when(), t in a_time()) {
            let latest = w.latest(t).unwrap();
            let next = w.next(t).unwrap();
            prop_assert!(latest <= t);
            prop_assert!(next > t);
            prop_assert_eq!(w.next(latest), Some(next));
            prop_assert_eq!(w.latest(next), Some(next));
            prop_assert_eq!(w.count(latest, t), 0);
            prop_assert_eq!(w.count(t, next), 1);
        }

        /// Counting is additive: slots in (a, c] are those in (a, b] and in (b, c].
        #[test]
        fn counts_add_up(w in a_when(), a in a_time(), d1 in 0i64..200_000, d2 in 0i64..200_000) {
            let b = a + jiff::SignedDuration::from_secs(d1);
            let c = b + jiff::SignedDuration::from_secs(d2);
            prop_assert_eq!(w.count(a, c), w.count(a, b) + w.count(b, c));
        }
    }
}
