//! The live dashboard, driven headlessly: screens drawn on ratatui's test backend (an empty
//! project, mixed states, a narrow terminal, a broken ledger), the list read from a real
//! project, each keyboard action carried out by the vnx command it names (`dashboard_live`
//! has the real binary in an 80×24 tmux pane, `dashboard_view` the layout at 80×24 and
//! 180×45).

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;
use vnx::dashboard::{Health, Row, Snapshot, Sources};
use vnx::dispatch::view::{DispatchState, Landed, Proof, State};
use vnx::receipts::DispatchStatus;
use vnx_cli::tui::{Action, App, Effect, Mode, View};

use crate::common::{Repo, configure, ledger_path, run};

/// 2026-11-23T12:00:00Z: the moment the synthetic screens are drawn.
pub(crate) fn noon() -> jiff::Timestamp {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

pub(crate) fn state(
    id: &str,
    state: State,
    landed: Option<Landed>,
    minutes_ago: i64,
) -> DispatchState {
    let started = noon() - jiff::SignedDuration::from_mins(minutes_ago);
    let mut s = DispatchState {
        place: vnx::place_name::Where::Here,
        after: Vec::new(),
        held: None,
        id: vnx::ids::DispatchId::parse(id).unwrap(),
        state,
        status: "",
        completion: match state {
            State::Ended(c) => Some(c),
            _ => None,
        },
        landed,
        title: Some(format!("task {}", &id[8..])),
        role: Some("implementer".into()),
        provider: Some("claude".into()),
        model: Some("sonnet".into()),
        started_at: Some(started.to_string()),
        ended_at: None,
        reason: None,
        question: None,
        planning: false,
        plan_sha256: None,
        teardown_class: None,
        branch: Some(format!("dispatch/{id}")),
        head_commit: None,
        worktree: None,
        base_commit: None,
        worker_log: None,
        tokens: Some(12_345),
        session: Some(format!("vnx-{id}")),
        tmux_socket: None,
        continues: None,
        continued_by: None,
        accepted: None,
        dismissed: None,
        escalated: None,
        denials: 0,
        cli_denials: 0,
        blocked: None,
        budget: None,
        background: None,
        limited: None,
        paused: None,
        queue: None,
        proof: Some(Proof {
            event_type: "dispatch_completed".into(),
            line: 7,
            seq: Some(7),
            line_sha256: "ab".repeat(32),
            attested: Some(true),
            bytes: Vec::new(),
            signing: true,
        }),
        verified: Some(true),
        verified_from: None,
    };
    s.status = s.shown();
    s
}

pub(crate) fn row(s: DispatchState, activity: &str) -> Row {
    Row {
        state: s,
        activity: activity.into(),
        overlaps: None,
    }
}

pub(crate) fn mixed() -> Vec<Row> {
    let mut blocked = state("D-0000000b", State::Blocked, None, 3);
    blocked.blocked = Some(
        serde_json::from_value(serde_json::json!({
            "dispatch_id": "D-0000000b",
            "waiting_for": "permission",
            "tool": "Bash",
            "command": "git commit -m x",
            "source": "claude-permission-request",
            "answer_with": "vnx attach D-0000000b"
        }))
        .unwrap(),
    );
    let mut unverified = state("D-0000000e", State::Ended(DispatchStatus::Done), None, 90);
    unverified.verified = Some(false);
    unverified.status = unverified.shown();
    let mut codex = state("D-0000000c", State::Running, None, 12);
    codex.provider = Some("codex".into());
    codex.model = None;
    codex.tokens = None;
    // Recorded before titles: its role stands in.
    codex.title = None;
    vec![
        row(blocked, "waits for permission: Bash: git commit -m x"),
        row(codex, "• Running cargo test"),
        row(
            state("D-0000000d", State::Ended(DispatchStatus::Done), None, 65),
            "reported done",
        ),
        row(unverified, "reported done"),
        row(
            state(
                "D-0000000f",
                State::Ended(DispatchStatus::Failed),
                None,
                60 * 26,
            ),
            "phantom done: no diff",
        ),
        row(
            state(
                "D-00000010",
                State::Ended(DispatchStatus::Done),
                Some(Landed::Merged),
                60 * 50,
            ),
            "reported done",
        ),
    ]
}

pub(crate) fn app_of(rows: Vec<Row>, health: Health) -> App {
    let mut app = App::new(Snapshot {
        rows,
        health,
        now: noon(),
        older: 0,
    });
    app.content = "\u{1b}[32m$ cargo test\u{1b}[0m\nrunning 3 tests\ntest ok\n".into();
    app
}

pub(crate) fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| vnx_cli::tui::ui::draw(f, app)).unwrap();
    terminal
}

