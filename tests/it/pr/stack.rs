//! Stacked pull requests: a dispatch of `--after` whose dependency has not merged opens its
//! pull request on that dependency's branch, saying so; merging it alone is refused while
//! the one below is open; `vnx pr merge ID --stack` merges the stack from the bottom,
//! retargeting each onto `main` once the one below merged, every step signed.

use super::{FORGE, pr, pr_json};
use crate::common::forge::ScriptedForge;
use crate::common::{Repo, configure, gate_check, run};

/// A done, gated demo dispatch (`after`: what it waits for): its id.
fn done(repo: &Repo, after: Option<&str>) -> String {
    let mut cmd = repo.dispatch_cmd("commit");
    cmd.args(["--instruction", "add a greeting", "--detach", "--json"]);
    if let Some(a) = after {
        cmd.args(["--after", a]);
    }
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = v["dispatch_id"].as_str().unwrap().to_owned();
    let w = run(repo.vnx().args(["wait", &id, "--timeout", "120"]));
    assert_eq!(w.code, 0, "{}{}", w.stdout, w.stderr);
    let (g, report) = gate_check(repo, &id);
    assert_eq!(g.code, 0, "{report:#}");
    id
}

#[test]
fn a_chain_opens_as_a_stack_and_merges_from_its_bottom() {
    let repo = Repo::new();
    configure(&repo, &format!("{FORGE}\x20 require_checks: false\n"));
    let forge = ScriptedForge::for_repo(&repo);
    let a = done(&repo, None);
    let b = done(&repo, Some(&a));
    // Opened before its parent's: based on the parent's branch, pushed at its head.
    let (r, opened_b) = pr_json(&repo, &forge, &["open", &b]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(opened_b["base"], format!("dispatch/{a}"), "{opened_b:#}");
    let a_head = repo.env.git(&["rev-parse", &format!("dispatch/{a}")]);
    assert_eq!(
        forge.branch(&format!("dispatch/{a}")).as_deref(),
        Some(a_head.trim())
    );
    let n_b = opened_b["number"].as_u64().unwrap();
    let words = forge.pr_words(n_b);
    let body = words["body"].as_str().unwrap_or_default();
    assert!(
        body.contains(&format!("Stacked on dispatch `{a}`")),
        "{body}"
    );
    let (r, opened_a) = pr_json(&repo, &forge, &["open", &a]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(opened_a["base"], "main");
    // The top alone is refused while the one below is open.
    let r = pr(&repo, &forge, &["merge", &b, "--method", "merge"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("stack_parent_merged"), "{}", r.stderr);
    assert!(repo.events("pr_merged").is_empty());
    // The stack, from its bottom.
    let r = pr(
        &repo,
        &forge,
        &["merge", &b, "--stack", "--method", "merge"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let merged: Vec<String> = (repo.events("pr_merged").iter())
        .map(|m| m["dispatch_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(merged, [a.clone(), b.clone()]);
    let retargeted: Vec<serde_json::Value> = (repo.events("pr_opened").into_iter())
        .filter(|o| o["action"] == "retargeted")
        .collect();
    assert_eq!(retargeted.len(), 1, "{retargeted:#?}");
    assert_eq!(retargeted[0]["dispatch_id"], *b);
    assert_eq!(retargeted[0]["base"], "main");
    let last = repo.events("pr_merged").pop().unwrap();
    assert_eq!(last["base"], "main", "the top merged into main: {last:#}");
    let main = forge.branch("main").unwrap();
    let b_head = repo.env.git(&["rev-parse", &format!("dispatch/{b}")]);
    let holds = run(std::process::Command::new("git").args([
        "-C",
        &forge.bare().to_string_lossy(),
        "merge-base",
        "--is-ancestor",
        b_head.trim(),
        &main,
    ]));
    assert_eq!(holds.code, 0, "the forge's main holds the top's head");
    repo.verify_ok();
}

#[test]
fn a_parent_merged_on_the_forge_by_a_person_retargets_the_child_at_the_next_watch() {
    let repo = Repo::new();
    // The watcher follows the pull requests of roles with reactions.
    let reactions = "  reactions:\n    checks_failed: {fix: false}\n";
    configure(
        &repo,
        &format!("{FORGE}\x20 require_checks: false\n{reactions}"),
    );
    let forge = ScriptedForge::for_repo(&repo);
    let a = done(&repo, None);
    let b = done(&repo, Some(&a));
    let (r, opened_a) = pr_json(&repo, &forge, &["open", &a]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let (r, opened_b) = pr_json(&repo, &forge, &["open", &b]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(opened_b["base"], format!("dispatch/{a}"));
    // A person merges the parent on the forge, with gh.
    let n_a = opened_a["number"].as_u64().unwrap().to_string();
    let mut cmd = std::process::Command::new("gh");
    forge.env(&mut cmd);
    cmd.current_dir(repo.env.path())
        .args(["pr", "merge", &n_a, "--merge", "--repo", "o/r"]);
    let merged = run(cmd);
    assert_eq!(merged.code, 0, "{}{}", merged.stdout, merged.stderr);
    let r = pr(&repo, &forge, &["watch", "--once"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let retargeted: Vec<serde_json::Value> = (repo.events("pr_opened").into_iter())
        .filter(|o| o["action"] == "retargeted")
        .collect();
    assert_eq!(retargeted.len(), 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(retargeted[0]["dispatch_id"], *b);
    let n_b = opened_b["number"].as_u64().unwrap();
    let view = forge.gh(&[
        "pr",
        "view",
        &n_b.to_string(),
        "--repo",
        "o/r",
        "--json",
        "baseRefName",
    ]);
    assert_eq!(view["baseRefName"], "main", "{view}");
}
