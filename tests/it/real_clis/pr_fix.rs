//! `vnx pr fix` on a real CLI in its default lane and posture, with the real `gh` against the
//! scripted forge: a dispatch ends done and its pull request is opened; CI fails with a log
//! and a reviewer asks for changes with a line comment; `vnx pr fix` resumes the worker's
//! session with the check, its log's tail and the comment, the worker fixes the file and
//! reports as the prompt asks, vnx commits and pushes the new head to the same pull request,
//! and once CI passes and the reviewer approves `vnx pr merge` with the task's id lands the
//! latest head. The pull request keeps the task's title and description throughout; the fix
//! is told in a comment, and the base gets the task's title.
//!
//! The fix's instruction is vnx's own text around the forge's quoted words, so the scripted
//! model's moves ride in the reviewer's text (`\@model` lines of the review's body): the model
//! server takes them from the last user message holding a script, which is the fix's.

use serde_json::json;

use super::{Rig, explain, step};
use crate::common::forge::ScriptedForge;
use crate::common::{completion, configure, gate_check, run};

/// The gate reads the greeting, so the first turn's `hi` passes it and the fix keeps it; the
/// role lets the worker run the same test unasked, as the fix's instruction tells it to.
const CONFIG: &str = "gates:\n\
    \x20 tests: {kind: command, argv: [sh, -c, 'test -s greeting.txt']}\n\
    roles:\n\
    \x20 implementer: {gates: [tests], allow: ['test -s greeting.txt']}\n\
    forge:\n\
    \x20 kind: github\n\
    \x20 remote: origin\n\
    \x20 merge_method: squash\n";

/// `vnx` with the real CLIs, their model server and gh's forge: the forge's proxy tripwire
/// spares the loopback address the CLIs' model server is on.
fn vnx(rig: &Rig, forge: &ScriptedForge) -> std::process::Command {
    let mut cmd = rig.vnx();
    forge.env(&mut cmd);
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    cmd
}

