//! What the dashboard shows a person at 80×24 and 180×45 with more dispatches than rows:
//! every waiting one in view wherever the selection goes, the selection staying put when
//! the one it was on stops waiting, titles given the width left, a key bar with `?`, the
//! help, a confirmation before every deciding key, ages that tick on the dashboard's own
//! clock and footer messages that go stale. Drawn on ratatui's test backend.

use ratatui::crossterm::event::KeyCode;
use vnx::dashboard::{Health, Row, Snapshot};
use vnx::dispatch::view::{Landed, State};
use vnx::receipts::DispatchStatus;
use vnx_cli::tui::{App, Effect, KEYS, Mode};

use crate::dashboard::{app_of, draw, key, mixed, noon, press, row, state};

/// `waiting` dispatches that wait for a person (blocked and needing input in turn), then
/// `others` that do not (running, done, merged in turn), the waiting ones started longest
/// ago, so that newest-first alone would list them last.
fn many(waiting: usize, others: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    for n in 0..others {
        let id = format!("D-{:012x}", 0x100 + n);
        let (s, landed) = match n % 3 {
            0 => (State::Running, None),
            1 => (State::Ended(DispatchStatus::Done), None),
            _ => (State::Ended(DispatchStatus::Done), Some(Landed::Merged)),
        };
        rows.push(row(state(&id, s, landed, 5 + n as i64), "reported done"));
    }
    for n in 0..waiting {
        let id = format!("D-{:012x}", 0xa00 + n);
        let s = if n % 2 == 0 {
            State::Blocked
        } else {
            State::Ended(DispatchStatus::NeedsInput)
        };
        rows.push(row(
            state(&id, s, None, 600 + n as i64),
            "asks: which database?",
        ));
    }
    rows
}

fn waiting_ids(app: &App) -> Vec<String> {
    app.snapshot
        .rows
        .iter()
        .filter(|r| r.group() == 0)
        .map(|r| r.state.id.to_string())
        .collect()
}

fn screen(app: &App, width: u16, height: u16) -> String {
    draw(app, width, height).backend().to_string()
}

/// The screen's line that shows `id`.
fn line_of<'a>(screen: &'a str, id: &str) -> Option<&'a str> {
    screen.lines().find(|l| l.contains(id))
}

#[test]
fn every_waiting_row_stays_in_view_wherever_the_selection_goes() {
    for (width, height) in [(80, 24), (180, 45)] {
        let mut app = app_of(many(5, 60), Health::Verified(42));
        let waiting = waiting_ids(&app);
        assert_eq!(waiting.len(), 5);
        // First in the list, whatever order the rows came in.
        assert_eq!(app.selected.as_ref().unwrap().as_str(), waiting[0]);
        let all_in_view = |app: &App, why: &str| {
            let s = screen(app, width, height);
            for id in &waiting_ids(app) {
                assert!(
                    line_of(&s, id).is_some(),
                    "{width}x{height} {why}: {id}\n{s}"
                );
            }
            s
        };
        all_in_view(&app, "at the start");
        // Down to the very last finished one: it is in view, and so is every waiting one.
        app.key(key(KeyCode::End));
        let last = app.selected.clone().unwrap();
        let s = all_in_view(&app, "at the end");
        assert!(line_of(&s, last.as_str()).is_some(), "{s}");
        assert!(
            s.contains("of 60 others"),
            "the list says what it scrolled: {s}"
        );
        // Back up one by one: the viewport moves only as far as the selection needs.
        for _ in 0..30 {
            press(&mut app, "k");
            let s = all_in_view(&app, "going up");
            assert!(line_of(&s, app.selected.as_ref().unwrap().as_str()).is_some());
        }
    }
}

#[test]
fn a_row_that_stops_waiting_leaves_the_selection_on_the_next_one_that_waits() {
    let mut app = app_of(many(5, 60), Health::Verified(42));
    let waiting = waiting_ids(&app);
    press(&mut app, "j");
    assert_eq!(app.selected.as_ref().unwrap().as_str(), waiting[1]);
    // It is merged: it sinks among the finished; the selection does not follow it down.
    let mut rows = app.snapshot.rows.clone();
    let merged = rows
        .iter_mut()
        .find(|r| r.state.id.as_str() == waiting[1])
        .unwrap();
    merged.state.state = State::Ended(DispatchStatus::Done);
    merged.state.landed = Some(Landed::Merged);
    merged.state.status = merged.state.shown();
    app.update(Snapshot {
        rows,
        health: Health::Verified(43),
        now: noon(),
        older: 0,
    });
    assert_eq!(app.selected.as_ref().unwrap().as_str(), waiting[2]);
    let s = screen(&app, 80, 24);
    assert!(s.contains(" 4 waiting, 20 running"), "{s}");
    for id in waiting_ids(&app) {
        assert!(line_of(&s, &id).is_some(), "{id}\n{s}");
    }
    // A row that keeps waiting keeps the selection wherever the list puts it.
    let mut rows = app.snapshot.rows.clone();
    rows.reverse();
    app.update(Snapshot {
        rows,
        health: Health::Verified(43),
        now: noon(),
        older: 0,
    });
    assert_eq!(app.selected.as_ref().unwrap().as_str(), waiting[2]);
}

