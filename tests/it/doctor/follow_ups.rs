//! A follow-up works in the worktree and on the branch of the dispatch it continues (the
//! chain's first): doctor counts them with the chain's latest dispatch, whether it asks, runs
//! or was cancelled, never calls the worktree orphaned, and never hints deleting a branch that
//! holds the chain's work.

use super::{bin_dir, doctor, verdict};
use crate::common::{Fakes, Repo, completion, run};

/// The `worktrees` check's status and detail.
fn worktrees(repo: &Repo) -> (String, String) {
    let bin = repo.env.dir.path().join("bin");
    if !bin.exists() {
        bin_dir(&repo.env);
    }
    let (_, report) = doctor(repo.vnx(), &bin, &[]);
    verdict(&report, "worktrees")
}

fn id_of(r: &crate::common::Run) -> String {
    completion(r)["dispatch_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{} {}", r.stdout, r.stderr))
        .to_owned()
}

#[test]
fn a_follow_up_chains_worktree_is_not_orphaned() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    // Done and committed: the worktree goes, the branch stays. A follow-up reopens it, and
    // asks over a draft it leaves uncommitted, twice: the worktree is kept, with its work,
    // for the next answer, though the chain's first dispatch was torn down committed.
    let done = fakes.run_vnx(
        &repo,
        &[
            "dispatch-agent",
            "--agent",
            "implementer",
            "--json",
            "--provider",
            "claude",
            "--lane",
            "headless",
            "--instruction",
            "first\n@fake write a.txt a\n@fake run vnx report --status done --summary a",
        ],
    );
    assert_eq!(
        completion(&done)["teardown_class"],
        "committed",
        "{}",
        done.stderr
    );
    let first = id_of(&done);
    let wt = repo
        .env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{first}"));
    assert!(!wt.exists());
    let mut last = first.clone();
    for turn in ["second", "third"] {
        let f = fakes.run_vnx(
            &repo,
            &[
                "follow-up",
                &last,
                "--json",
                "--instruction",
                &format!("{turn}\n@fake write {turn}.txt {turn}\n@fake ask"),
            ],
        );
        let c = completion(&f);
        assert_eq!(c["status"], "needs_input", "{}", f.stderr);
        assert_eq!(c["teardown_class"], "dirty", "{c}");
        last = id_of(&f);
    }
    assert!(wt.join("third.txt").exists(), "the chain's work is kept");
    let (status, detail) = worktrees(&repo);
    assert_eq!(status, "pass", "{detail}");
    assert!(detail.contains("kept on purpose"), "{detail}");
}

#[test]
fn a_running_or_cancelled_follow_up_leaves_its_chains_worktree_counted() {
    let repo = Repo::new();
    // `fail` leaves a file uncommitted: its worktree is kept, locked.
    let failed = id_of(&repo.dispatch("fail", &["--instruction", "try"]));
    let running = run(repo.vnx().args([
        "follow-up",
        &failed,
        "--model",
        "slow",
        "--detach",
        "--json",
        "--instruction",
        "retry",
    ]));
    assert_eq!(running.code, 0, "{} {}", running.stdout, running.stderr);
    let follow = id_of(&running);
    let (status, detail) = worktrees(&repo);
    assert_eq!(status, "pass", "running: {detail}");
    assert!(detail.contains("in use by running dispatches"), "{detail}");
    // Cancelled: its teardown keeps the worktree, dirty, in the chain's name.
    let cancelled = run(repo.vnx().args(["cancel", &follow]));
    assert_eq!(cancelled.code, 0, "{}", cancelled.stderr);
    // A supervisor holds its dispatch's lock past its recorded end (its queue, its pool):
    // doctor counts that as in use, rightly, until its session ends.
    assert!(repo.server.sessions_end(), "a supervisor outlived its end");
    let (status, detail) = worktrees(&repo);
    assert_eq!(status, "pass", "cancelled: {detail}");
    assert!(detail.contains("kept on purpose"), "{detail}");
}

/// An approved plan's follow-up, like an answer's, commits on its chain's first dispatch's
/// branch, which that dispatch (it planned, or asked, changing nothing) was torn down clean
/// with. Doctor counts the branch with the chain's latest dispatch, as committed work kept,
/// and never hints deleting it: the work is on no other branch.
#[test]
fn a_follow_up_chains_branch_holding_its_work_is_not_left_over() {
    let repo = Repo::new();
    crate::common::configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let plan = completion(&repo.dispatch("commit", &["--plan", "--instruction", "greet"]));
    assert_eq!(plan["teardown_class"], "clean", "{plan}");
    let plan = plan["dispatch_id"].as_str().unwrap().to_owned();
    let approved = run(repo.vnx().args(["approve", &plan]));
    assert_eq!(approved.code, 0, "{}{}", approved.stdout, approved.stderr);
    let carried = approved.stdout.trim().rsplit(": ").next().unwrap();
    let carried = carried.split(' ').next().unwrap().to_owned();
    let done = completion(&run(repo.vnx().args(["wait", &carried, "--json"])));
    assert_eq!(done["status"], "done", "{done}");
    let asked = id_of(&repo.dispatch("ask", &["--instruction", "which?"]));
    let answered = run(repo.vnx().args([
        "follow-up",
        &asked,
        "--model",
        "commit",
        "--json",
        "--instruction",
        "this one",
    ]));
    assert_eq!(
        completion(&answered)["status"],
        "done",
        "{}",
        answered.stderr
    );

    // Settled: a supervisor holds its lock past its recorded end, and doctor counts a branch
    // whose lock is held as a running dispatch's.
    assert!(repo.server.sessions_end(), "a supervisor outlived its end");
    let bin = repo.env.dir.path().join("bin");
    bin_dir(&repo.env);
    let (_, report) = doctor(repo.vnx(), &bin, &[]);
    let (status, detail) = verdict(&report, "branches");
    assert_eq!(status, "pass", "{detail}");
    assert_eq!(detail, "2 kept on purpose (committed work)");
}
