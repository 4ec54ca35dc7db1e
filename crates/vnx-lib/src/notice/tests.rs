//! Unit tests of the notices: which states call for one, their links, and what was sent.

use super::*;
use crate::config::EndpointKind;
use crate::dispatch::state::Proof;
use crate::receipts::DispatchBlocked;

fn now() -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_800_000_000).unwrap()
}

fn serve() -> ServeConfig {
    ServeConfig {
        url: Some("https://laptop:8787".into()),
        notify: vec![Endpoint {
            kind: EndpointKind::Webhook,
            url: "https://example.org/hook".into(),
            from_file: Some("~/.config/vnx/hook".into()),
        }],
        ..ServeConfig::default()
    }
}

fn blocked(id: &str, command: &str, waiting_for: WaitingFor) -> DispatchState {
    let id = DispatchId::parse(id).unwrap();
    let mut s = DispatchState::blank(id.clone(), State::Blocked);
    s.title = Some("fix the parser".into());
    s.blocked = Some(DispatchBlocked {
        dispatch_id: id.clone(),
        waiting_for,
        tool: Some("Bash".into()),
        command: Some(command.into()),
        message: None,
        source: "cli-permission-request".into(),
        answer_with: format!("vnx attach {id}"),
        remote: None,
        extra: Default::default(),
    });
    let line = format!(
        "{{\"dispatch_id\":\"{id}\",\"event_type\":\"dispatch_blocked\",\"seq\":3,\"command\":{}}}",
        serde_json::to_string(command).unwrap()
    );
    s.proof = Some(Proof::of(3, line.into_bytes(), true));
    s
}

#[test]
fn a_blocked_dispatch_gets_a_notice_with_links_once() {
    let dir = tempfile::tempdir().unwrap();
    let key = LinkKey::from_bytes([3; 32]);
    let states = vec![
        blocked("D-0123456789ab", "git push", WaitingFor::Permission),
        blocked("D-ba9876543210", "", WaitingFor::Input),
        DispatchState::blank(DispatchId::parse("D-aaaaaaaaaaaa").unwrap(), State::Running),
    ];
    let due1 = due(dir.path(), &states, &serve(), &key, now()).unwrap();
    assert_eq!(due1.len(), 2, "{due1:?}");
    let n = &due1[0];
    assert_eq!(n.title, "D-0123456789ab is blocked: fix the parser");
    assert_eq!(n.waits_for.as_deref(), Some("Bash: git push"));
    assert_eq!(n.page, "https://laptop:8787/d/D-0123456789ab");
    assert_eq!(Some(n.receipt.clone()), request_of(&states[0]));
    for (url, action) in [
        (&n.approve, LinkAction::Approve),
        (&n.deny, LinkAction::Deny),
    ] {
        let token = url
            .as_deref()
            .unwrap()
            .strip_prefix("https://laptop:8787/l/")
            .unwrap();
        let link = key.open(token, now()).unwrap();
        assert_eq!(link.action, action);
        assert_eq!(link.request, n.receipt);
        assert_eq!(link.dispatch.as_str(), "D-0123456789ab");
        assert_eq!(Some(link.expires), n.expires);
    }
    // A question in the pane: the page only.
    assert_eq!(
        (due1[1].approve.as_ref(), due1[1].deny.as_ref()),
        (None, None)
    );
    mark_sent(dir.path(), &due1).unwrap();
    assert!(
        due(dir.path(), &states, &serve(), &key, now())
            .unwrap()
            .is_empty()
    );
    // An address written in the config (which workers read) gets no links at all.
    let dir = tempfile::tempdir().unwrap();
    let mut in_repository = serve();
    in_repository.notify[0].from_file = None;
    let unlinked = due(dir.path(), &states, &in_repository, &key, now()).unwrap();
    assert_eq!(unlinked.len(), 2, "{unlinked:?}");
    assert_eq!(unlinked[0].waits_for.as_deref(), Some("Bash: git push"));
    assert_eq!(
        (&unlinked[0].approve, &unlinked[0].deny, unlinked[0].expires),
        (&None, &None, None)
    );
    // Nothing is due where nothing is to be sent.
    let dir = tempfile::tempdir().unwrap();
    let quiet = ServeConfig {
        notify: Vec::new(),
        ..serve()
    };
    assert!(
        due(dir.path(), &states, &quiet, &key, now())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn worker_text_is_bounded_on_one_line_without_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let key = LinkKey::from_bytes([3; 32]);
    let hostile = format!("rm -rf / \"}}\n\u{1b}[2J\r{}", "x".repeat(5000));
    let states = vec![blocked("D-0123456789ab", &hostile, WaitingFor::Permission)];
    let n = &due(dir.path(), &states, &serve(), &key, now()).unwrap()[0];
    let w = n.waits_for.as_deref().unwrap();
    assert!(w.chars().count() <= MAX_TEXT + 1, "{}", w.len());
    assert!(!w.chars().any(char::is_control), "{w:?}");
    let body = serde_json::to_string(&post::webhook_body(n)).unwrap();
    let back: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(back["waits_for"].as_str(), Some(w));
}

#[test]
fn a_pull_request_handed_to_a_person_gets_a_notice_once() {
    let dir = tempfile::tempdir().unwrap();
    let key = LinkKey::from_bytes([3; 32]);
    let id = DispatchId::parse("D-0123456789ab").unwrap();
    let mut s = DispatchState::blank(id, State::Ended(DispatchStatus::Done));
    s.title = Some("fix the parser".into());
    s.escalated = Some(crate::dispatch::state::Escalated {
        number: 7,
        rule: "checks_failed".into(),
        why: "checks_failed on 0123456789ab after 2 fix attempts (retries: 2)".into(),
        at: Some("2027-01-15T08:00:00Z".into()),
    });
    let states = vec![s];
    let due1 = due(dir.path(), &states, &serve(), &key, now()).unwrap();
    assert_eq!(due1.len(), 1, "{due1:?}");
    let n = &due1[0];
    assert_eq!(n.state, "pr_escalated");
    assert_eq!(n.title, "D-0123456789ab needs you: fix the parser");
    assert_eq!(
        n.waits_for.as_deref(),
        Some(
            "pull request #7 (checks_failed): checks_failed on 0123456789ab after 2 fix \
             attempts (retries: 2)"
        )
    );
    assert_eq!((n.approve.as_ref(), n.deny.as_ref()), (None, None));
    mark_sent(dir.path(), &due1).unwrap();
    assert!(
        due(dir.path(), &states, &serve(), &key, now())
            .unwrap()
            .is_empty()
    );
    // A later escalation of the same pull request is a new notice.
    let mut later = states.clone();
    if let Some(e) = later[0].escalated.as_mut() {
        e.rule = "changes_requested".into();
        e.at = Some("2027-01-15T09:00:00Z".into());
    }
    assert_eq!(
        due(dir.path(), &later, &serve(), &key, now())
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_planning_workers_prompt_gets_a_deny_link_and_no_approve_link() {
    let dir = tempfile::tempdir().unwrap();
    let key = LinkKey::load_or_create(dir.path()).unwrap();
    let mut s = blocked("D-0123456789ab", "greeting.txt", WaitingFor::Permission);
    s.planning = true;
    let notices = due(dir.path(), &[s], &serve(), &key, now()).unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    let n = &notices[0];
    assert!(n.approve.is_none(), "{n:?}");
    assert!(n.deny.is_some(), "{n:?}");
    assert!(
        n.title
            .contains("asks to change files while it plans (refused)"),
        "{}",
        n.title
    );
}
