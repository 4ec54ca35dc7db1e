//! The JSON members each command prints are the ones `docs/json.md` documents.

use std::collections::BTreeSet;

use crate::common::{Repo, completion, repo_dir, run};

/// The member names listed between `<!-- NAME -->` and `<!-- /NAME -->` in docs/json.md.
pub(crate) fn documented(name: &str) -> BTreeSet<String> {
    let doc = std::fs::read_to_string(repo_dir().join("docs/json.md")).unwrap();
    let start = doc.find(&format!("<!-- {name} -->")).unwrap();
    let end = doc.find(&format!("<!-- /{name} -->")).unwrap();
    let mut names = BTreeSet::new();
    for chunk in doc[start..end].split('`').skip(1).step_by(2) {
        if chunk
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !chunk.is_empty()
        {
            names.insert(chunk.to_owned());
        }
    }
    names
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn status_and_launch_print_the_documented_members() {
    let repo = Repo::new();
    let launched = run(repo
        .dispatch_cmd("ask")
        .args(["--instruction", "x", "--detach", "--json"]));
    let launched = completion(&launched);
    assert_eq!(keys(&launched), documented("launched-members"));
    let id = launched["dispatch_id"].as_str().unwrap().to_owned();
    run(repo.vnx().args(["wait", &id]));
    let r = run(repo.vnx().args(["status", "--json"]));
    let all: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let mut shown = keys(&all[0]);
    // Present only while blocked, and only for a dispatch that was queued.
    shown.insert("blocked".into());
    shown.insert("queue".into());
    // Present only for a dispatch on a remote host (tests/it/remote.rs).
    shown.insert("host".into());
    // Present only for a dispatch that asked a question (tests/it/questions.rs).
    shown.insert("question".into());
    // Present only for a dispatch whose work was accepted (tests/it/accept.rs).
    shown.insert("accepted".into());
    // Present only for a dispatch whose prompts were denied (tests/it/posture.rs, fake.rs).
    shown.insert("denials".into());
    shown.insert("cli_denials".into());
    // Present only for the planning step of a dispatch of `--plan` (tests/it/plan.rs).
    shown.insert("planning".into());
    shown.insert("plan_sha256".into());
    let mut doc = documented("status-members");
    // Words in the prose that are values, not members.
    for value in [
        "running",
        "stalled",
        "lost",
        "done",
        "failed",
        "timeout",
        "cancelled",
        "merged",
        "released",
        "needs_input",
        "clean",
        "committed",
        "pushed",
        "dirty",
        "dispatch_blocked",
        "unverified",
    ] {
        doc.remove(value);
    }
    assert_eq!(shown, doc);
}

#[test]
fn wait_prints_the_completion_beside_its_correction() {
    let repo = Repo::new();
    // An implementer that changes nothing reports done; the phantom guard corrects that.
    let r = repo.dispatch("noop", &["--instruction", "do nothing"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let settled: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let mut doc = documented("wait-members");
    // Words in the prose that are values, not members.
    for value in [
        "done",
        "failed",
        "lost",
        "unknown",
        "running",
        "dispatch_completed",
        "dispatch_corrected",
        "dispatch_blocked",
    ] {
        doc.remove(value);
    }
    assert_eq!(keys(&settled), doc);
    assert_eq!(settled["status"], "failed", "the correction decides");
    assert_eq!(settled["completion"]["event_type"], "dispatch_completed");
    assert_eq!(
        settled["completion"]["status"], "done",
        "what the worker said"
    );
    assert_eq!(settled["correction"]["event_type"], "dispatch_corrected");
    assert!(settled["blocked"].is_null());
    // Both receipts are embedded byte for byte as the ledger holds them.
    let id = settled["dispatch_id"].as_str().unwrap();
    let ledger = std::fs::read_to_string(crate::common::ledger_path(&repo)).unwrap();
    for event in ["dispatch_completed", "dispatch_corrected"] {
        let line = ledger
            .lines()
            .find(|l| l.contains(event) && l.contains(id))
            .unwrap();
        assert!(r.stdout.contains(line), "{event} verbatim: {}", r.stdout);
    }
    let again = run(repo.vnx().args(["wait", id, "--json"]));
    assert_eq!(
        again.stdout, r.stdout,
        "wait prints what the dispatch printed"
    );
}

#[test]
fn walk_names_the_event_as_every_receipt_does() {
    let repo = Repo::new();
    run(repo.dispatch_cmd("ask").args(["--instruction", "x"]));
    let r = run(repo.vnx().args(["audit-chain", "walk", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first: serde_json::Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(keys(&first), documented("walk-members"));
    assert!(
        r.stdout.contains(r#""event_type":"dispatch_started""#),
        "{}",
        r.stdout
    );
}

#[test]
fn clean_json_says_what_was_discarded() {
    let repo = Repo::new();
    let r = repo.dispatch("commit", &["--instruction", "x"]);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let r = run(repo.vnx().args(["clean", &id, "--yes", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(all.len(), 1, "{}", r.stdout);
    assert_eq!(all[0]["dispatch_id"], id.as_str());
    assert_eq!(all[0]["done"]["branch_deleted"], true, "{}", r.stdout);
    assert!(
        all[0]["done"]["receipt_seq"].as_u64().is_some(),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("to discard"), "{}", r.stderr);
    let r = run(repo
        .vnx()
        .args(["clean", "--class", "dirty", "--yes", "--json"]));
    assert_eq!(r.stdout.trim(), "[]");
}

#[test]
fn cost_prints_the_documented_members() {
    let repo = Repo::new();
    run(repo.dispatch_cmd("commit").args(["--instruction", "x"]));
    let r = run(repo.vnx().args(["cost", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        keys(&v),
        ["budgets", "by", "groups"].map(str::to_owned).into()
    );
    assert_eq!(keys(&v["groups"][0]), documented("cost-group-members"));
}

#[test]
fn every_other_json_command_prints_its_documented_members() {
    let repo = Repo::new();
    crate::common::configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let r = repo.dispatch("commit", &["--instruction", "x"]);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let json = |args: &[&str]| -> serde_json::Value {
        let r = run(repo.vnx().args(args));
        serde_json::from_str(r.stdout.trim())
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {} {}", r.stdout, r.stderr))
    };
    // `show`: the status members and its own.
    let shown = keys(&json(&["show", &id, "--json"]));
    let status = keys(&json(&["status", &id, "--json"])[0]);
    let own: BTreeSet<String> = shown.difference(&status).cloned().collect();
    assert_eq!(own, documented("show-members"));
    for (args, doc) in [
        (vec!["gate-check", &id, "--json"], "gate-check-members"),
        (vec!["doctor", "--json"], "doctor-members"),
        (vec!["audit-chain", "verify", "--json"], "verify-members"),
        (vec!["constraints", "list", "--json"], "constraints-members"),
        (vec!["worktree-release", "--json"], "release-members"),
        (vec!["merge", &id, "--json"], "merge-members"),
        (vec!["review", &id, "--json"], "review-members"),
        (
            vec!["memory", "show", &id, "--json"],
            "memory-proposal-members",
        ),
    ] {
        assert_eq!(keys(&json(&args)), documented(doc), "{args:?}");
    }
    assert_eq!(
        keys(&json(&["constraints", "list", "--json"])["egress"]),
        documented("constraints-egress-members")
    );
    // `cancel --json` prints what `wait --json` prints.
    let r = repo.dispatch("slow", &["--instruction", "x", "--detach"]);
    let slow: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let slow = slow["dispatch_id"].as_str().unwrap();
    let cancelled = json(&["cancel", slow, "--json"]);
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["completion"]["event_type"], "dispatch_completed");
    let members = [
        "dispatch_id",
        "status",
        "completion",
        "correction",
        "blocked",
        "queue",
    ];
    assert_eq!(keys(&cancelled), members.map(str::to_owned).into());
}
