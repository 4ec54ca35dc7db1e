//! The JSON members each command prints are the ones `docs/json.md` documents.

use std::collections::BTreeSet;

use crate::common::{Repo, completion, repo_dir, run};

/// The member names listed between `<!-- NAME -->` and `<!-- /NAME -->` in docs/json.md.
fn documented(name: &str) -> BTreeSet<String> {
    let doc = std::fs::read_to_string(repo_dir().join("docs/json.md")).unwrap();
    let start = doc.find(&format!("<!-- {name} -->")).unwrap();
    let end = doc.find(&format!("<!-- /{name} -->")).unwrap();
    let mut names = BTreeSet::new();
    for chunk in doc[start..end].split('`').skip(1).step_by(2) {
        if chunk.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !chunk.is_empty() {
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
    // Present only while blocked.
    shown.insert("blocked".into());
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
    ] {
        doc.remove(value);
    }
    assert_eq!(shown, doc);
}
