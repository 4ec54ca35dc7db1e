//! `vnx follow-up --rebase` killed once vnx has merged the base into the follow-up's
//! worktree and before anything is on the ledger: the work of the dispatch it continues is
//! still on its branch, nothing was started, and the follow-up run again takes the merge
//! under way as made, its worker finishes it, and its merge lands.

use super::{Doctor, Kill, steps_of};
use crate::common::{completion, run};

#[test]
fn a_rebase_killed_after_its_merge_is_finished_by_a_rerun() {
    for step in steps_of("rebase") {
        let (repo, _a, b) = crate::conflict_follow_up::conflicted();
        let head = repo.env.git(&["rev-parse", &format!("dispatch/{b}")]);
        let doctor = Doctor::before(&repo);
        let kill = Kill::at(&repo, step);
        let mut cmd = repo.vnx();
        cmd.args(["follow-up", &b, "--rebase", "--new-id", "D-00000b0b"]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        assert!(
            !std::fs::read_to_string(crate::common::ledger_path(&repo))
                .unwrap()
                .contains("D-00000b0b"),
            "{step}: a start reached the ledger"
        );
        assert_eq!(
            repo.env.git(&["rev-parse", &format!("dispatch/{b}")]),
            head,
            "{step}: the branch moved"
        );
        // The worktree the killed launch reopened, with the merge under way in it, is the
        // rerun's: nothing needs clearing first.
        let r = run(repo.vnx().args(["follow-up", &b, "--rebase", "--json"]));
        let done = completion(&r);
        assert_eq!(done["status"], "done", "{step}: {done:#} {}", r.stderr);
        let f = done["dispatch_id"].as_str().unwrap().to_owned();
        let r = run(repo.vnx().args(["merge", &f]));
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        doctor.settle(&repo, step);
        repo.verify_ok();
    }
}
