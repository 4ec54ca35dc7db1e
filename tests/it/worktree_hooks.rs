//! The project's setup and teardown commands run in each dispatch's worktree, and each
//! dispatch gets a port of its own from the configured range: recorded, unique among the
//! dispatches holding one, kept by a follow-up, and given back at the end.

use crate::common::{Repo, completion, configure, run};

const HOOKS: &str = "worktree:
  setup:
    - [sh, -c, 'printf \"%s %s\" \"$VNX_PORT\" \"$PWD\" > \"$VNX_DISPATCH_DIR/setup-seen\"']
  teardown:
    - [sh, -c, 'echo \"$VNX_DISPATCH_ID\" > \"$VNX_DISPATCH_DIR/teardown-seen\"']
  ports: 41000-41009
";

fn started(repo: &Repo, id: &str) -> serde_json::Value {
    repo.receipts(id)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_started")
        .unwrap()
}

fn dispatch_dir(repo: &Repo, id: &str) -> std::path::PathBuf {
    repo.env.path().join(".vnx-data/dispatches").join(id)
}

fn claims(repo: &Repo) -> Vec<String> {
    std::fs::read_dir(repo.env.path().join(".vnx-data/ports"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits (bounded) until every port is given back: a supervisor does that just after the
/// completion a `wait` returns on.
fn until_no_claims(repo: &Repo) {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !claims(repo).is_empty() {
        assert!(
            std::time::Instant::now() < give_up,
            "the ports are never given back: {:?}",
            claims(repo)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn setup_and_teardown_run_in_the_worktree_with_the_dispatchs_port() {
    let repo = Repo::new();
    configure(&repo, HOOKS);
    let c = completion(&repo.dispatch("commit", &["--instruction", "x"]));
    assert_eq!(c["status"], "done", "{c}");
    let id = c["dispatch_id"].as_str().unwrap();
    let port = started(&repo, id)["port"].as_u64().unwrap();
    assert!((41000..=41009).contains(&port), "{port}");
    let seen = std::fs::read_to_string(dispatch_dir(&repo, id).join("setup-seen")).unwrap();
    let worktree = std::fs::canonicalize(
        repo.env
            .path()
            .join(format!(".vnx-data/worktrees/dispatch-{id}")),
    )
    .unwrap_or_default();
    let (seen_port, seen_dir) = seen.split_once(' ').unwrap();
    assert_eq!(seen_port, port.to_string());
    // The worktree is gone or kept per its class; the path the setup ran in was it.
    assert!(
        seen_dir.ends_with(&format!(".vnx-data/worktrees/dispatch-{id}")),
        "{seen_dir} vs {}",
        worktree.display()
    );
    let torn = std::fs::read_to_string(dispatch_dir(&repo, id).join("teardown-seen")).unwrap();
    assert_eq!(torn.trim(), id);
    let commands = c["worktree_commands"].as_array().unwrap();
    assert_eq!(commands.len(), 2, "{c}");
    assert_eq!(commands[0]["phase"], "setup");
    assert_eq!(commands[0]["exit_code"], 0);
    assert_eq!(commands[1]["phase"], "teardown");
    assert_eq!(commands[1]["argv"][0], "sh");
    // The setup's file is in the dispatch directory, not the work: the branch holds only
    // the worker's file.
    until_no_claims(&repo);
}

#[test]
fn ports_are_unique_among_running_dispatches_and_a_follow_up_keeps_its_own() {
    let repo = Repo::new();
    configure(&repo, HOOKS);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = repo.dispatch("slow", &["--instruction", "x", "--detach"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
        ids.push(v["dispatch_id"].as_str().unwrap().to_owned());
    }
    let ports: Vec<u64> = ids
        .iter()
        .map(|id| started(&repo, id)["port"].as_u64().unwrap())
        .collect();
    assert_ne!(ports[0], ports[1]);
    assert_eq!(claims(&repo).len(), 2);
    let r = run(repo.vnx().args(["cancel", "--all"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    run(repo.vnx().arg("wait").args(&ids));
    until_no_claims(&repo);

    // A follow-up of the first takes its port again.
    let r = run(repo.vnx().args([
        "follow-up",
        &ids[0],
        "--instruction",
        "go on",
        "--detach",
        "--json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let launched: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let next = launched["dispatch_id"].as_str().unwrap();
    assert_eq!(started(&repo, next)["port"].as_u64(), Some(ports[0]));
    run(repo.vnx().args(["cancel", next]));
}

#[test]
fn a_failing_setup_fails_the_dispatch_before_the_worker_starts() {
    let repo = Repo::new();
    configure(
        &repo,
        "worktree:\n  setup:\n    - [sh, -c, 'exit 7']\n    - [touch, never-ran]\n  teardown:\n    - [true]\n",
    );
    let r = repo.dispatch("commit", &["--instruction", "x"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "failed", "{c}");
    let reason = c["failure_reason"].as_str().unwrap();
    assert!(
        reason.contains("setup command `sh -c exit 7` exited 7")
            && reason.contains("did not start"),
        "{reason}"
    );
    let commands = c["worktree_commands"].as_array().unwrap();
    assert_eq!(
        commands.len(),
        2,
        "the second setup never ran; teardown did: {c}"
    );
    assert_eq!(commands[0]["exit_code"], 7);
    assert_eq!(commands[1]["phase"], "teardown");
    assert!(
        started(&repo, c["dispatch_id"].as_str().unwrap())
            .get("port")
            .is_none()
    );
    let log = std::fs::read_to_string(c["worker_log"].as_str().unwrap()).unwrap();
    assert!(!log.contains("demo worker"), "the worker never ran: {log}");
}

#[test]
fn the_worker_sees_its_port_and_worktree() {
    use std::os::unix::fs::PermissionsExt;
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("porter");
    std::fs::write(
        &bin,
        "#!/bin/sh\nprintf '%s %s' \"$VNX_PORT\" \"$VNX_WORKTREE\" > \"$VNX_DISPATCH_DIR/worker-saw\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    configure(
        &repo,
        &format!(
            "providers:\n  porter:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      edits: []\nroles:\n  looker: {{writes: false}}\nworktree:\n  ports: 41000-41009\n",
            bin.display()
        ),
    );
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "looker",
        "--provider",
        "porter",
        "--instruction",
        "x",
        "--json",
    ]));
    let c = completion(&r);
    let id = c["dispatch_id"].as_str().unwrap();
    let port = started(&repo, id)["port"].as_u64().unwrap();
    let saw = std::fs::read_to_string(dispatch_dir(&repo, id).join("worker-saw")).unwrap();
    let (seen_port, seen_worktree) = saw.split_once(' ').unwrap();
    assert_eq!(seen_port, port.to_string(), "{c}");
    assert!(
        seen_worktree.ends_with(&format!(".vnx-data/worktrees/dispatch-{id}")),
        "{seen_worktree}"
    );
}