#[test]
fn screen_of_an_empty_project() {
    let app = app_of(Vec::new(), Health::Missing);
    insta::assert_snapshot!("dashboard_empty", draw(&app, 80, 24).backend());
}

#[test]
fn the_header_counts_the_older_dispatches_it_does_not_list() {
    let mut app = app_of(mixed(), Health::Verified(42));
    app.snapshot.older = 49_800;
    let terminal = draw(&app, 120, 24);
    let header: String = (0..120)
        .map(|x| terminal.backend().buffer()[(x, 0)].symbol().to_owned())
        .collect();
    let shown = app.snapshot.rows.len();
    assert!(
        header.contains(&format!("vnx  {}:", shown + 49_800))
            && header.contains("(49800 older not listed)"),
        "{header}"
    );
}

#[test]
fn screen_of_mixed_states() {
    let app = app_of(mixed(), Health::Verified(42));
    let terminal = draw(&app, 80, 24);
    insta::assert_snapshot!("dashboard_mixed", terminal.backend());
    // States in colour: a done green, a failed red, blocked yellow.
    let buffer = terminal.backend().buffer();
    let colour_of = |y: u16| buffer[(0, y)].fg;
    assert_eq!(colour_of(3), Color::Yellow, "blocked");
    assert_eq!(colour_of(4), Color::Cyan, "running");
    assert_eq!(colour_of(5), Color::Green, "done");
    assert_eq!(colour_of(6), Color::Red, "unverified");
    assert_eq!(colour_of(7), Color::Red, "failed");
    // The pane's own colours are kept: its green prompt line is green.
    let text = terminal.backend().to_string();
    let y = text
        .lines()
        .position(|l| l.starts_with("\"$ cargo test"))
        .unwrap() as u16;
    assert_eq!(buffer[(0, y)].fg, Color::Green);
    assert_eq!(buffer[(0, y + 1)].fg, Color::Reset, "and only that line");
}

#[test]
fn screen_of_a_narrow_terminal_and_a_broken_ledger() {
    let mut app = app_of(
        mixed(),
        Health::Broken {
            line: 12,
            detail: "prev_hash does not match".into(),
        },
    );
    app.view = View::Receipts;
    app.content = "proof: dispatch_completed at line 7\n".into();
    let terminal = draw(&app, 60, 16);
    insta::assert_snapshot!("dashboard_narrow_broken", terminal.backend());
    // The whole header bar is red while the ledger does not verify.
    let buffer = terminal.backend().buffer();
    assert!((0..60).all(|x| buffer[(x, 0)].bg == Color::Red));
}

#[test]
fn narrow_terminals_drop_tokens_then_titles() {
    let app = app_of(mixed(), Health::Verified(42));
    let wide = draw(&app, 120, 30).backend().to_string();
    assert!(wide.contains("TOKENS") && wide.contains("12.3k"), "{wide}");
    assert!(wide.contains("TITLE") && wide.contains("task 0b"), "{wide}");
    // An 80-column terminal (the issue's) tells the dispatches apart by title; one
    // recorded before titles by its role.
    let eighty = draw(&app, 80, 24).backend().to_string();
    assert!(
        eighty.contains("TITLE") && !eighty.contains("TOKENS"),
        "{eighty}"
    );
    assert!(eighty.contains("task 0b"), "{eighty}");
    assert!(eighty.contains("implementer"), "{eighty}");
    let narrow = draw(&app, 70, 24).backend().to_string();
    assert!(
        !narrow.contains("TOKENS") && !narrow.contains("TITLE"),
        "{narrow}"
    );
}