/// The whole loop for `cli` in its default lane.
fn fixed_forward(cli: &str) {
    let rig = Rig::new();
    configure(&rig.repo, CONFIG);
    let forge = ScriptedForge::for_repo(&rig.repo);

    // The first turn: a greeting, reported done.
    let first = format!("{cli} writes a greeting for the pull request");
    let mut cmd = vnx(&rig, &forge);
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--provider", cli, "--deadline", "180"])
        .args([
            "--instruction",
            &format!(
                "{first}\n\\@model write greeting.txt hi\n\\@model run vnx report --status done --summary greeting\n\\@model say Wrote it."
            ),
        ]);
    let r = run(cmd);
    let c = completion(&r);
    let at = step(cli, "default lane", "first turn");
    assert_eq!(c["status"], "done", "{at} {} {}", explain(&c), r.stderr);
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let session = c["session_id"].as_str().unwrap_or_default().to_owned();
    assert!(!session.is_empty(), "{at} no session id: {c}");
    let (g, report) = gate_check(&rig.repo, &id);
    assert_eq!(g.code, 0, "{at} {report:#}");

    let mut cmd = vnx(&rig, &forge);
    cmd.args(["pr", "open", &id, "--json"]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{at} pr open: {}{}", r.stdout, r.stderr);
    let opened: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let number = opened["number"].as_u64().unwrap();
    let head = opened["head_commit"].as_str().unwrap().to_owned();
    let words = || forge.pr_words(number);
    let before = words();
    let title = before["title"].as_str().unwrap().to_owned();
    assert!(!title.is_empty(), "{at} {before:#}");

    // CI fails with a log; a reviewer asks for changes with a line comment.
    let log_tail = "assertion failed: greeting == \"hello\"";
    forge.control(
        "checks",
        Some(
            json!({"pr": number, "name": "unit-tests", "conclusion": "failure",
                    "log": format!("running 3 tests\n{log_tail}\nFAILED test_greeting")}),
        ),
    );
    let comment = "Say hello here, not hi.";
    forge.control(
        "review-comment",
        Some(
            json!({"pr": number, "author": "rev", "path": "greeting.txt", "line": 1,
                    "body": comment}),
        ),
    );
    forge.control(
        "review",
        Some(json!({"pr": number, "author": "rev", "state": "CHANGES_REQUESTED",
                    "body": "The greeting is wrong.\n\\@model write greeting.txt hello\n\\@model run test -s greeting.txt\n\\@model run vnx report --status done --summary hello\n\\@model say Fixed the greeting."})),
    );

    let at = step(cli, "default lane", "pr fix");
    let mut cmd = vnx(&rig, &forge);
    cmd.args(["pr", "fix", &id, "--json"]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{at} {}{}", r.stdout, r.stderr);
    let f = completion(&r);
    assert_eq!(f["status"], "done", "{at} {} {}", explain(&f), r.stderr);
    assert_eq!(f["completion_signal"], "report", "{at} {f}");
    let fix_id = f["dispatch_id"].as_str().unwrap().to_owned();
    assert_ne!(fix_id, id);
    // The same CLI session, and the model saw the earlier turn with the forge's feedback.
    assert_eq!(f["session_id"].as_str(), Some(session.as_str()), "{at} {f}");
    let requests = rig.server.requests();
    let told = requests.iter().any(|q| {
        let body = q["body"].to_string();
        body.contains(&first)
            && body.contains("Failing check: unit-tests")
            && body.contains(&log_tail.replace('"', "\\\""))
            && body.contains("Unresolved review comment by rev on greeting.txt:1")
            && body.contains(comment)
            && body.contains("CHANGES_REQUESTED")
    });
    assert!(
        told,
        "{at} no request held the first turn and the check, its log and the comment"
    );

    // Nobody could commit under the default posture: vnx did, and pushed the new head to
    // the same pull request, which `pr fix` waited for.
    assert_eq!(f["teardown_class"], "committed", "{at} {}", explain(&f));
    assert_eq!(rig.repo.on_branch(&id, "greeting.txt"), "hello\n", "{at}");
    assert!(
        r.stderr
            .contains(&format!("{fix_id}  pull request #{number} updated")),
        "{at} {}",
        r.stderr
    );
    let all = rig.repo.events("pr_opened");
    let updated = all.last().unwrap();
    assert_eq!(updated["dispatch_id"], fix_id.as_str(), "{at} {updated}");
    assert_eq!(updated["action"], "updated", "{at} {updated}");
    assert_eq!(updated["number"], number, "{at} {updated}");
    let new_head = updated["head_commit"].as_str().unwrap().to_owned();
    assert_ne!(new_head, head, "{at}");
    assert_eq!(
        forge.branch(&format!("dispatch/{id}")).as_deref(),
        Some(new_head.as_str()),
        "{at}"
    );
    let pr_head = forge.state()["pull_requests"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["number"] == number))
        .map(|p| p["head_oid"].clone());
    assert_eq!(
        pr_head.as_ref().and_then(|h| h.as_str()),
        Some(new_head.as_str()),
        "{at} {:#}",
        forge.state()
    );

    // The pull request kept the task's words; the fix was told in a comment.
    let after = words();
    assert_eq!(after["title"], before["title"], "{at} {after:#}");
    assert_eq!(after["body"], before["body"], "{at} {after:#}");
    let comments = after["comments"].as_array().unwrap();
    assert!(
        comments
            .iter()
            .any(|c| c["body"].as_str().unwrap_or("").contains(&new_head[..12])),
        "{at} no comment names the new head: {after:#}"
    );

    // CI passes on the new head and the reviewer approves: the task's id merges its chain.
    let at = step(cli, "default lane", "pr merge");
    forge.control(
        "checks",
        Some(json!({"pr": number, "name": "unit-tests", "conclusion": "success", "log": "ok"})),
    );
    forge.control(
        "review",
        Some(json!({"pr": number, "author": "rev", "state": "APPROVED", "body": "thanks"})),
    );
    let mut cmd = vnx(&rig, &forge);
    cmd.args(["pr", "merge", &id, "--json"]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{at} {}{}", r.stdout, r.stderr);
    let merged = rig.repo.events("pr_merged");
    assert_eq!(merged.len(), 1, "{at} {merged:?}");
    assert_eq!(merged[0]["head_commit"], new_head.as_str(), "{at}");
    assert_eq!(merged[0]["number"], number, "{at}");
    assert_eq!(merged[0]["dispatch_id"], fix_id.as_str(), "{at}");
    let subject = forge.subject("main");
    assert!(
        subject.starts_with(&title),
        "{at} {subject:?} for {title:?}"
    );
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real claude (tests/support/install-clis.sh) and gh"]
fn real_claude_fixes_its_pull_request_forward() {
    fixed_forward("claude");
}

#[test]
#[ignore = "needs the real codex (tests/support/install-clis.sh) and gh"]
fn real_codex_fixes_its_pull_request_forward() {
    // Its sandbox keeps `.git` read-only: vnx commits for it, as for claude.
    fixed_forward("codex");
}