#[test]
fn more_waiting_than_the_screen_holds_are_all_that_the_list_shows_and_it_says_so() {
    // Twelve waiting on 24 lines: all of them, the lower pane at its smallest.
    let app = app_of(many(12, 30), Health::Verified(42));
    let s = screen(&app, 80, 24);
    for id in waiting_ids(&app) {
        assert!(line_of(&s, &id).is_some(), "{id}\n{s}");
    }
    // Thirty: the list holds what it can of them, and says which.
    let mut app = app_of(many(30, 30), Health::Verified(42));
    let s = screen(&app, 80, 24);
    assert!(s.contains("waiting 1–"), "{s}");
    assert!(s.contains("of 30"), "{s}");
    press(&mut app, &"j".repeat(29));
    let s = screen(&app, 80, 24);
    assert!(
        line_of(&s, app.selected.as_ref().unwrap().as_str()).is_some(),
        "{s}"
    );
}

#[test]
fn titles_get_the_width_the_other_columns_leave() {
    // Two of the running ones (listed first after the waiting ones).
    let mut rows = many(2, 10);
    rows[0].state.title = Some("teach the ledger reader to skip".into());
    rows[3].state.title = Some(
        "rework the read index so that a reload of fifty thousand dispatches stays fast".into(),
    );
    let app = app_of(rows, Health::Verified(42));
    // 80 columns, 14-character ids: two thirds of what the other columns leave, a long
    // title cut where the last activity starts.
    let eighty = screen(&app, 80, 24);
    let cut = line_of(&eighty, "rework").unwrap();
    assert!(cut.contains("rework the read index so"), "{eighty}");
    // 180 columns: every title whole, and the last activity beside it.
    let wide = screen(&app, 180, 45);
    let line = line_of(&wide, "rework").unwrap();
    assert!(
        line.contains("stays fast") && line.contains("reported done"),
        "{wide}"
    );
    assert!(
        wide.contains("PROVIDER/MODEL") && wide.contains("claude/sonnet"),
        "{wide}"
    );
    assert!(eighty.contains("PROVIDER "), "{eighty}");
}

#[test]
fn the_key_bar_offers_what_the_selection_calls_for_and_every_key_when_it_fits() {
    let mut app = app_of(mixed(), Health::Verified(42));
    let footer = |app: &App, width: u16| {
        screen(app, width, 24)
            .lines()
            .last()
            .unwrap()
            .trim_matches('"')
            .to_owned()
    };
    // A blocked one: approve and deny first; `?` for the rest.
    let bar = footer(&app, 80);
    assert!(bar.contains("p:approve") && bar.contains("n:deny"), "{bar}");
    assert!(
        bar.contains("?:all keys") && bar.contains("q:quit"),
        "{bar}"
    );
    assert!(bar.trim_end().chars().count() <= 80, "{bar}");
    // A done one: merge first.
    press(&mut app, "jj");
    let bar = footer(&app, 80);
    assert!(bar.starts_with(" m:merge"), "{bar}");
    // At 200 columns, every key.
    let bar = footer(&app, 200);
    for k in KEYS.iter() {
        let short = if k.keys == "?" { "?:help" } else { k.short };
        assert!(bar.contains(short), "{short}: {bar}");
    }
}

