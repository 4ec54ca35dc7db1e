//! `vnx resume` killed after its `pause_lifted` receipt, before the pause ended: the pause
//! still holds (the worker waits, a new dispatch queues), and a rerun lifts it and continues
//! both (ADR 0119).

use super::{Kill, steps_of};
use crate::common::{Repo, run};
use crate::pause::{detached, long_running, state_of, waited};

#[test]
fn a_lift_killed_at_any_step_is_finished_by_a_rerun() {
    for step in steps_of("unpause") {
        let repo = Repo::new();
        let id = long_running(&repo);
        let r = run(repo.vnx().args(["pause", "--now"]));
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        let queued = detached(&repo, "commit", &[]);
        let kill = Kill::at(&repo, step);
        let mut cmd = repo.vnx();
        cmd.arg("resume");
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        std::thread::sleep(std::time::Duration::from_millis(500));
        assert_eq!(state_of(&repo, &id)["status"], "paused", "{step}");
        assert_eq!(state_of(&repo, &queued)["status"], "queued", "{step}");
        let r = run(repo.vnx().arg("resume"));
        assert_eq!(r.code, 0, "{step}: {}", r.stderr);
        assert_eq!(waited(&repo, &id)["status"], "done", "{step}");
        assert_eq!(waited(&repo, &queued)["status"], "done", "{step}");
        repo.verify_ok();
    }
}
