//! Watching pull requests: `status` (a line, and `pr` in its JSON) and `show` through the
//! shared forge cache, the user's notification once per change, at most one read of the
//! forge per pull request per refresh interval, and a merge by a person recognised by
//! `status`.

use serde_json::{Value, json};

use super::{check, gated, pr_json};
use crate::common::forge::ScriptedForge;
use crate::common::{Repo, Run, configure, run};

/// `vnx status ARGS…` with gh's environment.
fn status(repo: &Repo, forge: &ScriptedForge, args: &[&str]) -> Run {
    let mut cmd = forge.vnx(repo);
    cmd.arg("status").args(args);
    run(cmd)
}

/// `vnx status ID --json ARGS…`: the dispatch's `pr` object.
fn status_pr(repo: &Repo, forge: &ScriptedForge, id: &str, args: &[&str]) -> Value {
    let mut all = vec![id, "--json"];
    all.extend(args);
    let r = status(repo, forge, &all);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    v[0]["pr"].clone()
}

/// The events the notification command was run for, in order.
fn notified(repo: &Repo) -> Vec<String> {
    std::fs::read_to_string(repo.env.path().join("notified.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn status_and_show_follow_checks_reviews_and_comments_and_notify_once_each() {
    let (repo, forge, id, head) = gated();
    let log = repo.env.path().join("notified.txt");
    configure(
        &repo,
        &format!(
            "notify: [sh, -c, 'printf \"%s %s\\n\" \"$VNX_STATE\" \"$VNX_DISPATCH_ID\" >> {}']\n",
            log.display()
        ),
    );
    let (r, opened) = pr_json(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let number = opened["number"].as_u64().unwrap();

    // The first read: open, no checks yet; nothing to notify.
    let pr = status_pr(&repo, &forge, &id, &[]);
    assert_eq!(pr["number"], number, "{pr:#}");
    assert_eq!(pr["state"], "open");
    assert_eq!(pr["checks_word"], "none");
    assert_eq!(pr["recorded_head"], head.as_str());
    assert_eq!(pr["head_commit"], head.as_str());
    assert!(notified(&repo).is_empty());

    // Within the refresh interval every reader shares that read: no call of the forge.
    let before = forge.api_requests();
    check(&forge, number, "ci", "failure", "error: boom");
    let pr = status_pr(&repo, &forge, &id, &[]);
    assert_eq!(
        pr["checks_word"], "none",
        "a fresh cached read was read anew"
    );
    let r = status(&repo, &forge, &[&id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(forge.api_requests(), before, "status called the forge");
    // --no-forge never calls it either.
    status_pr(&repo, &forge, &id, &["--no-forge"]);
    assert_eq!(forge.api_requests(), before);

    // A refresh: one read, the failing check by name, notified once.
    let pr = status_pr(&repo, &forge, &id, &["--refresh"]);
    let one_read = forge.api_requests() - before;
    assert!(one_read >= 1);
    assert_eq!(pr["checks_word"], "fail", "{pr:#}");
    assert_eq!(pr["checks"]["ci"], "fail");
    assert_eq!(pr["changes"], json!(["pr_checks_failed"]));
    assert_eq!(notified(&repo), [format!("pr_checks_failed {id}")]);
    let r = status(&repo, &forge, &[&id]);
    assert!(
        r.stdout
            .contains(&format!("pr #{number} open, checks 1 fail (ci)")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.lines().all(|l| l.chars().count() <= 80),
        "{}",
        r.stdout
    );
    // Read again with nothing new: nothing more is notified.
    status_pr(&repo, &forge, &id, &["--refresh"]);
    assert_eq!(notified(&repo).len(), 1, "{:?}", notified(&repo));

    // A review asking for changes and a comment (hostile text): each notified once.
    forge.control(
        "review",
        Some(
            json!({"pr": number, "author": "rev", "state": "CHANGES_REQUESTED",
                    "body": "rename \u{1b}[31mit\u{1b}[0m\nsecond line"}),
        ),
    );
    forge.control(
        "comment",
        Some(json!({"pr": number, "author": "ann", "body": "also the docs"})),
    );
    let pr = status_pr(&repo, &forge, &id, &["--refresh"]);
    assert_eq!(pr["review_decision"], "CHANGES_REQUESTED", "{pr:#}");
    assert_eq!(pr["new_comments"], 2);
    assert_eq!(pr["said"][0]["author"], "rev");
    assert_eq!(pr["said"][1]["line"], "also the docs");
    // (Each notification runs on its own: their order is not given.)
    let mut two = notified(&repo)[1..].to_vec();
    two.sort();
    assert_eq!(
        two,
        [
            format!("pr_changes_requested {id}"),
            format!("pr_comment {id}")
        ]
    );
    let r = status(&repo, &forge, &[&id]);
    assert!(
        r.stdout.contains("changes requested, 2 new comments"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains('\u{1b}'), "{}", r.stdout);

    // show: the pr block, every check by name, the new comments' first lines, escaped.
    let mut cmd = forge.vnx(&repo);
    cmd.args(["show", &id, "--refresh"]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&format!("#{number}")), "{}", r.stdout);
    assert!(r.stdout.contains("check    ci: fail"), "{}", r.stdout);
    assert!(
        r.stdout.contains("rev (CHANGES_REQUESTED): rename"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains('\u{1b}') && !r.stdout.contains("second line"));

    // The check passes: notified once, and the line says so.
    check(&forge, number, "ci", "success", "ok");
    let pr = status_pr(&repo, &forge, &id, &["--refresh"]);
    assert_eq!(pr["checks_word"], "pass", "{pr:#}");
    assert_eq!(
        notified(&repo).last().unwrap(),
        &format!("pr_checks_passed {id}")
    );
    assert_eq!(notified(&repo).len(), 4, "{:?}", notified(&repo));
}

#[test]
fn a_merge_by_a_person_is_recognised_by_status_and_signed() {
    let (repo, forge, id, _) = gated();
    let (r, opened) = pr_json(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let number = opened["number"].as_u64().unwrap();
    status_pr(&repo, &forge, &id, &[]);
    forge.control(
        "merge",
        Some(json!({"pr": number, "author": "maintainer", "method": "merge"})),
    );
    let pr = status_pr(&repo, &forge, &id, &["--refresh"]);
    assert_eq!(pr["state"], "merged", "{pr:#}");
    let merged = repo.events("pr_merged");
    assert_eq!(merged.len(), 1, "{merged:?}");
    assert_eq!(merged[0]["by_vnx"], false);
    assert_eq!(merged[0]["merged_by"], "maintainer");
    assert!(merged[0]["vnx_attestation"].is_object());
    // Read again: recorded once.
    status_pr(&repo, &forge, &id, &["--refresh"]);
    assert_eq!(repo.events("pr_merged").len(), 1);
    repo.verify_ok();
}

#[test]
fn an_unreachable_forge_shows_the_cached_state_marked_stale() {
    let (repo, forge, id, _) = gated();
    let (r, _) = pr_json(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    status_pr(&repo, &forge, &id, &[]);
    forge.control("fail", Some(json!({"status": 503, "count": 5})));
    let pr = status_pr(&repo, &forge, &id, &["--refresh"]);
    assert_eq!(pr["state"], "open", "{pr:#}");
    assert!(pr["stale"].as_str().is_some(), "{pr:#}");
    let r = status(&repo, &forge, &[&id, "--refresh"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(", stale"), "{}", r.stdout);
}

#[tokio::test]
async fn the_mcp_server_answers_the_pull_request_as_last_read_without_calling_the_forge() {
    use rmcp::ServiceExt;
    use rmcp::model::CallToolRequestParams;

    let (repo, forge, id, _) = gated();
    let (r, opened) = pr_json(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let number = opened["number"].as_u64().unwrap();
    check(&forge, number, "ci", "failure", "boom");
    let read = status_pr(&repo, &forge, &id, &["--refresh"]);
    assert_eq!(read["checks"]["ci"], "fail", "{read:#}");

    let before = forge.api_requests();
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = forge.vnx(&repo);
    cmd.arg("mcp").env("TMPDIR", tmp.path());
    let transport = crate::common::mcp_stdio::spawn(cmd);
    let client = ().serve(transport).await.expect("the MCP handshake");
    let args = json!({"dispatch_id": id});
    let params = CallToolRequestParams::new("show_dispatch")
        .with_arguments(args.as_object().unwrap().clone());
    let answer = client.call_tool(params).await.unwrap();
    let shown = answer.structured_content.expect("structured content");
    let _ = client.cancel().await;
    let pr = &shown["pr"];
    assert_eq!(pr["number"], number, "{shown:#}");
    assert_eq!(pr["state"], "open");
    assert_eq!(pr["checks"]["ci"], "fail");
    assert_eq!(pr["read_at"], read["read_at"]);
    assert_eq!(
        forge.api_requests(),
        before,
        "the MCP server called the forge"
    );
}
