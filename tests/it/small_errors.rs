//! The small errors a new user met, each fixed and pinned: a second merge, a reused id,
//! `receipts tail` before any receipt, an event type nothing writes, `attach` without a
//! terminal.

use crate::common::{Repo, completion, configure, run};

#[test]
fn a_second_merge_says_already_merged() {
    let repo = Repo::new();
    configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let id = crate::common::committed(&repo, "implementer");
    run(repo.vnx().args(["audit-chain", "checkpoint"]));
    let first = run(repo.vnx().args(["merge", &id]));
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let again = run(repo.vnx().args(["merge", &id]));
    assert_eq!(again.code, 1);
    assert!(
        again
            .stderr
            .contains(&format!("dispatch {id} is already merged, as ")),
        "{}",
        again.stderr
    );
    assert!(!again.stderr.contains("rebase"), "{}", again.stderr);
}

#[test]
fn an_id_the_ledger_has_seen_stays_taken() {
    let repo = Repo::new();
    let r = repo.dispatch("commit", &["--instruction", "x", "--id", "D-0000a11d"]);
    assert_eq!(completion(&r)["status"], "done");
    // Its files go (by hand); its receipts stay.
    repo.env.git(&["branch", "-D", "dispatch/D-0000a11d"]);
    std::fs::remove_dir_all(repo.env.path().join(".vnx-data/dispatches/D-0000a11d")).unwrap();
    let again = repo.dispatch("commit", &["--instruction", "x", "--id", "D-0000a11d"]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("dispatch id D-0000a11d was used before: the ledger records its start"),
        "{}",
        again.stderr
    );
    assert!(!again.stderr.contains("os error"), "{}", again.stderr);
}

#[test]
fn receipts_tail_before_any_receipt_and_an_unknown_event_type() {
    let repo = Repo::new();
    let empty = run(repo.vnx().args(["receipts", "tail"]));
    assert_eq!(empty.code, 0, "{}", empty.stderr);
    assert!(empty.stderr.contains("no receipts yet"), "{}", empty.stderr);
    repo.dispatch("commit", &["--instruction", "x"]);
    let nosuch = run(repo.vnx().args(["receipts", "tail", "--event", "nosuch"]));
    assert_eq!(nosuch.code, 2);
    assert!(
        nosuch
            .stderr
            .contains("no receipt on the ledger has event type \"nosuch\""),
        "{}",
        nosuch.stderr
    );
    assert!(
        nosuch.stderr.contains("dispatch_completed"),
        "{}",
        nosuch.stderr
    );
    // A kind vnx writes that is not on the ledger yet is not an error.
    let none = run(repo
        .vnx()
        .args(["receipts", "tail", "--event", "merge_completed"]));
    assert_eq!(none.code, 0, "{}", none.stderr);
}

#[test]
fn attach_without_a_terminal_says_so() {
    let repo = Repo::new();
    let slow = repo.dispatch("slow", &["--instruction", "x", "--detach"]);
    let id = completion(&slow)["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = run(repo
        .vnx()
        .args(["attach", &id])
        .stdin(std::process::Stdio::null()));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("needs a terminal"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("vnx show {id} --log --follow")));
    run(repo.vnx().args(["cancel", &id]));
}

#[test]
fn clean_discards_named_or_matching_work_with_a_receipt_each() {
    let repo = Repo::new();
    let failed = completion(&repo.dispatch("fail", &["--instruction", "x"]))["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = completion(&repo.dispatch("commit", &["--instruction", "x"]))["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let slow =
        completion(&repo.dispatch("slow", &["--instruction", "x", "--detach"]))["dispatch_id"]
            .as_str()
            .unwrap()
            .to_owned();
    // Without a terminal to ask on, --yes is required; nothing goes.
    let asked = run(repo.vnx().args(["clean", &failed]));
    assert_eq!(asked.code, 2, "{}", asked.stderr);
    assert!(
        asked.stdout.contains(&failed),
        "it shows what it would delete"
    );
    assert!(asked.stderr.contains("--yes"), "{}", asked.stderr);
    let wt = repo
        .env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{failed}"));
    assert!(wt.exists());

    let r = run(repo.vnx().args(["clean", &failed, "--yes"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        !wt.exists(),
        "the dirty worktree went, uncommitted files and all"
    );
    assert!(!repo.branches().contains(&failed));
    let receipt = repo
        .receipts(&failed)
        .into_iter()
        .find(|r| r["event_type"] == "worktree_released")
        .unwrap();
    assert_eq!(receipt["discarded"], true);
    assert_eq!(receipt["class"], "dirty");

    // By class: the unlanded branch goes; the running dispatch is never touched.
    let r = run(repo.vnx().args(["clean", "--class", "unlanded", "--yes"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!repo.branches().contains(&done), "{}", repo.branches());
    let busy = run(repo.vnx().args(["clean", &slow, "--yes"]));
    assert!(busy.stdout.contains("kept"), "{}", busy.stdout);
    let st = run(repo.vnx().args(["status", "--json", &failed]));
    let st: Vec<serde_json::Value> = serde_json::from_str(&st.stdout).unwrap();
    assert_eq!(st[0]["status"], "released");
    repo.verify_ok();
    run(repo.vnx().args(["cancel", &slow]));
}
