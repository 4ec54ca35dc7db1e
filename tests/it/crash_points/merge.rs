//! `vnx merge` killed at each step: after its `merge` receipt, after the merge commit was
//! formed, after the base moved, after `merge_completed`; alone, and in the second merge of a
//! queue of two. The next `vnx merge` (which `doctor` names) records the interrupted merge's
//! outcome and lands the dispatch exactly once.

use super::{Kill, doctor_findings, on_some_branch, run_doctors_command, status_of, steps_of};
use std::os::unix::fs::PermissionsExt;

use crate::common::{Repo, committed, completion, configure, gate_check, run};

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
            // Finished, resumed or anew, the merge leaves its attestation.
            let attestations = repo.env.path().join(".vnx-data/attestations");
            let named = std::fs::read_dir(&attestations).map_or(0, |d| {
                (d.flatten())
                    .filter(|e| e.file_name().to_string_lossy().starts_with(id.as_str()))
                    .count()
            });
            assert_eq!(
                named,
                1,
                "{step}: no attestation in {}",
                attestations.display()
            );
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

/// Two dispatches that passed their gates and touch different files: a demo one and one of a
/// declared provider that writes `notes.txt`. (repo, ids, their heads, the provider's dir.)
fn two_gated() -> (Repo, [String; 2], [String; 2], tempfile::TempDir) {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("scribe");
    std::fs::write(&bin, "#!/bin/sh\nprintf 'notes\\n' > notes.txt\n").unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    configure(
        &repo,
        &format!(
            "gates:\n  tests: {{kind: command, argv: [sh, -c, 'true']}}\nroles:\n  implementer: {{gates: [tests]}}\nproviders:\n  scribe:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      edits: []\n",
            bin.display()
        ),
    );
    let first = committed(&repo, "implementer");
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "scribe",
        "--instruction",
        "write the notes",
        "--json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let second = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let heads = [&first, &second].map(|id| {
        let (r, report) = gate_check(&repo, id);
        assert_eq!(r.code, 0, "{report:#}");
        repo.env
            .git(&["rev-parse", &format!("dispatch/{id}")])
            .trim()
            .to_owned()
    });
    (repo, [first, second], heads, tools)
}

#[test]
fn a_merge_queue_killed_in_its_second_merge_lands_each_dispatch_once() {
    for step in steps_of("merge") {
        let (repo, ids, heads, _tools) = two_gated();
        // The queue reaches each step once per id: the second time is the second merge's.
        let kill = Kill::at_nth(&repo, step, 2);
        let mut cmd = repo.vnx();
        cmd.args(["merge", &ids[0], &ids[1]]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        for head in &heads {
            assert!(
                on_some_branch(repo.env.path(), &repo, head),
                "{step}: a dispatch's head is on no branch"
            );
        }
        // Whatever doctor names runs; then the queue again, which lands what is left.
        if doctor_findings(&repo)
            .iter()
            .any(|(name, ..)| name == "merges")
        {
            run_doctors_command(&repo, step, "merges");
        }
        let r = run(repo.vnx().args(["merge", &ids[0], &ids[1]]));
        assert!(
            r.code == 0 || format!("{}{}", r.stdout, r.stderr).contains("already merged"),
            "{step}: {}{}",
            r.stdout,
            r.stderr
        );
        for id in &ids {
            assert_eq!(
                status_of(&repo, id)["landed"],
                "merged",
                "{step}: {id} is not recorded as merged"
            );
            assert_eq!(
                merges_of(&repo, id),
                1,
                "{step}: {id} merged more than once"
            );
        }
        repo.verify_ok();
        assert!(
            doctor_findings(&repo)
                .iter()
                .all(|(name, ..)| name != "merges"),
            "{step}: doctor still names an interrupted merge"
        );
    }
}