pub(crate) fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Presses each character of `keys` (`⏎` for Enter) and returns the last key's effect.
pub(crate) fn press(app: &mut App, keys: &str) -> Effect {
    let mut effect = Effect::None;
    for c in keys.chars() {
        effect = app.key(key(match c {
            '⏎' => KeyCode::Enter,
            c => KeyCode::Char(c),
        }));
    }
    effect
}

#[test]
fn keys_select_switch_views_and_ask_before_risky_actions() {
    let mut app = app_of(mixed(), Health::Verified(42));
    assert_eq!(
        app.selected.as_ref().map(|i| i.as_str()),
        Some("D-0000000b")
    );
    assert_eq!(press(&mut app, "j"), Effect::Reload);
    assert_eq!(
        app.selected.as_ref().map(|i| i.as_str()),
        Some("D-0000000c")
    );
    assert_eq!(press(&mut app, "k"), Effect::Reload);
    assert_eq!(press(&mut app, "k"), Effect::None, "already at the top");
    assert_eq!(app.key(key(KeyCode::Tab)), Effect::Reload);
    assert_eq!(app.view, View::Diff);
    assert_eq!(press(&mut app, "3"), Effect::Reload);
    assert_eq!(app.view, View::Receipts);
    // A risky action asks; anything but y declines.
    assert_eq!(press(&mut app, "x"), Effect::None);
    assert_eq!(app.mode, Mode::Confirm(Action::Clean(id_of("D-0000000b"))));
    assert_eq!(press(&mut app, "n"), Effect::None);
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.message.as_deref().unwrap().starts_with("not done"));
    // Approving a prompt lets the worker act, denying refuses it: both ask.
    assert_eq!(press(&mut app, "p"), Effect::None);
    assert_eq!(
        app.mode,
        Mode::Confirm(Action::Approve(id_of("D-0000000b"), Default::default()))
    );
    press(&mut app, "n");
    assert_eq!(press(&mut app, "n"), Effect::None);
    assert_eq!(
        app.mode,
        Mode::Confirm(Action::Deny(id_of("D-0000000b"), Default::default()))
    );
    assert_eq!(
        press(&mut app, "y"),
        Effect::Run(Action::Deny(id_of("D-0000000b"), Default::default()))
    );
    // The follow-up prompt takes text, Esc drops it, an empty one is not sent.
    press(&mut app, "f");
    assert_eq!(press(&mut app, "⏎"), Effect::None, "nothing typed");
    assert!(matches!(app.mode, Mode::FollowUp { .. }));
    assert_eq!(app.key(key(KeyCode::Esc)), Effect::None);
    assert_eq!(app.mode, Mode::Normal);
    // A raise of the budget is typed after its `+`, read as `vnx approve --budget` reads
    // it, and asked about; one that is not a raise says so and stays open.
    press(&mut app, "b");
    assert!(matches!(&app.mode, Mode::Budget { text, .. } if text == "+"));
    assert_eq!(press(&mut app, "x⏎"), Effect::None);
    assert!(app.message.as_deref().unwrap().starts_with("not a raise"));
    assert!(matches!(app.mode, Mode::Budget { .. }));
    app.key(key(KeyCode::Backspace));
    assert_eq!(press(&mut app, "50k,$2⏎"), Effect::None);
    let raise = Action::RaiseBudget(id_of("D-0000000b"), 50_000, 2_000_000);
    assert_eq!(app.mode, Mode::Confirm(raise.clone()));
    assert_eq!(press(&mut app, "y"), Effect::Run(raise));
    // The selection follows its dispatch when the list is read again and reorders.
    press(&mut app, "jj");
    let mut rows = mixed();
    rows.reverse();
    app.update(Snapshot {
        rows,
        health: Health::Verified(42),
        now: noon(),
        older: 0,
    });
    assert_eq!(
        app.selected.as_ref().map(|i| i.as_str()),
        Some("D-0000000d")
    );
    assert_eq!(press(&mut app, "q"), Effect::Quit);
}

