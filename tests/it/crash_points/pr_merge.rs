//! `vnx pr merge` killed after the forge merged, before its receipt: the rerun finds the pull
//! request merged and records `pr_merged` with the forge's merge commit.

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
        assert_eq!(merged["found_merged"], true, "{merged}");
        let receipt = &merged["receipt"];
        assert_eq!(receipt["head_commit"], head.as_str());
        assert_eq!(
            receipt["merge_commit"],
            forge.branch("main").unwrap().as_str()
        );
        assert_eq!(repo.events("pr_merged").len(), 1, "{step}");
        repo.verify_ok();
    }
}
