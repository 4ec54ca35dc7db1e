//! Answering a prompt: the keys and dialogs of each CLI, the hook's wait, the end's wait for
//! an answer being given, and an approval refused while a dispatch plans.

use super::*;
use crate::provider::dialog::MAX_DIALOG;

/// The key that answers a built-in `provider`'s permission prompt in its pane (its module's
/// [`CodingCli::pane_dialog`](cli::CodingCli::pane_dialog); a declared provider's are its
/// `interactive.dialog:`'s, which `vnx approve` reads from the config).
fn pane_keys(provider: &str, answer: PermissionAnswer) -> Option<&'static str> {
    Some(cli::named(provider)?.pane_dialog()?.key(answer))
}

/// A line `provider`'s permission dialog shows while it waits for its key (its module's
/// [`CodingCli::pane_dialog`](cli::CodingCli::pane_dialog)).
fn dialog_marker(provider: &str) -> Option<&'static str> {
    Some(cli::named(provider)?.pane_dialog()?.marker)
}

/// The lines of `screen` around the last line holding `marker` (see [`dialog_on_pane`]).
fn dialog_lines(screen: &str, marker: &str) -> Option<String> {
    let at = crate::provider::dialog::line_holding(screen, marker)?;
    Some(crate::provider::dialog::around(screen, at))
}

#[test]
fn a_planning_workers_prompt_is_refused_not_approved_and_may_be_denied() {
    let id = DispatchId::parse("D-0123456789ab").unwrap();
    let mut s = DispatchState::blank(id.clone(), State::Blocked);
    s.blocked = Some(crate::receipts::DispatchBlocked {
        dispatch_id: id.clone(),
        waiting_for: WaitingFor::Permission,
        tool: Some("Write".into()),
        command: Some("greeting.txt".into()),
        message: None,
        source: SCREEN_SOURCE.into(),
        answer_with: format!("vnx attach {id}"),
        remote: None,
        extra: Default::default(),
    });
    assert!(answerable(&s, PermissionAnswer::Approve).is_ok());
    s.planning = true;
    let refused = answerable(&s, PermissionAnswer::Approve).unwrap_err();
    assert!(
        refused.to_string().ends_with(
            "is planning: a planning turn changes nothing, so its prompt (greeting.txt) \
             is refused, not approved"
        ),
        "{refused}"
    );
    assert!(
        refused
            .hint()
            .is_some_and(|h| h.contains("vnx deny D-0123456789ab"))
    );
    assert!(answerable(&s, PermissionAnswer::Deny).is_ok());
}

const SCREEN_SOURCE: &str = crate::dispatch::supervise::live::SCREEN;

/// The end waits for an answer being given (ordered, not timed: the answer's side
/// records after the end's wait began and before it returned).
#[test]
fn the_end_waits_for_an_answer_being_given_and_not_for_none() {
    let dir = tempfile::tempdir().unwrap();
    // No answer ever: nothing waits, and no lock file is made.
    wait_for_answers(dir.path(), Duration::from_secs(60));
    assert!(!dir.path().join(ANSWERING_LOCK).exists());
    let held = hold_answers(dir.path()).unwrap();
    // A link planted there is never followed (here to a free file it could lock), and a
    // FIFO never opened to wait on: both are refused.
    let planted = tempfile::tempdir().unwrap();
    let free = planted.path().join("free");
    fs::write(&free, b"").unwrap();
    std::os::unix::fs::symlink(&free, planted.path().join(ANSWERING_LOCK)).unwrap();
    assert!(hold_answers(planted.path()).is_err(), "a link was followed");
    let fifo = tempfile::tempdir().unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        fifo.path().join(ANSWERING_LOCK),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    assert!(
        hold_answers(fifo.path()).is_err(),
        "a FIFO was taken for a lock"
    );
    wait_for_answers(fifo.path(), Duration::from_secs(60));
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let ended = {
        let (order, path) = (order.clone(), dir.path().to_owned());
        std::thread::spawn(move || {
            wait_for_answers(&path, Duration::from_secs(60));
            order.lock().unwrap().push("end recorded");
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    order.lock().unwrap().push("answer recorded");
    drop(held);
    ended.join().unwrap();
    assert_eq!(*order.lock().unwrap(), ["answer recorded", "end recorded"]);
}

#[test]
fn a_waiting_hook_takes_only_its_own_answer_and_gives_up_when_the_worker_went_on() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("dispatches/D-1");
    fs::create_dir_all(dir.join("signals")).unwrap();
    // Any CLI that answers through a hook, and an event of its that goes on.
    let hooks = cli::all_hooks()
        .find(|h| h.answering().is_some() && !h.went_on().is_empty())
        .unwrap();
    let event = hooks.answering().unwrap();
    let request = format!("00000000000000000001-7-{event}.json");
    let request = request.as_str();
    let path = answer_path(data.path(), &DispatchId::parse("D-1").unwrap());
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let other = AnswerFile {
        request: format!("00000000000000000000-7-{event}.json"),
        answer: PermissionAnswer::Approve,
        message: None,
    };
    fs::write(&path, serde_json::to_vec(&other).unwrap()).unwrap();
    assert_eq!(wait_for_answer(&dir, request, Duration::ZERO), None);
    let mine = AnswerFile {
        request: request.into(),
        answer: PermissionAnswer::Deny,
        message: Some("not now".into()),
    };
    fs::write(&path, serde_json::to_vec(&mine).unwrap()).unwrap();
    assert_eq!(wait_for_answer(&dir, request, Duration::ZERO), Some(mine));
    assert!(!path.exists(), "taken");
    // A later tool run: answered in the pane; the hook stops waiting at once.
    fs::write(
        dir.join(format!(
            "signals/00000000000000000002-7-{}.json",
            hooks.went_on()[0]
        )),
        "{}",
    )
    .unwrap();
    assert!(went_on_after(&dir, request));
    assert_eq!(
        wait_for_answer(&dir, request, Duration::from_secs(3600)),
        None
    );
}

#[test]
fn a_dialog_is_the_lines_around_its_marker_and_none_without_it() {
    let screen = "⏺ Bash(ls)\n\nDo you want to run ls?\n❯ 1. Yes\n  2. Yes, always\n  3. No\n\n";
    assert_eq!(
        dialog_lines(screen, "1. Yes").as_deref(),
        Some("⏺ Bash(ls)\nDo you want to run ls?\n❯ 1. Yes\n  2. Yes, always\n  3. No")
    );
    assert_eq!(
        dialog_lines("✶ Baking… (esc to interrupt)\n❯ \n", "1. Yes"),
        None
    );
    let long = format!("{}\n❯ 1. Yes", "x".repeat(10_000));
    let kept = dialog_lines(&long, "1. Yes").unwrap();
    assert!(kept.chars().count() == MAX_DIALOG && kept.ends_with("❯ 1. Yes"));
}

#[test]
fn each_cli_has_its_keys_and_a_declared_one_none() {
    for cli in cli::CLIS {
        let name = cli.provider().name();
        let dialog = cli.pane_dialog();
        for answer in [PermissionAnswer::Approve, PermissionAnswer::Deny] {
            assert_eq!(
                pane_keys(name, answer),
                dialog.map(|d| d.key(answer)),
                "{name}"
            );
        }
        assert_eq!(dialog_marker(name), dialog.map(|d| d.marker), "{name}");
    }
    assert_eq!(pane_keys("kimi", PermissionAnswer::Approve), None);
}
