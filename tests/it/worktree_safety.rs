//! Work and records are never destroyed: a dispatch id in use is refused without touching the
//! earlier dispatch, a living dispatch is neither released nor called lost after its tmux
//! server dies, a launcher killed early leaves nothing `worktree-release` does not clean, a
//! failed `git worktree add` leaves no branch, `.worktreeinclude` follows no link, doctor
//! notices a data directory nothing can be written to, and vnx's runtime files are private
//! whatever the umask.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{Repo, completion, run};

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    // A directory the supervisor removed since it was listed holds nothing to check.
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        out.push(path.clone());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(files_under(&path));
        }
    }
    out
}

#[test]
fn a_reused_dispatch_id_is_refused_and_the_first_dispatch_keeps_its_records() {
    let repo = Repo::new();
    let r = repo.dispatch("commit", &["--instruction", "first", "--id", "D-00000001"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dir = repo.env.path().join(".vnx-data/dispatches/D-00000001");
    let before: Vec<_> = files_under(&dir)
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).ok()))
        .collect();
    assert!(before.len() >= 4, "{before:?}");

    let again = repo.dispatch("commit", &["--instruction", "second", "--id", "D-00000001"]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again.stderr.contains("dispatch id D-00000001 is in use"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("hint:"), "{}", again.stderr);
    let after: Vec<_> = files_under(&dir)
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).ok()))
        .collect();
    assert_eq!(before, after, "the first dispatch's records are untouched");
    // Only the first dispatch is on the ledger.
    let starts = repo
        .receipts("D-00000001")
        .iter()
        .filter(|r| r["event_type"] == "dispatch_started")
        .count();
    assert_eq!(starts, 1);
    // A branch left by hand also makes the id in use.
    repo.env.git(&["branch", "dispatch/D-00000002"]);
    let r = repo.dispatch("commit", &["--instruction", "x", "--id", "D-00000002"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("refs/heads/dispatch/D-00000002"),
        "{}",
        r.stderr
    );
    repo.verify_ok();
}

#[test]
fn a_failed_worktree_add_leaves_no_branch_worktree_or_directory() {
    let repo = Repo::new();
    // A checkout git cannot write: a file over the 2 MiB size limit fails (the launch's
    // 1 MiB reservation for the completion, made first, fits).
    std::fs::write(repo.env.path().join("big.txt"), "x".repeat(4 << 20)).unwrap();
    repo.env.git(&["add", "big.txt"]);
    repo.env.git(&["commit", "-q", "-m", "a big file"]);
    let mut cmd = repo.dispatch_cmd("commit");
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut limited = Command::new("sh");
    limited
        .arg("-c")
        .arg("ulimit -f 4096; exec \"$@\"")
        .arg("sh")
        .arg(program)
        .args(args)
        .args(["--instruction", "x"]);
    limited.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            limited.env(k, v);
        }
    }
    cmd = limited;
    cmd.current_dir(repo.env.path());
    let r = run(cmd);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("git failed for worktree"), "{}", r.stderr);
    assert_eq!(repo.branches(), "", "no dispatch branch is left");
    let worktrees = repo.env.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(
        worktrees.matches("worktree ").count(),
        1,
        "only the main checkout: {worktrees}"
    );
    let dispatches = repo.env.path().join(".vnx-data/dispatches");
    assert_eq!(std::fs::read_dir(&dispatches).unwrap().count(), 0);
    // The supervisor's session, started beside the worktree, was killed before the command
    // returned, and its supervisor recorded nothing.
    assert_eq!(repo.server.0.sessions().unwrap(), Vec::<String>::new());
    let ledger = repo.env.ledger();
    let lines = std::fs::read_to_string(&ledger).unwrap_or_default();
    assert!(!lines.contains("dispatch_started"), "{lines}");
    assert!(!lines.contains("dispatch_completed"), "{lines}");
}

#[test]
fn doctor_fails_when_nothing_can_be_appended() {
    let repo = Repo::new();
    let state = repo.env.path().join(".vnx-data/state");
    std::fs::remove_dir_all(&state).unwrap();
    // A file where the ledger's directory should be (root ignores read-only modes).
    std::fs::write(&state, "not a directory").unwrap();
    let r = run(repo.vnx().args(["doctor", "--json"]));
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let check = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "data_dir")
        .unwrap()
        .clone();
    assert_eq!(check["status"], "fail", "{check}");
    assert!(
        check["detail"].as_str().unwrap().contains("cannot write"),
        "{check}"
    );
}

