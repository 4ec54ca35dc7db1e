//! Checkpoints a worktree cannot roll back: the witness of the latest checkpoint, kept outside
//! the repository, catches a checkpoint ref moved back (with the ledger cut to match) or
//! deleted, also in the git hooks' `--allow-missing` mode; merge trailers that name receipts
//! no longer on the ledger are named; and the checkpoint messages say what happened.

use crate::common::{Repo, TestEnv, run, verify_json, violations};

fn checkpoint(env: &TestEnv) -> crate::common::Run {
    run(env.vnx_ledger(&["audit-chain", "checkpoint"]))
}

/// A repository whose ledger was checkpointed at 3 lines, then at 5: the first checkpoint's
/// commit.
fn twice_checkpointed() -> (TestEnv, String) {
    let env = TestEnv::new();
    env.git_init();
    env.fill(3);
    assert_eq!(checkpoint(&env).code, 0);
    let first = env.git(&["rev-parse", "refs/vnx/checkpoints"]);
    env.fill(2);
    assert_eq!(checkpoint(&env).code, 0);
    (env, first.trim().to_owned())
}

fn cut_to(env: &TestEnv, lines: usize) {
    let kept: Vec<Vec<u8>> = env.lines().into_iter().take(lines).collect();
    env.write_lines(&kept);
}

#[test]
fn a_checkpoint_ref_moved_back_with_the_ledger_cut_is_a_rollback() {
    let (env, first) = twice_checkpointed();
    env.git(&["update-ref", "refs/vnx/checkpoints", &first]);
    cut_to(&env, 3);
    let (code, report) = verify_json(&env);
    assert_eq!(code, 1, "{report:#}");
    let found = violations(&report);
    assert!(
        found.contains(&(5, "checkpoint_rolled_back".to_owned())),
        "{found:?}"
    );
    assert!(
        found.contains(&(5, "checkpoint_truncated".to_owned())),
        "the ledger no longer covers the witnessed checkpoint: {found:?}"
    );
    let strict = run(env.vnx_ledger(&["audit-chain", "verify"]).arg("--strict"));
    assert_eq!(strict.code, 1);
    // The git hooks' mode fails too.
    let hook = run(env
        .vnx_ledger(&["audit-chain", "verify"])
        .arg("--allow-missing"));
    assert_eq!(hook.code, 1, "{}", hook.stdout);
    assert!(
        hook.stdout.contains("no longer holds checkpoint"),
        "{}",
        hook.stdout
    );
}

#[test]
fn a_deleted_checkpoint_ref_or_ledger_is_noticed() {
    let (env, _) = twice_checkpointed();
    env.git(&["update-ref", "-d", "refs/vnx/checkpoints"]);
    let (code, report) = verify_json(&env);
    assert_eq!(code, 1, "non-strict verify fails: {report:#}");
    assert_eq!(
        violations(&report),
        vec![(5, "checkpoint_rolled_back".to_owned())]
    );
    // Ledger gone as well: the hooks' --allow-missing does not pass it.
    std::fs::remove_file(env.ledger()).unwrap();
    let hook = run(env
        .vnx_ledger(&["audit-chain", "verify"])
        .arg("--allow-missing"));
    assert_eq!(hook.code, 1, "{}", hook.stdout);
    assert!(
        hook.stderr
            .contains("this machine witnessed a checkpoint of it"),
        "{}",
        hook.stderr
    );
}

#[test]
fn checkpoint_messages_say_what_happened() {
    let env = TestEnv::new();
    env.git_init();
    // No ledger: not "not inside a git repository".
    let r = checkpoint(&env);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("there is no ledger at") && !r.stderr.contains("git repository"),
        "{}",
        r.stderr
    );
    // The ref at an ordinary commit: not "no checkpoints".
    env.fill(2);
    std::fs::write(env.path().join("f"), "x").unwrap();
    env.git(&["add", "f"]);
    env.git(&["commit", "-q", "-m", "ordinary"]);
    env.git(&["update-ref", "refs/vnx/checkpoints", "HEAD"]);
    let r = run(env.vnx_ledger(&["audit-chain", "verify"]));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("which is not a vnx checkpoint") && r.stderr.contains("hint:"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_merge_trailer_whose_receipt_is_gone_is_named() {
    let repo = Repo::new();
    crate::common::configure(
        &repo,
        "gates:\n  ok: {kind: command, argv: [\"true\"]}\nroles:\n  implementer: {gates: [ok]}\n",
    );
    let before = crate::common::committed(&repo, "implementer");
    let (r, _) = crate::common::gate_check(&repo, &before);
    assert_eq!(r.code, 0);
    // The ledger as it was before the merge, and the checkpoint ref then.
    let ledger = crate::common::ledger_path(&repo);
    let saved = std::fs::read(&ledger).unwrap();
    let saved_ref = repo.env.git(&["rev-parse", "refs/vnx/checkpoints"]);
    let m = run(repo.vnx().args(["merge", &before]));
    assert_eq!(m.code, 0, "{}", m.stderr);
    repo.verify_ok();
    // Everything a worktree can reach is put back: ledger, ref; and the witness is gone
    // (as it would be on another machine).
    std::fs::write(&ledger, saved).unwrap();
    repo.env
        .git(&["update-ref", "refs/vnx/checkpoints", saved_ref.trim()]);
    std::fs::remove_dir_all(repo.env.home().join(".local/state/vnx/witness")).unwrap();
    let r = run(repo.vnx().args(["audit-chain", "verify", "--json"]));
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let kinds: Vec<&str> = v["report"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["merge_trailer_orphaned"], "{v:#}");
    let merge_commit = repo.env.git(&["rev-parse", "HEAD"]);
    assert!(
        v["report"]["violations"][0]["detail"]
            .as_str()
            .unwrap()
            .contains(&merge_commit[..12]),
        "{v:#}"
    );
}
