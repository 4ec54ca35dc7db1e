//! `vnx worktree-release` with real git and tmux: clean, committed, pushed, merged,
//! squash-merged and dirty work, worktrees vnx or someone else locked, a running and a lost
//! dispatch; the dry run changes nothing, `--apply` releases only what is landed or pushed and
//! records each release; and the squash-merge proof against revert and later commits.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use vnx::release::{Rule, proof};

use crate::common::{Repo, Run, TestEnv, completion, git, run, worker_alive};

fn release(repo: &Repo, args: &[&str]) -> (Run, Value) {
    let r = run(repo.vnx().args(["worktree-release", "--json"]).args(args));
    let v = serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {} {}", r.stdout, r.stderr));
    (r, v)
}

fn item<'a>(plan: &'a Value, id: &str) -> &'a Value {
    plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["dispatch_id"] == id)
        .unwrap_or_else(|| panic!("no item {id}: {plan:#}"))
}

fn worktree_path(env: &TestEnv, id: &str) -> PathBuf {
    env.path()
        .canonicalize()
        .unwrap()
        .join(format!(".vnx-data/worktrees/dispatch-{id}"))
}

/// A worktree on a new `dispatch/<id>` branch at main, as vnx makes them.
fn add_worktree(env: &TestEnv, id: &str) -> PathBuf {
    let path = worktree_path(env, id);
    env.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        &format!("dispatch/{id}"),
        path.to_str().unwrap(),
        "main",
    ]);
    path
}

fn commit_in(env: &TestEnv, dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
    git(&env.home(), dir, &["add", file]);
    git(
        &env.home(),
        dir,
        &["commit", "-q", "-m", &format!("write {file}")],
    );
}

/// A `dispatch/<id>` branch with one commit and no worktree (a committed teardown, or a branch
/// a lost supervisor left).
fn branch_with_commit(env: &TestEnv, id: &str, file: &str) {
    let path = add_worktree(env, id);
    commit_in(env, &path, file, &format!("{id}\n"));
    env.git(&["worktree", "remove", path.to_str().unwrap()]);
}

fn bare_origin(env: &TestEnv) -> PathBuf {
    let origin = env.dir.path().join("origin.git");
    git(
        &env.home(),
        env.dir.path(),
        &["init", "-q", "--bare", origin.to_str().unwrap()],
    );
    env.git(&["remote", "add", "origin", origin.to_str().unwrap()]);
    origin
}

fn released_receipts(repo: &Repo, id: &str) -> Vec<Value> {
    repo.receipts(id)
        .into_iter()
        .filter(|r| r["event_type"] == "worktree_released")
        .collect()
}

fn state(repo: &Repo) -> (String, String, Vec<u8>) {
    let ledger = repo.env.path().join(".vnx-data/state/t0_receipts.ndjson");
    (
        repo.branches(),
        repo.env.git(&["worktree", "list", "--porcelain"]),
        std::fs::read(ledger).unwrap_or_default(),
    )
}

