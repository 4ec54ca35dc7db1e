//! `vnx prune`: old dispatch and gate directories go once nothing needs them; what an open
//! dispatch, a preserved worktree or branch still reads stays, whatever its age.

use std::path::{Path, PathBuf};

use crate::common::{Repo, completion, run};

/// Makes everything under `dir` look untouched for `days` days.
fn age(dir: &Path, days: u32) {
    let when = format!("{days} days ago");
    let status = std::process::Command::new("find")
        .arg(dir)
        .args(["-exec", "touch", "-h", "-d", &when, "{}", "+"])
        .status()
        .unwrap();
    assert!(status.success());
}

fn dispatches(repo: &Repo) -> PathBuf {
    repo.env.path().join(".vnx-data/dispatches")
}

#[test]
fn prunes_only_old_directories_nothing_needs() {
    let repo = Repo::new();
    // Committed work: its branch (and locked worktree) is preserved, so its files stay.
    let kept = completion(&repo.dispatch("commit", &["--instruction", "keep me"]));
    let kept = kept["dispatch_id"].as_str().unwrap().to_owned();
    // A reviewer that changed nothing: clean teardown, worktree and branch gone.
    let gone = completion(&repo.dispatch_as("reviewer", "ask", &["--instruction", "look"]));
    assert_eq!(gone["teardown_class"], "clean", "{gone}");
    let gone = gone["dispatch_id"].as_str().unwrap().to_owned();
    // A gate run of it, and a directory a launcher left without ever starting.
    let gates = repo
        .env
        .path()
        .join(".vnx-data/gates")
        .join(&gone)
        .join("run-1");
    std::fs::create_dir_all(&gates).unwrap();
    std::fs::write(gates.join("gate.log"), "ok\n").unwrap();
    let stray = dispatches(&repo).join("D-0badf00d");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("instruction.md"), "never ran\n").unwrap();
    // A young one, just ended: too new to prune.
    let young = completion(&repo.dispatch_as("reviewer", "ask", &["--instruction", "again"]));
    let young = young["dispatch_id"].as_str().unwrap().to_owned();
    for dir in [
        dispatches(&repo).join(&kept),
        dispatches(&repo).join(&gone),
        repo.env.path().join(".vnx-data/gates"),
        stray.clone(),
    ] {
        age(&dir, 40);
    }

    let r = run(repo
        .vnx()
        .args(["prune", "--older-than", "30d", "--dry-run", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let ids = |key: &str| -> Vec<String> {
        let mut v: Vec<String> = plan[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["dispatch_id"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    let mut expected = vec!["D-0badf00d".to_owned(), gone.clone()];
    expected.sort();
    assert_eq!(ids("prune"), expected, "{plan}");
    assert_eq!(ids("kept"), vec![kept.clone()], "{plan}");
    assert!(
        plan["kept"][0]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("dispatch/{kept}")),
        "{plan}"
    );
    assert!(
        dispatches(&repo).join(&gone).is_dir(),
        "a dry run removes nothing"
    );

    // Without a terminal to ask on and without --yes, nothing happens.
    let r = run(repo.vnx().args(["prune", "--older-than", "30d"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    assert!(dispatches(&repo).join(&gone).is_dir());

    let r = run(repo.vnx().args(["prune", "--older-than", "30d", "--yes"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!dispatches(&repo).join(&gone).exists(), "{}", r.stdout);
    assert!(!gates.exists(), "its gate runs go with it");
    assert!(!stray.exists());
    assert!(
        dispatches(&repo).join(&kept).is_dir(),
        "preserved work keeps its files"
    );
    assert!(dispatches(&repo).join(&young).is_dir(), "too young");

    // The ledger still holds every receipt, and still verifies.
    let r = run(repo.vnx().args(["status", "--json"]));
    assert!(r.stdout.contains(&gone), "{}", r.stdout);
    let r = run(repo.vnx().args(["audit-chain", "verify"]));
    assert_eq!(r.code, 0, "{}", r.stdout);

    // Once its work is discarded on purpose, the kept one can go too.
    let r = run(repo.vnx().args(["clean", &kept, "--yes"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    age(&dispatches(&repo).join(&kept), 40);
    let r = run(repo.vnx().args(["prune", "--older-than", "30d", "--yes"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!dispatches(&repo).join(&kept).exists(), "{}", r.stdout);
}

#[test]
fn a_running_dispatch_is_never_pruned() {
    let repo = Repo::new();
    let r = repo.dispatch("slow", &["--instruction", "x", "--detach"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let launched: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = launched["dispatch_id"].as_str().unwrap().to_owned();
    // Once the worker has said what it does, nothing writes there for an hour.
    let log = dispatches(&repo).join(&id).join("worker.log");
    assert!(crate::common::wait_for(|| {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("working for an hour"))
    }));
    age(&dispatches(&repo).join(&id), 40);
    let r = run(repo
        .vnx()
        .args(["prune", "--older-than", "1d", "--dry-run", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(plan["prune"], serde_json::json!([]), "{plan}");
    // Kept as running, unless its worker wrote since it was aged (then it is simply young).
    if let Some(kept) = plan["kept"].as_array().and_then(|k| k.first()) {
        assert_eq!(kept["dispatch_id"], id.as_str(), "{plan}");
    }
    let r = run(repo.vnx().args(["prune", "--older-than", "1d", "--yes"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dispatches(&repo).join(&id).join("spec.json").is_file());
    run(repo.vnx().args(["cancel", &id]));
}

#[test]
fn a_follow_up_keeps_its_files_while_its_chains_branch_lives() {
    let repo = Repo::new();
    let first = completion(&repo.dispatch("commit", &["--instruction", "one"]));
    let first = first["dispatch_id"].as_str().unwrap().to_owned();
    let r = run(repo
        .vnx()
        .args(["follow-up", &first, "--instruction", "two", "--json"]));
    let next = completion(&r);
    let next = next["dispatch_id"].as_str().unwrap().to_owned();
    // Its supervisor holds its lock until it has done what follows the completion.
    assert!(repo.server.sessions_end());
    assert!(!repo.branches().contains(&format!("dispatch/{next}")));
    age(&dispatches(&repo).join(&next), 40);
    let r = run(repo
        .vnx()
        .args(["prune", "--older-than", "30d", "--dry-run", "--json"]));
    let plan: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(plan["prune"], serde_json::json!([]), "{plan}");
    assert_eq!(plan["kept"][0]["dispatch_id"], next.as_str(), "{plan}");
    assert!(
        plan["kept"][0]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("dispatch/{first}")),
        "it works on the first dispatch's branch: {plan}"
    );
}
