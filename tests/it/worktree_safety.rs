//! Work and records are never destroyed: a dispatch id in use is refused without touching the
//! earlier dispatch, a failed `git worktree add` leaves no branch, doctor notices a data
//! directory nothing can be written to, and vnx's runtime files are private whatever the
//! umask.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::common::run;
use crate::dispatch::{Repo, completion};

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        out.push(path.clone());
        if entry.file_type().unwrap().is_dir() {
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
    assert_eq!(again.code, 1, "{}", again.stderr);
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
    assert_eq!(r.code, 1);
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
    // A checkout git cannot write: every file over the 1-block size limit fails.
    std::fs::write(repo.env.path().join("big.txt"), "x".repeat(64 * 1024)).unwrap();
    repo.env.git(&["add", "big.txt"]);
    repo.env.git(&["commit", "-q", "-m", "a big file"]);
    let mut cmd = repo.dispatch_cmd("commit");
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut limited = Command::new("sh");
    limited
        .arg("-c")
        .arg("ulimit -f 8; exec \"$@\"")
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
    assert_eq!(r.code, 1, "{}", r.stderr);
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
        "dirty",
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
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
        checked += 1;
    }
    assert!(checked > 8, "{checked}");
}
