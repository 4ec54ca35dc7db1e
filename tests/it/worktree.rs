//! Per-dispatch worktrees with real git: creation under the lock (16 at once), every teardown
//! class and its action, and bad input that touches nothing.

use std::path::Path;
use vnx::ids::DispatchId;

use vnx::worktree::{RemoteState, Repo, TeardownClass, WorktreeError};

use crate::common::{TestEnv, git};

fn repo_env() -> (TestEnv, Repo) {
    let env = TestEnv::new();
    env.git_init();
    std::fs::write(env.path().join("README"), "hello\n").unwrap();
    env.git(&["add", "README"]);
    env.git(&["commit", "-q", "-m", "readme"]);
    let repo = Repo::discover(env.path()).unwrap();
    (env, repo)
}

fn wt_git(env: &TestEnv, dir: &Path, args: &[&str]) -> String {
    git(&env.home(), dir, args)
}

fn branches(env: &TestEnv) -> String {
    env.git(&["branch", "--list", "dispatch/*"])
}

#[test]
fn create_makes_a_worktree_on_its_own_branch() {
    let (env, repo) = repo_env();
    let wt = repo.create(&did("D-1a2b3c4d5e6f"), "main").unwrap();
    assert_eq!(wt.branch, "dispatch/D-1a2b3c4d5e6f");
    assert_eq!(
        wt.path,
        env.path()
            .canonicalize()
            .unwrap()
            .join(".vnx-data/worktrees/dispatch-D-1a2b3c4d5e6f")
    );
    assert_eq!(wt.base_commit, env.git(&["rev-parse", "main"]).trim());
    assert_eq!(
        wt_git(&env, &wt.path, &["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/dispatch/D-1a2b3c4d5e6f"
    );
    assert!(wt.path.join("README").is_file());
    // The same id again is refused, not reused.
    assert!(matches!(
        repo.create(&did("D-1a2b3c4d5e6f"), "main"),
        Err(WorktreeError::PathExists { .. })
    ));
}

#[test]
fn bad_ids_and_bases_touch_nothing() {
    let (env, repo) = repo_env();
    // A malformed id cannot even be named to `create`: it is refused where it is parsed.
    for id in ["../escape", "a/b", "", ".hidden", "x y", &"x".repeat(65)] {
        assert!(DispatchId::parse(id).is_err(), "{id}");
    }
    let err = repo.create(&did("D-1"), "no-such-branch").unwrap_err();
    assert!(matches!(err, WorktreeError::BadBase { .. }), "{err}");
    assert!(err.hint().unwrap().contains("--base-ref"));
    let err = repo.create(&did("D-2"), "--output=/tmp/x").unwrap_err();
    assert!(matches!(err, WorktreeError::BadBase { .. }), "{err}");
    assert_eq!(branches(&env), "");
    assert!(
        !repo.worktrees_dir().exists() || repo.worktrees_dir().read_dir().unwrap().count() == 0
    );
}

#[test]
fn sixteen_parallel_creations_all_succeed() {
    // Bare `git worktree add` run 16-way fails now and then (commondir races); under the
    // lock every one lands.
    let (env, repo) = repo_env();
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let repo = repo.clone();
            std::thread::spawn(move || repo.create(&did(&format!("D-par{i:02}")), "main"))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let list = env.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(
        list.matches("branch refs/heads/dispatch/D-par").count(),
        16,
        "{list}"
    );
}

#[test]
fn clean_worktree_is_removed_with_its_branch() {
    let (env, repo) = repo_env();
    let wt = repo.create(&did("D-clean"), "main").unwrap();
    let c = wt.classify("origin").unwrap();
    assert_eq!(c.class, TeardownClass::Clean, "{c:?}");
    let action = repo.release(&wt, &c).unwrap();
    assert!(action.worktree_removed && action.branch_deleted && !action.locked);
    assert!(!wt.path.exists());
    assert_eq!(branches(&env), "");
}

#[test]
fn dirty_worktrees_are_locked_and_kept() {
    let (env, repo) = repo_env();
    // An untracked file, a modified tracked file, and a switched branch.
    let untracked = repo.create(&did("D-untracked"), "main").unwrap();
    std::fs::write(untracked.path.join("new.txt"), "work").unwrap();
    let modified = repo.create(&did("D-modified"), "main").unwrap();
    std::fs::write(modified.path.join("README"), "changed\n").unwrap();
    let switched = repo.create(&did("D-switched"), "main").unwrap();
    wt_git(&env, &switched.path, &["switch", "-q", "-c", "elsewhere"]);
    for (wt, why) in [
        (&untracked, "uncommitted or untracked"),
        (&modified, "uncommitted or untracked"),
        (&switched, "unexpected branch elsewhere"),
    ] {
        let c = wt.classify("origin").unwrap();
        assert_eq!(c.class, TeardownClass::Dirty, "{}: {c:?}", wt.id);
        assert!(c.reason.contains(why), "{}: {}", wt.id, c.reason);
        let action = repo.release(wt, &c).unwrap();
        assert!(action.locked && !action.worktree_removed && !action.branch_deleted);
        assert!(wt.path.exists());
    }
    assert!(untracked.path.join("new.txt").is_file());
    let list = env.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("locked vnx: dispatch").count(), 3, "{list}");
    // Git itself now refuses to remove them without a double force.
    let out = std::process::Command::new("git")
        .args(["-C"])
        .arg(env.path())
        .args(["worktree", "remove"])
        .arg(&untracked.path)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn entries_hidden_from_git_status_keep_the_worktree() {
    let (env, repo) = repo_env();
    // A changed file git status does not look at (assume-unchanged, skip-worktree), and an
    // entry left unmerged with the file as it was: each is read from the index and kept.
    let assumed = repo.create(&did("D-assumed"), "main").unwrap();
    wt_git(
        &env,
        &assumed.path,
        &["update-index", "--assume-unchanged", "README"],
    );
    std::fs::write(assumed.path.join("README"), "changed\n").unwrap();
    let skipped = repo.create(&did("D-skipped"), "main").unwrap();
    wt_git(
        &env,
        &skipped.path,
        &["update-index", "--skip-worktree", "README"],
    );
    std::fs::write(skipped.path.join("README"), "changed\n").unwrap();
    let unmerged = repo.create(&did("D-unmerged"), "main").unwrap();
    let blob = wt_git(&env, &unmerged.path, &["rev-parse", "HEAD:README"]);
    let stages = format!(
        "0 {zero}\tREADME\n100644 {blob} 1\tREADME\n100644 {blob} 2\tREADME\n",
        zero = "0".repeat(40),
        blob = blob.trim()
    );
    let mut set = std::process::Command::new("git")
        .arg("-C")
        .arg(&unmerged.path)
        .args(["update-index", "--index-info"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(set.stdin.as_mut().unwrap(), stages.as_bytes()).unwrap();
    assert!(set.wait().unwrap().success());
    for (wt, hidden) in [(&assumed, 1), (&skipped, 1), (&unmerged, 2)] {
        let c = wt.classify("origin").unwrap();
        assert_eq!(c.class, TeardownClass::Dirty, "{}: {c:?}", wt.id);
        assert!(
            c.reason
                .contains(&format!("{hidden} index entry(ies) hidden from git status")),
            "{}: {}",
            wt.id,
            c.reason
        );
    }
    assert_eq!(
        std::fs::read_to_string(skipped.path.join("README")).unwrap(),
        "changed\n"
    );
}

#[test]
fn ignored_files_do_not_make_a_worktree_dirty() {
    let (env, repo) = repo_env();
    std::fs::write(env.path().join(".gitignore"), "*.log\n").unwrap();
    env.git(&["add", ".gitignore"]);
    env.git(&["commit", "-q", "-m", "ignore logs"]);
    let wt = repo.create(&did("D-ignored"), "main").unwrap();
    std::fs::write(wt.path.join("worker.log"), "noise").unwrap();
    assert_eq!(wt.classify("origin").unwrap().class, TeardownClass::Clean);
}

fn commit_in(env: &TestEnv, dir: &Path, file: &str) {
    std::fs::write(dir.join(file), "content\n").unwrap();
    wt_git(env, dir, &["add", file]);
    wt_git(env, dir, &["commit", "-q", "-m", &format!("add {file}")]);
}

#[test]
fn committed_keeps_the_branch_and_pushed_keeps_the_remote() {
    let (env, repo) = repo_env();
    let origin = env.dir.path().join("origin.git");
    git(
        &env.home(),
        env.dir.path(),
        &["init", "-q", "--bare", origin.to_str().unwrap()],
    );
    env.git(&["remote", "add", "origin", origin.to_str().unwrap()]);

    let committed = repo.create(&did("D-committed"), "main").unwrap();
    commit_in(&env, &committed.path, "a.txt");
    let c = committed.classify("origin").unwrap();
    assert_eq!(c.class, TeardownClass::Committed, "{c:?}");
    assert_eq!(c.commits, 1);
    assert_eq!(c.remote, RemoteState::Absent);
    let action = repo.release(&committed, &c).unwrap();
    assert!(action.worktree_removed && !action.branch_deleted);
    assert!(branches(&env).contains("dispatch/D-committed"));

    let pushed = repo.create(&did("D-pushed"), "main").unwrap();
    commit_in(&env, &pushed.path, "b.txt");
    wt_git(
        &env,
        &pushed.path,
        &["push", "-q", "origin", "dispatch/D-pushed"],
    );
    let c = pushed.classify("origin").unwrap();
    assert_eq!(c.class, TeardownClass::Pushed, "{c:?}");
    let action = repo.release(&pushed, &c).unwrap();
    assert!(action.worktree_removed && action.branch_deleted);
    assert!(!branches(&env).contains("D-pushed"));
    let remote = git(
        &env.home(),
        &origin,
        &["branch", "--list", "dispatch/D-pushed"],
    );
    assert!(
        remote.contains("dispatch/D-pushed"),
        "the remote keeps the work"
    );

    // Pushed, then another commit: the remote differs, so it is only committed.
    let ahead = repo.create(&did("D-ahead"), "main").unwrap();
    commit_in(&env, &ahead.path, "c.txt");
    wt_git(
        &env,
        &ahead.path,
        &["push", "-q", "origin", "dispatch/D-ahead"],
    );
    commit_in(&env, &ahead.path, "d.txt");
    let c = ahead.classify("origin").unwrap();
    assert_eq!(c.class, TeardownClass::Committed);
    assert!(matches!(c.remote, RemoteState::Differs(_)), "{c:?}");
}

#[test]
fn an_unreachable_remote_is_never_read_as_pushed() {
    let (env, repo) = repo_env();
    env.git(&["remote", "add", "origin", "/nonexistent/repo.git"]);
    let wt = repo.create(&did("D-offline"), "main").unwrap();
    commit_in(&env, &wt.path, "a.txt");
    let c = wt.classify("origin").unwrap();
    assert_eq!(c.class, TeardownClass::Committed);
    assert!(matches!(c.remote, RemoteState::Unreachable(_)), "{c:?}");
    // No remote at all: committed too.
    let c = wt.classify("upstream").unwrap();
    assert_eq!(c.remote, RemoteState::NoRemote);
    assert_eq!(c.class, TeardownClass::Committed);
}

#[test]
fn a_worktree_released_later_is_moved_aside_forgotten_by_git_and_then_deleted() {
    let (env, repo) = repo_env();
    std::fs::write(env.path().join(".gitignore"), "*.log\n").unwrap();
    env.git(&["add", ".gitignore"]);
    env.git(&["commit", "-q", "-m", "ignore logs"]);
    let clean = repo.create(&did("D-aside"), "main").unwrap();
    std::fs::write(clean.path.join("worker.log"), "ignored, so not work").unwrap();
    let c = clean.classify("origin").unwrap();
    assert_eq!(c.class, TeardownClass::Clean, "{c:?}");
    let action = repo.release_later(&clean, &c).unwrap();
    assert!(action.worktree_removed && action.branch_deleted && !action.locked);
    assert!(!clean.path.exists());
    assert_eq!(branches(&env), "");

    let committed = repo.create(&did("D-kept-branch"), "main").unwrap();
    commit_in(&env, &committed.path, "a.txt");
    let c = committed.classify("origin").unwrap();
    assert_eq!(c.class, TeardownClass::Committed, "{c:?}");
    let action = repo.release_later(&committed, &c).unwrap();
    assert!(action.worktree_removed && !action.branch_deleted);
    // Git has forgotten both checkouts (nothing for `prune` to find) and the kept branch is
    // free to be checked out again at once.
    let list = env.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("worktree ").count(), 1, "{list}");
    assert!(!list.contains("prunable"), "{list}");
    let again = repo
        .create(&did("D-again"), "dispatch/D-kept-branch")
        .unwrap();
    wt_git(
        &env,
        &again.path,
        &["switch", "-q", "dispatch/D-kept-branch"],
    );
    assert!(again.path.join("a.txt").is_file());

    // The files wait in the trash until it is emptied.
    let trash = repo.trash_dir();
    assert_eq!(
        trash.read_dir().unwrap().count(),
        4,
        "two checkouts, two admin dirs"
    );
    repo.empty_trash();
    assert_eq!(trash.read_dir().unwrap().count(), 0);
}

#[test]
fn a_worktree_holding_a_populated_submodule_is_kept_without_running_git_in_it() {
    let (env, repo) = repo_env();
    let wt = repo.create(&did("D-submodule"), "main").unwrap();
    // A repository inside the checkout, recorded as a gitlink at its own HEAD: its config is
    // its worker's, and `git worktree remove` would run `git status` inside it, so vnx runs no
    // git there and keeps the worktree.
    let sub = wt.path.join("sub");
    std::fs::create_dir(&sub).unwrap();
    wt_git(&env, &sub, &["init", "-q", "-b", "main"]);
    commit_in(&env, &sub, "inner.txt");
    let head = wt_git(&env, &sub, &["rev-parse", "HEAD"]);
    let cacheinfo = format!("160000,{},sub", head.trim());
    wt_git(
        &env,
        &wt.path,
        &["update-index", "--add", "--cacheinfo", &cacheinfo],
    );
    wt_git(&env, &wt.path, &["commit", "-q", "-m", "gitlink"]);
    let c = wt.classify("origin").unwrap();
    assert_eq!(c.class, TeardownClass::Dirty, "{c:?}");
    assert!(c.reason.contains("nested git repository"), "{c:?}");
    let action = repo.release_later(&wt, &c).unwrap();
    assert!(action.locked && !action.worktree_removed, "{action:?}");
    assert!(sub.join(".git").is_dir(), "the inner repository is kept");
    assert!(sub.join("inner.txt").is_file());
    assert!(!repo.trash_dir().exists() || repo.trash_dir().read_dir().unwrap().count() == 0);
}

fn did(text: &str) -> DispatchId {
    DispatchId::parse(text).unwrap()
}