#[test]
fn only_landed_and_pushed_work_is_released_and_each_release_is_recorded() {
    let repo = Repo::new();
    let env = &repo.env;
    let origin = bare_origin(env);
    // vnx's pre-push hook runs here (no ledger yet: nothing to verify).
    env.git(&["push", "-q", "origin", "main"]);

    // A dispatch whose commit was squash-merged into main.
    let r = repo.dispatch("commit", &["--instruction", "squash me"]);
    let squashed = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    env.git(&["merge", "-q", "--squash", &format!("dispatch/{squashed}")]);
    env.git(&["commit", "-q", "-m", "squash"]);
    // A dispatch that failed and left uncommitted work: locked and kept.
    let r = repo.dispatch("fail", &["--instruction", "leave it"]);
    let dirty = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    // Work without receipts (by hand, or left by lost supervisors):
    branch_with_commit(env, "D-merged", "merged.txt");
    // vnx's pre-merge-commit hook verifies the ledger before this merge commit.
    env.git(&["merge", "-q", "--no-ff", "-m", "merge", "dispatch/D-merged"]);
    branch_with_commit(env, "D-pushed", "pushed.txt");
    env.git(&["push", "-q", "origin", "dispatch/D-pushed"]);
    branch_with_commit(env, "D-unlanded", "unlanded.txt");
    let ahead = add_worktree(env, "D-ahead");
    commit_in(env, &ahead, "ahead.txt", "1\n");
    env.git(&["push", "-q", "origin", "dispatch/D-ahead"]);
    commit_in(env, &ahead, "ahead.txt", "2\n");
    env.git(&["worktree", "remove", ahead.to_str().unwrap()]);
    let clean = add_worktree(env, "D-clean");
    let relocked = add_worktree(env, "D-relocked");
    commit_in(env, &relocked, "relocked.txt", "done by hand\n");
    env.git(&["push", "-q", "origin", "dispatch/D-relocked"]);
    env.git(&[
        "worktree",
        "lock",
        "--reason",
        "vnx: dispatch D-relocked is dirty: 1 uncommitted or untracked path(s)",
        relocked.to_str().unwrap(),
    ]);
    let foreign = add_worktree(env, "D-foreign");
    env.git(&[
        "worktree",
        "lock",
        "--reason",
        "mine",
        foreign.to_str().unwrap(),
    ]);

    let before = state(&repo);
    let (r, plan) = release(&repo, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(before, state(&repo), "the dry run changed something");
    assert_eq!(plan["applied"], false);
    assert_eq!(plan["base"]["branch"], "main");
    let expect = [
        (squashed.as_str(), "landed", Some("contained")),
        (dirty.as_str(), "dirty", None),
        ("D-merged", "landed", Some("ancestor")),
        ("D-pushed", "pushed", Some("remote")),
        ("D-unlanded", "unlanded", None),
        ("D-ahead", "unlanded", None),
        ("D-clean", "landed", Some("ancestor")),
        ("D-relocked", "pushed", Some("remote")),
        ("D-foreign", "blocked", None),
    ];
    assert_eq!(
        plan["items"].as_array().unwrap().len(),
        expect.len(),
        "{plan:#}"
    );
    for (id, class, rule) in expect {
        let i = item(&plan, id);
        assert_eq!(i["class"], class, "{id}: {i:#}");
        assert_eq!(i["evidence"]["rule"].as_str(), rule, "{id}: {i:#}");
        assert_eq!(i["actions"]["delete_branch"], rule.is_some(), "{id}");
    }
    assert_eq!(
        item(&plan, &squashed)["recorded"]["teardown_class"],
        "committed"
    );
    assert_eq!(
        item(&plan, &dirty)["reason"],
        "1 uncommitted or untracked path(s)"
    );
    assert!(item(&plan, "D-merged")["recorded"].is_null());
    let why = item(&plan, "D-unlanded")["reason"].as_str().unwrap();
    assert!(why.contains("origin has no dispatch/D-unlanded"), "{why}");
    let why = item(&plan, "D-ahead")["reason"].as_str().unwrap();
    assert!(why.contains("origin has dispatch/D-ahead at"), "{why}");
    assert_eq!(
        item(&plan, "D-relocked")["actions"]["unlock_worktree"],
        true
    );
    let why = item(&plan, "D-foreign")["reason"].as_str().unwrap();
    assert!(why.contains("locked by someone else: mine"), "{why}");
    // The text form says the same.
    let text = run(repo.vnx().arg("worktree-release"));
    assert!(
        text.stdout
            .contains("dry run, nothing changed: 5 to release, 4 kept"),
        "{}",
        text.stdout
    );

    let (r, done) = release(&repo, &["--apply"]);
    assert_eq!(r.code, 0, "{} {done:#}", r.stderr);
    assert_eq!(done["applied"], true);
    let branches = repo.branches();
    for id in [&squashed, "D-merged", "D-pushed", "D-clean", "D-relocked"] {
        assert!(
            !branches.contains(&format!("dispatch/{id}\n")),
            "{id}: {branches}"
        );
        let receipts = released_receipts(&repo, id);
        assert_eq!(receipts.len(), 1, "{id}");
        let receipt = &receipts[0];
        assert_eq!(receipt["class"], item(&plan, id)["class"], "{id}");
        assert_eq!(receipt["evidence"], item(&plan, id)["evidence"], "{id}");
        assert_eq!(receipt["action"]["branch_deleted"], true, "{id}");
    }
    for id in [&dirty, "D-unlanded", "D-ahead", "D-foreign"] {
        assert!(
            branches.contains(&format!("dispatch/{id}")),
            "{id}: {branches}"
        );
        assert!(released_receipts(&repo, id).is_empty(), "{id}");
        assert!(item(&done, id).get("done").is_none(), "{id}");
    }
    assert_eq!(
        released_receipts(&repo, "D-merged")[0]["action"]["branch_delete"],
        "-d"
    );
    assert_eq!(
        released_receipts(&repo, &squashed)[0]["action"]["branch_delete"],
        "-D"
    );
    assert_eq!(
        released_receipts(&repo, &squashed)[0]["teardown_class"],
        "committed"
    );
    let relocked_receipt = &released_receipts(&repo, "D-relocked")[0];
    assert_eq!(relocked_receipt["action"]["worktree_unlocked"], true);
    assert_eq!(relocked_receipt["action"]["worktree_removed"], true);
    assert!(!clean.exists() && !relocked.exists());
    assert!(worktree_path(env, &dirty).join("demo-output.txt").is_file());
    assert!(foreign.exists());
    // The remote keeps what was pushed.
    let remote = git(&env.home(), &origin, &["branch", "--list", "dispatch/*"]);
    assert!(remote.contains("dispatch/D-pushed") && remote.contains("dispatch/D-relocked"));
    repo.verify_ok();

    // Again: nothing left to release, nothing recorded.
    let ledger = state(&repo).2;
    let (r, again) = release(&repo, &["--apply"]);
    assert_eq!(r.code, 0);
    assert_eq!(again["items"].as_array().unwrap().len(), 4, "{again:#}");
    assert_eq!(ledger, state(&repo).2);
}

#[test]
fn an_unreachable_remote_is_never_read_as_pushed() {
    let repo = Repo::new();
    repo.env
        .git(&["remote", "add", "origin", "/nonexistent/origin.git"]);
    branch_with_commit(&repo.env, "D-offline", "a.txt");
    let (r, plan) = release(&repo, &["--apply"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let i = item(&plan, "D-offline");
    assert_eq!(i["class"], "unlanded");
    assert!(
        i["reason"].as_str().unwrap().contains("could not be asked"),
        "{i:#}"
    );
    assert!(repo.branches().contains("dispatch/D-offline"));
    // Measured against another base it has landed.
    repo.env.git(&["branch", "release", "dispatch/D-offline"]);
    let (_, plan) = release(&repo, &["--base", "release"]);
    assert_eq!(item(&plan, "D-offline")["class"], "landed");
    let r = run(repo.vnx().args(["worktree-release", "--base", "nope"]));
    assert_eq!(
        r.code, 2,
        "usage, as a --base-ref naming no commit: {}",
        r.stderr
    );
    assert!(r.stderr.contains("hint: pass --base"), "{}", r.stderr);
}

fn wait_for(mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_running_dispatch_is_left_alone_and_a_lost_one_is_released_by_its_name() {
    let repo = Repo::new();
    let r = repo.dispatch("slow", &["--instruction", "x", "--detach"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let launched: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = launched["dispatch_id"].as_str().unwrap().to_owned();
    wait_for(|| worker_alive(&id));
    let wt = worktree_path(&repo.env, &id);

    // Its clean worktree sits on main's commit, but the session is alive.
    let (r, plan) = release(&repo, &["--apply"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let i = item(&plan, &id);
    assert_eq!(i["class"], "running", "{i:#}");
    assert!(i.get("done").is_none());
    assert!(wt.is_dir());

    // The supervisor dies without a word: no completion receipt. Released by the start of
    // its id, as every command takes one.
    repo.server.kill_pane_process(&format!("vnx-{id}"));
    wait_for(|| !repo.server.0.has_session(&format!("vnx-{id}")) && !worker_alive(&id));
    let (r, plan) = release(&repo, &[&id[..8], "--apply"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let i = item(&plan, &id);
    assert_eq!(i["recorded"]["started"], true);
    assert_eq!(i["recorded"]["completed"], false);
    assert_eq!(i["class"], "landed", "{i:#}");
    assert_eq!(i["done"]["worktree_removed"], true);
    assert!(!wt.exists());
    assert!(!repo.branches().contains(&id));
    assert_eq!(released_receipts(&repo, &id).len(), 1);
    repo.verify_ok();
}

#[test]
fn work_that_changed_after_the_plan_is_skipped() {
    let repo = Repo::new();
    let wt = add_worktree(&repo.env, "D-late");
    let vrepo = vnx::worktree::Repo::discover(repo.env.path()).unwrap();
    let options = vnx::release::Options {
        base: "HEAD".into(),
        remote: "origin".into(),
        ledger: repo.env.path().join(".vnx-data/state/t0_receipts.ndjson"),
        trusted_keys: Vec::new(),
    };
    let mut plan = vnx::release::plan(&vrepo, &options, &repo.server.0).unwrap();
    assert_eq!(plan.items[0].class, vnx::release::Class::Landed);
    // Work appears between the plan and the release.
    std::fs::write(wt.join("late.txt"), "new work").unwrap();
    let key_dir = tempfile::tempdir().unwrap();
    let (key, _) =
        vnx::ledger::checkpoint::CheckpointKey::load_or_create(&key_dir.path().join("key"))
            .unwrap();
    let attestor = vnx::ledger::attest::Attestor::new(&key);
    vnx::release::apply(&vrepo, &mut plan, &options, &attestor).unwrap();
    let done = plan.items[0].done.as_ref().unwrap();
    assert!(
        done.skipped.as_ref().unwrap().contains("became dirty"),
        "{done:?}"
    );
    assert!(!done.worktree_removed && !done.branch_deleted && done.receipt_seq.is_none());
    assert!(wt.join("late.txt").is_file());
}

fn tip(env: &TestEnv, rev: &str) -> String {
    env.git(&["rev-parse", rev]).trim().to_owned()
}

#[test]
fn a_squash_merge_is_landed_until_it_is_reverted_or_the_branch_moves_on() {
    let env = TestEnv::new();
    env.git_init();
    std::fs::write(env.path().join("README"), "one\ntwo\nthree\n").unwrap();
    env.git(&["add", "README"]);
    env.git(&["commit", "-q", "-m", "readme"]);
    env.git(&["switch", "-q", "-c", "work"]);
    commit_in(&env, env.path(), "a.txt", "a\n");
    commit_in(&env, env.path(), "README", "one\nTWO\nthree\n");
    env.git(&["switch", "-q", "main"]);
    let landed = |base: &str| {
        proof::landed(env.path(), &tip(&env, "work"), &tip(&env, base))
            .unwrap()
            .map(|p| p.rule)
    };
    assert_eq!(landed("main"), None, "not merged yet");
    env.git(&["merge", "-q", "--squash", "work"]);
    env.git(&["commit", "-q", "-m", "squash work"]);
    assert_eq!(landed("main"), Some(Rule::Contained));
    // Later commits elsewhere on main keep it landed.
    commit_in(&env, env.path(), "other.txt", "x\n");
    assert_eq!(landed("main"), Some(Rule::Contained));
    // A commit on the branch after the squash is not in main.
    env.git(&["branch", "keep-main", "main"]);
    env.git(&["switch", "-q", "work"]);
    commit_in(&env, env.path(), "b.txt", "b\n");
    env.git(&["switch", "-q", "main"]);
    assert_eq!(landed("main"), None);
    env.git(&["switch", "-q", "work"]);
    env.git(&["reset", "-q", "--hard", "HEAD~1"]);
    env.git(&["switch", "-q", "main"]);
    assert_eq!(landed("main"), Some(Rule::Contained));
    // Reverting the squash on main takes the content out again.
    env.git(&["revert", "--no-edit", "HEAD~1"]);
    assert_eq!(landed("main"), None);
    // A true merge is ancestry.
    env.git(&["merge", "-q", "--no-ff", "-m", "merge", "work"]);
    assert_eq!(landed("main"), Some(Rule::Ancestor));
    assert_eq!(landed("keep-main"), Some(Rule::Contained));
}
