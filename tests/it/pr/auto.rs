//! A pull request opened by itself when a dispatch ends done and its role's gates pass:
//! `dispatch-agent --open-pr` for one dispatch, `roles.<role>.open_pr` for a role's,
//! `forge.open_on_done` for all; a dispatch whose gates fail gets none. Whichever asked, a
//! dispatch waited for in the foreground returns once that step has ended, saying its pull
//! request's address or why there is none.

use crate::common::forge::ScriptedForge;
use crate::common::{Repo, Run, completion, configure, run};

fn dispatch(repo: &Repo, forge: &ScriptedForge, extra: &[&str]) -> Run {
    let mut cmd = forge.vnx(repo);
    cmd.args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "demo",
    ])
    .args([
        "--model",
        "commit",
        "--json",
        "--instruction",
        "add a greeting",
    ])
    .args(extra);
    run(cmd)
}

#[test]
fn open_pr_opens_the_pull_request_of_a_done_dispatch_whose_gates_pass() {
    let repo = Repo::new();
    configure(&repo, super::FORGE);
    let forge = ScriptedForge::for_repo(&repo);
    let r = dispatch(&repo, &forge, &["--open-pr"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let done = completion(&r);
    let id = done["dispatch_id"].as_str().unwrap();
    assert!(
        r.stderr.contains(&format!("{id}  pull request #1 opened")),
        "{}",
        r.stderr
    );
    let opened = repo.events("pr_opened");
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(opened[0]["dispatch_id"], id);
    assert_eq!(opened[0]["action"], "created");
    assert_eq!(opened[0]["gates_passed"], serde_json::json!(["tests"]));
    assert!(opened[0]["vnx_attestation"].is_object());
    let head = opened[0]["head_commit"].as_str().unwrap();
    assert_eq!(
        forge.branch(&format!("dispatch/{id}")).as_deref(),
        Some(head)
    );
    // The gates ran on the head, signed.
    let results = repo.events("gate_result");
    assert!(
        results
            .iter()
            .any(|g| g["dispatch_id"] == id && g["status"] == "pass"),
        "{results:?}"
    );
    // Without the option (and open_on_done off), nothing is opened.
    let r = dispatch(&repo, &forge, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(repo.events("pr_opened").len(), 1);
    repo.verify_ok();
}

#[test]
fn open_on_done_opens_none_for_a_dispatch_whose_gates_fail() {
    let repo = Repo::new();
    configure(
        &repo,
        &super::FORGE
            .replace("test -f demo-output.txt", "test -f nowhere.txt")
            .replace(
                "merge_method: squash\n",
                "merge_method: squash\n  open_on_done: true\n",
            ),
    );
    let forge = ScriptedForge::for_repo(&repo);
    let r = dispatch(&repo, &forge, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    // The foreground waited for the supervisor to run the gates after the completion and
    // says why no pull request was opened.
    assert!(
        r.stderr.contains(&format!(
            "{id}  not opening the pull request: its gates did not pass ("
        )),
        "{}",
        r.stderr
    );
    // It ran them (open_on_done asked for it), and they held the pull request back.
    let results = repo.events("gate_result");
    assert!(
        results
            .iter()
            .any(|g| g["dispatch_id"] == id.as_str() && g["status"] == "fail"),
        "{results:?}"
    );
    assert!(repo.events("pr_opened").is_empty());
    assert!(forge.branch(&format!("dispatch/{id}")).is_none());
    let state = forge.state();
    assert!(
        state["pull_requests"].as_array().is_none_or(Vec::is_empty),
        "{state:#}"
    );
}

#[test]
fn a_role_with_open_pr_opens_its_dispatches_pull_requests() {
    let repo = Repo::new();
    configure(
        &repo,
        &super::FORGE.replace(
            "implementer: {gates: [tests]}",
            "implementer: {gates: [tests], open_pr: true}",
        ),
    );
    let forge = ScriptedForge::for_repo(&repo);
    let r = dispatch(&repo, &forge, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    // The foreground waited for it and printed its address.
    let opened = repo.events("pr_opened");
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(opened[0]["dispatch_id"], id.as_str());
    assert!(
        r.stderr.contains(&format!(
            "{id}  pull request #1 opened: {}",
            opened[0]["url"].as_str().unwrap()
        )),
        "{}",
        r.stderr
    );

    // When the forge refuses, the foreground says why.
    let mut cmd = forge.vnx(&repo);
    cmd.env("GH_TOKEN", "wrong").args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "demo",
        "--model",
        "commit",
        "--json",
        "--instruction",
        "add another greeting",
    ]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    assert!(
        r.stderr
            .contains(&format!("{id}  could not open the pull request: ")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("not logged in"), "{}", r.stderr);
    assert_eq!(repo.events("pr_opened").len(), 1);
}

#[test]
fn a_detached_dispatch_leaves_the_pull_request_to_its_supervisor() {
    let repo = Repo::new();
    configure(
        &repo,
        &super::FORGE.replace(
            "implementer: {gates: [tests]}",
            "implementer: {gates: [tests], open_pr: true}",
        ),
    );
    let forge = ScriptedForge::for_repo(&repo);
    let r = dispatch(&repo, &forge, &["--detach"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("pull request"), "{}", r.stderr);
    let launched: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = launched["dispatch_id"].as_str().unwrap().to_owned();
    let w = run(repo.vnx().args(["wait", &id]));
    assert_eq!(w.code, 0, "{}{}", w.stdout, w.stderr);
    let dir = repo.env.path().join(format!(".vnx-data/dispatches/{id}"));
    drop(vnx::dispatch::liveness::hold(&dir).unwrap());
    assert_eq!(repo.events("pr_opened").len(), 1);
}
