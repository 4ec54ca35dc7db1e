//! A merge the queue takes out for a conflict, and the way through it that keeps the work:
//! `vnx follow-up ID --rebase` merges the base's head into the branch in the dispatch's own
//! worktree, tells the worker what conflicts and what changed on the base, records it, and
//! the follow-up's merge lands; `show` names the conflict and what followed it; and
//! `worktree-release` never calls a conflicted, never merged branch merged (ADR 0065).

use crate::common::{Repo, Run, completion, configure, run};

/// Two demo dispatches that write the same file, the first merged, the second taken out of
/// the merge queue for the conflict: (repo, first, second).
pub(crate) fn conflicted() -> (Repo, String, String) {
    let repo = Repo::new();
    configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let a = dispatched(&repo, "task A");
    let b = dispatched(&repo, "task B");
    let r = run(repo.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = merge(&repo, &a);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = merge(&repo, &b);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains(&format!("`vnx follow-up {b} --rebase --base-ref main`")),
        "the hint names the way through: {}",
        r.stderr
    );
    let last = repo.receipts(&b).pop().unwrap();
    assert_eq!(last["event_type"], "merge_dequeued");
    assert_eq!(last["reason"], "conflict");
    (repo, a, b)
}

fn dispatched(repo: &Repo, instruction: &str) -> String {
    let r = repo.dispatch("commit", &["--instruction", instruction]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    completion(&r)["dispatch_id"].as_str().unwrap().to_owned()
}

fn merge(repo: &Repo, id: &str) -> Run {
    run(repo.vnx().args(["merge", id]))
}

fn show(repo: &Repo, id: &str) -> String {
    let r = run(repo.vnx().args(["show", id]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
}

#[test]
fn a_conflict_is_resolved_in_the_same_worktree_and_the_follow_up_lands() {
    let (repo, a, b) = conflicted();
    let dequeued = repo.receipts(&b).pop().unwrap();
    let main_before = repo.env.git(&["rev-parse", "main"]).trim().to_owned();
    let b_head = repo
        .env
        .git(&["rev-parse", &format!("dispatch/{b}")])
        .trim()
        .to_owned();
    // show names the conflict and the way through it.
    let text = show(&repo, &b);
    assert!(
        text.contains(&format!(
            "conflict   merging into refs/heads/main at {} conflicted in demo-output.txt \
             (merge_dequeued, line {})",
            &main_before[..12],
            dequeued["seq"]
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("`vnx follow-up {b} --rebase`")),
        "{text}"
    );

    let r = run(repo.vnx().args(["follow-up", &b, "--rebase", "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "merging refs/heads/main into dispatch/{b} conflicts in demo-output.txt"
        )),
        "{}",
        r.stderr
    );
    let done = completion(&r);
    assert_eq!(done["status"], "done", "{done:#}");
    let f = done["dispatch_id"].as_str().unwrap().to_owned();

    // Recorded, signed: the start names the base merged in, the conflict left and the
    // merge_dequeued it answers.
    let started = repo
        .receipts(&f)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_started")
        .unwrap();
    let rebase = &started["continues"]["rebase"];
    assert_eq!(started["continues"]["dispatch_id"], b.as_str());
    assert_eq!(rebase["base_ref"], "refs/heads/main");
    assert_eq!(rebase["base_commit"], main_before.as_str());
    assert_eq!(rebase["conflicts"], serde_json::json!(["demo-output.txt"]));
    assert_eq!(rebase["dequeued_seq"], dequeued["seq"]);
    assert!(started["vnx_attestation"]["sig"].is_string(), "{started:#}");

    // The worker was told what conflicts and what changed on the base.
    let instruction = std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{f}/instruction.md")),
    )
    .unwrap();
    assert!(instruction.contains("- demo-output.txt\n"), "{instruction}");
    assert!(
        instruction.contains(&format!("Merge dispatch/{a} into main")),
        "{instruction}"
    );
    assert!(instruction.contains("1 file changed"), "{instruction}");
    assert!(instruction.contains("never revert the base's changes"));

    // The branch holds both its own work and the base: a merge commit of the two.
    let tip = repo.env.git(&["rev-parse", &format!("dispatch/{b}")]);
    let parents = repo.env.git(&["rev-list", "--parents", "-n1", tip.trim()]);
    let parents: Vec<&str> = parents.split_whitespace().skip(1).collect();
    assert_eq!(parents, vec![b_head.as_str(), main_before.as_str()]);
    let content = repo.on_branch(&b, "demo-output.txt");
    assert!(!content.contains("<<<<<<<"), "{content}");

    // show links the two.
    assert!(
        show(&repo, &b).contains(&format!("; followed by {f}")),
        "{}",
        show(&repo, &b)
    );
    let text = show(&repo, &f);
    assert!(
        text.contains(&format!(
            "rebase     vnx merged refs/heads/main at {} into the branch before the worker \
             started: conflicts left in demo-output.txt, answering the conflict at line {}",
            &main_before[..12],
            dequeued["seq"]
        )),
        "{text}"
    );

    // The follow-up's merge lands, the earlier base change kept.
    let r = merge(&repo, &f);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = repo
        .env
        .git(&["merge-base", "--is-ancestor", tip.trim(), "main"]);
    assert!(r.is_empty());
    let r = run(repo.vnx().args(["worktree-release", "--json"]));
    assert!(r.stdout.contains(&b), "{}", r.stdout);
    let items: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let item = items["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["dispatch_id"] == b.as_str())
        .unwrap()
        .clone();
    assert_eq!(item["class"], "landed", "{item:#}");
    repo.verify_ok();
}

/// The old proof called a branch whose merge conflicted "squash- or rebase-merged" once the
/// base's content came to match it (the task made again by a replay): it was never merged.
#[test]
fn release_never_calls_a_conflicted_never_merged_branch_merged() {
    let (repo, _a, b) = conflicted();
    // The base comes to hold exactly what the branch wrote, by another commit.
    let content = repo.on_branch(&b, "demo-output.txt");
    std::fs::write(repo.env.path().join("demo-output.txt"), content).unwrap();
    repo.env
        .git(&["commit", "-q", "-am", "the task made again on main"]);
    let r = run(repo.vnx().args(["worktree-release"]));
    let line = r
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with(&b))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(line.contains("unlanded"), "{}", r.stdout);
    assert!(
        line.contains(
            "not merged: its merge was taken out of the queue for a conflict in demo-output.txt"
        ),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("squash"), "{}", r.stdout);
    let r = run(repo.vnx().args(["worktree-release", "--apply"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(repo.branches().contains(&b), "the branch was released");
}

#[test]
fn a_rebase_with_nothing_to_bring_in_is_refused_and_a_remote_base_is_checked() {
    let repo = Repo::new();
    let b = dispatched(&repo, "task B");
    let r = run(repo.vnx().args(["follow-up", &b, "--rebase"]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains(&format!("dispatch/{b} already holds refs/heads/main")),
        "{}",
        r.stderr
    );
    let r = run(repo
        .vnx()
        .args(["follow-up", &b, "--rebase", "--base-ref", "no-such-branch"]));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("names no commit"), "{}", r.stderr);
    let r = run(repo.vnx().args(["follow-up", &b, "--base-ref", "main"]));
    assert_eq!(r.code, 2, "--base-ref needs --rebase: {}", r.stderr);
}

/// A worker that leaves its resolution uncommitted (as real CLIs do under the `edits`
/// posture): vnx's commit of its work is the merge commit, and the follow-up lands.
#[test]
fn a_resolution_left_uncommitted_is_committed_by_vnx_as_the_merge() {
    let (repo, _a, b) = conflicted();
    let main_before = repo.env.git(&["rev-parse", "main"]).trim().to_owned();
    let b_head = repo
        .env
        .git(&["rev-parse", &format!("dispatch/{b}")])
        .trim()
        .to_owned();
    let r = run(repo
        .vnx()
        .args(["follow-up", &b, "--rebase", "--model", "dirty", "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let done = completion(&r);
    assert_eq!(done["status"], "done", "{done:#}");
    assert_eq!(done["teardown_class"], "committed", "{done:#}");
    let f = done["dispatch_id"].as_str().unwrap().to_owned();
    let tip = repo.env.git(&["rev-parse", &format!("dispatch/{b}")]);
    let parents = repo.env.git(&["rev-list", "--parents", "-n1", tip.trim()]);
    let parents: Vec<&str> = parents.split_whitespace().skip(1).collect();
    assert_eq!(parents, vec![b_head.as_str(), main_before.as_str()]);
    let r = merge(&repo, &f);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

/// A base that moved without conflicting: the follow-up merges it in cleanly, the worker is
/// told so and what changed (the commits named up to a bound), and the follow-up lands.
#[test]
fn a_base_that_moved_far_merges_cleanly_and_the_instruction_stays_bounded() {
    let repo = Repo::new();
    configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let b = dispatched(&repo, "task B");
    for n in 0..25 {
        let name = format!("main-{n}.txt");
        std::fs::write(repo.env.path().join(&name), format!("{n}\n")).unwrap();
        repo.env.git(&["add", &name]);
        repo.env
            .git(&["commit", "-q", "-m", &format!("main's change {n}")]);
    }
    let r = run(repo.vnx().args(["follow-up", &b, "--rebase", "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "refs/heads/main merges into dispatch/{b} without conflicts"
        )),
        "{}",
        r.stderr
    );
    let f = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let instruction = std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{f}/instruction.md")),
    )
    .unwrap();
    assert!(
        instruction.contains("It merged without conflicts."),
        "{instruction}"
    );
    assert!(instruction.contains("(25 commits)"), "{instruction}");
    assert!(instruction.contains("main's change 24"), "{instruction}");
    assert!(
        instruction.contains("- … and 5 older commits"),
        "{instruction}"
    );
    assert!(!instruction.contains("main's change 0\n"), "{instruction}");
    let r = run(repo.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = merge(&repo, &f);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

/// A follow-up that ends without reporting, its merge left under way (issue 50): `accept`
/// refuses while a conflict marker is left, and once every conflict is resolved (here by
/// keeping the branch's side, which leaves only `MERGE_HEAD` to tell) commits the merge, so
/// the next `merge` lands instead of conflicting again.
#[test]
fn accept_commits_a_resolved_merge_and_refuses_an_unresolved_one() {
    let (repo, _a, b) = conflicted();
    let main_before = repo.env.git(&["rev-parse", "main"]).trim().to_owned();
    let b_head = repo
        .env
        .git(&["rev-parse", &format!("dispatch/{b}")])
        .trim()
        .to_owned();
    let r = run(repo
        .vnx()
        .args(["follow-up", &b, "--rebase", "--model", "ask", "--json"]));
    let done = completion(&r);
    assert_eq!(done["status"], "needs_input", "{done:#}");
    assert_eq!(done["teardown_class"], "dirty", "{done:#}");
    let f = done["dispatch_id"].as_str().unwrap().to_owned();
    let started = repo
        .receipts(&f)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_started")
        .unwrap();
    let wt = std::path::PathBuf::from(started["worktree"].as_str().unwrap());
    let file = wt.join("demo-output.txt");
    assert!(std::fs::read_to_string(&file).unwrap().contains("<<<<<<<"));

    // The markers are still there: refused, saying which path and what to do.
    let r = run(repo.vnx().args(["accept", &f]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("conflicts are left in demo-output.txt"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    assert_eq!(
        repo.env
            .git(&["rev-parse", &format!("dispatch/{b}")])
            .trim(),
        b_head,
        "nothing was committed"
    );

    // Resolved by keeping the branch's side: the status is clean, only the merge is left.
    std::fs::write(&file, repo.on_branch(&b, "demo-output.txt")).unwrap();
    let git = |args: &[&str]| crate::common::git(&repo.env.home(), &wt, args);
    git(&["add", "demo-output.txt"]);
    assert_eq!(
        git(&["status", "--porcelain"]),
        "",
        "only the merge is left"
    );
    let r = run(repo.vnx().args(["accept", &f, "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let tip = repo.env.git(&["rev-parse", &format!("dispatch/{b}")]);
    let parents = repo.env.git(&["rev-list", "--parents", "-n1", tip.trim()]);
    let parents: Vec<&str> = parents.split_whitespace().skip(1).collect();
    assert_eq!(parents, vec![b_head.as_str(), main_before.as_str()]);
    let accepted: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(accepted["head_commit"], tip.trim(), "{accepted:#}");

    let r = merge(&repo, &f);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    repo.verify_ok();
}
