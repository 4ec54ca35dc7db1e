//! vnx never destroys work or records: `.worktreeinclude` follows no symlink, a dispatch id
//! is never reused, nothing of a living dispatch is released or called lost, a failed
//! `git worktree add` leaves no branch, a launcher killed early leaves nothing that
//! `worktree-release` does not clean, doctor tries that `.vnx-data` is writable, and vnx's
//! own files are private whatever the umask.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::run;
use crate::dispatch::{Repo, completion};

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

/// The shell command line for `vnx` with `args`, quoted for `sh -c`.
fn sh_quoted(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `cmd` run under `sh -c '<prefix>; exec cmd'`, with its (hermetic) environment and cwd.
fn under_shell(cmd: &Command, prefix: &str) -> Command {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!("{prefix}; exec {}", sh_quoted(cmd)));
    sh.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        sh.env("PATH", path);
    }
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    if let Some(dir) = cmd.get_current_dir() {
        sh.current_dir(dir);
    }
    sh
}

#[test]
fn worktreeinclude_never_writes_through_a_symlink_in_the_worktree() {
    let repo = Repo::new();
    let root = repo.env.path();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("victim.txt");
    std::fs::write(&target, "outside the repository\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();

    let mut ignore = std::fs::read_to_string(root.join(".gitignore")).unwrap();
    ignore.push_str(".env\n");
    std::fs::write(root.join(".gitignore"), ignore).unwrap();
    std::fs::write(root.join(".worktreeinclude"), ".env\n").unwrap();
    repo.env.git(&["add", ".gitignore", ".worktreeinclude"]);
    repo.env.git(&["commit", "-q", "-m", "include .env"]);
    // A branch that tracks `.env` as a symlink out of the repository.
    repo.env.git(&["checkout", "-q", "-b", "linked"]);
    std::os::unix::fs::symlink(&target, root.join(".env")).unwrap();
    repo.env.git(&["add", "-f", ".env"]);
    repo.env.git(&["commit", "-q", "-m", "link .env"]);
    repo.env.git(&["checkout", "-q", "main"]);
    // The main checkout's secret `.env`, ignored there.
    std::fs::write(root.join(".env"), "API_TOKEN=sk-secret\n").unwrap();
    std::fs::set_permissions(root.join(".env"), std::fs::Permissions::from_mode(0o600)).unwrap();

    let r = repo.dispatch(
        "noop",
        &[
            "--instruction",
            "x",
            "--base-ref",
            "linked",
            "--id",
            "D-link1",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "outside the repository\n",
        "the file outside the repository is untouched"
    );
    let mode = std::fs::metadata(&target).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644, "and keeps its mode");
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("symlink"), "{}", r.stderr);
    // Refused before it started: nothing of it is left.
    assert!(!repo.branches().contains("D-link1"), "{}", repo.branches());
    assert!(!worktree(&repo, "D-link1").exists());
    assert!(!dispatch_dir(&repo, "D-link1").exists());
    assert!(receipts_of(&repo, "D-link1", "dispatch_started").is_empty());
}

#[test]
fn worktreeinclude_copies_nothing_through_a_symlinked_directory() {
    let repo = Repo::new();
    let root = repo.env.path();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "from outside\n").unwrap();
    let mut ignore = std::fs::read_to_string(root.join(".gitignore")).unwrap();
    ignore.push_str("out\nlocal/\n");
    std::fs::write(root.join(".gitignore"), ignore).unwrap();
    std::fs::write(root.join(".worktreeinclude"), "out/*\nlocal/*\n").unwrap();
    repo.env.git(&["add", ".gitignore", ".worktreeinclude"]);
    repo.env.git(&["commit", "-q", "-m", "include"]);
    std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
    std::fs::create_dir(root.join("local")).unwrap();
    std::fs::write(root.join("local/in.txt"), "inside\n").unwrap();

    let r = repo.dispatch_as("reviewer", "noop", &["--instruction", "x"]);
    let c = completion(&r);
    let id = c["dispatch_id"].as_str().unwrap();
    let started = &receipts_of(&repo, id, "dispatch_started")[0];
    let paths: Vec<&str> = started["worktree_include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["local/in.txt"],
        "nothing from outside the repository"
    );
}

