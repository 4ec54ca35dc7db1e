//! `vnx tidy`: one pass that releases what is settled (landed, pushed, never started) and
//! keeps the rest saying why, with the command that settles it: a question that waits keeps
//! its branch, and unlanded work is kept even of a dismissed or failed dispatch. And `vnx
//! dismiss` with several ids and its selections (`--all-asking`, `--all-answered`).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{Repo, completion, configure, run};
use crate::json_schema::documented;

fn dispatched(repo: &Repo, model: &str) -> String {
    let r = repo.dispatch(model, &["--instruction", &format!("task {model}")]);
    completion(&r)["dispatch_id"].as_str().unwrap().to_owned()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// The entry of `id` in `vnx tidy --json`'s answer.
fn entry<'a>(tidy: &'a Value, id: &str) -> &'a Value {
    tidy["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["dispatch_id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {tidy:#}"))
}

#[test]
fn tidy_releases_what_is_settled_and_keeps_unlanded_work_saying_why() {
    let repo = Repo::new();
    configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let merged = dispatched(&repo, "commit");
    let r = run(repo.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(repo.vnx().args(["merge", &merged]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let asking = dispatched(&repo, "forget");
    let dismissed = dispatched(&repo, "forget");
    let r = run(repo.vnx().args(["dismiss", &dismissed]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let failed = dispatched(&repo, "fail");
    let done = dispatched(&repo, "dirty");
    let before = repo.branches();

    // A dry run: every one listed with what would be done and why; nothing changes.
    let r = run(repo.vnx().args(["tidy"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(repo.branches(), before);
    let line = |id: &str| {
        r.stdout
            .lines()
            .skip_while(|l| !l.starts_with(id))
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(line(&merged).contains("release   merged"), "{}", r.stdout);
    assert!(line(&asking).contains("keep"), "{}", r.stdout);
    assert!(
        line(&asking).contains(&format!("next: vnx follow-up {asking}")),
        "{}",
        r.stdout
    );
    assert!(line(&dismissed).contains("dismissed"), "{}", r.stdout);
    assert!(
        line(&dismissed).contains("tidy never discards unlanded work"),
        "{}",
        r.stdout
    );
    assert!(
        line(&dismissed).contains(&format!("next: vnx clean {dismissed}")),
        "{}",
        r.stdout
    );
    assert!(line(&failed).contains("given up"), "{}", r.stdout);
    assert!(
        line(&done).contains(&format!("next: vnx merge {done}")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("dry run, nothing changed: 1 to release, 4 kept; --yes releases"),
        "{}",
        r.stdout
    );

    // As JSON, with the documented members.
    let r = run(repo.vnx().args(["tidy", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let tidy: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(keys(&tidy), documented("tidy-members"));
    let mut members = keys(entry(&tidy, &dismissed));
    // Present only for a follow-up chain's first dispatch.
    members.insert("latest".into());
    assert_eq!(members, documented("tidy-entry-members"));
    assert_eq!(entry(&tidy, &merged)["action"], "release");
    assert_eq!(entry(&tidy, &merged)["settled"], "merged");
    assert_eq!(entry(&tidy, &asking)["action"], "keep");
    assert_eq!(entry(&tidy, &asking)["status"], "needs_input");
    assert_eq!(entry(&tidy, &dismissed)["settled"], "dismissed");
    assert_eq!(entry(&tidy, &failed)["settled"], "given_up");
    assert_eq!(entry(&tidy, &failed)["item"]["class"], "dirty");
    assert_eq!(entry(&tidy, &done)["settled"], Value::Null);

    // Applied: only the merged one goes, with its receipt; the rest is kept as it was.
    let r = run(repo.vnx().args(["tidy", "--yes"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 released"), "{}", r.stdout);
    let after = repo.branches();
    assert!(!after.contains(&merged), "{after}");
    for kept in [&asking, &dismissed, &failed, &done] {
        assert!(after.contains(kept.as_str()), "{kept} went: {after}");
    }
    let released = repo.events("worktree_released");
    assert_eq!(released.len(), 1, "{released:?}");
    assert_eq!(released[0]["dispatch_id"], merged.as_str());
    // Again: nothing left to release.
    let r = run(repo.vnx().args(["tidy", "--apply"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("0 released"), "{}", r.stdout);
    assert_eq!(run(repo.vnx().args(["tidy", "--frobnicate"])).code, 2);
    repo.verify_ok();
}

#[test]
fn dismiss_takes_several_ids_and_the_questions_that_wait() {
    let repo = Repo::new();
    let said = [dispatched(&repo, "forget"), dispatched(&repo, "forget")];
    let asks = dispatched(&repo, "ask");
    let r = run(repo.vnx().args(["dismiss"]));
    assert_eq!(r.code, 2, "nothing named: {}", r.stderr);

    // The workers that answered and stopped, not the one that asks.
    let r = run(repo.vnx().args(["dismiss", "--all-answered", "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let ids: Vec<String> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["dispatch_id"].to_string())
        .collect();
    assert_eq!(
        ids,
        said.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>()
    );

    // Several ids: a refusal (settled already) stops none of the others, and says so.
    let r = run(repo
        .vnx()
        .args(["dismiss", &said[0], &asks, "--note", "not needed"]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("settled already"), "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("{asks}  question dismissed")),
        "{}",
        r.stdout
    );
    assert_eq!(repo.events("dispatch_dismissed").len(), 3);

    // Nothing waits any more.
    let r = run(repo.vnx().args(["dismiss", "--all-asking"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("no question waits"), "{}", r.stderr);
    repo.verify_ok();
}

/// The lines `vnx tidy` printed for dispatch `id`: its verdict, why, and `next:`.
fn said_of(stdout: &str, id: &str) -> String {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with(id))
        .take(3)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Work that conflicts with the base is brought onto it by `vnx follow-up --rebase` (a merge
/// would be refused, or taken out of the queue), whether or not a merge tried it; a plan that
/// waits is answered by `vnx approve` or `vnx deny`, never a follow-up.
#[test]
fn tidy_tells_a_conflict_to_rebase_and_a_waiting_plan_to_be_approved() {
    let repo = Repo::new();
    configure(&repo, "roles:\n  implementer: {gates: []}\n");
    // Both write demo-output.txt from the same base: once the first landed, the second
    // conflicts with it.
    let first = completion(&repo.dispatch("commit", &["--instruction", "first"]));
    let first = first["dispatch_id"].as_str().unwrap().to_owned();
    let second = completion(&repo.dispatch("commit", &["--instruction", "second"]));
    let second = second["dispatch_id"].as_str().unwrap().to_owned();
    run(repo.vnx().args(["audit-chain", "checkpoint"]));
    let r = run(repo.vnx().args(["merge", &first]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // A plan that waits, its branch still there (as when a clean teardown could not delete
    // it).
    let plan = completion(&repo.dispatch("commit", &["--plan", "--instruction", "plan it"]));
    assert_eq!(plan["status"], "needs_input", "{plan}");
    let plan = plan["dispatch_id"].as_str().unwrap().to_owned();
    repo.env.git(&["branch", &format!("dispatch/{plan}")]);

    let rebase = format!("next: vnx follow-up {second} --rebase");
    for merged in [false, true] {
        if merged {
            // The queue takes it out for the conflict: the advice stays.
            let r = run(repo.vnx().args(["merge", &second]));
            assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
            assert!(r.stderr.contains("conflict"), "{}", r.stderr);
        }
        let r = run(repo.vnx().args(["tidy"]));
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        let conflicted = said_of(&r.stdout, &second);
        assert!(conflicted.contains(&rebase), "{merged}: {}", r.stdout);
        assert!(
            conflicted.contains("conflicts with the base in demo-output.txt"),
            "{merged}: {}",
            r.stdout
        );
        assert!(
            !conflicted.contains("next: vnx merge"),
            "{merged}: {}",
            r.stdout
        );
        let waiting = said_of(&r.stdout, &plan);
        assert!(
            waiting.contains(&format!("next: vnx approve {plan}  (or vnx deny {plan}")),
            "{}",
            r.stdout
        );
        assert!(waiting.contains("its plan waits"), "{}", r.stdout);
        assert!(!waiting.contains("next: vnx follow-up"), "{}", r.stdout);
    }
    let r = run(repo.vnx().args(["tidy", "--json"]));
    let tidy: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let item = &entry(&tidy, &second)["item"];
    assert_eq!(item["conflicts"], serde_json::json!(["demo-output.txt"]));
    assert!(entry(&tidy, &plan)["item"].get("conflicts").is_none());
}

/// A plan whose planning changed files cannot be approved (`vnx approve` refuses it): tidy
/// says so, and names what shows the change and what sends the plan back.
#[test]
fn tidy_tells_a_plan_whose_planning_changed_files_to_go_back() {
    let repo = Repo::new();
    // A declared CLI with no plan mode that commits during its planning turn.
    let bin = repo.env.home().join("hostile-planner");
    std::fs::write(
        &bin,
        "#!/bin/sh\necho sneaked > committed.txt\ngit add committed.txt\n\
         git -c user.name=w -c user.email=w@example.com commit -qm sneaked\n\
         printf 'Plan: change nothing at all.\\n'\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    configure(
        &repo,
        &format!(
            "roles:\n  implementer: {{gates: []}}\nproviders:\n  planner:\n    binary: {}\n    \
             headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      ask: []\n      \
             edits: []\n",
            bin.display()
        ),
    );
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "planner",
        "--plan",
        "--json",
        "--instruction",
        "add a greeting",
    ]));
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{c}");
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let r = run(repo.vnx().args(["tidy"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let said = said_of(&r.stdout, &id);
    assert!(
        said.contains("its planning changed files: it moved its branch from"),
        "{}",
        r.stdout
    );
    assert!(
        said.contains(&format!(
            "next: vnx show {id} --diff, then vnx deny {id}  (or vnx clean {id})"
        )),
        "{}",
        r.stdout
    );
    // What it says holds: approving is refused.
    let r = run(repo.vnx().args(["approve", &id]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
}
