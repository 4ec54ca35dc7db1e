//! A TUI that asks first whether to trust the folder (claude, in a repository it never
//! trusted): the dispatch is blocked on that dialog and says what it asks, instead of sitting
//! `running` until it stalls; `vnx approve` trusts the folder (claude then trusts the
//! repository, so the next dispatch starts at once) and `vnx deny` refuses, which ends the
//! worker. The same for claude's Bypass Permissions disclaimer, which its TUI shows before
//! a full-posture dispatch until its user accepted it. The stand-in claude asks as claude
//! 2.1.197 was seen to.

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

/// A `~/.claude.json` that trusts the repository: only the disclaimer can ask.
fn trusting_the_repository(repo: &Repo) {
    let root = repo.env.path().canonicalize().unwrap();
    let state =
        serde_json::json!({"projects": {root.to_str().unwrap(): {"hasTrustDialogAccepted": true}}});
    std::fs::write(repo.env.home().join(".claude.json"), state.to_string()).unwrap();
}

/// claude's TUI in the full posture, detached: its id.
fn dispatched_full(repo: &Repo, fakes: &Fakes, task: &str) -> String {
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        // As root (a CI machine) claude refuses the flag outside a declared sandbox.
        .env("IS_SANDBOX", "1")
        .env("VNX_OVERRIDE_NO_SKIP_PERMISSIONS", "1")
        .env(
            "VNX_OVERRIDE_NO_SKIP_PERMISSIONS_REASON",
            "the test's worktree is disposable",
        )
        .args(["dispatch-agent", "--agent", "implementer", "--detach"])
        .args(["--provider", "claude", "--lane", "interactive"])
        .args(["--permission", "full", "--deadline", "60"])
        .args(["--instruction", task]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout.trim().to_owned()
}

#[test]
fn claudes_bypass_disclaimer_blocks_a_full_dispatch_and_is_answered_through_vnx() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    trusting_the_repository(&repo);
    let task = "@fake write t.txt bypassed\n@fake run vnx report --status done --summary t";
    let id = dispatched_full(&repo, &fakes, task);
    let b = blocked(&repo, &id);
    assert_eq!(b["source"], "screen", "{b}");
    assert!(
        b["command"]
            .as_str()
            .is_some_and(|c| c.starts_with("accept Bypass Permissions mode")),
        "{b}"
    );
    assert!(b["message"].as_str().unwrap().contains("WARNING"), "{b}");
    let r = run(repo.vnx().args(["approve", &id, "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let answered: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(answered["keys"], "2", "{answered}");
    let c = completion(&run(repo.vnx().args(["wait", "--json", &id])));
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(repo.on_branch(&id, "t.txt"), "bypassed\n");

    // Accepted once in the home, the next full dispatch starts without asking.
    let settings = repo.env.home().join(".claude/settings.json");
    let recorded = std::fs::read_to_string(&settings).unwrap();
    assert!(
        recorded.contains("skipDangerousModePermissionPrompt"),
        "{recorded}"
    );
    let next = dispatched_full(&repo, &fakes, task);
    let c = completion(&run(repo.vnx().args(["wait", "--json", &next])));
    assert_eq!(c["status"], "done", "{c}");
    assert!(
        !repo
            .receipts(&next)
            .iter()
            .any(|r| r["event_type"] == "dispatch_blocked"),
        "it asked again"
    );

    // Refused, claude exits: the dispatch ends without its work.
    std::fs::remove_file(&settings).unwrap();
    let refused = dispatched_full(&repo, &fakes, task);
    blocked(&repo, &refused);
    let r = run(repo.vnx().args(["deny", &refused]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let c = completion(&run(repo.vnx().args(["wait", "--json", &refused])));
    assert_ne!(c["status"], "done", "{c}");
    assert_eq!(c["teardown_class"], "clean", "{c}");
    repo.verify_ok();
}
