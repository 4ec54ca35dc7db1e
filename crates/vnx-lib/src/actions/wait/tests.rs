//! The wait's decisions: when a pull request's wait is over, how a host's lost link is heard,
//! and what a wait's outcome counts as success.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::time::Duration;

use super::{Front, Hosts, Outcome, UntilPr, WaitEvent};
use crate::dispatch::view::Waited;
use crate::forge::watch::PrStatus;
use crate::ids::DispatchId;
use crate::remote::{CatchUp, RemoteError};

fn pr(state: &str, checks: &str, decision: &str, comments: usize) -> PrStatus {
    PrStatus {
        number: 7,
        url: "https://example.invalid/pr/7".into(),
        state: state.into(),
        draft: false,
        checks_word: checks.into(),
        checks: BTreeMap::new(),
        review_decision: decision.into(),
        new_comments: comments,
        said: Vec::new(),
        recorded_head: String::new(),
        head_commit: String::new(),
        read_at: 0,
        stale: None,
        changes: Vec::new(),
    }
}

#[test]
fn checks_decide_on_their_word_else_on_the_end() {
    let first = pr("open", "pending", "", 0);
    let c = UntilPr::Checks;
    assert_eq!(c.decide(&first, &pr("open", "pending", "", 0)), None);
    assert_eq!(c.decide(&first, &pr("open", "pass", "", 0)), Some(true));
    assert_eq!(c.decide(&first, &pr("open", "fail", "", 0)), Some(false));
    assert_eq!(
        c.decide(&first, &pr("merged", "pending", "", 0)),
        Some(true)
    );
    assert_eq!(c.decide(&first, &pr("closed", "none", "", 0)), Some(false));
    // A read that failed decides nothing.
    assert_eq!(c.decide(&first, &pr("unknown", "none", "", 0)), None);
}

#[test]
fn a_merge_is_waited_for_until_merged_or_closed() {
    let first = pr("open", "pass", "APPROVED", 0);
    let m = UntilPr::Merged;
    assert_eq!(m.decide(&first, &pr("open", "pass", "APPROVED", 3)), None);
    assert_eq!(m.decide(&first, &pr("merged", "pass", "", 0)), Some(true));
    assert_eq!(m.decide(&first, &pr("closed", "pass", "", 0)), Some(false));
}

#[test]
fn a_review_is_a_new_decision_or_a_new_comment() {
    let r = UntilPr::Review;
    let first = pr("open", "pending", "REVIEW_REQUIRED", 1);
    // Nothing new: still waiting.
    assert_eq!(r.decide(&first, &first), None);
    assert_eq!(
        r.decide(&first, &pr("open", "pending", "APPROVED", 1)),
        Some(true)
    );
    assert_eq!(
        r.decide(&first, &pr("open", "pending", "CHANGES_REQUESTED", 1)),
        Some(false)
    );
    // A comment without an approval is a review that did not approve.
    assert_eq!(
        r.decide(&first, &pr("open", "pending", "REVIEW_REQUIRED", 2)),
        Some(false)
    );
    // The decision it had from the start is not new.
    let approved = pr("open", "pending", "APPROVED", 0);
    assert_eq!(r.decide(&approved, &approved), None);
    assert_eq!(
        r.decide(&first, &pr("merged", "pending", "REVIEW_REQUIRED", 1)),
        Some(true)
    );
}

/// A front end whose hosts answer as `answers` says, round by round, and which keeps what
/// it heard in words.
struct Hearing {
    answers: Vec<Vec<(String, bool)>>,
    heard: Vec<String>,
}

impl Front for Hearing {
    fn heard(&mut self, event: WaitEvent<'_>) -> ControlFlow<()> {
        match event {
            WaitEvent::HostLost { host, error } => self.heard.push(format!("lost {host}: {error}")),
            WaitEvent::HostBack { host } => self.heard.push(format!("back {host}")),
            _ => self.heard.push("other".into()),
        }
        ControlFlow::Continue(())
    }

    fn catch_up(
        &mut self,
        _: &[DispatchId],
        wait: Duration,
    ) -> Vec<(String, Result<CatchUp, RemoteError>)> {
        assert_eq!(wait, Hosts::LONG_POLL);
        let round = self.answers.remove(0);
        round
            .into_iter()
            .map(|(host, up)| {
                let result = if up {
                    Ok(CatchUp::default())
                } else {
                    Err(RemoteError::Unreachable {
                        host: host.clone(),
                        detail: "no route".into(),
                    })
                };
                (host, result)
            })
            .collect()
    }
}

#[test]
fn a_lost_host_is_heard_once_and_its_return_once() {
    let round = |a: bool, b: bool| vec![("a".to_owned(), a), ("b".to_owned(), b)];
    let mut front = Hearing {
        answers: vec![
            round(true, false),
            round(true, false),
            round(false, true),
            round(true, true),
        ],
        heard: Vec::new(),
    };
    let mut hosts = Hosts::default();
    for _ in 0..4 {
        // Each round as if a second had passed.
        hosts.last = None;
        assert!(hosts.tick(&mut front, &[]).is_continue());
    }
    assert_eq!(
        front.heard,
        [
            // Round one; round two says nothing new.
            "lost b: host `b` is out of reach: no route",
            // Round three, host by host.
            "lost a: host `a` is out of reach: no route",
            "back b",
            // Round four.
            "back a",
        ]
    );
}

#[test]
fn hosts_are_asked_at_most_once_a_second() {
    let mut front = Hearing {
        answers: vec![vec![("a".to_owned(), false)]],
        heard: Vec::new(),
    };
    let mut hosts = Hosts::default();
    assert!(hosts.tick(&mut front, &[]).is_continue());
    // A second ask within the second would find no answers left (and panic).
    assert!(hosts.tick(&mut front, &[]).is_continue());
    assert_eq!(front.heard.len(), 1);
}

#[test]
fn an_outcome_succeeds_only_when_every_dispatch_and_pull_request_did() {
    let id = DispatchId::parse("d1").expect("an id");
    let mut outcome = Outcome {
        waited: BTreeMap::from([(id.clone(), Waited::StillRunning)]),
        prs_ok: None,
        stopped: false,
    };
    assert!(!outcome.succeeded());
    assert!(outcome.unknown().is_empty());
    outcome.waited.insert(id.clone(), Waited::Unknown);
    assert_eq!(outcome.unknown(), [&id]);
    outcome.waited.clear();
    assert!(outcome.succeeded());
    outcome.prs_ok = Some(false);
    assert!(!outcome.succeeded());
    outcome.prs_ok = Some(true);
    assert!(outcome.succeeded());
}
