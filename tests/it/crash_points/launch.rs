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
        // A `tmux new-session` the killed launcher had under way still makes its session.
        assert!(crate::common::wait_for(|| !repo.server.session_starting()));
        let state = settled_or_absent(&repo, id);
        kill.check_ledger(&repo);
        let started = std::fs::read_to_string(crate::common::ledger_path(&repo))
            .unwrap_or_default()
            .contains("\"event_type\":\"dispatch_started\"");
        if step == vnx::steps::launch::STARTED_APPENDED {
            // The start makes the dispatch: its supervisor goes on and records its end. The
            // supervisor's pane is started on another thread of the launch, so a launcher
            // killed before that thread ran leaves no supervisor: the dispatch is lost, and
            // doctor names what records it (settled below).
            assert!(started, "{step}");
            let state = state.unwrap_or_else(|| panic!("{step}: not in vnx status"));
            assert!(
                state["status"] == "done" || state["status"] == "lost",
                "{step}: {state:#}"
            );
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

/// The same for a follow-up's launch, which reopens the worktree its first dispatch kept
/// dirty: whatever step it is killed at, the first worker's uncommitted file is still there,
/// and a follow-up run again (or the one whose start reached the ledger) ends done.
#[test]
fn a_follow_up_killed_at_any_step_of_its_launch_keeps_the_work_it_continues() {
    for step in steps_of("launch") {
        let repo = Repo::new();
        let failed = repo.dispatch("fail", &["--instruction", "try"]);
        let first = crate::common::completion(&failed)["dispatch_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let left = repo.env.path().join(format!(
            ".vnx-data/worktrees/dispatch-{first}/demo-output.txt"
        ));
        assert!(left.exists(), "the failed worker left no file");
        let doctor = Doctor::before(&repo);
        let kill = Kill::at(&repo, step);
        let next = "D-00000f0f";
        let mut cmd = repo.vnx();
        cmd.args(["follow-up", &first, "--model", "commit", "--new-id", next])
            .args(["--instruction", "retry"]);
        kill.run_killed(cmd);
        // A `tmux new-session` the killed launcher had under way still makes its session;
        // the supervisor of a launch that never reached the ledger then leaves.
        assert!(crate::common::wait_for(|| !repo.server.session_starting()));
        let state = settled_or_absent(&repo, next);
        if state.is_none() {
            assert!(repo.server.sessions_end(), "{step}: a supervisor stayed");
        }
        kill.check_ledger(&repo);
        let committed = repo
            .env
            .git(&["branch", "--list", &format!("dispatch/{first}")])
            .contains(&first)
            && repo
                .env
                .git(&["log", "--format=%s", &format!("dispatch/{first}")])
                .contains("demo:");
        assert!(
            left.exists() || committed,
            "{step}: the first worker's file is gone ({state:?})"
        );
        doctor.settle(&repo, step);
        let next_dir = repo.env.path().join(format!(".vnx-data/dispatches/{next}"));
        assert!(
            state.is_some() || !next_dir.exists(),
            "{step}: doctor left the killed follow-up's directory unnamed"
        );
        if state.is_none() {
            let r = crate::common::run(repo.vnx().args([
                "follow-up",
                &first,
                "--model",
                "commit",
                "--json",
                "--instruction",
                "retry",
            ]));
            let f = crate::common::completion(&r);
            assert_eq!(f["status"], "done", "{step}: {f} {}", r.stderr);
        } else {
            let state = settled_or_absent(&repo, next).unwrap();
            assert_eq!(state["status"], "done", "{step}: {state:#}");
        }
        repo.verify_ok();
    }
}

/// A launch stopped (not killed) at each step: a new dispatch's, and a follow-up's in the
/// worktree its first dispatch left when it ended committed, or (a question, torn down clean)
/// on the branch it makes again. `vnx doctor`, run meanwhile, calls neither the worktree, the
/// branch nor the dispatch directory left over: the launch holds them. Continued, the
/// dispatch ends done.
#[test]
fn doctor_leaves_a_launch_alone_while_it_starts() {
    for first in [None, Some("commit"), Some("ask")] {
        for step in steps_of("launch") {
            let repo = Repo::new();
            let next = "D-00000f1f";
            let mut cmd = match first {
                Some(model) => {
                    let first = repo.dispatched(model, false);
                    let mut cmd = repo.vnx();
                    cmd.args(["follow-up", &first, "--model", "commit", "--new-id", next]);
                    cmd
                }
                None => {
                    let mut cmd = repo.dispatch_cmd("commit");
                    cmd.args(["--id", next]);
                    cmd
                }
            };
            cmd.args(["--instruction", "again", "--json"]);
            let kill = Kill::at(&repo, step);
            let child = kill
                .arm(cmd)
                .env("VNX_CRASH_MODE", "stop")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            kill.wait_reached();
            kill.wait_stopped();
            let findings = super::doctor_findings(&repo);
            let stopped = kill.pid();
            let _ = rustix::process::kill_process(stopped, rustix::process::Signal::CONT);
            let out = child.wait_with_output().unwrap();
            assert!(
                findings.iter().all(|(name, ..)| {
                    !["worktrees", "branches", "dispatch directories"].contains(&name.as_str())
                }),
                "{first:?} {step}: doctor called the starting launch's things left over: \
                 {findings:?}"
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            let c = crate::common::completion(&crate::common::Run {
                code: out.status.code().unwrap_or(-1),
                stdout: stdout.into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
            assert_eq!(c["status"], "done", "{first:?} {step}: {c}");
        }
    }
}
