//! A usage limit is a wait, not a failure (issue 71, ADR 0117), acted out by the offline
//! demo provider's `limit` model: its worker writes its file, meets a usage limit that resets
//! a few seconds later and exits 1, as claude does at one. The dispatch reads `limited until
//! …` (signed `dispatch_limited`), its provider holds new launches in the queue, and at the
//! reset the worker goes on once in its session and ends done; the queued dispatch starts
//! after it. A person's `vnx resume ID` continues it before the reset, `vnx cancel` ends it
//! cancelled, never failed; a supervisor killed while it waits is repaired by `vnx resume`.
//! A role's `on_limit:` moves new and queued dispatches to the next provider (ADR 0120).

use std::time::Duration;

use crate::common::{Repo, completion, run};
use crate::pause::{state_of, until, waited};

/// A detached `limit` dispatch whose reset is `resets_in` seconds away: its id.
pub(crate) fn limited(repo: &Repo, resets_in: u64) -> String {
    let mut cmd = repo.dispatch_cmd("limit");
    cmd.env("VNX_DEMO_LIMIT_RESETS_IN", resets_in.to_string())
        .args(["--json", "--instruction", "write it", "--detach"]);
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = v["dispatch_id"].as_str().unwrap().to_owned();
    let seen = until(Duration::from_secs(30), || {
        state_of(repo, &id)["status"] == "limited"
    });
    assert!(seen, "never limited: {}", state_of(repo, &id));
    id
}

#[test]
fn a_limited_worker_waits_for_the_reset_then_finishes_in_its_session() {
    let repo = Repo::new();
    let id = limited(&repo, 3);
    // Shown as limited, with when it goes on and what its CLI said.
    let shown = run(repo.vnx().args(["status", &id]));
    assert!(shown.stdout.contains("limited until"), "{}", shown.stdout);
    assert!(
        shown.stderr.contains("demo is limited until"),
        "the provider's hold: {}",
        shown.stderr
    );
    let c = waited(&repo, &id);
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(c["teardown_class"], "committed", "{c}");
    let receipts = repo.receipts(&id);
    let kinds: Vec<&str> = receipts
        .iter()
        .map(|r| r["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "dispatch_started",
            "dispatch_limited",
            "dispatch_resumed",
            "dispatch_completed"
        ],
        "{receipts:?}"
    );
    let limit = &receipts[1];
    assert_eq!(limit["provider"], "demo");
    assert_eq!(limit["limit_count"], 1);
    assert!(limit["vnx_attestation"].is_object(), "signed: {limit}");
    assert!(limit["said"].as_str().unwrap().contains("resets in 3 s"));
    assert_eq!(limit["resets_at"], limit["continues_at"]);
    let resumed = &receipts[2];
    assert_eq!(resumed["after"], "limited");
    assert_eq!(resumed["source"], "reset");
    assert!(
        resumed["waited_seconds"].as_f64().unwrap() >= 2.0,
        "{resumed}"
    );
    // Continued in the session the worker named, with the short prompt, once.
    let log = std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{id}/worker.log")),
    )
    .unwrap();
    assert!(
        log.contains(&format!(
            "continuing session demo-{id} after the usage limit"
        )),
        "{log}"
    );
    assert_eq!(
        log.matches("vnx: continuing after the usage limit").count(),
        1
    );
    // One commit: the work written before the limit was finished, not done again.
    let commits = repo
        .env
        .git(&["rev-list", "--count", &format!("main..dispatch/{id}")]);
    assert_eq!(commits.trim(), "1");
    repo.verify_ok();
}

