//! `vnx accept` of work left uncommitted, killed after vnx committed it (a rerun accepts
//! that commit) or after its `dispatch_accepted` (the work is accepted, a rerun says so); it
//! merges either way.

use super::merge::GATES;
use super::{Doctor, Kill, status_of, steps_of};
use crate::common::{Repo, completion, configure, run};

#[test]
fn an_accept_killed_at_any_step_leaves_the_work_accepted() {
    for step in steps_of("accept") {
        let repo = Repo::new();
        configure(&repo, GATES);
        let c = completion(&repo.dispatch("fail", &["--instruction", "add a greeting"]));
        assert_eq!(c["teardown_class"], "dirty", "{c}");
        let id = c["dispatch_id"].as_str().unwrap().to_owned();
        let doctor = Doctor::before(&repo);
        let kill = Kill::at(&repo, step);
        let mut cmd = repo.vnx();
        cmd.args(["accept", &id]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        if step == vnx::steps::accept::WORK_COMMITTED {
            // Committed, not yet accepted: the rerun accepts the commit the killed run made.
            assert_eq!(status_of(&repo, &id)["status"], "failed", "{step}");
            let r = run(repo.vnx().args(["accept", &id]));
            assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        }
        assert_eq!(status_of(&repo, &id)["status"], "done", "{step}");
        let r = run(repo.vnx().args(["accept", &id]));
        assert_ne!(r.code, 0, "{step}: accepted twice: {}", r.stdout);
        let r = run(repo.vnx().args(["merge", &id]));
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        doctor.settle(&repo, step);
        repo.verify_ok();
    }
}
