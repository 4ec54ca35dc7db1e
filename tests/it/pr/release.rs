//! `worktree-release` after a merge on the forge: a squash merge is in no local history and
//! the forge deleted the branch, so only the attested `pr_merged` proves the work landed.

use serde_json::{Value, json};

use super::{check, gated, pr, pr_json};
use crate::common::{Repo, run};

fn release(repo: &Repo, apply: bool) -> Value {
    let mut cmd = repo.vnx();
    cmd.args(["worktree-release", "--json"]);
    if apply {
        cmd.arg("--apply");
    }
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    serde_json::from_str(r.stdout.trim()).unwrap()
}

fn item<'v>(plan: &'v Value, id: &str) -> &'v Value {
    plan["items"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["dispatch_id"] == id))
        .unwrap_or_else(|| panic!("{id} not in {plan:#}"))
}

#[test]
fn a_pull_request_merged_on_the_forge_proves_the_branch_landed() {
    let (repo, forge, id, head) = gated();
    let (r, opened) = pr_json(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let number = opened["number"].as_u64().unwrap();
    // Pushed and open, not merged: the forge's branch is not reachable as `origin`, so not
    // provably anywhere.
    let before = release(&repo, false);
    assert_eq!(item(&before, &id)["class"], "unlanded", "{before:#}");

    check(&forge, number, "ci", "success", "ok");
    forge.control(
        "review",
        Some(json!({"pr": number, "author": "rev", "state": "APPROVED", "body": "ok"})),
    );
    let r = pr(&repo, &forge, &["merge", &id]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let merge_commit = forge.branch("main").unwrap();
    // The local main does not have the squash commit.
    let local = repo.env.git(&["rev-parse", "main"]);
    assert_ne!(local.trim(), merge_commit);

    let plan = release(&repo, false);
    let it = item(&plan, &id);
    assert_eq!(it["class"], "landed", "{plan:#}");
    assert_eq!(it["evidence"]["rule"], "pr_merged", "{it:#}");
    assert_eq!(it["evidence"]["pull_request"], number);
    assert_eq!(it["evidence"]["merge_commit"], merge_commit.as_str());
    assert_eq!(it["evidence"]["tip"], head.as_str());
    assert!(
        it["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("#{number}")),
        "{it:#}"
    );

    let done = release(&repo, true);
    let it = item(&done, &id);
    assert_eq!(it["done"]["branch_deleted"], true, "{it:#}");
    let released = repo.events("worktree_released");
    assert_eq!(released.len(), 1, "{released:?}");
    assert_eq!(released[0]["evidence"]["rule"], "pr_merged");
    assert_eq!(released[0]["evidence"]["pull_request"], number);
    repo.verify_ok();
}

#[test]
fn an_unsigned_pr_merged_proves_nothing() {
    let (repo, _forge, id, head) = gated();
    // A worker could append this line; no trusted key signed it.
    let line = json!({"event_type": "pr_merged", "dispatch_id": id, "number": 1,
        "url": "https://github.com/o/r/pull/1", "repo": "o/r", "branch": format!("dispatch/{id}"),
        "head_commit": head, "merge_commit": head, "base": "main", "method": "squash",
        "by_vnx": true, "timestamp": "2026-01-01T00:00:00Z"});
    let ledger = crate::common::ledger_path(&repo);
    let mut text = std::fs::read_to_string(&ledger).unwrap();
    text.push_str(&format!("{line}\n"));
    std::fs::write(&ledger, text).unwrap();
    let plan = release(&repo, false);
    assert_eq!(item(&plan, &id)["class"], "unlanded", "{plan:#}");
}
