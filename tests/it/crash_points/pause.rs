//! `vnx pause --now` killed after its `paused` receipt (the pause not yet in effect) or after
//! the pause took effect (the running worker not yet told): a rerun puts it in effect and
//! stops the worker, which `vnx resume` then continues to done (ADR 0119).

use super::{Kill, steps_of};
use crate::common::{Repo, run};
use crate::pause::{long_running, reads, state_of, waited};

#[test]
fn a_pause_killed_at_any_step_is_finished_by_a_rerun() {
    for step in steps_of("pause") {
        let repo = Repo::new();
        let id = long_running(&repo);
        let kill = Kill::at(&repo, step);
        let mut cmd = repo.vnx();
        cmd.args(["pause", "--now"]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        // The worker was not told: it runs on.
        assert_eq!(state_of(&repo, &id)["status"], "running", "{step}");
        let shown = run(repo.vnx().arg("status"));
        assert_eq!(
            shown.stderr.contains("paused (all)"),
            step == vnx::steps::pause::IN_EFFECT,
            "{step}: {}",
            shown.stderr
        );
        let r = run(repo.vnx().args(["pause", "--now"]));
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        reads(&repo, &id, "paused");
        let r = run(repo.vnx().arg("resume"));
        assert_eq!(r.code, 0, "{step}: {}", r.stderr);
        assert_eq!(waited(&repo, &id)["status"], "done", "{step}");
        repo.verify_ok();
    }
}