#[test]
fn vnx_files_are_private_whatever_the_umask() {
    let repo = Repo::new();
    let vnx = |args: &[&str]| {
        let cmd = repo.vnx();
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg("umask 000; exec \"$@\"")
            .arg("sh")
            .arg(cmd.get_program())
            .args(args)
            .current_dir(repo.env.path())
            .env_clear();
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                sh.env(k, v);
            }
        }
        run(sh)
    };
    let r = vnx(&[
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "demo",
        "--model",
        "fail",
        "--instruction",
        "leave work",
        "--json",
    ]);
    assert_eq!(completion(&r)["teardown_class"], "dirty", "{}", r.stderr);
    let data = repo.env.path().join(".vnx-data");
    let worktrees = data.join("worktrees");
    let mut checked = 0;
    for path in std::iter::once(data.clone()).chain(files_under(&data)) {
        // The worktrees' files are the user's code, checked out by git as the umask says.
        if path.starts_with(&worktrees) && path != worktrees {
            continue;
        }
        // A file the supervisor removed since the listing (its teardown may still run after
        // the completion is printed) has no mode left to check.
        let meta = match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            meta => meta.unwrap(),
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
        checked += 1;
    }
    assert!(checked > 8, "{checked}");
}

/// `.worktreeinclude` with `.env` (git-ignored, holding a secret) in the main checkout.
fn with_secret_env(repo: &Repo, list: &str) {
    std::fs::write(
        repo.env.path().join(".gitignore"),
        ".vnx-data/\n.env\nout\n",
    )
    .unwrap();
    std::fs::write(repo.env.path().join(".worktreeinclude"), list).unwrap();
    repo.env.git(&["add", ".gitignore", ".worktreeinclude"]);
    repo.env.git(&["commit", "-q", "-m", "include .env"]);
    std::fs::write(repo.env.path().join(".env"), "SECRET=hunter2\n").unwrap();
}

