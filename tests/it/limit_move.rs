//! A person moves a dispatch that waits out its provider's usage limit to another CLI
//! (`vnx resume ID --to [NAME]`, issue 71): its wait ends (`cancelled` as moved, never failed
//! or done, its worktree and branch kept), a signed `dispatch_failover` names both providers
//! and who moved it, and a follow-up on the other provider continues it in the same worktree
//! and branch, in a new session, told its assignment and that the earlier worker stopped at
//! its usage limit; it ends done with both workers' work on the branch. A dispatch that is not
//! limited is refused and nothing changes.

use crate::common::{Repo, run};
use crate::pause::{state_of, waited};
use crate::usage_limits::limited;

/// A script provider, `mover`, that keeps the prompt it was given beside its dispatch and
/// writes and commits `moved.txt`; the project's `implementer` fails over to it, and its gate
/// passes when both workers' files are there. The directory holding it.
pub(crate) fn mover(repo: &Repo) -> tempfile::TempDir {
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("mover");
    std::fs::write(
        &bin,
        "#!/bin/sh\nprintf '%s' \"$1\" > \"$VNX_DISPATCH_DIR/seen-prompt.txt\"\n\
         echo moved > moved.txt\ngit add moved.txt && git commit -qm moved\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    crate::common::configure(
        repo,
        &format!(
            "providers:\n  mover:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      edits: []\n\
             gates:\n  both: {{kind: command, argv: [sh, -c, 'test -f first.txt && test -f moved.txt']}}\n\
             roles:\n  implementer:\n    on_limit: [mover]\n    gates: [both]\n",
            bin.display()
        ),
    );
    tools
}

/// What the first worker committed while it waited (as a worker that commits as it goes
/// would have): `first.txt` on its branch.
pub(crate) fn commit_in_worktree(repo: &Repo, id: &str) {
    let worktree = repo
        .env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{id}"));
    std::fs::write(worktree.join("first.txt"), "first\n").unwrap();
    let home = repo.env.home();
    crate::common::git(&home, &worktree, &["add", "first.txt"]);
    crate::common::git(&home, &worktree, &["commit", "-q", "-m", "first"]);
}

#[test]
fn a_person_moves_a_limited_dispatch_to_the_next_cli_of_its_role() {
    let repo = Repo::new();
    let _tools = mover(&repo);
    let id = limited(&repo, 3600);
    commit_in_worktree(&repo, &id);
    // `--to` alone: the first of its role's `on_limit:` that no limit holds.
    let r = run(repo.vnx().args(["resume", &id, "--to"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("moved to mover"), "{}", r.stderr);
    let next = r.stdout.trim().to_owned();
    assert!(next.starts_with("D-"), "{}{}", r.stdout, r.stderr);
    // The wait ended: cancelled as moved, never failed or done.
    let ended = waited(&repo, &id);
    assert_eq!(ended["status"], "cancelled", "{ended}");
    assert!(
        ended["failure_reason"]
            .as_str()
            .unwrap()
            .contains("moved to another CLI"),
        "{ended}"
    );
    // The receipt names both providers and who moved it, signed.
    let moves = repo.events("dispatch_failover");
    assert_eq!(moves.len(), 1, "{moves:?}");
    let m = &moves[0];
    assert_eq!(m["dispatch_id"], id.as_str());
    assert_eq!((&m["from"], &m["to"]), (&"demo".into(), &"mover".into()));
    assert_eq!(m["model_from"], "limit");
    assert!(m["by"].is_string(), "{m}");
    assert!(
        m["reason"].as_str().unwrap().contains("limited until"),
        "{m}"
    );
    assert!(m["vnx_attestation"].is_object(), "signed: {m}");
    // The follow-up runs on the other provider, in a new session, and ends done.
    let c = waited(&repo, &next);
    assert_eq!(c["status"], "done", "{c}");
    let started = repo
        .receipts(&next)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_started")
        .unwrap();
    assert_eq!(started["provider"], "mover", "{started}");
    assert!(
        started["model"].is_null(),
        "the model is not carried over: {started}"
    );
    assert_eq!(started["continues"]["dispatch_id"], id.as_str());
    assert!(started["continues"]["session_id"].is_null(), "{started}");
    assert_eq!(started["branch"], format!("dispatch/{id}"));
    // Told its assignment, and that the earlier worker stopped at its usage limit.
    let prompt = std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{next}/seen-prompt.txt")),
    )
    .unwrap();
    assert!(prompt.contains("write it"), "{prompt}");
    assert!(prompt.contains("usage limit"), "{prompt}");
    assert!(prompt.contains("(demo)"), "{prompt}");
    // Nothing lost: both workers' work is on the branch.
    assert_eq!(repo.on_branch(&id, "first.txt"), "first\n");
    assert_eq!(repo.on_branch(&id, "moved.txt"), "moved\n");
    assert!(!repo.on_branch(&id, "demo-output.txt").is_empty());
    // The gates judge its work as any other's.
    let g = run(repo.vnx().args(["gate-check", &next]));
    assert_eq!(g.code, 0, "{}{}", g.stdout, g.stderr);
    assert!(g.stdout.contains("GO"), "{}", g.stdout);
    repo.verify_ok();
}

#[test]
fn a_move_of_a_dispatch_that_is_not_limited_is_refused_and_changes_nothing() {
    let repo = Repo::new();
    let _tools = mover(&repo);
    let done = crate::common::completion(&repo.dispatch("commit", &["--instruction", "x"]));
    let id = done["dispatch_id"].as_str().unwrap().to_owned();
    let ledger = repo.env.path().join(".vnx-data/state/t0_receipts.ndjson");
    let before = std::fs::read(&ledger).unwrap();
    let r = run(repo.vnx().args(["resume", &id, "--to", "mover"]));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains(&format!("error: dispatch {id} is done, not limited")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(&ledger).unwrap(),
        before,
        "the ledger changed"
    );
    // A limited one is not moved to its own provider, nor to one the project lacks; it
    // waits on.
    let limited = limited(&repo, 3600);
    let before = std::fs::read(&ledger).unwrap();
    for to in ["demo", "nosuch"] {
        let r = run(repo.vnx().args(["resume", &limited, "--to", to]));
        assert_eq!(r.code, 2, "{to}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    }
    assert_eq!(
        std::fs::read(&ledger).unwrap(),
        before,
        "the ledger changed"
    );
    assert_eq!(state_of(&repo, &limited)["status"], "limited");
    let r = run(repo.vnx().args(["cancel", &limited]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    repo.verify_ok();
}
