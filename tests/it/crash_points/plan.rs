//! `vnx approve` of a plan that waits, killed after its `plan_approved` and before the
//! follow-up started: the plan still waits, approving it again starts the follow-up, and the
//! chain merges.

use super::{Doctor, Kill, status_of, steps_of};
use crate::common::{Repo, completion, configure, run};

#[test]
fn an_approval_killed_at_any_step_is_approved_again_and_merges() {
    for step in steps_of("plan") {
        let repo = Repo::new();
        configure(&repo, "roles:\n  implementer: {gates: []}\n");
        let c = completion(&repo.dispatch("commit", &["--plan", "--instruction", "x"]));
        assert_eq!(c["status"], "needs_input", "{c}");
        let id = c["dispatch_id"].as_str().unwrap().to_owned();
        let doctor = Doctor::before(&repo);
        let kill = Kill::at(&repo, step);
        let mut cmd = repo.vnx();
        cmd.args(["approve", &id]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        // What the kill left behind, doctor names and its commands clear (before the
        // follow-up: its branch, recreated on the planning dispatch's clean teardown, is
        // doctor's `branches` finding of any follow-up of a clean dispatch).
        doctor.settle(&repo, step);
        // Approved, not yet carried out: the plan still waits.
        let s = status_of(&repo, &id);
        assert_eq!(
            s["plan_sha256"].as_str().map(str::len),
            Some(64),
            "{step}: {s}"
        );
        assert!(s["continued_by"].is_null(), "{step}: {s}");
        let r = run(repo.vnx().args(["approve", &id]));
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        let next = r.stdout.trim().rsplit(": ").next().unwrap();
        let next = next.split(' ').next().unwrap().to_owned();
        let done = completion(&run(repo.vnx().args(["wait", &next, "--json"])));
        assert_eq!(done["status"], "done", "{step}: {done}");
        run(repo.vnx().args(["audit-chain", "checkpoint"]));
        let r = run(repo.vnx().args(["merge", &next]));
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        repo.verify_ok();
    }
}
