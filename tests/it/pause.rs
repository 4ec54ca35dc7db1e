//! Pausing everything and resuming it (issue 71, ADR 0119), acted out by the offline demo
//! provider's `long` model, which works for an hour naming its session and finishes when
//! continued in it. `vnx pause` holds new launches in the queue; `--now` stops a running
//! headless worker, its supervisor waiting with the session kept (`paused`, a signed
//! `dispatch_paused`); `vnx resume` lifts the pause, starts what waited and continues each
//! paused worker once in its session. A pause of one provider, role or place holds only
//! that; a usage-limited worker waits on past its reset while paused; a supervisor killed
//! while paused is repaired by `vnx resume`.

use std::time::{Duration, Instant};

use crate::common::{Repo, completion, configure, run};

pub(crate) fn until(limit: Duration, what: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if what() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    what()
}

pub(crate) fn state_of(repo: &Repo, id: &str) -> serde_json::Value {
    let r = run(repo.vnx().args(["status", id, "--json"]));
    serde_json::from_str::<serde_json::Value>(r.stdout.trim()).unwrap()[0].clone()
}

/// A detached dispatch of `model` with `extra` arguments: its id.
pub(crate) fn detached(repo: &Repo, model: &str, extra: &[&str]) -> String {
    let r = run(repo
        .dispatch_cmd(model)
        .args(["--json", "--instruction", "write it", "--detach"])
        .args(extra));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    v["dispatch_id"].as_str().unwrap().to_owned()
}

/// Waits (up to 30 s) until dispatch `id` reads `status`.
pub(crate) fn reads(repo: &Repo, id: &str, status: &str) {
    let seen = until(Duration::from_secs(30), || {
        state_of(repo, id)["status"] == status
    });
    assert!(seen, "never {status}: {}", state_of(repo, id));
}

/// A `long` worker running, its session named in its log.
pub(crate) fn long_running(repo: &Repo) -> String {
    let id = detached(repo, "long", &[]);
    let log = repo
        .env
        .path()
        .join(format!(".vnx-data/dispatches/{id}/worker.log"));
    let working = until(Duration::from_secs(30), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("working for an hour"))
    });
    assert!(working, "never working: {}", state_of(repo, &id));
    id
}

/// How the dispatch ended, once it did.
pub(crate) fn waited(repo: &Repo, id: &str) -> serde_json::Value {
    let r = run(repo.vnx().args(["wait", id, "--json", "--timeout", "60"]));
    assert!(r.code == 0 || r.code == 1, "{}\n{}", r.stdout, r.stderr);
    completion(&r)
}

/// The kinds of dispatch `id`'s receipts, its queue's decisions left out.
pub(crate) fn kinds(repo: &Repo, id: &str) -> Vec<String> {
    repo.receipts(id)
        .iter()
        .map(|r| r["event_type"].as_str().unwrap().to_owned())
        .filter(|k| k != "queue_decision")
        .collect()
}

/// Asserts dispatch `id` went on once after a pause, ended by `source`.
fn went_on_after_pause(repo: &Repo, id: &str, source: &str) {
    let resumed: Vec<serde_json::Value> = repo
        .receipts(id)
        .into_iter()
        .filter(|r| r["event_type"] == "dispatch_resumed" && r["after"] == "paused")
        .collect();
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    assert_eq!(resumed[0]["source"], source);
}

fn worker_log(repo: &Repo, id: &str) -> String {
    std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{id}/worker.log")),
    )
    .unwrap()
}