#[test]
fn a_limited_provider_holds_new_launches_until_the_reset() {
    let repo = Repo::new();
    let id = limited(&repo, 4);
    // A second dispatch on the provider waits in the queue, with why.
    let second = repo.dispatch("commit", &["--instruction", "next", "--detach"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let v: serde_json::Value = serde_json::from_str(second.stdout.trim()).unwrap();
    let queued = v["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(state_of(&repo, &queued)["status"], "queued", "{v}");
    let decisions = repo.events("queue_decision");
    let first = decisions
        .iter()
        .find(|d| d["dispatch_id"] == queued.as_str())
        .unwrap();
    assert_eq!(first["decision"], "queued");
    assert!(
        first["reason"]
            .as_str()
            .unwrap()
            .contains("demo is limited until"),
        "{first}"
    );
    // At the reset it starts, after the limited one went on: started by the limited
    // dispatch's supervisor (only the ledger is read here: a vnx command would drain the
    // queue itself).
    let admitted = until(Duration::from_secs(30), || {
        repo.events("queue_decision")
            .iter()
            .any(|d| d["dispatch_id"] == queued.as_str() && d["decision"] == "admitted")
    });
    assert!(
        admitted,
        "never admitted: {:?}",
        repo.events("queue_decision")
    );
    let c = waited(&repo, &queued);
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(waited(&repo, &id)["status"], "done");
    let admitted = repo
        .events("queue_decision")
        .into_iter()
        .find(|d| d["dispatch_id"] == queued.as_str() && d["decision"] == "admitted")
        .unwrap();
    let limit = repo.events("dispatch_limited").remove(0);
    let at = |v: &serde_json::Value| v["timestamp"].as_str().unwrap().parse::<jiff::Timestamp>();
    // The reset: when the limit was recorded, and the 4 s its CLI said.
    let reset = at(&limit).unwrap() + jiff::SignedDuration::from_secs(4);
    assert!(
        at(&admitted).unwrap() >= reset,
        "admitted before the reset: {admitted} {limit}"
    );
    repo.verify_ok();
}

#[test]
fn a_person_continues_a_limited_dispatch_early_or_cancels_it() {
    let repo = Repo::new();
    // Continued at once by `vnx resume ID`, an hour before its reset.
    let early = limited(&repo, 3600);
    let r = run(repo.vnx().args(["resume", &early]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("continues it now"), "{}", r.stderr);
    assert_eq!(waited(&repo, &early)["status"], "done");
    let resumed = repo
        .receipts(&early)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_resumed")
        .unwrap();
    assert_eq!(resumed["source"], "person");
    // Cancelled while it waits: cancelled, not failed; its work kept.
    let cancelled = limited(&repo, 3600);
    let r = run(repo.vnx().args(["cancel", &cancelled]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = waited(&repo, &cancelled);
    assert_eq!(c["status"], "cancelled", "{c}");
    assert!(
        c["failure_reason"]
            .as_str()
            .unwrap()
            .contains("usage limit"),
        "{c}"
    );
    repo.verify_ok();
}

#[test]
fn a_supervisor_killed_while_it_waits_out_a_limit_is_resumed() {
    let repo = Repo::new();
    let id = limited(&repo, 3600);
    // Killed mid-wait (kill -9): nothing more is recorded, the dispatch reads lost.
    repo.server.kill_pane_process(&format!("vnx-{id}"));
    let lost = until(Duration::from_secs(30), || {
        state_of(&repo, &id)["status"] == "lost"
    });
    assert!(lost, "never lost: {}", state_of(&repo, &id));
    // `vnx resume` repairs it: closed, and continued by a follow-up in its worktree, which
    // meets the limit again, waits it out and finishes the work.
    let r = run(repo
        .vnx()
        .env("VNX_DEMO_LIMIT_RESETS_IN", "2")
        .args(["resume", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let next = r.stdout.trim().to_owned();
    assert!(next.starts_with("D-"), "{}{}", r.stdout, r.stderr);
    let c = waited(&repo, &next);
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(
        repo.on_branch(&id, "demo-output.txt").lines().count(),
        4,
        "the demo output, once"
    );
    repo.verify_ok();
}

#[test]
fn a_limit_whose_reset_nobody_said_is_waited_out_for_the_configured_time() {
    let repo = Repo::new();
    crate::common::configure(&repo, "limit_wait_seconds: 2\n");
    let mut cmd = repo.dispatch_cmd("limit");
    cmd.env("VNX_DEMO_LIMIT_RESETS_IN", "none").args([
        "--json",
        "--instruction",
        "write it",
        "--detach",
    ]);
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = v["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(waited(&repo, &id)["status"], "done");
    let limit = repo
        .receipts(&id)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_limited")
        .unwrap();
    assert!(limit["resets_at"].is_null(), "nobody said: {limit}");
    let shown = limit["said"].as_str().unwrap();
    assert!(!shown.contains("resets in"), "{shown}");
    let resumed = repo
        .receipts(&id)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_resumed")
        .unwrap();
    let waited_s = resumed["waited_seconds"].as_f64().unwrap();
    assert!(
        (1.5..30.0).contains(&waited_s),
        "the configured 2 s: {resumed}"
    );
}

/// A script provider that writes and commits `moved.txt`, for failover to move to.
fn scribe(repo: &Repo) -> tempfile::TempDir {
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("scribe");
    std::fs::write(
        &bin,
        "#!/bin/sh\necho moved > moved.txt\ngit add moved.txt && git commit -qm moved\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    crate::common::configure(
        repo,
        &format!(
            "providers:\n  scribe:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      edits: []\n",
            bin.display()
        ),
    );
    tools
}

#[test]
fn a_role_moves_new_and_queued_dispatches_off_a_limited_provider() {
    let repo = Repo::new();
    let _tools = scribe(&repo);
    let id = limited(&repo, 3600);
    // Queued behind the hold before the role names anywhere to go.
    let queued = repo.dispatch("commit", &["--instruction", "queued", "--detach"]);
    let queued: serde_json::Value = serde_json::from_str(queued.stdout.trim()).unwrap();
    let queued = queued["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(state_of(&repo, &queued)["status"], "queued");
    crate::common::configure(&repo, "roles:\n  implementer:\n    on_limit: [scribe]\n");
    // A new dispatch moves at once; the queued one as the queue is next drained (any read).
    let moved = completion(&repo.dispatch("commit", &["--instruction", "new"]));
    assert_eq!(moved["status"], "done", "{moved}");
    let new_id = moved["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(state_of(&repo, &new_id)["provider"], "scribe");
    assert_eq!(repo.on_branch(&new_id, "moved.txt").trim(), "moved");
    let c = waited(&repo, &queued);
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(state_of(&repo, &queued)["provider"], "scribe");
    let failovers = repo.events("dispatch_failover");
    assert_eq!(failovers.len(), 2, "{failovers:?}");
    for f in &failovers {
        assert_eq!(f["from"], "demo", "{f}");
        assert_eq!(f["to"], "scribe", "{f}");
        assert_eq!(f["model_from"], "commit", "{f}");
        assert!(
            f["reason"]
                .as_str()
                .unwrap()
                .contains("demo is limited until"),
            "{f}"
        );
        assert!(f["vnx_attestation"].is_object(), "signed: {f}");
    }
    // Each moved before it started, and started on the provider it moved to.
    for moved in [&new_id, &queued] {
        let kinds: Vec<String> = repo
            .receipts(moved)
            .iter()
            .map(|r| r["event_type"].as_str().unwrap().to_owned())
            .filter(|k| k != "queue_decision")
            .collect();
        assert_eq!(
            kinds[..2],
            ["dispatch_failover", "dispatch_started"],
            "{kinds:?}"
        );
    }
    // The limited one stays with its provider: only what has not started moves.
    assert_eq!(state_of(&repo, &id)["status"], "limited");
    let r = run(repo.vnx().args(["cancel", &id]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    repo.verify_ok();
}

#[test]
fn on_limit_names_known_providers_only() {
    let repo = Repo::new();
    crate::common::configure(&repo, "roles:\n  implementer:\n    on_limit: [nosuch]\n");
    let r = run(repo.dispatch_cmd("commit").args(["--instruction", "x"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("roles.implementer.on_limit names `nosuch`"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_worker_that_waits_quietly_at_its_limit_is_stopped_at_the_stall_and_goes_on_at_the_reset() {
    let repo = Repo::new();
    // The worker says its limit, then waits for the reset by itself, saying nothing (as
    // codex does at a far reset): at the stall watch it is stopped and the wait is vnx's.
    let mut cmd = repo.dispatch_cmd("limit");
    cmd.env("VNX_DEMO_LIMIT_RESETS_IN", "4")
        .env("VNX_DEMO_LIMIT_WAITS", "1")
        .args(["--json", "--instruction", "write it", "--detach"])
        .args(["--stall-after", "1"]);
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = v["dispatch_id"].as_str().unwrap().to_owned();
    let c = waited(&repo, &id);
    assert_eq!(c["status"], "done", "{c}");
    let receipts = repo.receipts(&id);
    assert_eq!(
        crate::pause::kinds(&repo, &id),
        [
            "dispatch_started",
            "dispatch_stalled",
            "dispatch_limited",
            "dispatch_resumed",
            "dispatch_completed"
        ],
        "{receipts:?}"
    );
    assert!(
        receipts[2]["said"]
            .as_str()
            .unwrap()
            .contains("usage limit")
    );
    assert_eq!(receipts[3]["after"], "limited");
    repo.verify_ok();
}
