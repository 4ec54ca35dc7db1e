//! The dispatch queue: a dispatch of a provider whose `concurrency:` slots are all taken is
//! queued (holding nothing but its entry) or rejected, with a `queue_decision` receipt;
//! queued ones start by priority, then arrival, when a slot frees — from the finishing
//! supervisor, or from any vnx command when that supervisor died; past their latest start
//! time they expire; `cancel` takes them out. The demo's `slow` model holds a slot.

use std::time::{Duration, Instant};

use crate::common::{Repo, run};

/// A repository whose demo provider has `slots` slots, plus `extra` config.
fn limited(slots: u32, extra: &str) -> Repo {
    let repo = Repo::new();
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("concurrency:\n  demo: {slots}\n{extra}"));
    std::fs::write(&config, text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "limit demo"]);
    repo
}

/// Dispatches a demo reviewer (done without changing anything) in the background; its id
/// and the JSON it printed.
fn detach(repo: &Repo, model: &str, extra: &[&str]) -> (String, serde_json::Value) {
    let mut args = vec!["--instruction", "x", "--detach"];
    args.extend_from_slice(extra);
    let r = repo.dispatch_as("reviewer", model, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    (v["dispatch_id"].as_str().unwrap().to_owned(), v)
}

/// `vnx status --json` (which also drains the queue), by id.
fn status(repo: &Repo) -> std::collections::BTreeMap<String, serde_json::Value> {
    let r = run(repo.vnx().args(["status", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    all.into_iter()
        .map(|s| (s["dispatch_id"].as_str().unwrap().to_owned(), s))
        .collect()
}

/// Whether `cond` holds within a minute (polled; nothing is timed).
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// The dispatches in the order the ledger records their starts.
fn start_order(repo: &Repo) -> Vec<String> {
    let data = std::fs::read_to_string(repo.env.path().join(".vnx-data/state/t0_receipts.ndjson"))
        .unwrap();
    data.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event_type"] == "dispatch_started")
        .map(|v| v["dispatch_id"].as_str().unwrap().to_owned())
        .collect()
}

fn decisions(repo: &Repo, id: &str) -> Vec<String> {
    repo.receipts(id)
        .iter()
        .filter(|r| r["event_type"] == "queue_decision")
        .map(|r| r["decision"].as_str().unwrap().to_owned())
        .collect()
}

/// What a queued dispatch must not have: a dispatch directory, a worktree, a branch, a
/// session.
fn holds_nothing(repo: &Repo, id: &str) {
    let data = repo.env.path().join(".vnx-data");
    assert!(
        !data.join("dispatches").join(id).exists(),
        "{id} has a directory"
    );
    assert!(
        !data
            .join("worktrees")
            .join(format!("dispatch-{id}"))
            .exists(),
        "{id} has a worktree"
    );
    assert!(!repo.branches().contains(id), "{id} has a branch");
    assert!(!repo.server.0.has_session(&format!("vnx-{id}")));
    assert!(data.join("queue").join(format!("{id}.json")).is_file());
}

#[test]
fn queued_dispatches_start_by_priority_then_arrival() {
    let repo = limited(1, "");
    let (slow, _) = detach(&repo, "slow", &[]);
    assert_eq!(decisions(&repo, &slow), ["admitted"]);
    let (a, queued) = detach(&repo, "noop", &[]);
    assert_eq!(queued["state"], "queued", "{queued}");
    assert_eq!(queued["queue_position"], 1);
    let members: std::collections::BTreeSet<&str> = queued
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        members,
        ["dispatch_id", "provider", "queue_position", "state"].into(),
        "as docs/json.md lists them"
    );
    let (b, _) = detach(&repo, "noop", &["--priority", "5"]);
    let (c, _) = detach(&repo, "noop", &[]);
    let (d, _) = detach(&repo, "noop", &["--priority", "5"]);
    let (e, _) = detach(&repo, "noop", &["--priority", "-1"]);
    for id in [&a, &b, &c, &d, &e] {
        holds_nothing(&repo, id);
        assert_eq!(decisions(&repo, id), ["queued"]);
    }
    let shown = status(&repo);
    let position = |id: &str| shown[id]["queue"]["position"].as_u64().unwrap();
    assert_eq!(shown[&a]["status"], "queued");
    assert_eq!(
        [&b, &d, &a, &c, &e].map(|id| position(id)),
        [1, 2, 3, 4, 5],
        "priority first, then arrival"
    );
    let table = run(repo.vnx().args(["status", "--wide"]));
    assert!(
        table.stdout.contains("queue #1 (priority 5)"),
        "{}",
        table.stdout
    );
    let show = run(repo.vnx().args(["show", &c]));
    assert!(
        show.stdout.contains("position 4 in the demo queue"),
        "{}",
        show.stdout
    );
    // The dashboard lists them with the running, each with its place.
    let src = vnx::dashboard::Sources {
        root: repo.env.path().to_owned(),
        ledger: repo.env.path().join(".vnx-data/state/t0_receipts.ndjson"),
        tmux: repo.server.0.clone(),
    };
    let snap = vnx::dashboard::Snapshot::load(&src, None, None).unwrap();
    let row = snap.rows.iter().find(|r| r.state.id == b).unwrap();
    assert_eq!(row.group(), 1);
    assert_eq!(row.state.status, "queued");
    assert_eq!(row.activity, "queued #1 for a slot (priority 5)");
    // The slot frees: the finishing supervisor starts the next, and so on, one at a time.
    let r = run(repo.vnx().args(["cancel", &slow]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(repo.vnx().args(["wait", &a, &b, &c, &d, &e]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        start_order(&repo),
        [&slow, &b, &d, &a, &c, &e].map(|s| s.clone()),
        "{}",
        std::fs::read_to_string(repo.env.path().join(".vnx-data/state/t0_receipts.ndjson"))
            .unwrap()
            .lines()
            .filter(|l| l.contains("queue_decision"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    for id in [&a, &b, &c, &d, &e] {
        assert_eq!(decisions(&repo, id), ["queued", "admitted"]);
        assert!(
            !repo
                .env
                .path()
                .join(".vnx-data/queue")
                .join(format!("{id}.json"))
                .exists()
        );
    }
    repo.verify_ok();
}

#[test]
fn a_queued_dispatch_past_its_latest_start_expires_unstarted() {
    let repo = limited(1, "");
    let (slow, _) = detach(&repo, "slow", &[]);
    let (late, _) = detach(&repo, "noop", &["--start-by", "1s"]);
    let (patient, _) = detach(&repo, "noop", &["--start-by", "1d"]);
    // Any reading command closes it once its time has passed.
    assert!(eventually(|| status(&repo)[&late]["status"] == "expired"));
    assert_eq!(decisions(&repo, &late), ["queued", "expired"]);
    assert_eq!(status(&repo)[&patient]["status"], "queued");
    assert!(
        !repo
            .env
            .path()
            .join(".vnx-data/queue")
            .join(format!("{late}.json"))
            .exists()
    );
    let r = run(repo.vnx().args(["wait", &late]));
    assert_eq!(r.code, 1, "an expired dispatch is not a success");
    assert!(r.stdout.contains("expired (never started)"), "{}", r.stdout);
    // A time already past is refused at once.
    let r = repo.dispatch_as(
        "reviewer",
        "noop",
        &[
            "--instruction",
            "x",
            "--detach",
            "--start-by",
            "2001-01-01T00:00:00Z",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("has passed"), "{}", r.stderr);
    let r = repo.dispatch_as(
        "reviewer",
        "noop",
        &["--instruction", "x", "--start-by", "soon"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    run(repo.vnx().args(["cancel", &slow]));
    let r = run(repo.vnx().args(["wait", &patient]));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(!start_order(&repo).contains(&late), "it never started");
    repo.verify_ok();
}

#[test]
fn the_reject_policy_and_a_full_queue_refuse_with_only_a_receipt() {
    let repo = limited(
        1,
        "queue:\n  max_length: 1\n  providers:\n    demo: {policy: reject}\n",
    );
    let (slow, _) = detach(&repo, "slow", &[]);
    let r = repo.dispatch_as(
        "reviewer",
        "noop",
        &["--instruction", "x", "--id", "D-0000beef"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("dispatch D-0000beef rejected: every demo slot (1) is taken and the queue policy is reject"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    let receipts = repo.receipts("D-0000beef");
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    assert_eq!(receipts[0]["decision"], "rejected");
    assert_eq!(receipts[0]["capacity"], 1);
    assert_eq!(receipts[0]["running"], 1);
    assert!(receipts[0]["vnx_attestation"].is_object(), "signed");
    let data = repo.env.path().join(".vnx-data");
    assert!(!data.join("dispatches/D-0000beef").exists());
    assert!(!data.join("queue/D-0000beef.json").exists());
    assert!(!repo.branches().contains("D-0000beef"));
    run(repo.vnx().args(["cancel", &slow]));
    repo.verify_ok();

    // With the queue policy, a queue at its max_length rejects the next one.
    let repo = limited(1, "queue:\n  max_length: 1\n");
    let (slow, _) = detach(&repo, "slow", &[]);
    let (waiting, _) = detach(&repo, "noop", &[]);
    let r = repo.dispatch_as("reviewer", "noop", &["--instruction", "x", "--detach"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("its queue is full (1 of max_length 1)"),
        "{}",
        r.stderr
    );
    run(repo.vnx().args(["cancel", &slow]));
    assert_eq!(run(repo.vnx().args(["wait", &waiting])).code, 0);
}

#[test]
fn a_killed_supervisor_does_not_stall_the_queue() {
    let repo = limited(1, "");
    let (slow, _) = detach(&repo, "slow", &[]);
    let (a, _) = detach(&repo, "noop", &[]);
    let (b, _) = detach(&repo, "noop", &[]);
    // The supervisor dies without recording anything, or starting anyone.
    repo.server.kill_pane_process(&format!("vnx-{slow}"));
    // The next reading command sees the slot free and starts the queue.
    assert!(eventually(|| {
        let s = status(&repo);
        s[&a]["status"] == "done" && s[&b]["status"] == "done"
    }));
    assert_eq!(status(&repo)[&slow]["status"], "lost");
    assert_eq!(start_order(&repo), [slow.clone(), a, b]);
    repo.verify_ok();
}

#[test]
fn cancel_takes_a_queued_dispatch_out_and_all_includes_the_queue() {
    let repo = limited(1, "");
    let (slow, _) = detach(&repo, "slow", &[]);
    let (a, _) = detach(&repo, "noop", &[]);
    let (b, _) = detach(&repo, "noop", &[]);
    let r = run(repo.vnx().args(["cancel", &a]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("cancelled (taken out of the queue)"),
        "{}",
        r.stdout
    );
    assert_eq!(decisions(&repo, &a), ["queued", "cancelled"]);
    let shown = status(&repo);
    assert_eq!(shown[&a]["status"], "cancelled");
    assert_eq!(shown[&b]["queue"]["position"], 1, "b moved up");
    let r = run(repo.vnx().args(["wait", &a, "--json"]));
    assert_eq!(r.code, 1);
    let settled: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(settled["status"], "cancelled");
    assert_eq!(settled["queue"]["decision"], "cancelled");
    // A foreground dispatch that gets queued says so and waits through its start.
    let mut fg = repo.vnx();
    fg.args([
        "dispatch-agent",
        "--agent",
        "reviewer",
        "--provider",
        "demo",
    ])
    .args([
        "--model",
        "noop",
        "--instruction",
        "x",
        "--id",
        "D-0000f00d",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let child = fg.spawn().unwrap();
    assert!(eventually(|| status(&repo)
        .get("D-0000f00d")
        .is_some_and(|s| s["status"] == "queued")));
    // --all: the running one and the queued ones.
    let r = run(repo.vnx().args(["cancel", "--all"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let shown = status(&repo);
    for id in [&slow, &b, &"D-0000f00d".to_owned()] {
        assert_eq!(shown[id]["status"], "cancelled", "{id}");
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("queued D-0000f00d at position 2"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("cancelled (never started)"));
    assert_eq!(start_order(&repo), [slow]);
    repo.verify_ok();
}

#[test]
fn concurrent_recoveries_start_each_entry_once_and_never_overfill() {
    let repo = limited(2, "");
    let held: Vec<String> = (0..2).map(|_| detach(&repo, "slow", &[]).0).collect();
    let queued: Vec<String> = (0..4).map(|_| detach(&repo, "noop", &[]).0).collect();
    for id in &held {
        repo.server.kill_pane_process(&format!("vnx-{id}"));
    }
    // Four reading commands at once, each trying to drain the queue.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| run(repo.vnx().arg("status")));
        }
    });
    assert!(eventually(|| {
        let s = status(&repo);
        queued.iter().all(|id| s[id]["status"] == "done")
    }));
    for id in &queued {
        assert_eq!(decisions(&repo, id), ["queued", "admitted"], "{id}");
    }
    // Swept in ledger order, at most two of them were ever between start and completion.
    let data = std::fs::read_to_string(repo.env.path().join(".vnx-data/state/t0_receipts.ndjson"))
        .unwrap();
    let (mut open, mut most) = (0, 0);
    for v in data
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| queued.iter().any(|id| v["dispatch_id"] == id.as_str()))
    {
        match v["event_type"].as_str() {
            Some("dispatch_started") => {
                open += 1;
                most = most.max(open);
            }
            Some("dispatch_completed") => open -= 1,
            _ => {}
        }
    }
    assert!(most <= 2, "{most} ran at once through 2 slots");
    assert_eq!(start_order(&repo).len(), 6, "each started once");
    repo.verify_ok();
}

/// `vnx wait --all` waits for every dispatch running or queued when it starts (named on
/// stderr), not for one that ended before: printed as each ends, or as still running at
/// `--timeout`; with none running it says so and exits 0.
#[test]
fn wait_all_waits_for_every_running_or_queued_dispatch() {
    use std::io::BufRead;
    let repo = limited(1, "");
    let none = run(repo.vnx().args(["wait", "--all"]));
    assert_eq!(
        (none.code, none.stdout.as_str()),
        (0, ""),
        "{}",
        none.stderr
    );
    assert!(
        none.stderr.contains("nothing is running"),
        "{}",
        none.stderr
    );
    let ended = repo.dispatch_as("reviewer", "noop", &["--instruction", "x"]);
    assert_eq!(ended.code, 0, "{}", ended.stderr);
    let (running, _) = detach(&repo, "slow", &[]);
    let (queued, _) = detach(&repo, "slow", &[]);
    assert_eq!(status(&repo)[&queued]["status"], "queued");
    let mut both = vec![running.clone(), queued.clone()];
    both.sort();
    let ids_of = |stdout: &str| {
        let mut ids: Vec<String> = stdout
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|v| v["dispatch_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    // At the timeout, both are printed as they are.
    let timed = run(repo
        .vnx()
        .args(["wait", "--all", "--timeout", "1", "--json"]));
    assert_eq!(timed.code, 1, "{}", timed.stderr);
    assert_eq!(ids_of(&timed.stdout), both, "{}", timed.stdout);
    // Without one, until both have ended.
    let mut child = repo
        .vnx()
        .args(["wait", "--all", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    stderr.read_line(&mut said).unwrap();
    assert!(
        said.starts_with("waiting for 2 running or queued: "),
        "{said}"
    );
    assert!(said.contains(&running) && said.contains(&queued), "{said}");
    let cancelled = run(repo.vnx().args(["cancel", &running, &queued]));
    assert_eq!(cancelled.code, 0, "{}", cancelled.stderr);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(ids_of(&stdout), both, "{stdout}");
}

#[test]
fn a_fifo_or_a_link_planted_in_the_queue_is_passed_by_never_blocked_on() {
    let repo = limited(1, "");
    let (slow, _) = detach(&repo, "slow", &[]);
    let (queued, _) = detach(&repo, "noop", &[]);
    let dir = repo.env.path().join(".vnx-data/queue");
    let fifo = dir.join("D-0000f1f0.json");
    let made = run(std::process::Command::new("mkfifo").arg(&fifo));
    assert_eq!(made.code, 0, "{}", made.stderr);
    let outside = repo.env.path().join("outside.json");
    std::fs::write(
        &outside,
        std::fs::read(dir.join(format!("{queued}.json"))).unwrap(),
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("D-0000f1f1.json")).unwrap();
    // And a FIFO where a slot's claim would be.
    let claim = repo.env.path().join(".vnx-data/slots/demo/7.claim");
    let made = run(std::process::Command::new("mkfifo").arg(&claim));
    assert_eq!(made.code, 0, "{}", made.stderr);
    // Every read passes both by: `status` answers, listing the real entry only.
    let s = status(&repo);
    assert_eq!(s[&queued]["status"], "queued");
    assert!(!s.contains_key("D-0000f1f0") && !s.contains_key("D-0000f1f1"));
    let r = run(repo.vnx().args(["cancel", &slow]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(eventually(|| status(&repo)[&queued]["status"] == "done"));
    assert!(fifo.exists(), "left alone");
}
