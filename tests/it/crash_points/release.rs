//! `vnx worktree-release` killed after it removed a landed dispatch's branch and before its
//! `worktree_released`: the work is on the base, and a rerun records the release.

use super::merge::gated;
use super::{Doctor, Kill, status_of, steps_of};
use crate::common::run;

#[test]
fn a_release_killed_at_any_step_is_recorded_by_a_rerun() {
    for step in steps_of("release") {
        let (repo, id, head) = gated();
        let r = run(repo.vnx().args(["merge", &id]));
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        let doctor = Doctor::before(&repo);
        let kill = Kill::at(&repo, step);
        let mut cmd = repo.vnx();
        cmd.args(["worktree-release", "--apply"]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        assert!(
            !repo
                .env
                .git(&["branch", "--contains", &head, "main"])
                .trim()
                .is_empty(),
            "{step}: the work is not on main"
        );
        let r = run(repo.vnx().args(["worktree-release", "--apply"]));
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        assert_eq!(status_of(&repo, &id)["landed"], "merged", "{step}");
        let released = repo.events("worktree_released");
        assert!(
            released.iter().any(|r| r["dispatch_id"] == id),
            "{step}: the release is not recorded"
        );
        doctor.settle(&repo, step);
        repo.verify_ok();
    }
}
