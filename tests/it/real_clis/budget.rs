//! Budgets held while a real CLI runs (ADR 0094), against the scripted model: the worker's
//! usage read from its own session file as it grows, the worker interrupted once it passed a
//! small budget (its first model call's tokens pass it) while a shell command of its own still
//! runs, the dispatch needing input with "budget reached", and `vnx approve --budget +N`
//! raising it and continuing the same session, the chain's usage counted. Each CLI in its
//! headless lane, and claude in its TUI. And a budget's dollars (ADR 0098): claude `-p`,
//! whose stream says its cost only in its closing result, held to its tokens at the price
//! `prices:` gives its model, stopped at the cost limit and raised by dollars.

use super::{Rig, explain, step};
use crate::common::{completion, configure, run};

/// The worker may sleep unasked: the shell command that keeps it running past its budget.
const CONFIG: &str = "roles:\n  implementer:\n    allow: [\"sleep 30\"]\n";

fn held_and_raised(rig: &Rig, cli: &str, lane: &str) {
    let at = step(cli, lane, "budget");
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--provider", cli, "--lane", lane, "--deadline", "180"])
        .args(["--budget", "tokens=100"])
        .args([
            "--instruction",
            &format!(
                "{cli} {lane} spends past its budget\n\\@model run sleep 30\n\
                 \\@model run vnx report --status done --summary slept\n\\@model say Slept."
            ),
        ]);
    let r = run(cmd);
    let (id, c, reached) = stopped_at_budget(rig, &r, &at, "budget reached: ");
    // Each ended its turn on SIGINT, within the grace (seen on all four); or, as codex was
    // seen to under load, ended its whole turn within a second of the model call that used
    // the budget up, before a poll saw it, and was held at its end.
    assert!(
        reached["how"] == "interrupted" || reached["how"] == "ended",
        "{at} {reached}"
    );
    assert!(
        reached["tokens_used"].as_u64().unwrap() >= 100,
        "{at} {reached}"
    );

    let next = raised_and_continued(rig, &id, "+10M", &at);
    assert_eq!(next["budget"]["from"], "chain", "{at} {next}");
    assert_eq!(
        next["budget"]["tokens"].as_u64(),
        Some(10_000_100),
        "{at} {next}"
    );
    assert_eq!(
        next["budget"]["spent_before"], reached["tokens_used"],
        "{at} {next}"
    );
    if let Some(session) = c["session_id"].as_str() {
        assert_eq!(
            next["session_id"].as_str(),
            Some(session),
            "{at} same session"
        );
    }
    ran_to_its_end(rig, &next, &at);
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_clis_are_stopped_at_their_budget_and_go_on_when_raised() {
    let rig = Rig::new();
    configure(&rig.repo, CONFIG);
    for cli in ["claude", "codex", "gemini"] {
        held_and_raised(&rig, cli, "headless");
    }
    held_and_raised(&rig, "claude", "interactive");
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_claude_is_stopped_at_its_dollars_and_goes_on_when_raised() {
    let rig = Rig::new();
    // Whatever model its stream names, at $100 a million tokens: its first model call
    // (some 20,000 tokens) costs about $2.
    configure(
        &rig.repo,
        &format!("{CONFIG}prices:\n  '*': {{input: 100, output: 100}}\n"),
    );
    let at = step("claude", "headless", "cost budget");
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args([
            "--provider",
            "claude",
            "--lane",
            "headless",
            "--deadline",
            "180",
        ])
        .args(["--budget", "cost=1"])
        .args([
            "--instruction",
            "claude spends past its dollars\n\\@model run sleep 30\n\
             \\@model run vnx report --status done --summary slept\n\\@model say Slept.",
        ]);
    let r = run(cmd);
    assert!(!r.stderr.contains("end-of-run cost"), "{at} {}", r.stderr);
    let (id, c, reached) = stopped_at_budget(&rig, &r, &at, "budget reached: $");
    let reason = c["failure_reason"].as_str().unwrap_or_default();
    assert!(reason.ends_with(" of $1.00"), "{at} {reason}");
    assert_eq!(reached["limit"], "cost", "{at} {reached}");
    assert_eq!(reached["how"], "interrupted", "{at} {reached}");
    let used = reached["cost_used_usd"].as_f64().unwrap();
    assert!(used >= 1.0, "{at} {reached}");

    let next = raised_and_continued(&rig, &id, "+$1000", &at);
    assert_eq!(next["budget"]["cost_usd"], 1001.0, "{at} {next}");
    assert!(
        next["budget"]["cost_before_usd"].as_f64().unwrap() >= used,
        "{at} {next}"
    );
    assert_eq!(next["session_id"], c["session_id"], "{at} same session");
    ran_to_its_end(&rig, &next, &at);
}

/// The dispatch `r` ran, stopped at its budget while its 30 s sleep still ran: it needs
/// input, its reason starting with `reason`. Its id, its completion and its `budget_reached`.
fn stopped_at_budget(
    rig: &Rig,
    r: &crate::common::Run,
    at: &str,
    reason: &str,
) -> (String, serde_json::Value, serde_json::Value) {
    let c = completion(r);
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(
        c["status"],
        "needs_input",
        "{at} {} {}",
        explain(&c),
        r.stderr
    );
    let said = c["failure_reason"].as_str().unwrap_or_default();
    assert!(said.starts_with(reason), "{at} {said}");
    // Stopped while its sleep still ran, not at its end.
    assert!(
        c["duration_seconds"].as_f64().unwrap() < 30.0,
        "{at} {}",
        explain(&c)
    );
    let reached = (rig.repo.receipts(&id).into_iter())
        .find(|r| r["event_type"] == "budget_reached")
        .unwrap_or_else(|| panic!("{at} no budget_reached"));
    (id, c, reached)
}

/// Two real claude `-p` workers started side by side under a project day of 30,000 tokens
/// (ADR 0100): each first model call (some 20,000 tokens) leaves each under the day alone,
/// but not together, so both are stopped while their 30 s sleep runs, by the day; a raise of
/// the day continues one to its end.
#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_claudes_side_by_side_share_the_project_day() {
    let rig = Rig::new();
    configure(
        &rig.repo,
        &format!("{CONFIG}budget:\n  project_day: {{tokens: 30000}}\n"),
    );
    let at = step("claude", "headless", "project day");
    let ids: Vec<String> = (0..2)
        .map(|n| {
            let mut cmd = rig.vnx();
            cmd.args(["dispatch-agent", "--agent", "implementer", "--detach"])
                .args(["--provider", "claude", "--lane", "headless"])
                .args(["--deadline", "180", "--instruction"])
                .arg(format!(
                    "worker {n} spends beside another\n\\@model run sleep 30\n\
                     \\@model run vnx report --status done --summary slept\n\\@model say Slept."
                ));
            let r = run(cmd);
            assert_eq!(r.code, 0, "{at} {}", r.stderr);
            r.stdout.trim().to_owned()
        })
        .collect();
    let mut cmd = rig.vnx();
    cmd.args(["wait", "--json", "--timeout", "170"]).args(&ids);
    run(cmd);
    for id in &ids {
        let c = (rig.repo.receipts(id).into_iter())
            .rfind(|r| r["event_type"] == "dispatch_completed")
            .unwrap_or_else(|| panic!("{at} {id} did not complete"));
        assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
        let said = c["failure_reason"].as_str().unwrap_or_default();
        assert!(
            said.starts_with("project day budget reached: "),
            "{at} {said}"
        );
        assert!(
            c["duration_seconds"].as_f64().unwrap() < 30.0,
            "{at} {}",
            explain(&c)
        );
    }
    let next = raised_and_continued(&rig, &ids[0], "+10M", &at);
    assert!(
        next["project_day"]["tokens"].as_u64().unwrap() > 10_000_000,
        "{at} {next}"
    );
    ran_to_its_end(&rig, &next, &at);
}

/// `vnx approve ID --budget RAISE` for dispatch `id`: the `dispatch_started` of the
/// follow-up it started.
fn raised_and_continued(rig: &Rig, id: &str, raise: &str, at: &str) -> serde_json::Value {
    let mut cmd = rig.vnx();
    cmd.args(["approve", id, "--budget", raise, "--json"]);
    let raised = run(cmd);
    assert_eq!(raised.code, 0, "{at} {}{}", raised.stdout, raised.stderr);
    (rig.repo.events("dispatch_started").into_iter())
        .find(|s| s["continues"]["dispatch_id"] == id)
        .unwrap_or_else(|| panic!("{at} no follow-up"))
}

/// The follow-up `next` started ran on in the resumed session to its end.
fn ran_to_its_end(rig: &Rig, next: &serde_json::Value, at: &str) {
    let follow = next["dispatch_id"].as_str().unwrap();
    let r = run(rig
        .repo
        .vnx()
        .args(["wait", "--json", "--timeout", "170", follow]));
    let ended: serde_json::Value = serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("{at} wait: {e}: {}{}", r.stdout, r.stderr));
    assert_eq!(ended["dispatch_id"], follow, "{at} {ended}");
    assert!(ended["completion"].is_object(), "{at} {ended}");
}
