//! A dispatch from done to merged on the forge: opened, updated, checks failing then
//! passing, a review asking for changes then approving, merged, every step signed.

use serde_json::json;

use super::{check, gated, pr, pr_json};

#[test]
fn a_done_dispatch_is_opened_checked_reviewed_and_merged_on_the_forge() {
    let (repo, forge, id, head) = gated();

    // Opened: the recorded head pushed, the pull request made, `pr_opened` signed.
    let (r, opened) = pr_json(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(opened["action"], "created", "{opened}");
    assert_eq!(opened["head_commit"], head.as_str());
    assert_eq!(opened["branch"], format!("dispatch/{id}"));
    assert_eq!(opened["base"], "main");
    assert_eq!(opened["repo"], "o/r");
    assert_eq!(opened["gates_passed"], json!(["tests"]));
    let number = opened["number"].as_u64().unwrap();
    assert_eq!(
        opened["url"],
        format!("https://github.com/o/r/pull/{number}")
    );
    assert_eq!(
        forge.branch(&format!("dispatch/{id}")).as_deref(),
        Some(head.as_str())
    );
    let state = forge.state();
    let made = &state["pull_requests"][0];
    assert_eq!(made["number"], number, "{state:#}");
    assert_eq!(made["head"], format!("dispatch/{id}"), "{made:#}");
    let view = forge.gh(&[
        "pr",
        "view",
        &number.to_string(),
        "--repo",
        "o/r",
        "--json",
        "body",
    ]);
    let body = view["body"].as_str().unwrap_or_default();
    assert!(body.contains(&id) && body.contains("`tests`"), "{body}");
    assert!(body.contains(&head), "{body}");
    // The worker's summary is quoted as inert text, not rendered as Markdown.
    assert!(
        body.starts_with("The worker's summary, as it wrote it:\n\n```text\n"),
        "{body}"
    );

    // Opened again: the same pull request, updated.
    let (r, again) = pr_json(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(again["action"], "updated");
    assert_eq!(again["number"], number);

    // A failing check refuses the merge, naming it; nothing is merged or recorded.
    check(&forge, number, "ci", "failure", "error: boom");
    let r = pr(&repo, &forge, &["merge", &id]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("checks_green") && r.stderr.contains("ci"),
        "{}",
        r.stderr
    );
    assert!(repo.events("pr_merged").is_empty());

    // show: one read, the checks by name and the review.
    forge.control(
        "review",
        Some(
            json!({"pr": number, "author": "rev", "state": "CHANGES_REQUESTED",
                    "body": "please \u{1b}[31mrename\u{1b}[0m it"}),
        ),
    );
    let (r, seen) = pr_json(&repo, &forge, &["show", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(seen["pr"]["checks"][0]["name"], "ci");
    assert_eq!(seen["pr"]["checks"][0]["state"], "fail");
    assert_eq!(seen["pr"]["review_decision"], "CHANGES_REQUESTED");
    assert_eq!(seen["at_recorded_head"], true);
    let r = pr(&repo, &forge, &["show", &id]);
    assert!(r.stdout.contains("ci fail"), "{}", r.stdout);
    assert!(
        !r.stdout.contains('\u{1b}'),
        "forge text reached the terminal raw: {}",
        r.stdout
    );

    // Checks pass and the reviewer approves: merged on the forge, `pr_merged` signed.
    check(&forge, number, "ci", "success", "ok");
    forge.control(
        "review",
        Some(json!({"pr": number, "author": "rev", "state": "APPROVED", "body": "thanks"})),
    );
    let (r, merged) = pr_json(&repo, &forge, &["merge", &id]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let receipt = &merged["receipt"];
    assert_eq!(receipt["number"], number);
    assert_eq!(receipt["by_vnx"], true);
    assert_eq!(receipt["method"], "squash");
    assert_eq!(receipt["head_commit"], head.as_str());
    let main = forge.branch("main").unwrap();
    assert_eq!(receipt["merge_commit"], main.as_str(), "{merged:#}");
    let state = forge.state();
    assert_eq!(state["pull_requests"][0]["state"], "MERGED", "{state:#}");

    // Every step is signed, and a rerun changes nothing.
    for kind in ["pr_opened", "pr_merged"] {
        for r in repo.events(kind) {
            assert!(r["vnx_attestation"].is_object(), "{kind} unsigned: {r}");
        }
    }
    assert_eq!(repo.events("pr_opened").len(), 2);
    let (r, again) = pr_json(&repo, &forge, &["merge", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(again["recorded_before"], true);
    assert_eq!(repo.events("pr_merged").len(), 1);
    repo.verify_ok();
}

#[test]
fn a_pull_request_merged_by_a_person_is_recognised_on_the_next_read() {
    let (repo, forge, id, _) = gated();
    let (r, opened) = pr_json(&repo, &forge, &["open", &id, "--draft"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(opened["draft"], true);
    let number = opened["number"].as_u64().unwrap();
    forge.control("draft", Some(json!({"pr": number, "draft": false})));
    forge.control(
        "merge",
        Some(json!({"pr": number, "author": "maintainer", "method": "merge"})),
    );
    let (r, seen) = pr_json(&repo, &forge, &["show", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(seen["pr"]["state"], "merged");
    let merged = repo.events("pr_merged");
    assert_eq!(merged.len(), 1, "{merged:?}");
    assert_eq!(merged[0]["by_vnx"], false);
    assert_eq!(merged[0]["merged_by"], "maintainer");
    assert_eq!(
        merged[0]["merge_commit"],
        forge.branch("main").unwrap().as_str()
    );
    let (r, m) = pr_json(&repo, &forge, &["merge", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(m["recorded_before"], true);
}
