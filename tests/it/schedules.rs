//! `schedules:` in `.vnx/config.yaml` and `vnx schedule`: the config's errors with line and
//! column, an interval's slot fired once as a demo dispatch (a second run fires nothing), a
//! slot skipped while the previous dispatch still runs, slots missed during downtime caught
//! up once or skipped, and `vnx status` showing the next firing. Time is handed to `vnx
//! schedule run` with its hidden `--now`, so nothing here waits for a clock. A schedule's
//! dispatch waits while a pause covers its provider, as any dispatch does.

use crate::common::{Repo, configure, run};

/// `vnx schedule run --json` at `now`: what it did.
fn fire(repo: &Repo, now: &str) -> Vec<serde_json::Value> {
    let r = run(repo.vnx().args(["schedule", "run", "--json", "--now", now]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr))
}

#[test]
fn a_config_with_a_wrong_schedule_is_refused_with_its_line() {
    let cases = [
        (
            "schedules:\n  a:\n    every: 30m\n    cron: \"0 9 * * *\"\n    instruction: x\n",
            "has both `every:` and `cron:`",
        ),
        ("schedules:\n  a:\n    instruction: x\n", "needs `every:`"),
        (
            "schedules:\n  a:\n    every: 30m\n",
            "needs an `instruction:`",
        ),
        (
            "schedules:\n  a:\n    every: 30 minutes\n    instruction: x\n",
            "schedules.a.every",
        ),
        (
            "schedules:\n  a:\n    every: 10s\n    instruction: x\n",
            "from 1m to 366d",
        ),
        (
            "schedules:\n  a:\n    cron: \"0 9 * *\"\n    instruction: x\n",
            "schedules.a.cron",
        ),
        (
            "schedules:\n  a:\n    cron: \"0 0 30 2 *\"\n    instruction: x\n",
            "matches no time",
        ),
        (
            "schedules:\n  a:\n    every: 1h\n    instruction: x\n    overlap: maybe\n",
            "maybe",
        ),
        (
            "schedules:\n  a:\n    every: 1h\n    instruction: x\n    provider: nosuch\n",
            "nosuch",
        ),
        (
            "schedules:\n  Bad Name:\n    every: 1h\n    instruction: x\n",
            "not a valid schedule name",
        ),
    ];
    for (yaml, says) in cases {
        let repo = Repo::new();
        configure(&repo, yaml);
        let r = run(repo.vnx().args(["schedule", "list"]));
        assert_eq!(r.code, 3, "{yaml}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(says), "{yaml}: {}", r.stderr);
        assert!(r.stderr.contains("config.yaml:"), "{yaml}: {}", r.stderr);
    }
}

const EVERY_30M: &str = "schedules:
  tidy-up:
    every: 30m
    instruction: add a greeting
    provider: demo
    model: commit
";

#[test]
fn an_interval_fires_one_dispatch_per_slot() {
    let repo = Repo::new();
    configure(&repo, EVERY_30M);
    let done = fire(&repo, "2026-12-01T10:05:00Z");
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["action"], "fired", "{done:?}");
    assert_eq!(done[0]["slot"], "2026-12-01T10:00:00Z", "{done:?}");
    let id = done[0]["dispatch_id"].as_str().unwrap().to_owned();
    let fired = repo.events("schedule_fired");
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0]["dispatch_id"], id.as_str());
    assert_eq!(fired[0]["schedule"], "tidy-up");
    assert!(fired[0]["vnx_attestation"].is_object(), "{fired:?}");
    let started = repo.events("dispatch_started");
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0]["dispatch_id"], id.as_str());
    assert_eq!(started[0]["title"], "schedule tidy-up");
    // The same slot again, and a time before the next one: nothing.
    assert!(fire(&repo, "2026-12-01T10:06:00Z").is_empty());
    assert!(fire(&repo, "2026-12-01T10:29:59Z").is_empty());
    assert_eq!(repo.events("dispatch_started").len(), 1);
    // `vnx wait` sees it through: the schedule's dispatch is an ordinary one.
    let r = run(repo.vnx().args(["wait", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    repo.verify_ok();
}

#[test]
fn a_slot_is_skipped_while_the_previous_dispatch_still_runs() {
    let repo = Repo::new();
    configure(
        &repo,
        "schedules:\n  long:\n    every: 1m\n    instruction: x\n    provider: demo\n    model: slow\n",
    );
    let first = fire(&repo, "2026-12-01T10:00:10Z");
    assert_eq!(first[0]["action"], "fired", "{first:?}");
    let id = first[0]["dispatch_id"].as_str().unwrap().to_owned();
    let second = fire(&repo, "2026-12-01T10:01:10Z");
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(second[0]["action"], "skipped", "{second:?}");
    assert_eq!(second[0]["reason"], "overlap", "{second:?}");
    assert_eq!(second[0]["dispatch_id"], id.as_str(), "{second:?}");
    let skipped = repo.events("schedule_skipped");
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0]["reason"], "overlap");
    assert_eq!(skipped[0]["slot"], "2026-12-01T10:01:00Z");
    assert_eq!(repo.events("dispatch_started").len(), 1);
    let r = run(repo.vnx().args(["cancel", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn slots_missed_in_downtime_are_caught_up_once_or_skipped() {
    let repo = Repo::new();
    configure(
        &repo,
        "schedules:
  once:
    every: 30m
    instruction: x
    provider: demo
    model: noop
    overlap: run
  skip:
    every: 30m
    instruction: x
    provider: demo
    model: noop
    overlap: run
    catch_up: skip
",
    );
    let first = fire(&repo, "2026-12-01T10:00:00Z");
    assert_eq!(first.len(), 2, "{first:?}");
    // Down from 10:00 to 13:20: 10:30 to 13:00 passed, six slots, 13:00 twenty minutes late.
    let after = fire(&repo, "2026-12-01T13:20:00Z");
    let of = |name: &str| -> Vec<&serde_json::Value> {
        after.iter().filter(|o| o["schedule"] == name).collect()
    };
    let once = of("once");
    assert_eq!(once.len(), 1, "{after:?}");
    assert_eq!(once[0]["action"], "fired");
    assert_eq!(once[0]["slot"], "2026-12-01T13:00:00Z");
    assert_eq!(once[0]["missed"], 5);
    let skip = of("skip");
    assert_eq!(skip.len(), 1, "{after:?}");
    assert_eq!(skip[0]["action"], "skipped");
    assert_eq!(skip[0]["reason"], "missed");
    assert_eq!(skip[0]["missed"], 5);
    let fired = repo.events("schedule_fired");
    assert_eq!(fired.len(), 3, "{fired:?}");
    assert_eq!(fired[2]["missed"], 5);
    assert_eq!(repo.events("dispatch_started").len(), 3);
    // Down again, back on time: the missed slots are skipped, the one on time fires.
    let back = fire(&repo, "2026-12-01T14:31:00Z");
    let skip: Vec<_> = back.iter().filter(|o| o["schedule"] == "skip").collect();
    assert_eq!(skip.len(), 2, "{back:?}");
    assert_eq!(skip[0]["action"], "skipped");
    assert_eq!(skip[0]["slot"], "2026-12-01T14:00:00Z");
    assert_eq!(skip[1]["action"], "fired");
    assert_eq!(skip[1]["slot"], "2026-12-01T14:30:00Z");
    repo.verify_ok();
}

#[test]
fn status_and_schedule_show_the_next_firing() {
    let repo = Repo::new();
    configure(
        &repo,
        "schedules:
  yearly:
    every: 366d
    instruction: x
    provider: demo
    model: noop
  off:
    cron: \"0 3 * * *\"
    instruction: x
    enabled: false
",
    );
    // Never fired: its newest slot is due now.
    let r = run(repo.vnx().args(["schedule", "list"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("schedule yearly: due now (every 366d)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("schedule off: disabled (cron 0 3 * * *)"),
        "{}",
        r.stdout
    );
    let r = run(repo.vnx().args(["schedule", "run"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("schedule yearly: fired for"),
        "{}",
        r.stdout
    );
    let period = 366 * 86_400;
    let next = (jiff::Timestamp::now().as_second() / period + 1) * period;
    let next = jiff::Timestamp::from_second(next).unwrap();
    let shown = next.strftime("%Y-%m-%d %H:%M UTC").to_string();
    let r = run(repo.vnx().arg("status"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = format!("schedule yearly: next {shown} (every 366d)");
    assert!(r.stdout.contains(&line), "{line}\n{}", r.stdout);
    let r = run(repo.vnx().args(["status", "--json"]));
    let all: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let listed: Vec<_> = all.iter().filter(|v| v["schedule"] == true).collect();
    assert_eq!(listed.len(), 2, "{all:?}");
    let yearly = listed.iter().find(|v| v["name"] == "yearly").unwrap();
    assert_eq!(
        yearly["next"],
        next.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
    assert_eq!(yearly["enabled"], true);
    // Without schedules, status says nothing of them.
    let plain = Repo::new();
    let r = run(plain.vnx().arg("status"));
    assert!(!r.stdout.contains("schedule"), "{}", r.stdout);
}

/// A schedule's dispatch obeys what holds any other: a pause of its provider queues it with
/// the pause's words, and `vnx resume` starts it (issue 71: limits, slots, budgets and
/// pauses apply to it as to `vnx run`'s).
#[test]
fn a_schedules_dispatch_waits_while_its_provider_is_paused() {
    let repo = Repo::new();
    configure(&repo, EVERY_30M);
    let r = run(repo.vnx().args(["pause", "--provider", "demo"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let done = fire(&repo, "2026-12-01T10:05:00Z");
    assert_eq!(done[0]["action"], "fired", "{done:?}");
    let id = done[0]["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(crate::pause::state_of(&repo, &id)["status"], "queued");
    let queued = repo
        .events("queue_decision")
        .into_iter()
        .find(|d| d["dispatch_id"] == id.as_str())
        .unwrap();
    assert!(
        queued["reason"]
            .as_str()
            .unwrap()
            .contains("paused (provider:demo)"),
        "{queued}"
    );
    let r = run(repo.vnx().arg("resume"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(repo.vnx().args(["wait", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    repo.verify_ok();
}

#[test]
fn a_schedule_that_names_a_host_starts_its_dispatch_there() {
    let remote = crate::common::Remote::new();
    let repo = &remote.repo;
    // A host the config does not declare is refused with its line.
    configure(
        repo,
        "schedules:\n  far:\n    every: 1h\n    instruction: x\n    host: nowhere\n",
    );
    let r = run(repo.vnx().args(["schedule", "list"]));
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("schedules.far.host"), "{}", r.stderr);
    let text = std::fs::read_to_string(repo.env.path().join(".vnx/config.yaml")).unwrap();
    let text = text.replace(
        "host: nowhere",
        "host: box\n    provider: demo\n    model: commit",
    );
    std::fs::write(repo.env.path().join(".vnx/config.yaml"), text).unwrap();
    repo.env
        .git(&["commit", "-q", "-am", "the schedule runs on box"]);
    let done = fire(repo, "2026-12-01T10:05:00Z");
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["action"], "fired", "{done:?}");
    let id = done[0]["dispatch_id"].as_str().unwrap().to_owned();
    assert!(
        done[0]["detail"].as_str().unwrap().contains("on box"),
        "{done:?}"
    );
    let r = run(repo.vnx().args(["wait", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(remote.host_has_completion(&id), "it ran on the host");
    let ended: serde_json::Value = serde_json::from_str(
        run(repo.vnx().args(["status", &id, "--json"]))
            .stdout
            .trim(),
    )
    .unwrap();
    assert_eq!(ended[0]["status"], "done", "{ended}");
    assert_eq!(ended[0]["host"], "box", "{ended}");
    let fired = repo.events("schedule_fired");
    assert_eq!(fired[0]["dispatch_id"], id.as_str(), "{fired:?}");
    repo.verify_ok();
}
