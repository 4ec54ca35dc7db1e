//! Not done while background work runs (ADR 0096), on the claude stand-in (which imitates
//! what claude 2.1.197 showed, tests/support/fixtures/claude-*background*): a TUI turn that
//! ends while a background shell it started still runs leaves the dispatch running, "waiting
//! on 1 background task", until the CLI's next turn end names none (and the report made
//! meanwhile is what counts); `claude -p`, which stops such a shell as it exits, ends it
//! needing a person, whatever the worker reported. So does `codex exec`, which ends its turn
//! while a command it stopped waiting for runs and stops it as it exits (as codex 0.169.0
//! showed it, tests/support/fixtures/codex-headless-background-*.jsonl); a command that
//! ended within the turn leaves the dispatch done. codex's TUI, which names such a command
//! only in its rollout file, is waited for there until the rollout records its end.
//! Processes the worker left running (a command its shell backgrounded): `left`.

use crate::common::{Fakes, Repo, completion, run, wait_for};

mod left;

/// `vnx status --json`'s entry for `id`.
pub(super) fn state_of(repo: &Repo, id: &str) -> serde_json::Value {
    let r = run(repo.vnx().args(["status", "--json"]));
    let all: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    all.into_iter()
        .find(|s| s["dispatch_id"] == id)
        .unwrap_or_default()
}