#[test]
fn a_reused_dispatch_id_is_refused_and_the_first_dispatchs_records_stay() {
    let repo = Repo::new();
    let r = repo.dispatch("commit", &["--instruction", "x", "--id", "D-00000001"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dir = dispatch_dir(&repo, "D-00000001");
    let files = ["instruction.md", "prompt.md", "spec.json", "worker.log"];
    for f in files {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let ledger_before =
        std::fs::read(repo.env.path().join(".vnx-data/state/t0_receipts.ndjson")).unwrap();

    let again = repo.dispatch("commit", &["--instruction", "y", "--id", "D-00000001"]);
    for f in files {
        assert!(dir.join(f).is_file(), "{f} of the first dispatch is kept");
    }
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("taken"), "{}", again.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("instruction.md")).unwrap(),
        "x"
    );
    let ledger_after =
        std::fs::read(repo.env.path().join(".vnx-data/state/t0_receipts.ndjson")).unwrap();
    assert_eq!(ledger_before, ledger_after, "a refused id writes nothing");

    // The ledger alone also names an id: a dispatch whose worktree, branch and directory are
    // gone is still refused.
    let r = repo.dispatch_as("reviewer", "noop", &["--instruction", "x", "--id", "D-2"]);
    assert_eq!(completion(&r)["teardown_class"], "clean");
    std::fs::remove_dir_all(dispatch_dir(&repo, "D-2")).unwrap();
    assert!(!repo.branches().contains("D-2"));
    let again = repo.dispatch_as("reviewer", "noop", &["--instruction", "x", "--id", "D-2"]);
    assert_ne!(again.code, 0, "{}", again.stdout);
    assert!(
        again.stderr.contains("dispatch_started"),
        "{}",
        again.stderr
    );
    assert_eq!(receipts_of(&repo, "D-2", "dispatch_started").len(), 1);
    repo.verify_ok();
}

#[test]
fn a_living_dispatch_is_neither_released_nor_lost_after_its_tmux_server_dies() {
    let repo = Repo::new();
    let r = repo.dispatch("stubborn", &["--instruction", "x", "--detach"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let launched: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = launched["id"].as_str().unwrap().to_owned();
    let wt = worktree(&repo, &id);
    assert!(until(|| process_in(&wt)), "the worker runs");

    // The session goes; the supervisor is still stopping a worker that ignores SIGTERM.
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

    let w = run(repo.vnx().args(["wait", &id, "--json"]));
    assert!(!w.stdout.contains("lost"), "{}", w.stdout);
    let c: serde_json::Value = serde_json::from_str(w.stdout.trim()).unwrap();
    assert_eq!(c["status"], "cancelled", "{c}");
    // Nothing was released before the dispatch ended.
    let all = repo.receipts(&id);
    let completed = all
        .iter()
        .position(|r| r["event_type"] == "dispatch_completed")
        .unwrap();
    assert!(
        all[..completed]
            .iter()
            .all(|r| r["event_type"] != "worktree_released"),
        "{all:?}"
    );
    repo.verify_ok();
}

#[test]
fn a_failed_worktree_add_leaves_no_branch() {
    let repo = Repo::new();
    let root = repo.env.path();
    // A file bigger than the file size limit below: the checkout fails.
    std::fs::write(root.join("big.bin"), vec![b'x'; 4 << 20]).unwrap();
    repo.env.git(&["add", "big.bin"]);
    repo.env.git(&["commit", "-q", "-m", "big"]);
    let mut cmd = repo.dispatch_cmd("commit");
    cmd.args(["--instruction", "x", "--id", "D-big"]);
    let r = run(under_shell(&cmd, "ulimit -f 1024"));
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(!repo.branches().contains("D-big"), "{}", repo.branches());
    assert!(!worktree(&repo, "D-big").exists());
    assert!(!dispatch_dir(&repo, "D-big").exists());
    let list = repo.env.git(&["worktree", "list", "--porcelain"]);
    assert!(!list.contains("dispatch-D-big"), "{list}");
}

#[test]
fn doctor_tries_that_the_data_directory_takes_writes() {
    let repo = Repo::new();
    let state = repo.env.path().join(".vnx-data/state");
    let data = |v: &serde_json::Value| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "data")
            .cloned()
            .unwrap_or_else(|| panic!("no data check: {v}"))
    };
    // Nothing can be appended where a file stands in for `state/` (as root too).
    std::fs::remove_dir_all(&state).unwrap();
    std::fs::write(&state, "").unwrap();
    let bad = run(repo.vnx().args(["doctor", "--json"]));
    assert_ne!(bad.code, 0, "{}", bad.stdout);
    let v: serde_json::Value = serde_json::from_str(&bad.stdout).unwrap();
    assert_eq!(data(&v)["status"], "fail", "{v}");
    // Put back, the check passes.
    std::fs::remove_file(&state).unwrap();
    std::fs::create_dir(&state).unwrap();
    let ok = run(repo.vnx().args(["doctor", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&ok.stdout).unwrap();
    assert_eq!(data(&v)["status"], "pass", "{v}");
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

#[test]
fn vnx_files_are_private_whatever_the_umask() {
    let repo = Repo::new();
    let mut cmd = repo.dispatch_cmd("commit");
    cmd.args(["--instruction", "x", "--json"]);
    let r = run(under_shell(&cmd, "umask 000"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let data = repo.env.path().join(".vnx-data");
    let worktrees = data.join("worktrees");
    let mut open = Vec::new();
    let mut stack = vec![data.clone()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.file_type().is_symlink() {
            continue;
        }
        if meta.permissions().mode() & 0o077 != 0 {
            open.push(format!(
                "{:o} {}",
                meta.permissions().mode() & 0o777,
                p.display()
            ));
        }
        // A worktree's files are the user's code, with git's modes.
        if meta.is_dir() && p.parent() != Some(worktrees.as_path()) {
            for e in std::fs::read_dir(&p).unwrap().flatten() {
                stack.push(e.path());
            }
        }
    }
    assert!(
        open.is_empty(),
        "group/other may access:\n{}",
        open.join("\n")
    );
}

#[test]
fn init_keeps_the_users_modes_for_project_files_and_makes_vnx_data_private() {
    let env = crate::common::TestEnv::new();
    env.git_init();
    let mut cmd = env.vnx();
    cmd.arg("init");
    let r = run(under_shell(&cmd, "umask 022"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mode = |p: &str| {
        std::fs::metadata(env.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(".vnx"), 0o755);
    assert_eq!(mode(".vnx-data"), 0o700);
    assert_eq!(mode(".vnx-data/state"), 0o700);
}
