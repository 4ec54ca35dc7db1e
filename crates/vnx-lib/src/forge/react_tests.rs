//! The decision's cases, and the properties it keeps over any past and any pull request.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::config::MergeRule;
use crate::ids::{CommitId, DispatchId};

const H0: &str = "0000000000000000000000000000000000000000";
const H1: &str = "1111111111111111111111111111111111111111";

fn summary(head: &str, checks: &[(&str, &str)], decision: &str) -> Summary {
    Summary {
        number: 7,
        url: "https://github.com/o/r/pull/7".into(),
        state: "open".into(),
        draft: false,
        checks: checks
            .iter()
            .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        review_decision: decision.into(),
        conversation: 0,
        head_commit: head.into(),
        said: Vec::new(),
        changes_requested_on: Vec::new(),
    }
}

fn reacted(rule: ReactionRule, head: &str, attempt: u32, at: u64, done: bool) -> Reacted {
    let action = match rule {
        ReactionRule::ApprovedAndGreen => ReactionAction::Merge,
        _ => ReactionAction::Fix,
    };
    Reacted {
        receipt: PrReaction {
            dispatch_id: DispatchId::parse("D-6d7e8f9a0b1c").unwrap(),
            number: 7,
            url: "https://github.com/o/r/pull/7".into(),
            branch: "dispatch/D-6d7e8f9a0b1c".into(),
            head_commit: CommitId::parse(head).unwrap(),
            rule,
            action,
            attempt,
            attempts_allowed: 2,
            follow_up: (action == ReactionAction::Fix)
                .then(|| DispatchId::parse("D-aaaaaaaaaaaa").unwrap()),
            why: String::new(),
            extra: Default::default(),
        },
        at,
        carried_out: done,
    }
}

fn all_rules() -> Reactions {
    Reactions {
        checks_failed: Some(FixRule {
            fix: true,
            retries: 2,
            escalate_after: None,
        }),
        changes_requested: Some(FixRule {
            fix: true,
            retries: 2,
            escalate_after: Some(1800),
        }),
        approved_and_green: Some(MergeRule { merge: true }),
    }
}

fn facts<'a>(s: &'a Summary, head: &'a str, reacted: &'a [Reacted]) -> Facts<'a> {
    Facts {
        number: 7,
        recorded_head: head,
        summary: s,
        reacted,
        escalated: &[],
        busy: None,
        require_checks: true,
        now: 10_000,
    }
}

#[test]
fn failing_checks_are_fixed_then_escalated() {
    let s = summary(H0, &[("ci", "fail")], "");
    let due = decide(&facts(&s, H0, &[]), &all_rules());
    assert!(
        matches!(
            due,
            Due::Fix {
                rule: ReactionRule::ChecksFailed,
                attempt: 1,
                of: 2,
                ..
            }
        ),
        "{due:?}"
    );
    // Two attempts on earlier heads: the third head escalates.
    let past = [
        reacted(ReactionRule::ChecksFailed, H0, 1, 1, true),
        reacted(ReactionRule::ChecksFailed, H1, 2, 2, true),
    ];
    let h2 = "2222222222222222222222222222222222222222";
    let s = summary(h2, &[("ci", "fail")], "");
    let due = decide(&facts(&s, h2, &past), &all_rules());
    assert!(
        matches!(
            due,
            Due::Escalate {
                rule: ReactionRule::ChecksFailed,
                attempts: 2,
                ..
            }
        ),
        "{due:?}"
    );
}

#[test]
fn a_fix_that_did_not_update_the_pull_request_escalates() {
    let past = [reacted(ReactionRule::ChecksFailed, H0, 1, 1, true)];
    let s = summary(H0, &[("ci", "fail")], "");
    let due = decide(&facts(&s, H0, &past), &all_rules());
    let Due::Escalate { why, .. } = due else {
        panic!("{due:?}")
    };
    assert!(why.contains("ended without updating"), "{why}");
}

#[test]
fn a_head_that_is_not_the_recorded_one_gets_nothing() {
    let s = summary(H1, &[("ci", "fail")], "");
    assert!(matches!(
        decide(&facts(&s, H0, &[]), &all_rules()),
        Due::Nothing { .. }
    ));
}

#[test]
fn a_running_follow_up_and_pending_checks_wait() {
    let s = summary(H0, &[("ci", "fail")], "");
    let mut f = facts(&s, H0, &[]);
    f.busy = Some("D-aaaaaaaaaaaa is running".into());
    assert!(matches!(decide(&f, &all_rules()), Due::Wait { .. }));
    let s = summary(H0, &[("ci", "pending")], "APPROVED");
    assert!(matches!(
        decide(&facts(&s, H0, &[]), &all_rules()),
        Due::Wait { .. }
    ));
}

#[test]
fn a_written_reaction_not_carried_out_is_finished() {
    let past = [reacted(ReactionRule::ChecksFailed, H0, 1, 1, false)];
    let s = summary(H0, &[("ci", "fail")], "");
    assert!(matches!(
        decide(&facts(&s, H0, &past), &all_rules()),
        Due::Finish { .. }
    ));
    // A merge asked for is finished even once the forge shows it merged.
    let past = [reacted(ReactionRule::ApprovedAndGreen, H0, 1, 1, false)];
    let mut s = summary(H0, &[("ci", "pass")], "APPROVED");
    s.state = "merged".into();
    assert!(matches!(
        decide(&facts(&s, H0, &past), &all_rules()),
        Due::Finish { .. }
    ));
}

