//! The git hooks `vnx init` installs, run by real git: a user's own hook is chained and still
//! runs (with its stdin), init twice chains once, a tampered ledger blocks merge commits
//! (`--no-ff`, and a conflicted merge concluded with `git commit`) and pushes to a bare
//! remote, a missing vnx fails closed, a repository without a ledger yet passes unless it
//! holds checkpoints, `core.hooksPath` is respected (a shared one left alone), and doctor
//! reports it all.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Run, TestEnv, hermetic, run};

const HOOKS: [&str; 3] = ["pre-merge-commit", "pre-commit", "pre-push"];

fn repo() -> TestEnv {
    let env = TestEnv::new();
    std::fs::remove_dir(env.path().join("state")).unwrap();
    env.git_init();
    env
}

fn init(env: &TestEnv, args: &[&str]) -> serde_json::Value {
    let r = run(env.vnx().args(["init", "--json"]).args(args));
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

/// (action, note) of the step for `path`.
fn step(report: &serde_json::Value, path: &str) -> (String, String) {
    let s = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"] == path)
        .unwrap_or_else(|| panic!("no step {path}: {report:#}"));
    (
        s["action"].as_str().unwrap().to_owned(),
        s["note"].as_str().unwrap_or_default().to_owned(),
    )
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// git, hermetic, without asserting success.
fn git_run(env: &TestEnv, args: &[&str]) -> Run {
    let mut cmd = Command::new("git");
    hermetic(&mut cmd, &env.home());
    run(cmd.current_dir(env.path()).args(args))
}

fn append(env: &TestEnv) {
    let r = run(env.vnx().args([
        "receipts",
        "append",
        "--receipt",
        r#"{"event_type":"note"}"#,
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn tamper(env: &TestEnv) {
    let ledger = env.path().join(".vnx-data/state/t0_receipts.ndjson");
    let text = std::fs::read_to_string(&ledger).unwrap();
    std::fs::write(&ledger, text.replacen("\"note\"", "\"nope\"", 1)).unwrap();
}

fn bare_origin(env: &TestEnv) -> PathBuf {
    let origin = env.dir.path().join("origin.git");
    crate::common::git(
        &env.home(),
        env.dir.path(),
        &["init", "-q", "--bare", origin.to_str().unwrap()],
    );
    env.git(&["remote", "add", "origin", origin.to_str().unwrap()]);
    origin
}

/// A branch `side` with one commit on a file of its own, main checked out again.
fn side_branch(env: &TestEnv, name: &str, file: &str) {
    env.git(&["switch", "-q", "-c", name]);
    std::fs::write(env.path().join(file), format!("{name}\n")).unwrap();
    env.git(&["add", file]);
    env.git(&["commit", "-q", "-m", name]);
    env.git(&["switch", "-q", "main"]);
}

#[test]
fn init_chains_a_users_hook_once_and_it_keeps_running() {
    let env = repo();
    let hooks = env.path().join(".git/hooks");
    let ran = env.dir.path().join("user-hook-ran");
    script(
        &hooks.join("pre-push"),
        &format!(
            "cat > '{}'\necho \"$1 $2\" >> '{}'",
            ran.display(),
            ran.display()
        ),
    );
    let user = std::fs::read(hooks.join("pre-push")).unwrap();
    let report = init(&env, &[]);
    assert_eq!(step(&report, ".git/hooks/pre-merge-commit").0, "created");
    assert_eq!(step(&report, ".git/hooks/pre-commit").0, "created");
    let (action, note) = step(&report, ".git/hooks/pre-push");
    assert_eq!(action, "chained");
    assert!(note.contains("pre-push.pre-vnx"), "{note}");
    assert_eq!(std::fs::read(hooks.join("pre-push.pre-vnx")).unwrap(), user);
    // Twice: nothing changes, nothing is chained again.
    let again = init(&env, &[]);
    for hook in HOOKS {
        assert_eq!(step(&again, &format!(".git/hooks/{hook}")).0, "unchanged");
        assert!(!hooks.join(format!("{hook}.pre-vnx.pre-vnx")).exists());
    }
    assert_eq!(std::fs::read(hooks.join("pre-push.pre-vnx")).unwrap(), user);
    let text = std::fs::read_to_string(hooks.join("pre-push")).unwrap();
    assert_eq!(text.matches("# vnx-managed-hook").count(), 1);

    // The user's hook runs after vnx's check, with git's arguments and stdin.
    let origin = bare_origin(&env);
    append(&env);
    let r = git_run(&env, &["push", "-q", "origin", "main"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let seen = std::fs::read_to_string(&ran).unwrap();
    let head = env.git(&["rev-parse", "main"]);
    assert!(
        seen.contains(&format!("refs/heads/main {}", head.trim())),
        "{seen}"
    );
    assert!(
        seen.contains(&format!("origin {}", origin.display())),
        "{seen}"
    );

    // An edited vnx hook is kept; --force rewrites it and leaves the user's alone.
    std::fs::write(hooks.join("pre-push"), text.replace("exit 1\n", "exit 0\n")).unwrap();
    assert_eq!(step(&init(&env, &[]), ".git/hooks/pre-push").0, "kept");
    assert_eq!(
        step(&init(&env, &["--force"]), ".git/hooks/pre-push").0,
        "overwritten"
    );
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-push")).unwrap(),
        text
    );
    assert_eq!(std::fs::read(hooks.join("pre-push.pre-vnx")).unwrap(), user);
    // A second foreign hook finds the chain slot taken: both are left as they are.
    script(&hooks.join("pre-push"), "echo another tool");
    let (action, note) = step(&init(&env, &["--force"]), ".git/hooks/pre-push");
    assert_eq!(action, "kept");
    assert!(note.contains("overwrites neither"), "{note}");
    assert_eq!(std::fs::read(hooks.join("pre-push.pre-vnx")).unwrap(), user);
}

#[test]
fn a_tampered_ledger_blocks_merge_commits_and_pushes() {
    let env = repo();
    init(&env, &[]);
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "vnx init"]);
    let origin = bare_origin(&env);
    append(&env);
    append(&env);
    side_branch(&env, "side", "side.txt");
    let r = git_run(&env, &["merge", "--no-ff", "-m", "merge side", "side"]);
    assert_eq!(
        r.code, 0,
        "a verified ledger lets the merge through: {}",
        r.stderr
    );
    let r = git_run(&env, &["push", "-q", "origin", "main"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    tamper(&env);
    side_branch(&env, "side2", "side2.txt");
    let head = env.git(&["rev-parse", "HEAD"]);
    let r = git_run(&env, &["merge", "--no-ff", "-m", "merge side2", "side2"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("altered_line"), "{}", r.stderr);
    assert!(
        r.stderr.contains("refusing to merge") && r.stderr.contains("git merge --no-verify"),
        "{}",
        r.stderr
    );
    assert_eq!(env.git(&["rev-parse", "HEAD"]), head, "no merge commit");
    // Concluding the stopped merge with `git commit` is checked too; ordinary commits are not.
    let r = git_run(&env, &["commit", "-q", "-m", "sneak the merge in"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("refusing to commit this merge"),
        "{}",
        r.stderr
    );
    env.git(&["merge", "--abort"]);
    std::fs::write(env.path().join("plain.txt"), "x").unwrap();
    env.git(&["add", "plain.txt"]);
    env.git(&["commit", "-q", "-m", "an ordinary commit"]);

    let remote_before = crate::common::git(&env.home(), &origin, &["rev-parse", "main"]);
    let r = git_run(&env, &["push", "-q", "origin", "main"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("refusing to push"), "{}", r.stderr);
    assert_eq!(
        crate::common::git(&env.home(), &origin, &["rev-parse", "main"]),
        remote_before
    );
    // The way out is git's own, and deliberate.
    let r = git_run(&env, &["push", "-q", "--no-verify", "origin", "main"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn without_a_vnx_to_run_the_hooks_fail_closed() {
    let env = repo();
    // Install from a copy of vnx, then take the copy away; PATH has no vnx either.
    let copy = env.dir.path().join("vnx-copy");
    std::fs::copy(env!("CARGO_BIN_EXE_vnx"), &copy).unwrap();
    // Another test thread's fork may hold the new file open for writing until it execs
    // (ETXTBSY): retry the start a few times.
    let r = (0..50)
        .find_map(|_| {
            let mut cmd = Command::new(&copy);
            hermetic(&mut cmd, &env.home());
            match cmd.current_dir(env.path()).arg("init").output() {
                Ok(out) => Some(out),
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    None
                }
                Err(e) => panic!("{e}"),
            }
        })
        .expect("the copy of vnx starts");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let text = std::fs::read_to_string(env.path().join(".git/hooks/pre-push")).unwrap();
    assert!(text.contains(&copy.display().to_string()), "{text}");
    std::fs::remove_file(&copy).unwrap();
    bare_origin(&env);
    let path = std::env::var_os("PATH").unwrap();
    let without_vnx =
        std::env::join_paths(std::env::split_paths(&path).filter(|d| !d.join("vnx").exists()))
            .unwrap();
    let mut cmd = Command::new("git");
    hermetic(&mut cmd, &env.home());
    cmd.env("PATH", without_vnx).current_dir(env.path());
    let r = run(cmd.args(["push", "-q", "origin", "main"]));
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("vnx is not on PATH nor at"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("git push --no-verify"), "{}", r.stderr);
}

#[test]
fn a_ledger_not_written_yet_passes_unless_the_repository_has_checkpoints() {
    let env = repo();
    init(&env, &[]);
    side_branch(&env, "side", "side.txt");
    let r = git_run(&env, &["merge", "--no-ff", "-m", "m", "side"]);
    assert_eq!(r.code, 0, "no ledger yet: {}", r.stderr);
    let r = run(env.vnx().args(["audit-chain", "verify", "--allow-missing"]));
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("missing "), "{}", r.stdout);
    // Once checkpointed, a vanished ledger is a deleted one.
    append(&env);
    let r = run(env.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::remove_file(env.path().join(".vnx-data/state/t0_receipts.ndjson")).unwrap();
    side_branch(&env, "side2", "side2.txt");
    let r = git_run(&env, &["merge", "--no-ff", "-m", "m2", "side2"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("this machine witnessed a checkpoint of it"),
        "{}",
        r.stderr
    );
    // Without the witness (another machine), the checkpoint ref still says so.
    std::fs::remove_dir_all(env.home().join(".local/state/vnx/witness")).unwrap();
    git_run(&env, &["merge", "--abort"]);
    let r = git_run(&env, &["merge", "--no-ff", "-m", "m2", "side2"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("the repository holds checkpoints"),
        "{}",
        r.stderr
    );
}

#[test]
fn core_hooks_path_is_respected_and_a_shared_one_left_alone() {
    let env = repo();
    env.git(&["config", "core.hooksPath", ".githooks"]);
    let report = init(&env, &[]);
    for hook in HOOKS {
        assert_eq!(step(&report, &format!(".githooks/{hook}")).0, "created");
    }
    assert!(!env.path().join(".git/hooks/pre-push").exists());

    let other = repo();
    let shared = other.dir.path().join("shared-hooks");
    std::fs::create_dir_all(&shared).unwrap();
    other.git(&["config", "core.hooksPath", shared.to_str().unwrap()]);
    let report = init(&other, &[]);
    let shown = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|s| {
            s["path"]
                .as_str()
                .filter(|p| p.ends_with("shared-hooks/pre-push"))
        })
        .unwrap_or_else(|| panic!("{report:#}"))
        .to_owned();
    let (action, note) = step(&report, &shown);
    assert_eq!(action, "skipped");
    assert!(note.contains("outside this repository"), "{note}");
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);
}

#[test]
fn doctor_checks_the_installed_hooks() {
    let env = repo();
    init(&env, &[]);
    let hooks_check = |env: &TestEnv| {
        let r = run(env.vnx().args(["doctor", "--json"]));
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let c = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "git hooks")
            .unwrap()
            .clone();
        (
            c["status"].as_str().unwrap().to_owned(),
            c["detail"].as_str().unwrap().to_owned(),
        )
    };
    let (status, detail) = hooks_check(&env);
    assert_eq!(status, "pass", "{detail}");
    assert!(
        detail.contains("in .git/hooks run `vnx audit-chain verify`"),
        "{detail}"
    );
    let hooks = env.path().join(".git/hooks");
    std::fs::rename(hooks.join("pre-push"), hooks.join("pre-push.pre-vnx")).unwrap();
    script(&hooks.join("pre-push"), "exit 0");
    let (status, detail) = hooks_check(&env);
    assert_eq!(status, "warn");
    assert!(detail.contains("pre-push is not vnx's"), "{detail}");
    // A hook of the user's own that calls vnx counts.
    script(&hooks.join("pre-push"), "vnx audit-chain verify || exit 1");
    assert_eq!(hooks_check(&env).0, "pass");
    std::fs::set_permissions(
        hooks.join("pre-commit"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let (status, detail) = hooks_check(&env);
    assert_eq!(status, "warn");
    assert!(detail.contains("pre-commit is not executable"), "{detail}");
}
