//! The decision's cases, and the properties it keeps over any past and any pull request.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::config::MergeRule;
use crate::ids::{CommitId, DispatchId};

const H0: &str = "0000000000000000000000000000000000000000";
const H1: &str = "1111111111111111111111111111111111111111";

/// The associations trusted by default.
fn trusted() -> Vec<String> {
    ["OWNER", "MEMBER", "COLLABORATOR"]
        .map(str::to_owned)
        .to_vec()
}

fn opinion(author: &str, state: &str, head: &str, association: &str) -> Opinion {
    Opinion {
        author: author.into(),
        state: state.into(),
        commit: head.into(),
        association: association.into(),
    }
}

/// A pull request at `head` with `checks` and review decision `decision`, a trusted
/// reviewer's opinion on `head` behind the decision.
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
        opinions: match decision {
            "" => Vec::new(),
            d => vec![opinion("rev", d, head, "MEMBER")],
        },
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
    static TRUSTED: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(trusted);
    Facts {
        number: 7,
        recorded_head: head,
        summary: s,
        reacted,
        escalated: &[],
        busy: None,
        require_checks: true,
        now: 10_000,
        trusted: &TRUSTED,
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
    // The reviewer asked on the head the fix replaced.
    s.opinions = vec![opinion("rev", "CHANGES_REQUESTED", H0, "MEMBER")];
    let mut f = facts(&s, H1, &past);
    f.now = 1000 + 60;
    assert!(matches!(decide(&f, &all_rules()), Due::Wait { .. }));
    f.now = 1000 + 1800;
    let due = decide(&f, &all_rules());
    let Due::Escalate { why, .. } = &due else {
        panic!("{due:?}")
    };
    assert!(why.contains("30m after fix attempt 1"), "{why}");
    // An outsider's request on the new head is no new request.
    s.opinions
        .push(opinion("passer-by", "CHANGES_REQUESTED", H1, "NONE"));
    let mut f = facts(&s, H1, &past);
    f.now = 1000 + 60;
    assert!(matches!(decide(&f, &all_rules()), Due::Wait { .. }));
    s.opinions[0].commit = H1.into();
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

#[test]
fn outsiders_alone_start_no_fix_and_no_merge() {
    for association in [
        "NONE",
        "FIRST_TIMER",
        "FIRST_TIME_CONTRIBUTOR",
        "CONTRIBUTOR",
        "MANNEQUIN",
        "",
    ] {
        let mut s = summary(H0, &[("ci", "pass")], "CHANGES_REQUESTED");
        s.opinions = vec![opinion("x", "CHANGES_REQUESTED", H0, association)];
        let due = decide(&facts(&s, H0, &[]), &all_rules());
        let Due::Nothing { why } = &due else {
            panic!("{association}: {due:?}")
        };
        assert!(
            why.contains("changes requested only by outsiders (@x): no fix"),
            "{why}"
        );
        let mut s = summary(H0, &[("ci", "pass")], "APPROVED");
        s.opinions = vec![opinion("y", "APPROVED", H0, association)];
        let due = decide(&facts(&s, H0, &[]), &all_rules());
        let Due::Nothing { why } = &due else {
            panic!("{association}: {due:?}")
        };
        assert!(
            why.contains("approved only by outsiders (@y): no merge"),
            "{why}"
        );
    }
    // A trusted reviewer beside the outsider: fixed, and the project's wider trust counts.
    let mut s = summary(H0, &[("ci", "pass")], "CHANGES_REQUESTED");
    s.opinions = vec![opinion("x", "CHANGES_REQUESTED", H0, "CONTRIBUTOR")];
    let wider = ["CONTRIBUTOR".to_owned()];
    let mut f = facts(&s, H0, &[]);
    f.trusted = &wider;
    assert!(matches!(decide(&f, &all_rules()), Due::Fix { .. }));
    s.opinions
        .push(opinion("rev", "CHANGES_REQUESTED", H0, "COLLABORATOR"));
    assert!(matches!(
        decide(&facts(&s, H0, &[]), &all_rules()),
        Due::Fix {
            rule: ReactionRule::ChangesRequested,
            ..
        }
    ));
}

#[test]
fn a_rule_that_escalated_leaves_the_others_to_react() {
    let escalated = [PrEscalated {
        dispatch_id: DispatchId::parse("D-6d7e8f9a0b1c").unwrap(),
        number: 7,
        url: "https://github.com/o/r/pull/7".into(),
        branch: "dispatch/D-6d7e8f9a0b1c".into(),
        head_commit: CommitId::parse(H0).unwrap(),
        rule: ReactionRule::ChecksFailed,
        attempts: 0,
        why: "checks_failed on 000000000000; the rule does not fix it".into(),
        extra: Default::default(),
    }];
    // Checks still fail, and nothing else: quiet, saying why.
    let s = summary(H0, &[("ci", "fail")], "");
    let mut f = facts(&s, H0, &[]);
    f.escalated = &escalated;
    let due = decide(&f, &all_rules());
    let Due::Nothing { why } = &due else {
        panic!("{due:?}")
    };
    assert!(why.starts_with("checks_failed escalated"), "{why}");
    // A reviewer asks for changes on that head: that rule still reacts.
    let s = summary(H0, &[("ci", "fail")], "CHANGES_REQUESTED");
    let mut f = facts(&s, H0, &[]);
    f.escalated = &escalated;
    let due = decide(&f, &all_rules());
    assert!(
        matches!(
            due,
            Due::Fix {
                rule: ReactionRule::ChangesRequested,
                attempt: 1,
                ..
            }
        ),
        "{due:?}"
    );
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
        outsider in any::<bool>(),
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
        let mut s = summary(forge_head, &checks, decision);
        if outsider {
            for o in &mut s.opinions {
                o.association = "NONE".into();
            }
        }
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
                // An outsider's request for changes alone is no reason to fix.
                prop_assert!(*rule != ReactionRule::ChangesRequested || !outsider);
            }
            Due::Merge { .. } => {
                prop_assert_eq!(forge_head, recorded);
                prop_assert!(!busy);
                prop_assert_eq!(decision, "APPROVED");
                prop_assert!(!outsider);
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