#[test]
fn a_tui_turn_that_ends_with_a_background_shell_is_not_done_until_it_ends() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let gate = repo.env.home().join("gate");
    // The background shell waits for the test's word, then reports: the report comes after
    // the turn ended, from the work that was still running.
    let id = repo.dispatched_tui(
        &fakes,
        "claude",
        &format!(
            "@fake write a.txt hi\n@fake background while [ ! -e {gate} ]; do sleep 0.05; done; \
             vnx report --status done --summary tests-passed\n@fake say Started the tests.",
            gate = gate.display()
        ),
    );
    waits_on_the_shell(&repo, &id);
    let shown = run(repo.vnx().args(["show", &id]));
    assert!(shown.stdout.contains("waiting on"), "{}", shown.stdout);

    std::fs::write(&gate, "").unwrap();
    let r = run(repo.vnx().args(["wait", "--json", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let receipts = repo.receipts(&id);
    let c = receipts
        .iter()
        .find(|r| r["event_type"] == "dispatch_completed")
        .unwrap();
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(c["completion_signal"], "report", "{c}");
    assert_eq!(
        c["report"]["summary"], "tests-passed",
        "the later report counts: {c}"
    );
    let kinds: Vec<&str> = receipts
        .iter()
        .map(|r| r["event_type"].as_str().unwrap())
        .collect();
    let waited = kinds.iter().position(|k| *k == "dispatch_background");
    let resumed = receipts
        .iter()
        .position(|r| r["event_type"] == "dispatch_resumed" && r["after"] == "background");
    assert!(
        matches!((waited, resumed), (Some(w), Some(r)) if w < r),
        "{kinds:?}"
    );
    assert!(state_of(&repo, &id)["background"].is_null());
    repo.verify_ok();
}

#[test]
fn a_codex_tui_command_left_running_is_waited_for_in_its_rollout() {
    // codex's TUI ends its turn while the command runs on, and says so only in its rollout
    // file (as codex 0.169.0 showed it, tests/support/fixtures/
    // codex-interactive-background-rollout.jsonl): the dispatch waits until the rollout
    // records the command's end.
    let repo = Repo::new();
    let fakes = Fakes::new();
    let gate = repo.env.home().join("gate");
    let id = repo.dispatched_tui(
        &fakes,
        "codex",
        &format!(
            "@fake write a.txt hi\n@fake run vnx report --status done --summary started\n\
             @fake background while [ ! -e {gate} ]; do sleep 0.05; done; echo finished > bg.txt\n\
             @fake say Started the tests.",
            gate = gate.display()
        ),
    );
    waits_on_the_shell(&repo, &id);

    std::fs::write(&gate, "").unwrap();
    let r = run(repo.vnx().args(["wait", "--json", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let receipts = repo.receipts(&id);
    let c = receipts
        .iter()
        .find(|r| r["event_type"] == "dispatch_completed")
        .unwrap();
    assert_eq!(c["status"], "done", "{c}");
    let waited = (receipts.iter()).position(|r| r["event_type"] == "dispatch_background");
    let resumed = receipts
        .iter()
        .position(|r| r["event_type"] == "dispatch_resumed" && r["after"] == "background");
    assert!(
        matches!((waited, resumed), (Some(w), Some(r)) if w < r),
        "{receipts:#?}"
    );
    assert_eq!(receipts[waited.unwrap()]["source"], "session");
    assert_eq!(receipts[resumed.unwrap()]["source"], "session");
    // It concluded after the command ended: the command's file is in the commit.
    assert_eq!(repo.on_branch(&id, "bg.txt"), "finished\n");
    repo.verify_ok();
}

/// A headless dispatch of `provider`'s stand-in.
pub(super) fn headless(
    repo: &Repo,
    fakes: &Fakes,
    provider: &str,
    instruction: &str,
) -> crate::common::Run {
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        .args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--provider", provider, "--lane", "headless"])
        .args(["--deadline", "60", "--instruction", instruction]);
    run(cmd)
}

#[test]
fn a_headless_cli_that_stops_background_work_as_it_exits_is_not_done() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let r = headless(
        &repo,
        &fakes,
        "claude",
        "@fake write a.txt hi\n@fake background sleep 30\n\
         @fake run vnx report --status done --summary started",
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{c}");
    let reason = c["failure_reason"].as_str().unwrap();
    assert!(
        reason.contains("1 background task: sleep 30") && reason.contains("stopped it"),
        "{reason}"
    );
    assert_eq!(
        c["cli_events"]["background_stopped"][0]["what"], "sleep 30",
        "{c}"
    );
    // While the CLI waited for it after its turn, the dispatch said so (from its stream),
    // before its completion (which ends the wait: the CLI stopped the shell and exited).
    let receipts = repo.receipts(c["dispatch_id"].as_str().unwrap());
    let at = |kind: &str| receipts.iter().position(|r| r["event_type"] == kind);
    let (waited, ended) = (at("dispatch_background"), at("dispatch_completed"));
    assert!(
        matches!((waited, ended), (Some(w), Some(e)) if w < e),
        "{receipts:#?}"
    );
    let waited = &receipts[waited.unwrap()];
    assert_eq!(waited["source"], "stream", "{waited}");
    assert_eq!(waited["tasks"][0]["what"], "sleep 30", "{waited}");
    repo.verify_ok();
}

#[test]
fn codex_exec_stopping_a_command_that_outlived_its_turn_is_not_done() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let r = headless(
        &repo,
        &fakes,
        "codex",
        "@fake write a.txt hi\n@fake background sleep 30; echo finished\n\
         @fake run vnx report --status done --summary started",
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{c}");
    let reason = c["failure_reason"].as_str().unwrap();
    assert!(
        reason.contains("1 background task: sleep 30; echo finished")
            && reason.contains("stopped it"),
        "{reason}"
    );
    assert_eq!(
        c["cli_events"]["background_stopped"][0]["kind"], "shell",
        "{c}"
    );
    repo.verify_ok();

    // One that ended before the turn did leaves nothing unfinished.
    let r = headless(
        &repo,
        &fakes,
        "codex",
        "@fake write b.txt hi\n@fake background true\n@fake sleep 0.5\n\
         @fake run vnx report --status done --summary tested",
    );
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{c}");
    assert!(
        c["cli_events"]["background_stopped"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{c}"
    );
    repo.verify_ok();
}

/// Dispatch `id` says it waits on a background shell (`while [ ! -e …`), in `status --json`
/// and in `status`, and runs meanwhile.
fn waits_on_the_shell(repo: &Repo, id: &str) {
    assert!(
        wait_for(|| !state_of(repo, id)["background"].is_null()),
        "the dispatch never said it waits on background work: {}",
        state_of(repo, id)
    );
    let state = state_of(repo, id);
    assert_eq!(state["status"], "running", "{state}");
    assert_eq!(state["background"]["tasks"][0]["kind"], "shell", "{state}");
    let human = run(repo.vnx().arg("status"));
    assert!(
        human
            .stdout
            .contains("waiting on 1 background task: while [ ! -e"),
        "{}",
        human.stdout
    );
}
