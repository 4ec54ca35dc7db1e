//! Which reaction a pull request is due (ADR 0093), decided without reading or changing
//! anything: from the pull request as the forge cache read it, the recorded head, what the
//! ledger holds of earlier reactions and escalations on it, whether a dispatch of its chain
//! still runs, and the rules (`forge.reactions`, a role's in place of the project's). Also the
//! ledger read of those earlier reactions (`Past::read`).
//!
//! The rules it keeps: nothing for a pull request whose forge head is not the recorded one,
//! nor while a dispatch of its chain runs (a fix follow-up still working); never twice the
//! same (rule, head); a reaction written but not carried out (its follow-up never started, its
//! merge never recorded) is finished first; at most `retries` fix attempts per rule and pull
//! request, then an escalation; a merge only of an open, non-draft, approved pull request at
//! its recorded head whose checks all pass (`vnx pr merge` checks the rest). Only trusted
//! reviewers (`forge.trusted_associations`, ADR 0101) move a reaction: an outsider's request
//! for changes starts no fix, an outsider's approval no merge. A rule that escalated on a
//! head is quiet there, but leaves the other rules to react.

use std::path::Path;

use serde::Serialize;

use super::watch::{Opinion, Summary};
use crate::config::{FixRule, Reactions};
use crate::ledger::json::{self, Value};
use crate::ledger::{LedgerError, attest, tail};
use crate::receipts::{self, PrEscalated, PrReaction, ReactionAction, ReactionRule};

/// An earlier reaction on a pull request, with whether it was carried out.
#[derive(Clone, Debug)]
pub struct Reacted {
    /// The receipt.
    pub receipt: PrReaction,
    /// When it was written (seconds since the epoch; 0 when unreadable).
    pub at: u64,
    /// Whether what it asked for happened: its follow-up started (on the ledger), or its
    /// merge recorded (`pr_merged`). Set by the caller, who reads those.
    pub carried_out: bool,
}

/// What the ledger holds of reactions and escalations, every pull request.
#[derive(Clone, Debug, Default)]
pub struct Past {
    /// Every `pr_reaction` a trusted key signed, in ledger order.
    pub reactions: Vec<Reacted>,
    /// Every `pr_escalated` a trusted key signed, in ledger order.
    pub escalations: Vec<PrEscalated>,
}

impl Past {
    /// Reads them from `ledger` (one pass over the lines that name them).
    pub fn read(ledger: &Path, trusted: &[[u8; 32]]) -> Result<Past, LedgerError> {
        let mut past = Past::default();
        if !ledger.exists() {
            return Ok(past);
        }
        let (lines, _) = tail::last_lines(ledger, usize::MAX, |l| {
            memchr::memmem::find(l, b"\"pr_reaction\"").is_some()
                || memchr::memmem::find(l, b"\"pr_escalated\"").is_some()
        })?;
        for raw in lines {
            let Some(fields) = json::object_of_line(&raw) else {
                continue;
            };
            if !attest::check(&fields, trusted).is_valid() {
                continue;
            }
            match fields.get("event_type").and_then(Value::as_str) {
                Some(<PrReaction as receipts::Kind>::EVENT) => {
                    if let Some(r) = receipts::read::<PrReaction>(&fields) {
                        let at = r.timestamp.as_deref().map_or(0, seconds_of);
                        past.reactions.push(Reacted {
                            receipt: r.receipt,
                            at,
                            carried_out: false,
                        });
                    }
                }
                Some(<PrEscalated as receipts::Kind>::EVENT) => {
                    past.escalations
                        .extend(receipts::read::<PrEscalated>(&fields).map(|r| r.receipt));
                }
                _ => {}
            }
        }
        Ok(past)
    }

    /// The reactions on pull request `number`.
    pub fn on(&self, number: u64) -> Vec<Reacted> {
        self.reactions
            .iter()
            .filter(|r| r.receipt.number == number)
            .cloned()
            .collect()
    }

