//! `vnx accept` killed after its `dispatch_accepted`: the work is accepted (a rerun says so),
//! and it merges.

use super::merge::GATES;
use super::{Doctor, Kill, status_of, steps_of};
use crate::common::{Repo, completion, configure, run};

#[test]
fn an_accept_killed_at_any_step_leaves_the_work_accepted() {
    for step in steps_of("accept") {
        let repo = Repo::new();
        configure(&repo, GATES);
        let c = completion(&repo.dispatch("forget", &["--instruction", "add a greeting"]));
        assert_eq!(c["status"], "needs_input", "{c}");
        let id = c["dispatch_id"].as_str().unwrap().to_owned();
        let doctor = Doctor::before(&repo);
        let kill = Kill::at(&repo, step);
        let mut cmd = repo.vnx();
        cmd.args(["accept", &id]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        assert_eq!(status_of(&repo, &id)["status"], "done", "{step}");
        let r = run(repo.vnx().args(["accept", &id]));
        assert_ne!(r.code, 0, "{step}: accepted twice: {}", r.stdout);
        let r = run(repo.vnx().args(["merge", &id]));
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        doctor.settle(&repo, step);
        repo.verify_ok();
    }
}
