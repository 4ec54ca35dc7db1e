//! A supervisor killed at each step of recording its dispatch's end — the worker stopped,
//! vnx's commit of the done worker's changes made, the worktree released, the completion
//! appended: the worker's change is never lost, and the command `vnx doctor` names records the
//! dispatch as done with that change on its branch, which merges.

use super::merge::GATES;
use super::{Doctor, Kill, settled, steps_of};
use crate::common::{Repo, configure, run};

#[test]
fn a_supervisor_killed_at_any_step_of_its_end_is_recovered_as_done() {
    for step in steps_of("conclude") {
        let repo = Repo::new();
        configure(&repo, GATES);
        let doctor = Doctor::before(&repo);
        let kill = Kill::at(&repo, step);
        let id = "D-00000c0c";
        let mut cmd = repo.dispatch_cmd("dirty");
        cmd.args(["--instruction", "add a greeting", "--detach", "--id", id]);
        let r = run(kill.arm(cmd));
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        kill.wait_reached();
        let state = settled(&repo, id);
        kill.check_ledger(&repo);
        // The worker's file is in the worktree, or committed on the branch.
        let worktree = repo
            .env
            .path()
            .join(format!(".vnx-data/worktrees/dispatch-{id}/demo-output.txt"));
        let on_branch = repo
            .env
            .git(&["branch", "--list", &format!("dispatch/{id}")])
            .contains(id);
        assert!(
            worktree.exists() || on_branch,
            "{step}: the worker's change is gone (state {state})"
        );
        doctor.settle(&repo, step);
        let state = settled(&repo, id);
        assert_eq!(state["status"], "done", "{step}: {state:#}");
        assert_eq!(state["teardown_class"], "committed", "{step}: {state:#}");
        assert!(
            repo.on_branch(id, "demo-output.txt").contains("demo"),
            "{step}: the work is not on its branch"
        );
        let r = run(repo.vnx().args(["merge", id]));
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        repo.verify_ok();
    }
}