    /// The escalations of pull request `number`.
    pub fn escalated_on(&self, number: u64) -> Vec<PrEscalated> {
        self.escalations
            .iter()
            .filter(|e| e.number == number)
            .cloned()
            .collect()
    }
}

/// Seconds since the epoch of an RFC 3339 time (0 when it does not read as one).
pub fn seconds_of(text: &str) -> u64 {
    text.parse::<jiff::Timestamp>()
        .ok()
        .and_then(|t| u64::try_from(t.as_second()).ok())
        .unwrap_or(0)
}

/// What the decision reads about one pull request.
#[derive(Clone, Debug)]
pub struct Facts<'a> {
    /// The pull request's number.
    pub number: u64,
    /// The head the last `pr_opened` pushed.
    pub recorded_head: &'a str,
    /// The pull request as the forge cache last read it.
    pub summary: &'a Summary,
    /// The earlier reactions on it (every head), in ledger order.
    pub reacted: &'a [Reacted],
    /// Its escalations, in ledger order.
    pub escalated: &'a [PrEscalated],
    /// A dispatch of its chain that is not finished (running, queued, or its supervisor
    /// still at its chores), in words; `None` when none is.
    pub busy: Option<String>,
    /// Whether a merge needs checks reported on the head (`forge.require_checks`).
    pub require_checks: bool,
    /// Now, in seconds since the epoch.
    pub now: u64,
    /// The associations whose reviewers are trusted (`forge.trusted_associations`): only
    /// their requests for changes and approvals move a reaction (ADR 0101).
    pub trusted: &'a [String],
}

impl Facts<'_> {
    /// Whether a reviewer GitHub associates with the repository as `association` is trusted.
    fn trusts(&self, association: &str) -> bool {
        !association.is_empty() && self.trusted.iter().any(|t| t == association)
    }

    /// The reviewers whose latest opinion is `state`: the trusted ones, and the others.
    fn opinions(&self, state: &str) -> (Vec<&Opinion>, Vec<&Opinion>) {
        self.summary
            .opinions
            .iter()
            .filter(|o| o.state == state)
            .partition(|o| self.trusts(&o.association))
    }
}

/// The reaction due.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "due", rename_all = "snake_case")]
pub enum Due {
    /// Nothing to do now, and why.
    Nothing {
        /// Why.
        why: String,
    },
    /// Nothing until a dispatch of its chain is finished.
    Wait {
        /// What it waits for.
        why: String,
    },
    /// A fix follow-up, attempt `attempt` of `of`.
    Fix {
        /// The rule.
        rule: ReactionRule,
        /// Which attempt (1 for the first).
        attempt: u32,
        /// The most the rule allows.
        of: u32,
        /// Why.
        why: String,
    },
    /// A merge.
    Merge {
        /// Why.
        why: String,
    },
    /// A reaction already written whose act did not happen (the watcher was stopped
    /// between the two): carry it out now.
    Finish {
        /// The reaction written.
        reaction: Box<PrReaction>,
    },
    /// Hand it to a person.
    Escalate {
        /// The rule.
        rule: ReactionRule,
        /// The attempts made.
        attempts: u32,
        /// Why.
        why: String,
    },
}

