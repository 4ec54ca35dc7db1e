//! `forge.reactions` and `roles.<role>.reactions` in `.vnx/config.yaml`: what `vnx pr watch`
//! does by itself about a dispatch's pull request (ADR 0093) — a fix follow-up when its
//! checks fail or a reviewer asks for changes, at most `retries` times per pull request, then
//! an escalation; a merge when it is approved and green — validated with line and column. A
//! role's rules replace the project's rule by rule.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::{Checked, Validator};
use super::serve::parse_ttl;

/// Fix attempts per pull request and rule when `retries` is not given.
pub const DEFAULT_RETRIES: u32 = 2;
/// The most fix attempts a rule may allow.
pub(super) const MAX_RETRIES: u32 = 20;
/// The longest `escalate_after`: 30 days.
pub(super) const MAX_ESCALATE_AFTER: u64 = 30 * 86_400;

/// A rule that answers with a fix follow-up (`checks_failed`, `changes_requested`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixRule {
    /// Whether vnx starts the fix by itself (`false`: it escalates at once).
    pub fix: bool,
    /// The most fix attempts per pull request; then it escalates.
    pub retries: u32,
    /// Escalate when changes are still requested this many seconds after the last fix
    /// attempt with nothing new from the reviewer (`changes_requested` only).
    pub escalate_after: Option<u64>,
}

/// `approved_and_green`: merge it by itself (`vnx pr merge`), or tell a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MergeRule {
    /// Whether vnx merges by itself (`false`: it tells a person the pull request is ready).
    pub merge: bool,
}

/// The reactions of a project or a role: each rule unset (`None`) does nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reactions {
    /// When a check on the recorded head fails.
    pub checks_failed: Option<FixRule>,
    /// When a reviewer asks for changes.
    pub changes_requested: Option<FixRule>,
    /// When the pull request is approved and every check passes.
    pub approved_and_green: Option<MergeRule>,
}

impl Reactions {
    /// Whether no rule is set.
    pub fn is_empty(&self) -> bool {
        *self == Reactions::default()
    }

    /// These rules with `role`'s set ones in their place.
    pub fn with_role(&self, role: Option<&Reactions>) -> Reactions {
        let Some(r) = role else { return *self };
        Reactions {
            checks_failed: r.checks_failed.or(self.checks_failed),
            changes_requested: r.changes_requested.or(self.changes_requested),
            approved_and_green: r.approved_and_green.or(self.approved_and_green),
        }
    }
}