#[test]
fn worktree_include_never_writes_through_a_link_a_branch_tracks() {
    let repo = Repo::new();
    with_secret_env(&repo, ".env\n");
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("victim");
    std::fs::write(&target, "precious\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    // A branch that tracks .env as a link to a file outside the repository.
    let home = repo.env.git(&["symbolic-ref", "--short", "HEAD"]);
    repo.env.git(&["checkout", "-q", "-b", "evil"]);
    std::fs::rename(
        repo.env.path().join(".env"),
        repo.env.path().join("env.bak"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&target, repo.env.path().join(".env")).unwrap();
    repo.env.git(&["add", "-f", ".env"]);
    repo.env
        .git(&["commit", "-q", "-m", "track .env as a link"]);
    repo.env.git(&["checkout", "-q", home.trim()]);
    std::fs::rename(
        repo.env.path().join("env.bak"),
        repo.env.path().join(".env"),
    )
    .unwrap();

    let r = repo.dispatch("commit", &["--instruction", "x", "--base-ref", "evil"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains(".env"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    assert_eq!(
        std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert_eq!(repo.branches(), "", "the failed launch is undone");
}

#[test]
fn worktree_include_refuses_sources_reached_through_a_link() {
    let repo = Repo::new();
    with_secret_env(&repo, "out/*\n");
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("private.key"), "not yours\n").unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.env.path().join("out")).unwrap();
    let r = repo.dispatch("commit", &["--instruction", "x"]);
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(
        r.stderr
            .contains(".worktreeinclude line 1: `out` is a symbolic link"),
        "{}",
        r.stderr
    );
    assert_eq!(repo.branches(), "");
}

fn receipts_of(repo: &Repo, id: &str, event: &str) -> Vec<serde_json::Value> {
    let ledger = repo.env.path().join(".vnx-data/state/t0_receipts.ndjson");
    if !ledger.exists() {
        return Vec::new();
    }
    repo.receipts(id)
        .into_iter()
        .filter(|r| r["event_type"] == event)
        .collect()
}

fn dispatch_dir(repo: &Repo, id: &str) -> PathBuf {
    repo.env.path().join(".vnx-data/dispatches").join(id)
}

fn worktree(repo: &Repo, id: &str) -> PathBuf {
    repo.env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{id}"))
}

fn until(what: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if what() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    what()
}

fn process_in(dir: &Path) -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .any(|p| std::fs::read_link(p.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(dir)))
}

#[test]
fn a_living_dispatch_is_neither_released_nor_lost_until_its_supervisor_leaves() {
    let repo = Repo::new();
    let r = repo.dispatch("stubborn", &["--instruction", "x", "--detach"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let launched: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = launched["dispatch_id"].as_str().unwrap().to_owned();
    let wt = worktree(&repo, &id);
    assert!(until(|| process_in(&wt)), "the worker runs");
    // A process the worker left in its own session (outside the group its supervisor stops)
    // keeps working in the worktree for as long as the test says: the dispatch lives on
    // however slowly this machine runs the release below (the supervisor's own stop of a
    // worker that ignores SIGTERM lasts only its five-second grace).
    let mut outlived = Command::new("sleep")
        .arg("300")
        .current_dir(&wt)
        .spawn()
        .unwrap();

    // The session goes; the supervisor stops a worker that ignores SIGTERM.
    repo.server.0.kill_server();
    let rel = run(repo.vnx().args(["worktree-release", "--apply", "--json"]));
    assert_eq!(rel.code, 0, "{}\n{}", rel.stdout, rel.stderr);
    let plan: serde_json::Value = serde_json::from_str(&rel.stdout).unwrap();
    for item in plan["items"].as_array().unwrap() {
        if item["dispatch_id"] == id.as_str() {
            assert_eq!(item["class"], "running", "{item}");
            assert!(item["done"].is_null(), "{item}");
        }
    }
    assert!(wt.is_dir(), "the worktree stays while the dispatch lives");
    assert!(repo.branches().contains(&id));
    let status = run(repo.vnx().args(["status", "--json"]));
    assert!(!status.stdout.contains("\"lost\""), "{}", status.stdout);
    let _ = outlived.kill();
    let _ = outlived.wait();

    // The hangup is no person's cancel (ADR 0068): once its supervisor has stopped the
    // worker, it leaves without recording anything, and the dispatch reads lost, its
    // worktree and branch as the worker left them, for `vnx resume`.
    let lost = || {
        let r = run(repo.vnx().args(["status", &id, "--json"]));
        serde_json::from_str::<serde_json::Value>(r.stdout.trim()).unwrap()[0]["status"] == "lost"
    };
    assert!(until(lost), "never lost");
    assert!(!process_in(&wt), "the worker was stopped");
    assert!(wt.is_dir(), "the worktree stays for the resume");
    assert!(repo.branches().contains(&id));
    assert!(
        repo.receipts(&id)
            .iter()
            .all(|r| r["event_type"] != "worktree_released"
                && r["event_type"] != "dispatch_completed"),
        "{:?}",
        repo.receipts(&id)
    );
    repo.verify_ok();
}

#[test]
fn a_launcher_killed_early_leaves_nothing_release_does_not_clean() {
    let repo = Repo::new();
    let mut ids = Vec::new();
    for (n, delay) in (0..=120).step_by(10).enumerate() {
        let id = format!("D-kill{n}");
        let mut cmd = repo.vnx();
        cmd.args([
            "dispatch-agent",
            "--agent",
            "reviewer",
            "--provider",
            "demo",
        ])
        .args(["--model", "noop", "--instruction", "x", "--detach"])
        .args(["--id", &id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        ids.push(id);
    }
    // What did start runs to its end; git finishes what it was doing.
    assert!(repo.server.sessions_end());
    for id in &ids {
        let wt = worktree(&repo, id);
        assert!(until(|| !process_in(&wt)));
    }
    let started: Vec<&String> = ids
        .iter()
        .filter(|id| !receipts_of(&repo, id, "dispatch_started").is_empty())
        .collect();
    let rel = run(repo.vnx().args(["worktree-release", "--apply"]));
    assert_eq!(rel.code, 0, "{}\n{}", rel.stdout, rel.stderr);
    let branches = repo.branches();
    for id in &ids {
        let is_started = started.contains(&id);
        if is_started {
            assert!(
                dispatch_dir(&repo, id).is_dir(),
                "{id} started: its records stay\n{}",
                rel.stdout
            );
        } else {
            assert!(
                !dispatch_dir(&repo, id).exists(),
                "{id}: receipt-less directory left\n{}",
                rel.stdout
            );
        }
        assert!(!worktree(&repo, id).exists(), "{id}\n{}", rel.stdout);
        assert!(!branches.contains(id.as_str()), "{id}: {branches}");
    }
    let list = repo.env.git(&["worktree", "list", "--porcelain"]);
    assert!(!list.contains("dispatch-D-kill"), "{list}");
    // Each removal is on the ledger.
    for id in ids.iter().filter(|id| !started.contains(id)) {
        let released = receipts_of(&repo, id, "worktree_released");
        let removed_dir = released
            .iter()
            .any(|r| r["action"]["dispatch_dir_removed"] == true);
        let had_dir = !released.is_empty();
        assert!(!had_dir || removed_dir, "{id}: {released:?}");
    }
    repo.verify_ok();
}
