//! A night of `vnx pr watch`, simulated (ADR 0093): ten dispatches with pull requests on the
//! scripted forge, CI failing on some (again and again on two), reviewers asking for changes
//! on others, approvals on the rest; the watcher run as repeated `--once` passes, restarted
//! twice as a detached watcher stopped after its pass (rounds 1 and 3), and killed once
//! between a reaction and its act (round 2). At the end every reaction is on the ledger once
//! per (rule, pull request, head), fix attempts are capped by `retries` and the rest
//! escalated once each, and only approved, green pull requests were merged, each at its
//! recorded head.
//!
//! Each pull request's script (`SCRIPTS`) says what the forge does before each pass; a round
//! is a pass. Beside the pull requests, looping workers (the stand-in claude spending tokens
//! call after call) start through the night, each with a budget (ADR 0094): each is stopped
//! at its budget, the one a person raises goes on held to the raised budget with what it
//! spent counted, and the watcher never touches them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::check;
use super::react::{notified, pass, reacting, settle};
use crate::common::forge::ScriptedForge;
use crate::common::{Fakes, Repo, committed, completion, gate_check, run};

/// A worker that loops, spending 600 tokens a call, under a budget of `tokens`: its
/// completion (it ends when its budget stops it).
fn looping(repo: &Repo, fakes: &Fakes, tokens: u64) -> Value {
    let budget = format!("tokens={tokens}");
    let r = fakes.run_vnx(
        repo,
        &[
            "dispatch-agent",
            "--agent",
            "implementer",
            "--provider",
            "claude",
            "--lane",
            "headless",
            "--deadline",
            "120",
            "--json",
            "--budget",
            &budget,
            "--instruction",
            "loop\n@fake spend 600\n@fake sleep 2\n@fake spend 600\n@fake sleep 2\n\
             @fake spend 600\n@fake sleep 2\n@fake spend 600\n@fake sleep 2\n\
             @fake spend 600\n@fake sleep 60\n\
             @fake run vnx report --status done --summary never",
        ],
    );
    completion(&r)
}

/// What the forge says of one pull request at a pass.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Forge {
    /// Nothing new.
    Quiet,
    /// The check on the head fails.
    Fails,
    /// The check on the head passes.
    Passes,
    /// The check passes and a reviewer approves.
    Approved,
    /// A reviewer asks for changes on the head.
    ChangesRequested,
}

/// The ten pull requests' scripts: what the forge does before each pass.
const SCRIPTS: [&[Forge]; 10] = {
    use Forge::*;
    [
        &[Approved],
        &[Approved],
        &[Quiet, Approved],
        &[Fails, Fails, Fails, Quiet],
        &[Fails, Fails, Fails, Quiet],
        &[ChangesRequested, Approved],
        &[ChangesRequested, ChangesRequested, Quiet],
        &[Fails, Passes, Quiet],
        &[Quiet, Quiet],
        &[Passes, Quiet, Approved],
    ]
};

struct Pr {
    number: u64,
    script: &'static [Forge],
}

fn apply(forge: &ScriptedForge, number: u64, what: Forge) {
    match what {
        Forge::Quiet => {}
        Forge::Fails => check(forge, number, "ci", "failure", "error: boom"),
        Forge::Passes => check(forge, number, "ci", "success", "ok"),
        Forge::Approved => {
            check(forge, number, "ci", "success", "ok");
            forge.control(
                "review",
                Some(json!({"pr": number, "author": "rev", "state": "APPROVED", "body": "ok"})),
            );
        }
        Forge::ChangesRequested => {
            forge.control(
                "review",
                Some(
                    json!({"pr": number, "author": "rev", "state": "CHANGES_REQUESTED",
                            "body": "Say hello, not hi."}),
                ),
            );
        }
    }
}

/// Waits for every follow-up the pass started to end and update its pull request.
fn settle_all(repo: &Repo, outcomes: &[Value]) {
    for o in outcomes {
        if o["done"] == "follow_up" {
            settle(repo, o["id"].as_str().unwrap());
        }
    }
}