#[test]
fn changes_requested_again_only_on_a_new_request() {
    let past = [reacted(ReactionRule::ChangesRequested, H0, 1, 1000, true)];
    let mut s = summary(H1, &[("ci", "pass")], "CHANGES_REQUESTED");
    let mut f = facts(&s, H1, &past);
    f.now = 1000 + 60;
    assert!(matches!(decide(&f, &all_rules()), Due::Wait { .. }));
    f.now = 1000 + 1800;
    let due = decide(&f, &all_rules());
    let Due::Escalate { why, .. } = &due else {
        panic!("{due:?}")
    };
    assert!(why.contains("30m after fix attempt 1"), "{why}");
    s.changes_requested_on = vec![H1.into()];
    let f = facts(&s, H1, &past);
    assert!(matches!(
        decide(&f, &all_rules()),
        Due::Fix {
            rule: ReactionRule::ChangesRequested,
            attempt: 2,
            ..
        }
    ));
}

#[test]
fn approved_and_green_merges_or_tells() {
    let s = summary(H0, &[("ci", "pass")], "APPROVED");
    assert!(matches!(
        decide(&facts(&s, H0, &[]), &all_rules()),
        Due::Merge { .. }
    ));
    let mut rules = all_rules();
    rules.approved_and_green = Some(MergeRule { merge: false });
    assert!(matches!(
        decide(&facts(&s, H0, &[]), &rules),
        Due::Escalate {
            rule: ReactionRule::ApprovedAndGreen,
            ..
        }
    ));
    // No checks: only without forge.require_checks.
    let s = summary(H0, &[], "APPROVED");
    assert!(matches!(
        decide(&facts(&s, H0, &[]), &all_rules()),
        Due::Nothing { .. }
    ));
    let mut f = facts(&s, H0, &[]);
    f.require_checks = false;
    assert!(matches!(decide(&f, &all_rules()), Due::Merge { .. }));
    // No rules: nothing.
    let s = summary(H0, &[("ci", "fail")], "CHANGES_REQUESTED");
    assert!(matches!(
        decide(&facts(&s, H0, &[]), &Reactions::default()),
        Due::Nothing { .. }
    ));
}

fn any_rule() -> impl Strategy<Value = ReactionRule> {
    prop_oneof![
        Just(ReactionRule::ChecksFailed),
        Just(ReactionRule::ChangesRequested),
        Just(ReactionRule::ApprovedAndGreen),
    ]
}

fn any_head() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(H0), Just(H1)]
}

proptest! {
    /// Whatever the past and the pull request: no act at a head that is not the recorded
    /// one, never a second act of a (rule, head), never more fix attempts than allowed, and
    /// a merge only of an approved pull request whose checks pass.
    #[test]
    fn the_decision_keeps_its_rules(
        past in prop::collection::vec((any_rule(), any_head(), any::<bool>()), 0..5),
        forge_head in any_head(),
        recorded in any_head(),
        check in prop_oneof![Just("pass"), Just("fail"), Just("pending"), Just("none")],
        decision in prop_oneof![Just(""), Just("APPROVED"), Just("CHANGES_REQUESTED")],
        busy in any::<bool>(),
        retries in 0u32..4,
    ) {
        let reacted: Vec<Reacted> = past
            .iter()
            .enumerate()
            .map(|(i, (r, h, done))| reacted(*r, h, i as u32 + 1, 0, *done))
            .collect();
        let checks: Vec<(&str, &str)> = match check {
            "none" => vec![],
            c => vec![("ci", c)],
        };
        let s = summary(forge_head, &checks, decision);
        let mut f = facts(&s, recorded, &reacted);
        f.busy = busy.then(|| "busy".to_owned());
        let mut rules = all_rules();
        rules.checks_failed.as_mut().unwrap().retries = retries;
        rules.changes_requested.as_mut().unwrap().retries = retries;
        let due = decide(&f, &rules);
        match &due {
            Due::Fix { rule, attempt, .. } => {
                prop_assert_eq!(forge_head, recorded);
                prop_assert!(!busy);
                prop_assert!(*attempt <= retries);
                prop_assert!(!reacted.iter().any(|r| r.receipt.rule == *rule
                    && r.receipt.head_commit.as_str() == recorded));
            }
            Due::Merge { .. } => {
                prop_assert_eq!(forge_head, recorded);
                prop_assert!(!busy);
                prop_assert_eq!(decision, "APPROVED");
                prop_assert_eq!(check, "pass");
                prop_assert!(!reacted.iter().any(|r| r.receipt.rule == ReactionRule::ApprovedAndGreen
                    && r.receipt.head_commit.as_str() == recorded));
            }
            Due::Finish { reaction } => {
                prop_assert_eq!(reaction.head_commit.as_str(), recorded);
                prop_assert!(reacted.iter().any(|r| !r.carried_out
                    && r.receipt.head_commit.as_str() == recorded));
            }
            Due::Escalate { .. } => prop_assert_eq!(forge_head, recorded),
            Due::Nothing { .. } | Due::Wait { .. } => {}
        }
    }
}
