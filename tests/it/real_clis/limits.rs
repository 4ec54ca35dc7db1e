//! A usage limit met by the real CLIs that stop at one (issue 71, ADR 0117), against the
//! scripted model: the model writes a file, then every request for a few seconds is answered
//! HTTP 429 as the hosted API answers a limit an hour from its reset (`\@model limit 8
//! says=3600`: the test ends the hour sooner), then the script goes on.
//! claude (with the retries `seed_home.py` leaves it) gives up at once, exit 1, and gemini
//! on a per-day quota exits 173: each dispatch reads `limited` (signed, its CLI's words),
//! waits the config's `limit_wait_seconds` (neither CLI says when the limit resets), goes on
//! once in the same session with the short prompt, and ends done with the file written
//! before the limit and the report after it. codex waits for the reset silently after saying
//! the limit once: vnx stops it at the stall watch and goes on the same way. A role's
//! `on_limit:` moves a dispatch for the limited claude to the real codex (ADR 0120).

use super::{Rig, explain, step, within};
use crate::common::{completion, configure, run};

/// How long the model's limit lasts, and how long vnx waits when nobody said.
const WINDOW: u64 = 8;
const CONFIG: &str = "limit_wait_seconds: 12\n";

fn limited_then_done(rig: &Rig, cli: &str, lane: &str) {
    let at = step(cli, lane, "usage limit");
    let marker = format!("{cli} limited mid-task");
    let instruction = format!(
        "{marker}\n\\@model write limited.txt {marker}\n\\@model limit {WINDOW} says=3600 {cli}\n\
         \\@model run vnx report --status done --summary after-the-limit\n\\@model say Done."
    );
    let id = rig.detach(cli, lane, 240, &instruction);
    let limited = || {
        rig.repo
            .receipts(&id)
            .iter()
            .any(|r| r["event_type"] == "dispatch_limited")
    };
    assert!(
        within(120, limited),
        "{at} never limited: {:?}",
        rig.repo.receipts(&id)
    );
    let r = run(rig
        .repo
        .vnx()
        .args(["wait", &id, "--json", "--timeout", "180"]));
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    let receipts = rig.repo.receipts(&id);
    let limit = receipts
        .iter()
        .find(|r| r["event_type"] == "dispatch_limited")
        .unwrap();
    assert_eq!(limit["limit_count"], 1, "{at} {limit}");
    assert!(
        limit["resets_at"].is_null(),
        "{at} its CLI said no reset: {limit}"
    );
    let resumed: Vec<_> = receipts
        .iter()
        .filter(|r| r["event_type"] == "dispatch_resumed" && r["after"] == "limited")
        .collect();
    assert_eq!(resumed.len(), 1, "{at} continued once: {receipts:?}");
    // The same session, and the file written before the limit is on the branch.
    let started = &receipts[0];
    // A headless CLI ran again resuming its session; a TUI was told to go on at its input
    // and never restarted.
    let log = std::fs::read_to_string(c["worker_log"].as_str().unwrap()).unwrap();
    let restarts = log.matches("vnx: continuing after the usage limit").count();
    assert_eq!(restarts, usize::from(lane == "headless"), "{at} {log}");
    if let (Some(session), "headless") = (c["session_id"].as_str(), lane) {
        assert!(log.contains(session), "{at} {session} not in the log");
    }
    assert_eq!(
        rig.repo.on_branch(&id, "limited.txt"),
        format!("{marker}\n"),
        "{at} {started}"
    );
}

#[test]
#[ignore = "needs the real claude and gemini (tests/support/install-clis.sh)"]
fn real_clis_stopped_by_a_usage_limit_wait_and_go_on_in_their_session() {
    let rig = Rig::new();
    configure(&rig.repo, CONFIG);
    limited_then_done(&rig, "claude", "headless");
    limited_then_done(&rig, "gemini", "headless");
}

/// codex at a limit an hour from its reset says so once (`Reconnecting… 429 Too Many
/// Requests`) and then waits for it silently: at the stall watch vnx stops it, waits the
/// limit out itself and goes on in its session (ADR 0117).
#[test]
#[ignore = "needs the real codex (tests/support/install-clis.sh)"]
fn real_codex_waiting_silently_at_a_limit_is_stopped_at_the_stall_and_goes_on_in_its_session() {
    let rig = Rig::new();
    configure(&rig.repo, &format!("{CONFIG}stall_after_seconds: 5\n"));
    limited_then_done(&rig, "codex", "headless");
}

/// claude's TUI stopped by a limit an hour from its reset draws the API's error and waits at
/// its input with no Stop hook, gemini's shows its quota dialog: vnx reads the limit from the
/// screen, waits it out, types the short prompt at claude's input or takes gemini's `Keep
/// trying`, and the same session goes on to its report (ADR 0117).
#[test]
#[ignore = "needs the real claude and gemini (tests/support/install-clis.sh)"]
fn real_tuis_stopped_by_a_usage_limit_wait_and_go_on_in_their_session() {
    let rig = Rig::new();
    configure(&rig.repo, CONFIG);
    limited_then_done(&rig, "claude", "interactive");
    // gemini's per-day quota is a dialog: Enter at its `Keep trying` goes on.
    limited_then_done(&rig, "gemini", "interactive");
}

/// claude limited an hour from its reset holds new claude dispatches; with the role's
/// `on_limit: [codex]`, the next one moves to the real codex, recorded, and ends done there
/// (ADR 0120).
#[test]
#[ignore = "needs the real claude and codex (tests/support/install-clis.sh)"]
fn a_dispatch_for_a_limited_claude_moves_to_codex_and_is_done_there() {
    let rig = Rig::new();
    configure(
        &rig.repo,
        "limit_wait_seconds: 600\nroles:\n  implementer:\n    on_limit: [codex]\n",
    );
    let at = step("claude", "headless", "failover");
    let limited = rig.detach(
        "claude",
        "headless",
        240,
        "limited for an hour\n\\@model limit 3600 says=3600 claude\n\\@model say Never.",
    );
    let held = || {
        rig.repo
            .receipts(&limited)
            .iter()
            .any(|r| r["event_type"] == "dispatch_limited")
    };
    assert!(within(120, held), "{at} never limited");
    let moved = rig.detach(
        "claude",
        "headless",
        240,
        "moved to codex\n\\@model write moved.txt moved\n\
         \\@model run vnx report --status done --summary moved\n\\@model say Done.",
    );
    let r = run(rig
        .repo
        .vnx()
        .args(["wait", &moved, "--json", "--timeout", "180"]));
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    let receipts = rig.repo.receipts(&moved);
    let failover = receipts
        .iter()
        .find(|r| r["event_type"] == "dispatch_failover")
        .unwrap_or_else(|| panic!("{at} no failover: {receipts:?}"));
    assert_eq!(failover["from"], "claude", "{at} {failover}");
    assert_eq!(failover["to"], "codex", "{at} {failover}");
    let started = receipts
        .iter()
        .find(|r| r["event_type"] == "dispatch_started")
        .unwrap();
    assert_eq!(started["provider"], "codex", "{at} {started}");
    assert_eq!(rig.repo.on_branch(&moved, "moved.txt"), "moved\n", "{at}");
    let r = run(rig.repo.vnx().args(["cancel", &limited]));
    assert_eq!(r.code, 0, "{at} {}", r.stderr);
}
