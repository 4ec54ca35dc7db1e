//! A pull request larger than vnx's reads: every check is read however many there are (a
//! failing one after 230 passing refuses the merge), and a conversation longer than the
//! read's output cap is left out rather than failing `pr show` and `pr merge`.

use serde_json::json;

use super::{check, gated, pr, pr_json};

#[test]
fn a_failing_check_after_230_passing_ones_refuses_the_merge() {
    let (repo, forge, id, _) = gated();
    let (r, opened) = pr_json(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let number = opened["number"].as_u64().unwrap();
    let passing: Vec<_> = (0..230)
        .map(|i| json!({"name": format!("a-lint-{i:03}"), "conclusion": "success"}))
        .collect();
    forge.control("checks", Some(json!({"pr": number, "checks": passing})));
    check(&forge, number, "z-ci", "failure", "error: boom");
    forge.control(
        "review",
        Some(json!({"pr": number, "author": "rev", "state": "APPROVED", "body": "ok"})),
    );

    let (r, seen) = pr_json(&repo, &forge, &["show", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(seen["pr"]["checks"].as_array().unwrap().len(), 231);
    let r = pr(&repo, &forge, &["merge", &id]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("z-ci"), "{}", r.stderr);
    assert!(repo.events("pr_merged").is_empty());
    assert_eq!(forge.state()["pull_requests"][0]["state"], "OPEN");
}

#[test]
fn a_conversation_over_the_read_cap_is_left_out_not_fatal() {
    let (repo, forge, id, _) = gated();
    let (r, opened) = pr_json(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let number = opened["number"].as_u64().unwrap();
    // 80 comments of 60 kB: about 4.8 MB of JSON, over the 4 MiB vnx reads of one answer.
    let long = "x".repeat(60_000);
    for _ in 0..80 {
        forge.control("comment", Some(json!({"pr": number, "body": long})));
    }
    check(&forge, number, "ci", "success", "ok");
    let (r, seen) = pr_json(&repo, &forge, &["show", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(seen["pr"]["checks"][0]["state"], "pass", "{seen:#}");
    let (r, merged) = pr_json(&repo, &forge, &["merge", &id]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(merged["receipt"]["number"], number);
}
