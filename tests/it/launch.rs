//! A launch that fails after the start is on the ledger: the dispatch is closed with a
//! `launch_failed` completion, its untouched worktree and branch are removed, and its
//! dispatch directory (evidence the ledger points at) stays, without the dispatcher's
//! environment the supervisor never took.

use crate::common::Repo;

#[test]
fn a_session_that_cannot_start_closes_the_dispatch_and_undoes_the_worktree() {
    let repo = Repo::new();
    // tmux puts its sockets under $TMUX_TMPDIR: a regular file there stops every session.
    let blocker = repo.env.path().join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    let mut cmd = repo.dispatch_cmd("commit");
    cmd.args(["--instruction", "x", "--id", "D-0000abcd", "--detach"])
        .env("TMUX_TMPDIR", &blocker)
        .env("SOME_API_KEY", "sk-secret");
    let r = crate::common::run(cmd);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let receipts = repo.receipts("D-0000abcd");
    let events: Vec<&str> = receipts
        .iter()
        .map(|r| r["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["dispatch_started", "dispatch_completed"],
        "{receipts:#?}"
    );
    assert_eq!(receipts[1]["status"], "failed");
    assert_eq!(receipts[1]["completion_signal"], "launch_failed");
    let data = repo.env.path().join(".vnx-data");
    assert!(!data.join("worktrees/dispatch-D-0000abcd").exists());
    assert_eq!(repo.branches(), "");
    assert!(data.join("dispatches/D-0000abcd/spec.json").is_file());
    assert!(
        !data.join("dispatches/D-0000abcd/env").exists(),
        "the dispatcher's environment, with its API keys, is not left behind"
    );
    repo.verify_ok();
}
