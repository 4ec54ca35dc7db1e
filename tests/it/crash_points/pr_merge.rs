//! `vnx pr merge` killed at each step — its intent noted, the forge merged, before its
//! receipt: the rerun merges, or finds the pull request merged and records `pr_merged` with
//! the forge's merge commit, as vnx's own merge (`by_vnx`) with the method it asked for.

use super::{Kill, steps_of};
use crate::pr::{check, gated, pr_json};

#[test]
fn a_pr_merge_killed_at_any_step_is_recorded_by_a_rerun() {
    for step in steps_of("pr_merge") {
        let (repo, forge, id, head) = gated();
        let (r, opened) = pr_json(&repo, &forge, &["open", &id]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let number = opened["number"].as_u64().unwrap();
        check(&forge, number, "ci", "success", "ok");
        let kill = Kill::at(&repo, step);
        let mut cmd = forge.vnx(&repo);
        cmd.args(["pr", "merge", &id]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        assert!(repo.events("pr_merged").is_empty(), "{step}");
        let (r, merged) = pr_json(&repo, &forge, &["merge", &id]);
        assert_eq!(r.code, 0, "{step}: {}", r.stderr);
        // Killed before `gh pr merge`, the rerun merges; after it, the rerun finds the merge
        // done and, by the intent the killed run noted, records it as vnx's own.
        let merged_before = step != vnx::steps::pr_merge::INTENT_NOTED;
        assert_eq!(merged["found_merged"], merged_before, "{step}: {merged}");
        let receipt = &merged["receipt"];
        assert_eq!(receipt["by_vnx"], true, "{step}: {receipt}");
        assert_eq!(receipt["method"], "squash", "{step}: {receipt}");
        assert!(
            std::fs::read_dir(repo.env.path().join(".vnx-data/pr-merges"))
                .map_or(true, |mut d| d.next().is_none()),
            "{step}: the intent outlived the receipt"
        );
        assert_eq!(receipt["head_commit"], head.as_str());
        assert_eq!(
            receipt["merge_commit"],
            forge.branch("main").unwrap().as_str()
        );
        assert_eq!(repo.events("pr_merged").len(), 1, "{step}");
        repo.verify_ok();
    }
}

/// Killed once the forge merged, before its receipt: whatever reads the pull request first —
/// `vnx pr show` here, a reader of the forge cache (`vnx status`) or the watcher — records
/// the merge as vnx's own by the intent it noted, not as a person's.
#[test]
fn a_pr_merge_killed_after_the_merge_is_vnx_s_for_the_first_read_too() {
    let step = vnx::steps::pr_merge::MERGED;
    for reader in [&["pr", "show"][..], &["status"][..]] {
        let (repo, forge, id, head) = gated();
        let (r, opened) = pr_json(&repo, &forge, &["open", &id]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let number = opened["number"].as_u64().unwrap();
        check(&forge, number, "ci", "success", "ok");
        let kill = Kill::at(&repo, step);
        let mut cmd = forge.vnx(&repo);
        cmd.args(["pr", "merge", &id]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        assert!(repo.events("pr_merged").is_empty(), "{reader:?}");
        let mut cmd = forge.vnx(&repo);
        cmd.args(reader).arg(&id);
        let r = crate::common::run(cmd);
        assert_eq!(r.code, 0, "{reader:?}: {}{}", r.stdout, r.stderr);
        let merged = repo.events("pr_merged");
        assert_eq!(merged.len(), 1, "{reader:?}");
        assert_eq!(merged[0]["by_vnx"], true, "{reader:?}: {}", merged[0]);
        assert_eq!(merged[0]["method"], "squash", "{reader:?}: {}", merged[0]);
        assert_eq!(merged[0]["head_commit"], head.as_str());
        assert!(
            std::fs::read_dir(repo.env.path().join(".vnx-data/pr-merges"))
                .map_or(true, |mut d| d.next().is_none()),
            "{reader:?}: the intent outlived the receipt"
        );
        // The rerun finds it recorded.
        let (r, again) = pr_json(&repo, &forge, &["merge", &id]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(again["recorded_before"], true, "{again}");
        assert_eq!(repo.events("pr_merged").len(), 1);
        repo.verify_ok();
    }
}
