//! The read index (ADR 0045) and pull requests: each dispatch's pull-request receipts are in
//! the index (format 8), so `status` and `show` answer a dispatch's pull request without a
//! pass over the ledger, the same as with the ledger read whole; a `pr_opened` appended
//! after the index is folded on top of it (its git `remote` is not a host's mirrored line);
//! an index an older vnx left is rebuilt.

use serde_json::{Value, json};

use super::{gated, pr_json};
use crate::common::forge::ScriptedForge;
use crate::common::{Repo, run};

fn index_dir(repo: &Repo) -> std::path::PathBuf {
    repo.env.path().join(".vnx-data/index")
}

/// `vnx status ID --json --no-forge`: the dispatch's object.
fn status_of(repo: &Repo, forge: &ScriptedForge, id: &str) -> Value {
    let mut cmd = forge.vnx(repo);
    cmd.args(["status", id, "--json", "--no-forge"]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    v[0].clone()
}

/// `vnx show ID --json --no-forge`: its `pr`.
fn shown_pr(repo: &Repo, forge: &ScriptedForge, id: &str) -> Value {
    let mut cmd = forge.vnx(repo);
    cmd.args(["show", id, "--json", "--no-forge"]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    v["pr"].clone()
}

#[test]
fn pull_requests_read_through_the_index_as_through_the_whole_ledger() {
    let (repo, forge, id, head) = gated();
    // An index an older vnx left (format 7, no pull requests) is removed and rebuilt.
    let older = index_dir(&repo).join("dispatches.v7");
    std::fs::create_dir_all(older.parent().unwrap()).unwrap();
    std::fs::write(&older, b"VNXRIX07...").unwrap();
    let before = status_of(&repo, &forge, &id);
    assert!(before.get("pr").is_none(), "{before:#}");
    assert!(!older.exists());
    assert!(index_dir(&repo).join("dispatches.v21").is_file());

    let (r, opened) = pr_json(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let number = opened["number"].as_u64().unwrap();
    // Read right after the `pr_opened`: through the index, the new line folded on top.
    let through = status_of(&repo, &forge, &id);
    assert_eq!(
        through["verified_from"], "read_index",
        "a pr_opened after the index made the read whole: {through:#}"
    );
    let pr = &through["pr"];
    assert_eq!(pr["number"], number, "{through:#}");
    assert_eq!(pr["recorded_head"], head.as_str());
    assert_eq!(pr["url"], opened["url"]);
    assert_eq!(shown_pr(&repo, &forge, &id), *pr);

    // Merged on the forge by a person: recorded by a read, then read through the index.
    forge.control(
        "merge",
        Some(json!({"pr": number, "author": "maintainer", "method": "merge"})),
    );
    let mut cmd = forge.vnx(&repo);
    cmd.args(["status", &id, "--refresh"]);
    assert_eq!(run(cmd).code, 0);
    assert_eq!(repo.events("pr_merged").len(), 1);
    let merged = status_of(&repo, &forge, &id);
    assert_eq!(merged["pr"]["state"], "merged", "{merged:#}");

    // The same with the ledger read whole (no index to begin with).
    let indexed = (merged["pr"].clone(), shown_pr(&repo, &forge, &id));
    std::fs::remove_dir_all(index_dir(&repo)).unwrap();
    let whole = status_of(&repo, &forge, &id);
    assert_ne!(whole["verified_from"], "read_index", "{whole:#}");
    assert_eq!(whole["pr"], indexed.0);
    std::fs::remove_dir_all(index_dir(&repo)).unwrap();
    assert_eq!(shown_pr(&repo, &forge, &id), indexed.1);
}
