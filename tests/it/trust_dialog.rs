//! A TUI that asks first whether to trust the folder (claude, in a repository it never
//! trusted): the dispatch is blocked on that dialog and says what it asks, instead of sitting
//! `running` until it stalls; `vnx approve` trusts the folder (claude then trusts the
//! repository, so the next dispatch starts at once) and `vnx deny` refuses, which ends the
//! worker. The stand-in claude asks as claude 2.1.197 was seen to.

use crate::common::{Fakes, Repo, completion, run};

/// A `~/.claude.json` that trusts nothing: claude's TUI asks before it starts.
fn trusting_nothing(repo: &Repo) {
    std::fs::write(repo.env.home().join(".claude.json"), r#"{"projects": {}}"#).unwrap();
}

fn blocked(repo: &Repo, id: &str) -> serde_json::Value {
    let r = run(repo.vnx().args(["wait", "--until-blocked", "--json", id]));
    assert_eq!(
        r.code, 1,
        "blocked is not success: {}{}",
        r.stdout, r.stderr
    );
    crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap())
}

#[test]
fn claudes_trust_dialog_blocks_the_dispatch_and_is_answered_through_vnx() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    trusting_nothing(&repo);
    let task = "@fake write t.txt trusted\n@fake run vnx report --status done --summary t";
    let id = repo.dispatched_tui(&fakes, "claude", task);
    let b = blocked(&repo, &id);
    assert_eq!(b["event_type"], "dispatch_blocked", "{b}");
    assert_eq!(b["source"], "screen", "{b}");
    assert_eq!(
        b["command"], "trust this folder (claude then trusts the repository)",
        "{b}"
    );
    let worktree = format!(".vnx-data/worktrees/dispatch-{id}");
    assert!(b["message"].as_str().unwrap().contains(&worktree), "{b}");
    let status = run(repo.vnx().args(["status", &id]));
    assert!(
        status.stdout.contains("trust this folder"),
        "{}",
        status.stdout
    );

    let r = run(repo.vnx().args(["approve", &id, "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let answered: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(answered["via"], "pane", "{answered}");
    assert_eq!(answered["keys"], "Enter", "{answered}");
    let c = completion(&run(repo.vnx().args(["wait", "--json", &id])));
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(repo.on_branch(&id, "t.txt"), "trusted\n");

    // Trusted once, the repository's next dispatch starts without asking.
    let state = std::fs::read_to_string(repo.env.home().join(".claude.json")).unwrap();
    let root = repo.env.path().canonicalize().unwrap();
    assert!(state.contains(&*root.to_string_lossy()), "{state}");
    let next = repo.dispatched_tui(&fakes, "claude", task);
    let c = completion(&run(repo.vnx().args(["wait", "--json", &next])));
    assert_eq!(c["status"], "done", "{c}");
    let kinds: Vec<String> = repo
        .receipts(&next)
        .iter()
        .map(|r| r["event_type"].as_str().unwrap().to_owned())
        .collect();
    assert!(!kinds.iter().any(|k| k == "dispatch_blocked"), "{kinds:?}");

    // Refused, claude exits: the dispatch ends, nothing was written.
    trusting_nothing(&repo);
    let refused = repo.dispatched_tui(&fakes, "claude", task);
    blocked(&repo, &refused);
    let r = run(repo.vnx().args(["deny", &refused]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let c = completion(&run(repo.vnx().args(["wait", "--json", &refused])));
    assert_eq!(c["status"], "failed", "{c}");
    assert_eq!(c["teardown_class"], "clean", "{c}");
    repo.verify_ok();
}
