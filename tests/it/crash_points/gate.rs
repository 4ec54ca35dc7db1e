//! `vnx gate-check` killed after its `gate_request`, after its `gate_result` and after its
//! `gate_report`: a rerun gates the head again, says GO, and the dispatch merges.

use super::merge::GATES;
use super::{Doctor, Kill, steps_of};
use crate::common::{Repo, committed, configure, gate_check, run};

#[test]
fn a_gate_check_killed_at_any_step_is_redone_by_a_rerun() {
    for step in steps_of("gate") {
        let repo = Repo::new();
        configure(&repo, GATES);
        let id = committed(&repo, "implementer");
        let doctor = Doctor::before(&repo);
        let kill = Kill::at(&repo, step);
        let mut cmd = repo.vnx();
        cmd.args(["gate-check", &id]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        let (r, report) = gate_check(&repo, &id);
        assert_eq!(r.code, 0, "{step}: {report:#}\n{}", r.stderr);
        assert_eq!(report["decision"], "GO", "{step}: {report:#}");
        let r = run(repo.vnx().args(["merge", &id]));
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        doctor.settle(&repo, step);
        repo.verify_ok();
    }
}
