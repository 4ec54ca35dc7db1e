//! `vnx dispatch-agent` killed at each step of its launch — the dispatch directory made, the
//! worktree made and the dispatch directory written, `dispatch_started` appended: no worker
//! runs without its start on the ledger, a dispatch whose start is on the ledger reaches a
//! recorded end, and whatever a launch killed before its start left behind is named by
//! `vnx doctor` with the command that clears it.

use super::{Doctor, Kill, settled_or_absent, steps_of};
use crate::common::Repo;

#[test]
fn a_launch_killed_at_any_step_leaves_no_unrecorded_worker_and_nothing_behind() {
    for step in steps_of("launch") {
        let repo = Repo::new();
        let doctor = Doctor::before(&repo);
        let kill = Kill::at(&repo, step);
        let id = "D-00000a1a";
        let mut cmd = repo.dispatch_cmd("commit");
        cmd.args(["--instruction", "add a greeting", "--id", id]);
        kill.run_killed(cmd);
        let state = settled_or_absent(&repo, id);
        kill.check_ledger(&repo);
        let started = std::fs::read_to_string(crate::common::ledger_path(&repo))
            .unwrap_or_default()
            .contains("\"event_type\":\"dispatch_started\"");
        if step == vnx::steps::launch::STARTED_APPENDED {
            // The start makes the dispatch: its supervisor goes on and records its end.
            assert!(started, "{step}");
            let state = state.unwrap_or_else(|| panic!("{step}: not in vnx status"));
            assert_eq!(state["status"], "done", "{step}: {state:#}");
        } else {
            assert!(!started, "{step}: {state:?}");
            // The supervisor its pane started saw the launch undone, and left.
            assert!(repo.server.sessions_end(), "{step}: a supervisor stayed");
            // Nothing ran: the worker's file was never committed anywhere.
            let branches = repo.branches();
            assert!(
                branches.trim().is_empty()
                    || repo
                        .env
                        .git(&["log", "--format=%s", &format!("dispatch/{id}")])
                        .lines()
                        .all(|l| !l.starts_with("demo:")),
                "{step}: a worker ran without a start on the ledger"
            );
        }
        doctor.settle(&repo, step);
        let state = settled_or_absent(&repo, id);
        if let Some(state) = &state {
            assert!(
                !["lost", "running", "queued"].contains(&state["status"].as_str().unwrap()),
                "{step}: {state:#}"
            );
        }
        assert!(
            !repo
                .env
                .path()
                .join(format!(".vnx-data/pending/{id}.reserve"))
                .exists()
                || state.is_some_and(|s| s["status"] == "running"),
            "{step}: the completion's reserve is left behind"
        );
        let r = crate::common::run(
            repo.vnx()
                .args(["audit-chain", "verify", "--allow-missing"]),
        );
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
    }
}
