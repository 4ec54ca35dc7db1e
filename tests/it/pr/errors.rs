//! Every error of `vnx pr`, with the real gh: each says what to do and leaves nothing
//! half-recorded.

use serde_json::json;

use super::{check, gated, pr, pr_json};
use crate::common::forge::ScriptedForge;
use crate::common::{Repo, committed, configure, run};

/// No `pr_*` receipt on the ledger.
fn nothing_recorded(repo: &Repo) {
    for kind in ["pr_opened", "pr_merged", "pr_closed"] {
        assert!(repo.events(kind).is_empty(), "{kind} recorded");
    }
}

#[test]
fn gh_missing_logged_out_or_unreachable_records_nothing() {
    let (repo, forge, id, _) = gated();
    let mut cmd = forge.vnx(&repo);
    cmd.env("VNX_GH", "/nonexistent/gh")
        .args(["pr", "open", &id]);
    let r = run(cmd);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("was not found") && r.stderr.contains("hint:"),
        "{}",
        r.stderr
    );

    let mut cmd = forge.vnx(&repo);
    cmd.env_remove("GH_TOKEN")
        .env_remove("GH_HOST")
        .args(["pr", "open", &id]);
    let r = run(cmd);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("not logged in") && r.stderr.contains("gh auth login"),
        "{}",
        r.stderr
    );

    let mut cmd = forge.vnx(&repo);
    cmd.env("GH_TOKEN", "wrong").args(["pr", "open", &id]);
    let r = run(cmd);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("not logged in"), "{}", r.stderr);

    forge.control("fail", Some(json!({"status": 403, "count": 1})));
    let r = pr(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("rate limit"), "{}", r.stderr);

    forge.control("fail", Some(json!({"status": 502, "count": 1})));
    let r = pr(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("could not be reached"), "{}", r.stderr);

    let mut cmd = forge.vnx(&repo);
    let gone = forge.dir.path().join("gone");
    std::fs::create_dir_all(&gone).unwrap();
    std::fs::write(
        gone.join("config.yml"),
        "http_unix_socket: /tmp/vnx-no-such.sock\n",
    )
    .unwrap();
    cmd.env("GH_CONFIG_DIR", &gone).args(["pr", "open", &id]);
    let r = run(cmd);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("could not be reached") && r.stderr.contains("dial unix"),
        "{}",
        r.stderr
    );
    nothing_recorded(&repo);
}

#[test]
fn no_forge_section_or_no_remote_is_said() {
    let repo = Repo::new();
    let forge = ScriptedForge::start();
    let id = committed(&repo, "implementer");
    let r = pr(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no `forge:` section"), "{}", r.stderr);
    configure(&repo, "forge: {kind: github}\n");
    let r = pr(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("no git remote `origin`"), "{}", r.stderr);
    nothing_recorded(&repo);
}

#[test]
fn a_dispatch_that_is_not_done_is_not_pushed() {
    let repo = Repo::new();
    configure(&repo, super::FORGE);
    let forge = ScriptedForge::for_repo(&repo);
    let r = repo.dispatch("forget", &["--instruction", "x"]);
    let id = crate::common::completion(&r)["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = pr(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("dispatch_done"), "{}", r.stderr);
    assert_eq!(forge.branch(&format!("dispatch/{id}")), None);
    nothing_recorded(&repo);
}

#[test]
fn a_rejected_push_is_told_apart_and_records_nothing() {
    let (repo, forge, id, _) = gated();
    let branch = format!("dispatch/{id}");
    // The forge's branch has a commit vnx never recorded: non-fast-forward, never forced.
    let home = repo.env.home();
    let bare = forge.bare();
    let other = crate::common::git(
        &home,
        &bare,
        &[
            "commit-tree",
            "-m",
            "someone else",
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
        ],
    );
    crate::common::git(
        &home,
        &bare,
        &["update-ref", &format!("refs/heads/{branch}"), other.trim()],
    );
    let r = pr(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("NonFastForward") && r.stderr.contains("never force"),
        "{}",
        r.stderr
    );
    assert_eq!(forge.branch(&branch).as_deref(), Some(other.trim()));
    crate::common::git(
        &home,
        &bare,
        &["update-ref", "-d", &format!("refs/heads/{branch}")],
    );
    // A protected branch.
    forge.control(
        "protect",
        Some(json!({"branch": branch, "reject_push": true})),
    );
    let r = pr(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("Protected") && r.stderr.contains("GH006"),
        "{}",
        r.stderr
    );
    nothing_recorded(&repo);
}

#[test]
fn a_closed_pull_request_or_a_protected_base_refuses_the_merge() {
    let (repo, forge, id, _) = gated();
    let (r, opened) = pr_json(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let number = opened["number"].as_u64().unwrap();
    check(&forge, number, "ci", "success", "ok");
    // Branch protection wants an approving review the pull request does not have.
    forge.control(
        "protect",
        Some(json!({"branch": "main", "required_checks": ["ci"], "required_reviews": 1})),
    );
    let r = pr(&repo, &forge, &["merge", &id]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("refused to merge") && r.stderr.contains("base branch policy"),
        "{}",
        r.stderr
    );
    assert!(repo.events("pr_merged").is_empty());
    // Closed by a person meanwhile: recorded, and both commands say so.
    forge.control("close", Some(json!({"pr": number, "author": "maintainer"})));
    let r = pr(&repo, &forge, &["merge", &id]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("was closed on the forge") && r.stderr.contains("gh pr reopen"),
        "{}",
        r.stderr
    );
    let r = pr(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(repo.events("pr_closed").len(), 1);
    repo.verify_ok();
}
