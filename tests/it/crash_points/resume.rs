//! `vnx resume` killed at each step of continuing an interrupted dispatch — its close on the
//! ledger, each step of its follow-up's launch, the follow-up started — keeps what the
//! interrupted worker did, and a rerun of `vnx resume ID` finishes the resume (exit 0): a
//! follow-up continues the dispatch in its worktree and ends done with the whole task on its
//! branch, and doctor is left with nothing new to name.

use super::{Doctor, Kill, settled, steps_of};
use crate::common::{Repo, run};
use crate::resume::crashy_lost;

#[test]
fn a_resume_killed_at_any_step_is_finished_by_its_rerun() {
    let steps = steps_of("resume").into_iter().chain(steps_of("launch"));
    for step in steps {
        let repo = Repo::new();
        let (_tools, id) = crashy_lost(&repo);
        let half = repo
            .env
            .path()
            .join(format!(".vnx-data/worktrees/dispatch-{id}/half.txt"));
        assert!(half.exists(), "{step}: the interrupted worker left nothing");
        let doctor = Doctor::before(&repo);
        let kill = Kill::at(&repo, step);
        let mut cmd = repo.vnx();
        cmd.args(["resume", &id]);
        kill.run_killed(cmd);
        // A `tmux new-session` the killed resume had under way still makes its session.
        assert!(crate::common::wait_for(|| !repo.server.session_starting()));
        kill.check_ledger(&repo);
        // In its worktree, or committed on its branch by a follow-up that already finished.
        let kept = half.exists()
            || repo
                .env
                .git(&["ls-tree", "--name-only", &format!("dispatch/{id}")])
                .lines()
                .any(|f| f == "half.txt");
        assert!(kept, "{step}: the interrupted worker's file is gone");

        // A session the killed launch made ends by itself (its supervisor finds the launch
        // undone), as does a follow-up's that finished; the server then exits, and must not
        // take the rerun's session with it.
        assert!(repo.server.sessions_end(), "{step}: a session stayed");
        assert!(repo.server.gone(), "{step}: the tmux server stayed");
        let r = run(repo.vnx().args(["resume", &id]));
        assert_eq!(r.code, 0, "{step}: the rerun: {}{}", r.stdout, r.stderr);
        // The latest start continues the chain, and finishes the task in its worktree.
        let started = repo.events("dispatch_started");
        let last = started.last().unwrap();
        assert_ne!(
            last["dispatch_id"],
            id.as_str(),
            "{step}: nothing continued it"
        );
        assert_eq!(last["continues"]["first"], id.as_str(), "{step}: {last:#}");
        let last_id = last["dispatch_id"].as_str().unwrap();
        let state = settled(&repo, last_id);
        assert_eq!(state["status"], "done", "{step}: {state:#}");
        assert!(repo.server.sessions_end(), "{step}: a supervisor stayed");
        doctor.settle(&repo, step);
        assert_eq!(
            repo.env.git(&["show", &format!("dispatch/{id}:whole.txt")]),
            "first\nsecond\n",
            "{step}: the task is not finished on its branch"
        );
        // A rerun now finds it continued: nothing to do, exit 0.
        let r = run(repo.vnx().args(["resume", &id]));
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("resumed already"), "{step}: {}", r.stderr);
        repo.verify_ok();
    }
}
