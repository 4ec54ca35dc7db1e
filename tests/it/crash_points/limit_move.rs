//! `vnx resume ID --to` killed at each step of moving a limited dispatch to another CLI — its
//! `dispatch_failover` on the ledger, the limited wait ended — keeps what the first worker
//! did; once the wait ended, doctor names the move (check `moves`) and the command; a rerun of
//! the same command finishes the move (exit 0): one receipt, a follow-up on the other CLI in
//! the dispatch's worktree that ends done with both workers' work on the branch.

use super::{Kill, doctor_findings, settled, steps_of};
use crate::common::{Repo, run};
use crate::limit_move::{commit_in_worktree, mover};
use crate::usage_limits::limited;

#[test]
fn a_move_killed_at_any_step_is_finished_by_its_rerun() {
    for step in steps_of("limit_move") {
        let repo = Repo::new();
        let _tools = mover(&repo);
        let id = limited(&repo, 3600);
        commit_in_worktree(&repo, &id);
        let kill = Kill::at(&repo, step);
        let mut cmd = repo.vnx();
        cmd.args(["resume", &id, "--to", "mover"]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        // Once the wait ended, doctor names the move left unfinished and what finishes it.
        let moves: Vec<_> = doctor_findings(&repo)
            .into_iter()
            .filter(|(name, ..)| name == "moves")
            .collect();
        if step == vnx::steps::limit_move::ENDED {
            assert_eq!(moves.len(), 1, "{step}: {moves:?}");
            assert!(moves[0].1.contains(&id), "{step}: {moves:?}");
            assert!(
                moves[0].2.contains(&format!("vnx resume {id} --to")),
                "{step}: {moves:?}"
            );
        } else {
            assert!(moves.is_empty(), "{step}: {moves:?}");
        }
        let r = run(repo.vnx().args(["resume", &id, "--to", "mover"]));
        assert_eq!(r.code, 0, "{step}: the rerun: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("moved by an earlier"),
            "{step}: {}",
            r.stderr
        );
        let next = r.stdout.trim().to_owned();
        let ended = settled(&repo, &id);
        assert_eq!(ended["status"], "cancelled", "{step}: {ended:#}");
        let state = settled(&repo, &next);
        assert_eq!(state["status"], "done", "{step}: {state:#}");
        assert_eq!(state["provider"], "mover", "{step}: {state:#}");
        assert_eq!(repo.events("dispatch_failover").len(), 1, "{step}");
        assert_eq!(repo.on_branch(&id, "first.txt"), "first\n", "{step}");
        assert_eq!(repo.on_branch(&id, "moved.txt"), "moved\n", "{step}");
        let left: Vec<_> = doctor_findings(&repo)
            .into_iter()
            .filter(|(name, ..)| name == "moves")
            .collect();
        assert!(left.is_empty(), "{step}: {left:?}");
        // Moved now: a third run is refused and changes nothing.
        let r = run(repo.vnx().args(["resume", &id, "--to", "mover"]));
        assert_eq!(r.code, 2, "{step}: {}{}", r.stdout, r.stderr);
        repo.verify_ok();
    }
}