#[test]
fn pause_now_stops_a_worker_in_its_session_holds_launches_and_resume_continues_both() {
    let repo = Repo::new();
    let id = long_running(&repo);
    let r = run(repo.vnx().args(["pause", "--now"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("paused (all) since"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!("{id}  paused: its session kept")),
        "{}",
        r.stdout
    );
    assert_eq!(state_of(&repo, &id)["status"], "paused");
    let shown = run(repo.vnx().args(["status"]));
    assert!(shown.stdout.contains("paused (all)"), "{}", shown.stdout);
    assert!(
        shown.stderr.contains("`vnx resume` lifts it"),
        "{}",
        shown.stderr
    );
    // A new dispatch waits in the queue, with why.
    let queued = detached(&repo, "commit", &[]);
    assert_eq!(state_of(&repo, &queued)["status"], "queued");
    let decision = repo
        .events("queue_decision")
        .into_iter()
        .find(|d| d["dispatch_id"] == queued.as_str())
        .unwrap();
    assert!(
        decision["reason"]
            .as_str()
            .unwrap()
            .contains("paused (all)"),
        "{decision}"
    );
    // Nothing moves while paused.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(state_of(&repo, &id)["status"], "paused");
    assert_eq!(state_of(&repo, &queued)["status"], "queued");
    let pause = repo.events("paused").remove(0);
    assert_eq!(pause["scope"], "all");
    assert_eq!(pause["now"], true);
    assert_eq!(pause["stopping"][0], id.as_str());
    assert!(pause["vnx_attestation"].is_object(), "signed: {pause}");
    // One command continues both.
    let r = run(repo.vnx().arg("resume"));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("lifted: paused (all)"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("{id}  was paused: its supervisor continues it")),
        "{}",
        r.stderr
    );
    assert_eq!(waited(&repo, &id)["status"], "done");
    assert_eq!(waited(&repo, &queued)["status"], "done");
    assert_eq!(
        kinds(&repo, &id),
        [
            "dispatch_started",
            "dispatch_paused",
            "dispatch_resumed",
            "dispatch_completed"
        ]
    );
    went_on_after_pause(&repo, &id, "lifted");
    // Continued once, in the session the worker named; its work written once, committed once.
    let log = worker_log(&repo, &id);
    assert!(
        log.contains(&format!("continuing session demo-{id}")),
        "{log}"
    );
    assert_eq!(log.matches("vnx: continuing after the pause").count(), 1);
    let commits = repo
        .env
        .git(&["rev-list", "--count", &format!("main..dispatch/{id}")]);
    assert_eq!(commits.trim(), "1");
    assert_eq!(repo.events("pause_lifted")[0]["scope"], "all");
    repo.verify_ok();
}

#[test]
fn a_pause_without_now_lets_running_work_end_and_holds_only_its_scope() {
    let repo = Repo::new();
    configure(&repo, "roles:\n  reviewer: {gates: []}\n");
    // A pause of another provider holds nothing of the demo's.
    let r = run(repo.vnx().args(["pause", "--provider", "elsewhere"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let free = detached(&repo, "commit", &[]);
    assert_eq!(waited(&repo, &free)["status"], "done");
    // A pause of a role holds that role's dispatches only.
    let r = run(repo.vnx().args(["pause", "--role", "reviewer"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doctor = run(repo.vnx().args(["doctor", "--json"]));
    assert!(
        doctor.stdout.contains("paused (role:reviewer) since"),
        "doctor names the pause: {}",
        doctor.stdout
    );
    let held = {
        let r = run(repo
            .vnx()
            .args([
                "dispatch-agent",
                "--agent",
                "reviewer",
                "--provider",
                "demo",
            ])
            .args([
                "--model",
                "commit",
                "--json",
                "--instruction",
                "look",
                "--detach",
            ]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
        v["dispatch_id"].as_str().unwrap().to_owned()
    };
    let other = detached(&repo, "commit", &[]);
    assert_eq!(state_of(&repo, &held)["status"], "queued");
    assert_eq!(waited(&repo, &other)["status"], "done");
    // Without --now a running worker is left to end its turn; it is not stopped.
    let running = long_running(&repo);
    let r = run(repo.vnx().args(["pause", "--place", "here"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains(&format!("{running}  ends the turn it is in")),
        "{}",
        r.stdout
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(state_of(&repo, &running)["status"], "running");
    // Lifting the role's pause leaves the place's standing: what it covers still waits.
    let r = run(repo.vnx().args(["resume", "--role", "reviewer"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("still in effect: paused (place:here)"),
        "{}",
        r.stderr
    );
    assert_eq!(state_of(&repo, &held)["status"], "queued");
    // A strange scope is a usage error.
    let r = run(repo.vnx().args(["pause", "--role", "../x"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(repo.vnx().arg("resume"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(waited(&repo, &held)["status"], "done");
    let r = run(repo.vnx().args(["cancel", &running]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    repo.verify_ok();
}

#[test]
fn a_limited_worker_waits_on_past_its_reset_while_paused() {
    let repo = Repo::new();
    let r = run(repo.vnx().arg("pause"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Started while paused, it waits in the queue; a person starts it with `vnx resume`, and
    // then pauses again before its limit resets.
    let id = {
        let mut cmd = repo.dispatch_cmd("limit");
        cmd.env("VNX_DEMO_LIMIT_RESETS_IN", "2").args([
            "--json",
            "--instruction",
            "write it",
            "--detach",
        ]);
        let r = run(&mut cmd);
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
        v["dispatch_id"].as_str().unwrap().to_owned()
    };
    assert_eq!(state_of(&repo, &id)["status"], "queued");
    let r = run(repo.vnx().arg("resume"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    reads(&repo, &id, "limited");
    let r = run(repo.vnx().arg("pause"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Past its reset, it is paused, not continued.
    reads(&repo, &id, "paused");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(state_of(&repo, &id)["status"], "paused");
    // `vnx resume ID` continues that one at once, the pause standing.
    let r = run(repo.vnx().args(["resume", &id]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("is paused: its supervisor continues it now"),
        "{}",
        r.stderr
    );
    assert_eq!(waited(&repo, &id)["status"], "done");
    assert_eq!(
        kinds(&repo, &id),
        [
            "dispatch_started",
            "dispatch_limited",
            "dispatch_paused",
            "dispatch_resumed",
            "dispatch_completed"
        ]
    );
    went_on_after_pause(&repo, &id, "person");
    assert!(worker_log(&repo, &id).contains("after the usage limit"));
    repo.verify_ok();
}

#[test]
fn a_supervisor_killed_while_paused_is_resumed_by_vnx_resume() {
    let repo = Repo::new();
    let id = long_running(&repo);
    let r = run(repo.vnx().args(["pause", "--now"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(state_of(&repo, &id)["status"], "paused");
    // Killed while it waits (kill -9): nothing more is recorded, the dispatch reads lost.
    repo.server.kill_pane_process(&format!("vnx-{id}"));
    reads(&repo, &id, "lost");
    // The one command after opening the laptop lifts the pause and continues the lost
    // dispatch in its worktree, with a follow-up.
    let r = run(repo.vnx().arg("resume"));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("lifted: paused (all)"), "{}", r.stderr);
    let next = r.stdout.trim().to_owned();
    assert!(next.starts_with("D-"), "{}{}", r.stdout, r.stderr);
    reads(&repo, &next, "running");
    let follow = state_of(&repo, &next);
    assert_eq!(follow["continues"], id.as_str(), "{follow}");
    assert_eq!(state_of(&repo, &id)["status"], "cancelled");
    let r = run(repo.vnx().args(["cancel", &next]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    repo.verify_ok();
}