fn nothing(why: impl Into<String>) -> Due {
    Due::Nothing { why: why.into() }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// The reaction pull request `f` is due under `rules`.
pub fn decide(f: &Facts<'_>, rules: &Reactions) -> Due {
    let s = f.summary;
    let at_head = |r: &&Reacted| r.receipt.head_commit.as_str() == f.recorded_head;
    let pending = f.reacted.iter().filter(at_head).find(|r| !r.carried_out);
    // A merge asked for and not recorded is finished whatever the forge says now: the
    // merge finds one the forge made and records it.
    if let Some(r) = pending.filter(|r| r.receipt.action == ReactionAction::Merge) {
        return Due::Finish {
            reaction: Box::new(r.receipt.clone()),
        };
    }
    if s.state != "open" {
        return nothing(format!("#{} is {}", f.number, s.state));
    }
    if let Some(r) = pending {
        return Due::Finish {
            reaction: Box::new(r.receipt.clone()),
        };
    }
    if s.head_commit != f.recorded_head {
        return nothing(format!(
            "the forge's head of #{} is {}, not the recorded head {}",
            f.number,
            short(&s.head_commit),
            short(f.recorded_head)
        ));
    }
    if let Some(busy) = &f.busy {
        return Due::Wait { why: busy.clone() };
    }
    if s.draft {
        return nothing(format!("#{} is a draft", f.number));
    }
    let checks = s.checks_word();
    if checks == "pending" {
        return Due::Wait {
            why: format!("checks pending on {}", short(f.recorded_head)),
        };
    }
    let failing = checks == "fail";
    let (asking, outsiders_asking) = f.opinions("CHANGES_REQUESTED");
    let (approving, outsiders_approving) = f.opinions("APPROVED");
    let requested = s.review_decision == "CHANGES_REQUESTED" && !asking.is_empty();
    let approved = s.review_decision == "APPROVED" && !approving.is_empty() && asking.is_empty();
    // A rule that escalated on this head is quiet, the others still react.
    let mut quiet = Vec::new();
    if failing && let Some(rule) = rules.checks_failed {
        match fix_due(f, ReactionRule::ChecksFailed, rule) {
            Ok(due) => return due,
            Err(why) => quiet.push(why),
        }
    }
    if requested && let Some(rule) = rules.changes_requested {
        match fix_due(f, ReactionRule::ChangesRequested, rule) {
            Ok(due) => return due,
            Err(why) => quiet.push(why),
        }
    }
    let green = checks == "pass" || (checks == "none" && !f.require_checks);
    if approved
        && green
        && !failing
        && let Some(rule) = rules.approved_and_green
    {
        match merge_due(f, rule.merge) {
            Ok(due) => return due,
            Err(why) => quiet.push(why),
        }
    }
    let outsiders = |words: &str, them: &[&Opinion], reaction: &str| {
        let names: Vec<String> = them.iter().map(|o| format!("@{}", o.author)).collect();
        format!(
            "{words} only by outsiders ({}): no {reaction} for their words \
             (forge.trusted_associations)",
            if names.is_empty() {
                "no trusted reviewer".to_owned()
            } else {
                names.join(", ")
            }
        )
    };
    if failing && rules.checks_failed.is_none() {
        quiet.push("checks fail; no rule reacts to it".to_owned());
    }
    if requested && rules.changes_requested.is_none() {
        quiet.push("changes requested; no rule reacts to it".to_owned());
    }
    if s.review_decision == "CHANGES_REQUESTED" && !requested {
        quiet.push(outsiders("changes requested", &outsiders_asking, "fix"));
    }
    if s.review_decision == "APPROVED" && approving.is_empty() {
        quiet.push(outsiders("approved", &outsiders_approving, "merge"));
    }
    if quiet.is_empty() {
        let review = Some(s.review_decision.as_str()).filter(|d| !d.is_empty());
        quiet.push(format!(
            "#{} needs no reaction (checks {checks}, review {})",
            f.number,
            review.map_or("none".to_owned(), str::to_ascii_lowercase)
        ));
    }
    nothing(quiet.join("; "))
}

/// Whether rule `rule` escalated on the recorded head.
fn escalated<'a>(f: &Facts<'a>, rule: ReactionRule) -> Option<&'a PrEscalated> {
    f.escalated
        .iter()
        .find(|e| e.rule == rule && e.head_commit.as_str() == f.recorded_head)
}

