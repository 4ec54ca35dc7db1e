//! `vnx pr watch` killed between a reaction's signed `pr_reaction` and its act (ADR 0093):
//! for a fix, the next pass starts the follow-up the receipt names, exactly once; for a
//! merge, the next pass merges and records `pr_merged`, exactly once. No reaction is written
//! twice.

use serde_json::json;

use super::{Kill, steps_of};
use crate::pr::check;
use crate::pr::react::{of, opened, pass, reacting, settle};

#[test]
fn a_watcher_killed_after_its_reaction_is_finished_once_by_the_next_pass() {
    for step in steps_of("pr_react") {
        // A fix: the follow-up the receipt names is started by the rerun.
        let (repo, forge) = reacting();
        let (_, number, _) = opened(&repo, &forge);
        check(&forge, number, "ci", "failure", "error: boom");
        let _ = std::fs::remove_file(repo.env.path().join(".vnx-data/forge/cache.json"));
        let kill = Kill::at(&repo, step);
        let mut cmd = forge.vnx(&repo);
        cmd.args(["pr", "watch", "--once"]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        let written = repo.events("pr_reaction");
        assert_eq!(written.len(), 1, "{step}");
        let named = written[0]["follow_up"].as_str().unwrap().to_owned();
        assert!(
            repo.events("dispatch_started")
                .iter()
                .all(|s| s["dispatch_id"] != named.as_str())
        );
        let o = of(&pass(&repo, &forge), number);
        assert_eq!(o["due"], "finish", "{step}: {o:#}");
        assert_eq!(o["id"], named.as_str(), "{step}: {o:#}");
        settle(&repo, &named);
        let o = of(&pass(&repo, &forge), number);
        assert_ne!(o["done"], "follow_up", "{step}: {o:#}");
        let started: Vec<_> = repo
            .events("dispatch_started")
            .into_iter()
            .filter(|s| s["dispatch_id"] == named.as_str())
            .collect();
        assert_eq!(started.len(), 1, "{step}");
        assert_eq!(repo.events("pr_reaction").len(), 1, "{step}");
        repo.verify_ok();

        // A merge: the rerun merges and records it.
        let (repo, forge) = reacting();
        let (_, number, head) = opened(&repo, &forge);
        check(&forge, number, "ci", "success", "ok");
        forge.control(
            "review",
            Some(json!({"pr": number, "author": "rev", "state": "APPROVED", "body": "ok"})),
        );
        let kill = Kill::at(&repo, step);
        let mut cmd = forge.vnx(&repo);
        cmd.args(["pr", "watch", "--once"]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        assert_eq!(repo.events("pr_reaction").len(), 1, "{step}");
        assert!(repo.events("pr_merged").is_empty(), "{step}");
        let o = of(&pass(&repo, &forge), number);
        assert_eq!(o["due"], "finish", "{step}: {o:#}");
        assert_eq!(o["done"], "merged", "{step}: {o:#}");
        let merged = repo.events("pr_merged");
        assert_eq!(merged.len(), 1, "{step}");
        assert_eq!(merged[0]["head_commit"], head.as_str());
        assert!(pass(&repo, &forge).is_empty(), "{step}");
        assert_eq!(repo.events("pr_reaction").len(), 1, "{step}");
        assert_eq!(repo.events("pr_merged").len(), 1, "{step}");
        repo.verify_ok();
    }
}

/// The watcher's merge killed once the forge merged, before its receipt: the next pass
/// records the merge as vnx's own (`by_vnx`), by the intent the merge noted.
#[test]
fn a_watchers_merge_killed_after_the_merge_is_recorded_as_vnx_s() {
    let step = vnx::steps::pr_merge::MERGED;
    let (repo, forge) = reacting();
    let (_, number, head) = opened(&repo, &forge);
    check(&forge, number, "ci", "success", "ok");
    forge.control(
        "review",
        Some(json!({"pr": number, "author": "rev", "state": "APPROVED", "body": "ok"})),
    );
    let _ = std::fs::remove_file(repo.env.path().join(".vnx-data/forge/cache.json"));
    let kill = Kill::at(&repo, step);
    let mut cmd = forge.vnx(&repo);
    cmd.args(["pr", "watch", "--once"]);
    kill.run_killed(cmd);
    kill.check_ledger(&repo);
    assert_eq!(repo.events("pr_reaction").len(), 1);
    assert!(repo.events("pr_merged").is_empty());
    let o = of(&pass(&repo, &forge), number);
    assert_eq!(o["done"], "merged", "{o:#}");
    let merged = repo.events("pr_merged");
    assert_eq!(merged.len(), 1, "{merged:?}");
    assert_eq!(merged[0]["by_vnx"], true, "{}", merged[0]);
    assert_eq!(merged[0]["method"], "squash", "{}", merged[0]);
    assert_eq!(merged[0]["head_commit"], head.as_str());
    assert!(pass(&repo, &forge).is_empty());
    repo.verify_ok();
}