#[test]
fn question_mark_shows_every_key_and_any_key_closes_it() {
    let mut app = app_of(mixed(), Health::Verified(42));
    assert_eq!(press(&mut app, "?"), Effect::None);
    assert_eq!(app.mode, Mode::Help);
    for (width, height) in [(80, 24), (180, 45)] {
        let s = screen(&app, width, height);
        for k in KEYS.iter() {
            let line = line_of(&s, k.does).unwrap_or_else(|| panic!("{}: {s}", k.does));
            assert!(line.contains(k.keys), "{line}");
            assert_eq!(line.contains("(asks first)"), k.asks, "{line}");
        }
    }
    // `d` says what accept does: it commits what the worker left, not only what it committed.
    let accept = KEYS.iter().find(|k| k.keys == "d").unwrap();
    assert!(
        accept.does.contains("committing what it left") && !accept.does.contains("committed"),
        "{}",
        accept.does
    );
    // Any key closes it, and does nothing else: `x` here does not ask to clean.
    assert_eq!(press(&mut app, "x"), Effect::None);
    assert_eq!(app.mode, Mode::Normal);
    assert!(!screen(&app, 80, 24).contains("(asks first)"));
    // `q` too closes it rather than quit.
    press(&mut app, "?");
    assert_eq!(press(&mut app, "q"), Effect::None);
    assert_eq!(press(&mut app, "q"), Effect::Quit);
}

#[test]
fn every_deciding_key_asks_first_and_only_y_carries_it_out() {
    let app_now = || app_of(mixed(), Health::Verified(42));
    for k in KEYS.iter().filter(|k| k.keys.chars().count() == 1) {
        let c = k.keys;
        // `f`, `o` and `b` open an editor: what is typed there is the action (`b` asks
        // after it, tests/it/dashboard.rs).
        if c == "?" || c == "f" || c == "o" || c == "b" {
            continue;
        }
        let mut app = app_now();
        let effect = press(&mut app, c);
        if !k.asks {
            assert!(matches!(effect, Effect::Run(_)), "{c}: {effect:?}");
            continue;
        }
        let Mode::Confirm(action) = app.mode.clone() else {
            panic!("{c} does not ask: {effect:?}");
        };
        assert_eq!(effect, Effect::None);
        // The question fits an 80-column footer with its answer keys.
        let s = screen(&app, 80, 24);
        let footer = s.lines().last().unwrap();
        assert!(footer.contains("[y/N]"), "{c}: {footer}");
        // Anything but y declines, and says so.
        assert_eq!(press(&mut app, "n"), Effect::None, "{c}");
        assert!(app.message.as_deref().unwrap().starts_with("not done"));
        press(&mut app, c);
        assert_eq!(press(&mut app, "y"), Effect::Run(action), "{c}");
    }
    // The keys that ask: every one that decides something.
    let asks: String = KEYS.iter().filter(|k| k.asks).map(|k| k.keys).collect();
    assert_eq!(asks, "pndibcmrxvt");
}

#[test]
fn ages_tick_on_the_dashboards_clock_without_a_new_read() {
    let mut app = app_of(mixed(), Health::Verified(42));
    let age_of = |app: &App, id: &str| {
        let s = screen(app, 80, 24);
        let line = line_of(&s, id).unwrap().to_owned();
        line.split_whitespace().nth(2).unwrap().to_owned()
    };
    assert_eq!(age_of(&app, "D-0000000b"), "3m");
    // The next age to turn does so in a minute: that is when the dashboard wakes.
    assert_eq!(app.next_change(), Some(60));
    app.tick(noon() + jiff::SignedDuration::from_secs(60));
    assert_eq!(age_of(&app, "D-0000000b"), "4m");
    app.tick(noon() + jiff::SignedDuration::from_mins(58));
    assert_eq!(age_of(&app, "D-0000000b"), "1h");
    assert_eq!(age_of(&app, "D-0000000c"), "1h");
    // A read made before the clock does not turn it back.
    app.update(app.snapshot.clone());
    assert_eq!(age_of(&app, "D-0000000b"), "1h");
}

#[test]
fn a_message_goes_on_the_next_key_or_after_a_while() {
    let mut app = app_of(mixed(), Health::Verified(42));
    let footer = |app: &App| screen(app, 80, 24).lines().last().unwrap().to_owned();
    app.say("vnx merge D-0000000d: ok: merged");
    assert!(footer(&app).contains("merged"));
    assert_eq!(app.next_change(), Some(10));
    app.tick(noon() + jiff::SignedDuration::from_secs(9));
    assert!(footer(&app).contains("vnx merge"));
    app.tick(noon() + jiff::SignedDuration::from_secs(10));
    assert!(!footer(&app).contains("vnx merge"), "{}", footer(&app));
    assert!(footer(&app).contains("q:quit"), "the key bar is back");
    // A key clears it at once.
    app.say("host h1 is out of reach");
    press(&mut app, "j");
    assert!(app.message.is_none());
    assert!(!footer(&app).contains("out of reach"));
}

#[test]
fn screen_of_80x24_scrolled_to_the_end_with_five_waiting() {
    let mut app = app_of(many(5, 60), Health::Verified(42));
    app.key(key(KeyCode::End));
    insta::assert_snapshot!(
        "dashboard_waiting_pinned_80x24",
        draw(&app, 80, 24).backend()
    );
}