fn sources(repo: &Repo) -> Sources {
    Sources {
        root: repo.env.path().to_owned(),
        ledger: ledger_path(repo),
        tmux: repo.server.0.clone(),
    }
}

fn snapshot(repo: &Repo) -> Snapshot {
    let report = vnx::ledger::verify(&ledger_path(repo), &Default::default()).unwrap();
    Snapshot::load(&sources(repo), Some(&report), None).unwrap()
}

/// The app on a real project, `id` selected.
fn app_at(repo: &Repo, id: &str) -> App {
    let mut app = App::new(snapshot(repo));
    while app.selected.as_ref().map(|i| i.as_str()) != Some(id) {
        assert_eq!(press(&mut app, "j"), Effect::Reload, "{id} is not listed");
    }
    app
}

/// Carries out an action as the dashboard does: the vnx command it names, in the project.
fn carry_out(repo: &Repo, effect: Effect) -> crate::common::Run {
    let Effect::Run(action) = effect else {
        panic!("no action: {effect:?}");
    };
    run(repo.vnx().args(action.argv()))
}

fn status_of(repo: &Repo, id: &str) -> serde_json::Value {
    let r = run(repo.vnx().args(["status", id, "--json"]));
    let all: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    all[0].clone()
}

#[test]
fn a_real_project_lists_waiting_then_running_then_finished() {
    let repo = Repo::new();
    let done = repo.dispatched("commit", false);
    let lost = repo.dispatched("slow", true);
    let running = repo.dispatched("slow", true);
    repo.server.kill_pane_process(&format!("vnx-{lost}"));
    assert!(crate::common::wait_for(|| {
        status_of(&repo, &lost)["status"] == "lost"
    }));
    let snap = snapshot(&repo);
    let order: Vec<&str> = snap.rows.iter().map(|r| r.state.id.as_str()).collect();
    assert_eq!(order, [lost.as_str(), running.as_str(), done.as_str()]);
    assert_eq!(snap.health, Health::Verified(snap_lines(&repo)));
    assert!(snap.any_live());
    let finished = &snap.rows[2];
    assert_eq!(finished.activity, "reported done");
    assert_eq!(finished.state.verified, Some(true));
    // The preview of a running dispatch is its live pane (which shows the worker's first
    // line once the worker, on a loaded machine perhaps later than its start, printed it).
    let mut app = app_at(&repo, &running);
    let shown = crate::common::wait_for(|| {
        vnx_cli::tui::load_content(&mut app, &sources(&repo));
        app.content.contains("working for an hour")
    });
    assert!(shown, "{}", app.content);
    // Its diff and its receipts.
    let mut app = app_at(&repo, &done);
    press(&mut app, "2");
    vnx_cli::tui::load_content(&mut app, &sources(&repo));
    assert!(
        app.content.contains("+++ b/demo-output.txt"),
        "{}",
        app.content
    );
    press(&mut app, "3");
    vnx_cli::tui::load_content(&mut app, &sources(&repo));
    assert!(
        app.content.contains("dispatch_started") && app.content.contains("verifies through it"),
        "{}",
        app.content
    );
    run(repo.vnx().args(["cancel", "--all"]));
}

