//! `vnx pr open` killed after its push and after making the pull request: the rerun pushes
//! nothing new, finds the branch's pull request, and records one `pr_opened` for it.

use super::{Kill, steps_of};
use crate::pr::{gated, pr, pr_json};

#[test]
fn a_pr_open_killed_at_any_step_is_repaired_by_a_rerun() {
    for step in steps_of("pr_open") {
        let (repo, forge, id, head) = gated();
        let kill = Kill::at(&repo, step);
        let mut cmd = forge.vnx(&repo);
        cmd.args(["pr", "open", &id]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        assert!(repo.events("pr_opened").is_empty(), "{step}");
        assert_eq!(
            forge.branch(&format!("dispatch/{id}")).as_deref(),
            Some(head.as_str())
        );
        let (r, opened) = pr_json(&repo, &forge, &["open", &id]);
        assert_eq!(r.code, 0, "{step}: {}", r.stderr);
        assert_eq!(opened["number"], 1, "{step}: one pull request, not two");
        let state = forge.state();
        assert_eq!(
            state["pull_requests"].as_array().map(Vec::len),
            Some(1),
            "{step}"
        );
        assert_eq!(repo.events("pr_opened").len(), 1, "{step}");
        let r = pr(&repo, &forge, &["show", &id]);
        assert_eq!(r.code, 0, "{step}: {}", r.stderr);
        repo.verify_ok();
    }
}