#[test]
fn tiny_terminals_draw_without_a_panic() {
    for waiting in [0, 3, 30] {
        let mut app = app_of(many(waiting, 20), Health::Verified(42));
        for (width, height) in [(1, 1), (10, 3), (20, 5), (40, 10), (79, 12)] {
            for keys in ["", "?", "jjjjjjjjjjjjjjjjjjjj"] {
                press(&mut app, keys);
                draw(&app, width, height);
                app.mode = Mode::Normal;
            }
            app.key(key(KeyCode::End));
            draw(&app, width, height);
            app.key(key(KeyCode::Home));
        }
    }
}

/// A pull request as the forge cache last read it: `checks` by name and state.
fn pr(number: u64, state: &str, checks: &[(&str, &str)]) -> vnx::forge::watch::PrStatus {
    let checks: std::collections::BTreeMap<String, String> = checks
        .iter()
        .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
        .collect();
    let word = vnx::forge::watch::checks_word(&checks);
    vnx::forge::watch::PrStatus {
        number,
        url: format!("https://github.com/o/r/pull/{number}"),
        state: state.into(),
        draft: false,
        checks_word: word.into(),
        checks,
        review_decision: String::new(),
        new_comments: 0,
        said: Vec::new(),
        recorded_head: "a".repeat(40),
        head_commit: "a".repeat(40),
        read_at: 1,
        stale: None,
        changes: Vec::new(),
    }
}

#[test]
fn pull_requests_show_as_a_badge_before_the_title_and_in_the_lower_pane() {
    // Twenty rows, each with a pull request, three of them waiting.
    let mut rows = many(3, 17);
    for (n, r) in rows.iter_mut().enumerate() {
        r.state.title = Some(format!("task number {n} with a title of some length"));
    }
    let mut app = app_of(rows, Health::Verified(42));
    let ids: Vec<_> = app
        .snapshot
        .rows
        .iter()
        .map(|r| r.state.id.clone())
        .collect();
    for (n, id) in ids.iter().enumerate() {
        let number = 10 + n as u64;
        let pr = match n % 4 {
            0 => pr(number, "open", &[("ci", "pass"), ("lint", "pass")]),
            1 => pr(
                number,
                "open",
                &[("ci", "fail"), ("lint", "pass"), ("docs", "pass")],
            ),
            2 => pr(number, "merged", &[("ci", "pass")]),
            _ => pr(number, "open", &[("ci", "pending")]),
        };
        app.prs.insert(id.clone(), pr);
    }
    for (width, height) in [(80, 24), (180, 45)] {
        let s = screen(&app, width, height);
        // The waiting ones stay in view, their badge before their title.
        for id in waiting_ids(&app) {
            let line = line_of(&s, &id).unwrap_or_else(|| panic!("{id}\n{s}"));
            assert!(line.contains(" #1"), "{width}x{height}: {line}");
        }
        // (The test backend quotes each line.)
        assert!(
            s.lines()
                .all(|l| l.chars().count() <= usize::from(width) + 2),
            "{s}"
        );
    }
    let s = screen(&app, 80, 24);
    let first = line_of(&s, ids[0].as_str()).unwrap();
    assert!(first.contains("#10 ✓ task number"), "{s}");
    let second = line_of(&s, ids[1].as_str()).unwrap();
    assert!(second.contains("#11 ✗ 1/3 task"), "{s}");
    let third = line_of(&s, ids[2].as_str()).unwrap();
    assert!(third.contains("#12 merged task"), "{s}");
    // The titles still get width: some of it is shown after the badge.
    assert!(second.contains("task num"), "{s}");
    // The lower pane: the pull request's line over the pane.
    assert!(
        s.contains("\"pr #10 open, checks 2 pass "),
        "the selected one's pull request: {s}"
    );
    // The receipts view: the whole block, as `vnx show` has it.
    press(&mut app, "j");
    app.view = vnx_cli::tui::View::Receipts;
    let s = screen(&app, 180, 45);
    assert!(
        s.contains("pr       pr #11 open, checks 1 fail (ci)"),
        "{s}"
    );
    assert!(s.contains("  check  ci: fail"), "{s}");
    assert!(s.contains("https://github.com/o/r/pull/11"), "{s}");
    // Narrow: no title column; the badge leads the last activity.
    let narrow = screen(&app, 60, 24);
    let line = line_of(&narrow, ids[0].as_str()).unwrap();
    assert!(line.contains("#10 ✓"), "{narrow}");
}
