//! `vnx merge` killed at each step: after its `merge` receipt, after the merge commit was
//! formed, after the base moved, after `merge_completed`. The next `vnx merge` (which
//! `doctor` names) records the interrupted merge's outcome and lands the dispatch exactly
//! once.

use super::{Kill, doctor_findings, on_some_branch, run_doctors_command, status_of, steps_of};
use crate::common::{Repo, committed, configure, gate_check, run};

pub(super) const GATES: &str = "gates:\n\
    \x20 tests: {kind: command, argv: [sh, -c, 'test -f demo-output.txt']}\n\
    roles:\n\
    \x20 implementer: {gates: [tests]}\n";

/// A repository with a done dispatch that passed its gates: (repo, id, its head).
pub(super) fn gated() -> (Repo, String, String) {
    let repo = Repo::new();
    configure(&repo, GATES);
    let id = committed(&repo, "implementer");
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 0, "{report:#}");
    let head = repo.env.git(&["rev-parse", &format!("dispatch/{id}")]);
    (repo, id, head.trim().to_owned())
}

/// The merge commits on main that name dispatch `id`.
fn merges_of(repo: &Repo, id: &str) -> usize {
    repo.env
        .git(&[
            "log",
            "--merges",
            "--format=%H",
            &format!("--grep=VNX-Dispatch: {id}"),
            "main",
        ])
        .lines()
        .count()
}

#[test]
fn a_merge_killed_at_any_step_is_finished_by_the_command_doctor_names() {
    for step in steps_of("merge") {
        let (repo, id, head) = gated();
        let kill = Kill::at(&repo, step);
        let mut cmd = repo.vnx();
        cmd.args(["merge", &id]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        assert!(
            on_some_branch(repo.env.path(), &repo, &head),
            "{step}: the dispatch's head is on no branch"
        );
        let merges = doctor_findings(&repo)
            .into_iter()
            .find(|(name, ..)| name == "merges");
        if step == vnx::steps::merge::COMPLETED_APPENDED {
            // Landed and recorded: only the checkpoint after it is missing, which the next
            // checkpoint makes; a rerun says it is merged.
            assert!(merges.is_none(), "{step}: {merges:?}");
            let r = run(repo.vnx().args(["merge", &id]));
            assert_eq!(r.code, 1, "{step}: {}{}", r.stdout, r.stderr);
            assert!(r.stderr.contains("already merged"), "{step}: {}", r.stderr);
        } else {
            assert!(merges.is_some(), "{step}: doctor is silent");
            // A check records nothing: it says the merge was interrupted, and what to run.
            let r = run(repo.vnx().args(["merge", &id, "--check"]));
            assert_eq!(r.code, 1, "{step}: {}{}", r.stdout, r.stderr);
            assert!(r.stderr.contains("was interrupted"), "{step}: {}", r.stderr);
            assert!(
                r.stderr.contains(&format!("hint: run `vnx merge {id}`")),
                "{step}: {}",
                r.stderr
            );
            run_doctors_command(&repo, step, "merges");
        }
        assert_eq!(
            status_of(&repo, &id)["landed"],
            "merged",
            "{step}: not recorded as merged"
        );
        assert_eq!(merges_of(&repo, &id), 1, "{step}: merged more than once");
        repo.verify_ok();
        assert!(
            doctor_findings(&repo)
                .iter()
                .all(|(name, ..)| name != "merges"),
            "{step}: doctor still names an interrupted merge"
        );
        // One verdict: the git hooks run the same verification, so a push is not refused.
        let r = run(repo
            .vnx()
            .args(["audit-chain", "verify", "--allow-missing"]));
        assert_eq!(r.code, 0, "{step}: {}", r.stdout);
    }
}