#[test]
fn the_waiting_list_drains_once_a_question_is_followed_up() {
    let repo = Repo::new();
    let answered = repo.dispatched("ask", false);
    let open = repo.dispatched("ask", false);
    for id in [&answered, &open] {
        assert_eq!(status_of(&repo, id)["status"], "needs_input");
    }
    let r = run(repo
        .vnx()
        .args(["follow-up", &answered, "--model", "commit", "--json"])
        .args(["--instruction", "the answer is 42"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The follow-up inherits the title of the dispatch it continues.
    let next = crate::common::completion(&r)["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(status_of(&repo, &answered)["title"], "x");
    assert_eq!(status_of(&repo, &next)["title"], "x", "{}", r.stdout);
    let snap = snapshot(&repo);
    let waiting: Vec<&str> = snap
        .rows
        .iter()
        .filter(|r| r.group() == 0)
        .map(|r| r.state.id.as_str())
        .collect();
    assert_eq!(waiting, [open.as_str()]);
    // The one answered is among the finished, still shown as it ended.
    let row = snap.rows.iter().find(|r| r.state.id == answered).unwrap();
    assert_eq!((row.group(), row.state.status), (2, "needs_input"));
}

fn snap_lines(repo: &Repo) -> u64 {
    std::fs::read_to_string(ledger_path(repo))
        .unwrap()
        .lines()
        .count() as u64
}

#[test]
fn keys_attach_and_cancel() {
    let repo = Repo::new();
    let id = repo.dispatched("slow", true);
    let mut app = app_at(&repo, &id);
    assert_eq!(
        press(&mut app, "a"),
        Effect::Run(Action::Attach(id_of(&id)))
    );
    assert_eq!(
        press(&mut app, "⏎"),
        Effect::Run(Action::Attach(id_of(&id)))
    );
    assert_eq!(press(&mut app, "c"), Effect::None, "asks first");
    let r = carry_out(&repo, press(&mut app, "y"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(status_of(&repo, &id)["status"], "cancelled");
}

#[test]
fn keys_follow_up() {
    let repo = Repo::new();
    let id = repo.dispatched("commit", false);
    let mut app = app_at(&repo, &id);
    press(&mut app, "f");
    // An instruction that starts with a dash is still an instruction.
    let effect = press(&mut app, "--verbose, then go on⏎");
    assert_eq!(
        effect,
        Effect::Run(Action::FollowUp(id_of(&id), "--verbose, then go on".into()))
    );
    let r = carry_out(&repo, effect);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let next = r.stdout.trim().to_owned();
    run(repo.vnx().args(["wait", &next]));
    assert_eq!(status_of(&repo, &next)["continues"], id.as_str());
}

#[test]
fn keys_comment_on_a_line_of_the_diff() {
    let repo = Repo::new();
    let id = repo.dispatched("commit", false);
    let mut app = app_at(&repo, &id);
    // Not in the pane's view: the diff is where lines are.
    assert_eq!(press(&mut app, "o"), Effect::None);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(press(&mut app, "2"), Effect::Reload);
    vnx_cli::tui::load_content(&mut app, &sources(&repo));
    // The diff's header is no line to comment on; `]` brings the prompt's hash to the top.
    assert_eq!(press(&mut app, "o"), Effect::None);
    assert_eq!(app.mode, Mode::Normal);
    let at = app
        .content
        .lines()
        .position(|l| l.starts_with("+prompt sha256"))
        .unwrap();
    for _ in 0..at {
        press(&mut app, "]");
    }
    press(&mut app, "o");
    assert_eq!(
        app.mode,
        Mode::Comment {
            dispatch_id: id_of(&id),
            anchor: "demo-output.txt:2".into(),
            text: String::new(),
        }
    );
    let effect = press(&mut app, "-name the algorithm⏎");
    assert_eq!(
        effect,
        Effect::Run(Action::Comment(
            id_of(&id),
            "demo-output.txt:2".into(),
            "-name the algorithm".into()
        ))
    );
    let r = carry_out(&repo, effect);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let made = repo.events("review_comment");
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0]["line"], 2);
    assert_eq!(made[0]["body"], "-name the algorithm");
}

#[test]
fn keys_gate_check_merge_and_release() {
    let repo = Repo::new();
    configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let id = repo.dispatched("commit", false);
    let mut app = app_at(&repo, &id);
    let r = carry_out(&repo, press(&mut app, "g"));
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert!(r.stdout.contains("GO"), "{}", r.stdout);
    assert_eq!(press(&mut app, "m"), Effect::None, "asks first");
    let r = carry_out(&repo, press(&mut app, "y"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(status_of(&repo, &id)["status"], "merged");
    assert!(repo.branches().contains(&id), "merging keeps the branch");
    let mut app = app_at(&repo, &id);
    press(&mut app, "r");
    let r = carry_out(&repo, press(&mut app, "y"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!repo.branches().contains(&id), "released: {}", r.stdout);
}

#[test]
fn keys_clean() {
    let repo = Repo::new();
    let id = repo.dispatched("commit", false);
    let other = repo.dispatched("commit", false);
    let mut app = app_at(&repo, &id);
    press(&mut app, "x");
    let r = carry_out(&repo, press(&mut app, "y"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!repo.branches().contains(&id));
    assert!(repo.branches().contains(&other), "only the one selected");
    assert_eq!(status_of(&repo, &id)["status"], "released");
    // An outcome as the footer shows it: one whose action could not finish.
    let outcome = vnx_cli::tui::Outcome {
        action: Action::GateCheck(id_of(&other)),
        code: None,
        summary: "could not start".into(),
        hint: None,
    };
    assert_eq!(outcome.code, None);
    assert!(
        outcome.message().contains("failed"),
        "{}",
        outcome.message()
    );
}

/// The dispatch id `text` names.
fn id_of(text: &str) -> vnx::ids::DispatchId {
    vnx::ids::DispatchId::parse(text).unwrap()
}

/// The dashboard offers exactly the actions the library's table gives it: every key, on a
/// selected dispatch and a diff line, followed through its editor or its confirmation.
#[test]
fn the_dashboard_offers_the_actions_the_table_gives_it() {
    use vnx::actions::table::{Front, offered};
    let mut offers = std::collections::BTreeSet::new();
    let keys = (' '..='~').map(KeyCode::Char).chain([KeyCode::Enter]);
    for code in keys {
        let mut app = app_of(mixed(), Health::Verified(42));
        app.view = View::Diff;
        app.content =
            "diff --git a/x.txt b/x.txt\n--- a/x.txt\n+++ b/x.txt\n@@ -0,0 +1,1 @@\n+hi\n".into();
        app.scroll = 4;
        let effect = app.key(key(code));
        let effect = match &app.mode {
            Mode::FollowUp { .. } | Mode::Comment { .. } => press(&mut app, "x⏎"),
            Mode::Budget { .. } => press(&mut app, "5⏎"),
            _ => effect,
        };
        let action = match (effect, &app.mode) {
            (Effect::Run(action), _) => action,
            (_, Mode::Confirm(action)) => action.clone(),
            _ => continue,
        };
        offers.insert(action.argv()[0].clone());
    }
    let table: std::collections::BTreeSet<String> = (offered(Front::Dashboard).into_iter())
        .map(str::to_owned)
        .collect();
    assert_eq!(offers, table);
}

/// Every key the table of actions gives the dashboard is in its help, saying whether it asks
/// first as the table does.
#[test]
fn the_help_names_every_key_the_table_gives_the_dashboard() {
    use vnx::actions::table::ACTIONS;
    for row in ACTIONS.iter().filter(|r| r.key.is_some()) {
        let key = row.key.unwrap().to_string();
        let helped = vnx_cli::tui::KEYS
            .iter()
            .find(|k| k.keys.split(' ').any(|k| k == key))
            .unwrap_or_else(|| panic!("{} ({key}) is not in the help", row.command));
        assert_eq!(helped.asks, row.asks_first, "{}", row.command);
    }
}