impl super::Config {
    /// The reactions for a dispatch of `role`: the project's (`forge.reactions`), each rule
    /// the role sets in its place; none without a `forge:` section.
    pub fn reactions(&self, role: &str) -> Reactions {
        let Some(forge) = &self.forge else {
            return Reactions::default();
        };
        let of_role = self.roles.get(role).and_then(|r| r.reactions.as_ref());
        forge.reactions.with_role(of_role)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReactions {
    checks_failed: Option<RawChecks>,
    changes_requested: Option<RawChanges>,
    approved_and_green: Option<RawMerge>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    fix: Option<bool>,
    retries: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChanges {
    fix: Option<bool>,
    retries: Option<Spanned<i64>>,
    escalate_after: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMerge {
    merge: Option<bool>,
}

impl Validator<'_> {
    /// `reactions:` under `forge:` or a role (`at` names it in messages).
    pub(super) fn reactions(&self, raw: RawReactions, at: &str) -> Checked<Reactions> {
        let retries = |r: Option<Spanned<i64>>, rule: &str| -> Checked<u32> {
            let Some(r) = r else {
                return Ok(DEFAULT_RETRIES);
            };
            self.between(&format!("{at}.{rule}.retries"), &r, 0..=MAX_RETRIES)
        };
        let mut out = Reactions::default();
        if let Some(c) = raw.checks_failed {
            out.checks_failed = Some(FixRule {
                fix: c.fix.unwrap_or(true),
                retries: retries(c.retries, "checks_failed")?,
                escalate_after: None,
            });
        }
        if let Some(c) = raw.changes_requested {
            let escalate_after = match c.escalate_after {
                None => None,
                Some(t) => match parse_ttl(&t.value)
                    .map(|d| d.as_secs())
                    .filter(|s| (1..=MAX_ESCALATE_AFTER).contains(s))
                {
                    Some(s) => Some(s),
                    None => {
                        return self.err(
                            &t.referenced,
                            format!(
                                "{at}.changes_requested.escalate_after must be a duration \
                                 between 1s and 30d, like 30m or 2h, not {:?}",
                                t.value
                            ),
                        );
                    }
                },
            };
            out.changes_requested = Some(FixRule {
                fix: c.fix.unwrap_or(true),
                retries: retries(c.retries, "changes_requested")?,
                escalate_after,
            });
        }
        if let Some(m) = raw.approved_and_green {
            out.approved_and_green = Some(MergeRule {
                merge: m.merge.unwrap_or(false),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use proptest::prelude::*;

    use super::*;

    fn parse(reactions: &str) -> Result<Reactions, String> {
        let text = format!("forge:\n  kind: github\n  reactions: {reactions}\n");
        crate::config::parse(&text, Path::new("c.yaml"))
            .map(|c| c.forge.unwrap().reactions)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn rules_read_with_their_defaults() {
        let r = parse(
            "{checks_failed: {fix: true}, changes_requested: {retries: 1, escalate_after: 30m}, \
             approved_and_green: {merge: true}}",
        )
        .unwrap();
        assert_eq!(
            r.checks_failed,
            Some(FixRule {
                fix: true,
                retries: 2,
                escalate_after: None
            })
        );
        assert_eq!(r.changes_requested.unwrap().escalate_after, Some(1800));
        assert_eq!(r.changes_requested.unwrap().retries, 1);
        assert_eq!(r.approved_and_green, Some(MergeRule { merge: true }));
        assert!(parse("{}").unwrap().is_empty());
    }

    #[test]
    fn errors_point_at_the_value() {
        let e = parse("{checks_failed: {retries: -1}}").unwrap_err();
        assert!(e.contains("c.yaml:3:"), "{e}");
        assert!(e.contains("forge.reactions.checks_failed.retries"), "{e}");
        let e = parse("{changes_requested: {escalate_after: soon}}").unwrap_err();
        assert!(e.contains("escalate_after"), "{e}");
        // escalate_after belongs to changes_requested only.
        assert!(parse("{checks_failed: {escalate_after: 1m}}").is_err());
        assert!(parse("{approved_and_green: {fix: true}}").is_err());
    }

    #[test]
    fn a_role_replaces_the_project_rule_by_rule() {
        let text = "forge:\n  kind: github\n  reactions: {checks_failed: {retries: 3}, \
                    approved_and_green: {merge: true}}\nroles:\n  docs:\n    reactions: \
                    {approved_and_green: {merge: false}}\n";
        let c = crate::config::parse(text, Path::new("c.yaml")).unwrap();
        let r = c.reactions("docs");
        assert_eq!(r.checks_failed.unwrap().retries, 3);
        assert_eq!(r.approved_and_green, Some(MergeRule { merge: false }));
        assert_eq!(
            c.reactions("other").approved_and_green,
            Some(MergeRule { merge: true })
        );
    }

    proptest! {
        #[test]
        fn retries_are_taken_exactly_when_in_range(n in -100i64..100) {
            let got = parse(&format!("{{checks_failed: {{retries: {n}}}}}"));
            if (0..=i64::from(MAX_RETRIES)).contains(&n) {
                prop_assert_eq!(got.unwrap().checks_failed.unwrap().retries as i64, n);
            } else {
                prop_assert!(got.is_err());
            }
        }

        #[test]
        fn escalate_after_reads_any_unit(n in 0u64..100_000, unit in "[smhdx]") {
            let got = parse(&format!("{{changes_requested: {{escalate_after: {n}{unit}}}}}"));
            let mult = match unit.as_str() { "s" => 1, "m" => 60, "h" => 3600, "d" => 86_400, _ => 0 };
            let secs = n * mult;
            if mult > 0 && (1..=MAX_ESCALATE_AFTER).contains(&secs) {
                prop_assert_eq!(got.unwrap().changes_requested.unwrap().escalate_after, Some(secs));
            } else {
                prop_assert!(got.is_err());
            }
        }
    }
}
