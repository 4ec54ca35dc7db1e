//! A supervisor killed at each step of recording its dispatch's end — the worker stopped,
//! vnx's commit of the done worker's changes made, the worktree released (or given back to
//! its pool), the completion appended: the worker's change is never lost, and the command
//! `vnx doctor` names records the dispatch as done with that change on its branch, which
//! merges. `vnx recover` ends a dispatch through the same steps, and is killed at each too.

use super::merge::GATES;
use super::{Doctor, Kill, run_doctors_command, settled, steps_of};
use crate::common::{Repo, configure, run};

pub(super) const POOL: &str = "worktree:\n  pool:\n    size: 1\n";

/// A detached `dirty` dispatch `id` whose supervisor is armed by `kill`.
fn dispatch_killed(repo: &Repo, kill: &Kill, id: &str) {
    let mut cmd = repo.dispatch_cmd("dirty");
    cmd.args(["--instruction", "add a greeting", "--detach", "--id", id]);
    let r = run(kill.arm(cmd));
    assert_eq!(r.code, 0, "{}: {}{}", kill.step, r.stdout, r.stderr);
    kill.wait_reached();
}

/// After the kill: the worker's file is in the worktree or committed on the branch.
fn work_kept(repo: &Repo, id: &str) -> bool {
    let worktree = repo
        .env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{id}/demo-output.txt"));
    let on_branch = repo
        .env
        .git(&["branch", "--list", &format!("dispatch/{id}")])
        .contains(id);
    worktree.exists() || on_branch
}

/// The dispatch ended done, committed, its work on its branch, and it merges.
fn ended_done(repo: &Repo, id: &str, what: &str) {
    let state = settled(repo, id);
    assert_eq!(state["status"], "done", "{what}: {state:#}");
    assert_eq!(state["teardown_class"], "committed", "{what}: {state:#}");
    assert!(
        repo.on_branch(id, "demo-output.txt").contains("demo"),
        "{what}: the work is not on its branch"
    );
    let r = run(repo.vnx().args(["merge", id]));
    assert_eq!(r.code, 0, "{what}: {}{}", r.stdout, r.stderr);
    repo.verify_ok();
}

fn supervisor_killed_at_each_step(config: &str) {
    supervisor_killed_at(&steps_of("conclude"), config);
}

/// A `dirty` dispatch's supervisor killed at each of `steps` in its end, with `config`: its
/// work is kept, and what doctor names records it done; it merges.
pub(super) fn supervisor_killed_at(steps: &[vnx::steps::Step], config: &str) {
    for &step in steps {
        let repo = Repo::new();
        configure(&repo, config);
        if config.contains("pool") {
            let r = run(repo.vnx().args(["pool", "fill"]));
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
        let doctor = Doctor::before(&repo);
        let kill = Kill::at(&repo, step);
        let id = "D-00000c0c";
        dispatch_killed(&repo, &kill, id);
        let state = settled(&repo, id);
        kill.check_ledger(&repo);
        assert!(
            work_kept(&repo, id),
            "{step}: the worker's change is gone (state {state})"
        );
        doctor.settle(&repo, step);
        ended_done(&repo, id, &step.to_string());
    }
}

#[test]
fn a_supervisor_killed_at_any_step_of_its_end_is_recovered_as_done() {
    supervisor_killed_at_each_step(GATES);
}

#[test]
fn a_supervisor_killed_while_giving_its_worktree_back_to_the_pool_is_recovered_as_done() {
    supervisor_killed_at_each_step(&format!("{GATES}{POOL}"));
}

#[test]
fn a_recovery_killed_at_any_step_of_the_end_it_records_is_finished_by_another() {
    recovery_killed_at(&steps_of("conclude"), GATES);
}

/// A lost dispatch's `vnx recover` killed at each of `steps`, with `config`: another
/// recovery, or what doctor names, records it done; it merges.
pub(super) fn recovery_killed_at(steps: &[vnx::steps::Step], config: &str) {
    for &step in steps {
        let repo = Repo::new();
        configure(&repo, config);
        if config.contains("pool") {
            let r = run(repo.vnx().args(["pool", "fill"]));
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
        let id = "D-00000c0d";
        // The supervisor dies before it records anything: the dispatch is lost, reported.
        let first = Kill::at(&repo, vnx::steps::conclude::WORKER_STOPPED);
        dispatch_killed(&repo, &first, id);
        assert_eq!(settled(&repo, id)["status"], "lost", "{step}");
        let doctor = Doctor::before(&repo);
        // The recovery doctor names dies at the step.
        let kill = Kill::at(&repo, step);
        let mut cmd = repo.vnx();
        cmd.args(["recover", id]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        assert!(work_kept(&repo, id), "{step}: the worker's change is gone");
        doctor.settle(&repo, step);
        if settled(&repo, id)["status"] == "lost" {
            run_doctors_command(&repo, step, "dispatches");
        }
        ended_done(&repo, id, &format!("recover at {step}"));
    }
}