/// The fix (or escalation) rule `rule` asks for; `Err(why)` when it escalated on the
/// recorded head already and is quiet there.
fn fix_due(f: &Facts<'_>, rule: ReactionRule, config: FixRule) -> Result<Due, String> {
    let name = rule.name();
    if let Some(e) = escalated(f, rule) {
        return Err(format!("{name} escalated: {}", e.why));
    }
    let mine: Vec<&Reacted> = f
        .reacted
        .iter()
        .filter(|r| r.receipt.rule == rule)
        .collect();
    let attempts = u32::try_from(mine.len()).unwrap_or(u32::MAX);
    let escalate = |why: String| Due::Escalate {
        rule,
        attempts,
        why,
    };
    let head = short(f.recorded_head);
    if let Some(done) = mine
        .iter()
        .find(|r| r.receipt.head_commit.as_str() == f.recorded_head)
    {
        // Its follow-up ended and the pull request is still at the head it was to fix.
        let by = done
            .receipt
            .follow_up
            .as_ref()
            .map_or_else(String::new, |id| format!(" ({id})"));
        return Ok(escalate(format!(
            "fix attempt {} of {name}{by} ended without updating #{}",
            done.receipt.attempt, f.number
        )));
    }
    if !config.fix {
        return Ok(escalate(format!(
            "{name} on {head}; the rule does not fix it"
        )));
    }
    let last_fix = f
        .reacted
        .iter()
        .rev()
        .find(|r| r.receipt.action == ReactionAction::Fix);
    if rule == ReactionRule::ChangesRequested
        && let Some(last) = last_fix
        && !f
            .opinions("CHANGES_REQUESTED")
            .0
            .iter()
            .any(|o| o.commit == f.recorded_head)
    {
        // The review decision stays until the reviewer reviews again: nothing new to fix.
        let waited = f.now.saturating_sub(last.at);
        return Ok(match config.escalate_after {
            Some(after) if waited >= after => escalate(format!(
                "changes still requested {} after fix attempt {}, with nothing new from the \
                 reviewer",
                words(waited),
                last.receipt.attempt
            )),
            _ => Due::Wait {
                why: format!(
                    "changes were requested before fix attempt {}; waiting for the reviewer",
                    last.receipt.attempt
                ),
            },
        });
    }
    if attempts >= config.retries {
        return Ok(escalate(format!(
            "{name} on {head} after {attempts} fix attempt{} (retries: {})",
            if attempts == 1 { "" } else { "s" },
            config.retries
        )));
    }
    Ok(Due::Fix {
        rule,
        attempt: attempts + 1,
        of: config.retries,
        why: match rule {
            ReactionRule::ChecksFailed => {
                let failing: Vec<&str> = f
                    .summary
                    .checks
                    .iter()
                    .filter(|(_, s)| *s == "fail")
                    .map(|(n, _)| n.as_str())
                    .collect();
                format!("check(s) failing on {head}: {}", failing.join(", "))
            }
            _ => format!("changes requested on {head}"),
        },
    })
}

/// The merge (or the word to a person) the approved, green pull request is due; `Err(why)`
/// when the rule escalated on the recorded head, or asked for its merge, already.
fn merge_due(f: &Facts<'_>, merge: bool) -> Result<Due, String> {
    let rule = ReactionRule::ApprovedAndGreen;
    if let Some(e) = escalated(f, rule) {
        return Err(format!("approved_and_green escalated: {}", e.why));
    }
    let head = short(f.recorded_head);
    if f.reacted
        .iter()
        .any(|r| r.receipt.rule == rule && r.receipt.head_commit.as_str() == f.recorded_head)
    {
        return Err(format!("the merge of {head} was asked for already"));
    }
    if !merge {
        return Ok(Due::Escalate {
            rule,
            attempts: 0,
            why: format!(
                "#{} is approved and green at {head}: ready for `vnx pr merge`",
                f.number
            ),
        });
    }
    Ok(Due::Merge {
        why: format!("approved, and every check passes on {head}"),
    })
}

/// A duration in words: `45s`, `30m`, `2h 5m`.
fn words(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
#[path = "react_tests.rs"]
mod tests;