/// A done, gated dispatch with its pull request opened against `base` (pushed from `main`
/// first): (id, number, head).
fn opened_on(repo: &Repo, forge: &ScriptedForge, base: &str) -> (String, u64, String) {
    repo.env
        .git(&["push", "-q", "origin", &format!("main:refs/heads/{base}")]);
    let id = committed(repo, "implementer");
    let (r, report) = gate_check(repo, &id);
    assert_eq!(r.code, 0, "{report:#}");
    let (r, opened) = super::pr_json(repo, forge, &["open", &id, "--base", base]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let head = opened["head_commit"].as_str().unwrap().to_owned();
    (id, opened["number"].as_u64().unwrap(), head)
}

/// One pass by a detached watcher: started, waited for until its first pass is noted, stopped.
fn detached_pass(repo: &Repo, forge: &ScriptedForge) -> Vec<Value> {
    let note = repo.env.path().join(".vnx-data/forge/watch.json");
    let _ = std::fs::remove_file(&note);
    let _ = std::fs::remove_file(repo.env.path().join(".vnx-data/forge/cache.json"));
    let before = repo.events("pr_reaction").len() + repo.events("pr_escalated").len();
    let r = super::pr(repo, forge, &["watch", "--detach", "--interval", "3600"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // Up to 60 s: a detached watcher's first pass (tmux, a read of every pull request) is
    // slow on a loaded machine.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !note.exists() {
        assert!(
            std::time::Instant::now() < until,
            "the detached watcher made no pass"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let r = super::pr(repo, forge, &["watch", "--stop"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // What it did, read back from the ledger, as the outcomes of a pass.
    let mut done = Vec::new();
    for r in repo
        .events("pr_reaction")
        .into_iter()
        .chain(repo.events("pr_escalated"))
    {
        done.push(r);
    }
    done.drain(..before.min(done.len()));
    done.into_iter()
        .filter(|r| r["event_type"] == "pr_reaction" && r["action"] == "fix")
        .map(|r| json!({"number": r["number"], "done": "follow_up", "id": r["follow_up"]}))
        .collect()
}

/// A pass killed at its first reaction's step, then the pass that finishes it.
fn killed_pass(repo: &Repo, forge: &ScriptedForge) -> Vec<Value> {
    let _ = std::fs::remove_file(repo.env.path().join(".vnx-data/forge/cache.json"));
    let log = tempfile::tempdir().unwrap();
    let mut cmd = forge.vnx(repo);
    cmd.args(["pr", "watch", "--once"])
        .env("VNX_CRASH_AT", "pr_react:reaction_written@1")
        .env("VNX_CRASH_LOG", log.path().join("crash.log"));
    run(cmd);
    let mut out = pass(repo, forge);
    // The killed pass's own reaction, finished now, is among these.
    out.retain(|o| o["done"] != "nothing");
    out
}

#[test]
fn a_night_of_reactions_acts_once_each_caps_retries_and_merges_only_approved_green() {
    let (repo, forge) = reacting();
    // Each pull request merges into a base of its own: the demo workers all write the same
    // file, and one merge must not make the next conflict.
    let prs: Vec<Pr> = SCRIPTS
        .iter()
        .enumerate()
        .map(|(i, script)| {
            let (_, number, _) = opened_on(&repo, &forge, &format!("night-{i}"));
            Pr { number, script }
        })
        .collect();
    let rounds = SCRIPTS.iter().map(|s| s.len()).max().unwrap() + 1;
    let fakes = Fakes::new();
    let mut loopers: Vec<(Value, u64)> = Vec::new();
    for round in 0..rounds {
        // A looping worker on a budget starts this round; the one of round 1 is raised.
        if round % 2 == 0 {
            let limit = 1000 + 250 * round as u64;
            loopers.push((looping(&repo, &fakes, limit), limit));
        }
        if round == 1 {
            let id = loopers[0].0["dispatch_id"].as_str().unwrap().to_owned();
            let r = fakes.run_vnx(&repo, &["approve", &id, "--budget", "+2000"]);
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
        for pr in &prs {
            if let Some(what) = pr.script.get(round) {
                apply(&forge, pr.number, *what);
            }
        }
        let outcomes = match round {
            1 | 3 => detached_pass(&repo, &forge),
            2 => killed_pass(&repo, &forge),
            _ => pass(&repo, &forge),
        };
        settle_all(&repo, &outcomes);
    }
    // Two quiet passes at the end: nothing more is due.
    for _ in 0..2 {
        let outcomes = pass(&repo, &forge);
        assert!(
            outcomes.iter().all(|o| o["done"] == "nothing"),
            "{outcomes:#?}"
        );
    }

    let reactions = repo.events("pr_reaction");
    let escalations = repo.events("pr_escalated");
    let merged = repo.events("pr_merged");
    let opened_all = repo.events("pr_opened");
    let key = |r: &Value| {
        (
            r["rule"].as_str().unwrap().to_owned(),
            r["number"].as_u64().unwrap(),
            r["head_commit"].as_str().unwrap().to_owned(),
        )
    };
    // Once per (rule, pull request, head).
    let mut seen = BTreeSet::new();
    for r in &reactions {
        assert!(seen.insert(key(r)), "twice: {r}");
        assert!(r["vnx_attestation"].is_object());
    }
    let mut seen = BTreeSet::new();
    for e in &escalations {
        assert!(seen.insert(key(e)), "escalated twice: {e}");
    }
    // Each fix's follow-up started once.
    let started = repo.events("dispatch_started");
    for r in reactions.iter().filter(|r| r["action"] == "fix") {
        let id = &r["follow_up"];
        assert_eq!(
            started.iter().filter(|s| s["dispatch_id"] == *id).count(),
            1,
            "{r}"
        );
    }
    // Retries capped: at most 2 check fixes and 1 review fix per pull request.
    let mut attempts: BTreeMap<(u64, String), usize> = BTreeMap::new();
    for r in reactions.iter().filter(|r| r["action"] == "fix") {
        *attempts
            .entry((
                r["number"].as_u64().unwrap(),
                r["rule"].as_str().unwrap().into(),
            ))
            .or_default() += 1;
    }
    for ((n, rule), count) in &attempts {
        let cap = if rule == "checks_failed" { 2 } else { 1 };
        assert!(*count <= cap, "#{n} {rule}: {count} attempts");
    }
    let number = |i: usize| prs[i].number;
    let escalated: BTreeSet<u64> = escalations
        .iter()
        .map(|e| e["number"].as_u64().unwrap())
        .collect();
    let expected_escalated: BTreeSet<u64> = [3, 4, 6].into_iter().map(number).collect();
    assert_eq!(escalated, expected_escalated, "{escalations:#?}");
    assert_eq!(attempts.get(&(number(3), "checks_failed".into())), Some(&2));
    assert_eq!(
        attempts.get(&(number(6), "changes_requested".into())),
        Some(&1)
    );
    // Merged: exactly the approved and green ones, each at its recorded head.
    let merged_numbers: BTreeSet<u64> = merged
        .iter()
        .map(|m| m["number"].as_u64().unwrap())
        .collect();
    let expected_merged: BTreeSet<u64> = [0, 1, 2, 5, 9].into_iter().map(number).collect();
    assert_eq!(merged_numbers, expected_merged);
    for m in &merged {
        let last = opened_all
            .iter()
            .rfind(|o| o["number"] == m["number"])
            .unwrap();
        assert_eq!(m["head_commit"], last["head_commit"], "{m}");
        assert_eq!(m["by_vnx"], true, "{m}");
    }
    // Every escalation told once, and its dispatch waits for a person.
    let told = notified(&repo)
        .into_iter()
        .filter(|l| l.starts_with("pr_escalated"))
        .count();
    assert_eq!(told, escalations.len());
    let mut cmd = repo.vnx();
    cmd.args(["status", "--json"]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let waiting = r.stdout.matches("\"escalated\"").count();
    assert_eq!(waiting, escalations.len(), "{}", r.stdout);

    // Every budget held: each looping worker stopped at its budget (one signed
    // `budget_reached` each, within one call's spend of the limit), not done, its worktree
    // kept; the raised one went on in a follow-up held to the raised budget, with what it
    // had spent counted; the watcher reacted to none of them.
    assert_eq!(loopers.len(), rounds.div_ceil(2));
    for (c, limit) in &loopers {
        let id = c["dispatch_id"].as_str().unwrap();
        assert_eq!(c["status"], "needs_input", "{c:#}");
        let reached: Vec<Value> = repo
            .receipts(id)
            .into_iter()
            .filter(|r| r["event_type"] == "budget_reached")
            .collect();
        assert_eq!(reached.len(), 1, "{id}: {reached:#?}");
        let used = reached[0]["tokens_used"].as_u64().unwrap();
        assert!(
            (*limit..limit + 600).contains(&used),
            "{id}: {used} of {limit}"
        );
        assert!(reactions.iter().all(|r| r["dispatch_id"] != id));
    }
    let first = loopers[0].0["dispatch_id"].as_str().unwrap();
    let raised = repo.events("budget_raised");
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!(raised[0]["dispatch_id"], first);
    let next = started
        .iter()
        .find(|s| s["continues"]["dispatch_id"] == first)
        .expect("the raised worker goes on");
    assert_eq!(next["budget"]["tokens"], 3000, "{next:#}");
    assert!(next["budget"]["spent_before"].as_u64().unwrap() >= 1000);
    repo.verify_ok();
}
