//! Projects recorded by earlier versions of vnx (`tests/fixtures/compat/<version>/`, made by its
//! `record.sh`) stay readable: this version verifies their ledger, lists and shows their
//! dispatches, and gates and merges the one they left done, as the README's "Upgrading"
//! section promises.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Server, TestEnv, git, hermetic, repo_dir, run};

/// The recorded versions, oldest first.
fn recorded() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo_dir().join("tests/fixtures/compat"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("facts.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn untar(archive: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let out = Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(into)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The recorded project, restored under `env`: the repository from its bundle (every ref), its
/// `.vnx-data/`, and the home directory holding its signing key and checkpoint witness.
fn restore(env: &TestEnv, fixture: &Path) -> PathBuf {
    untar(&fixture.join("home.tar"), &env.home());
    let project = env.dir.path().join("project");
    let home = env.home();
    let bundle = fixture.join("repo.bundle");
    // An unborn branch of another name, so the fetch may write refs/heads/main.
    git(
        &home,
        env.dir.path(),
        &["init", "-q", "-b", "unborn", "project"],
    );
    git(
        &home,
        &project,
        &["fetch", "-q", bundle.to_str().unwrap(), "+refs/*:refs/*"],
    );
    git(&home, &project, &["checkout", "-q", "main"]);
    untar(&fixture.join("vnx-data.tar"), &project);
    project
}

fn vnx(env: &TestEnv, server: &Server, project: &Path, args: &[&str]) -> crate::common::Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vnx"));
    hermetic(&mut cmd, &env.home());
    cmd.env("VNX_TMUX_SOCKET", server.0.socket())
        .current_dir(project)
        .args(args);
    run(cmd)
}

#[test]
fn a_project_recorded_by_an_earlier_version_verifies_gates_and_merges() {
    let fixtures = recorded();
    assert!(
        !fixtures.is_empty(),
        "no recorded versions in tests/fixtures/compat"
    );
    for fixture in fixtures {
        let facts: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture.join("facts.json")).unwrap())
                .unwrap();
        let version = facts["version"].as_str().unwrap();
        let pending = facts["pending"].as_str().unwrap();
        let landed = facts["landed"].as_str().unwrap();
        let env = TestEnv::new();
        let server = Server::new();
        let project = restore(&env, &fixture);
        let at = |what: &str| format!("{what} of a project recorded by {version}");

        let verify = vnx(
            &env,
            &server,
            &project,
            &["audit-chain", "verify", "--json"],
        );
        assert_eq!(
            verify.code,
            0,
            "{}: {}{}",
            at("verify"),
            verify.stdout,
            verify.stderr
        );
        let report: serde_json::Value = serde_json::from_str(&verify.stdout).unwrap();
        let kinds: Vec<&str> = facts["event_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert!(kinds.len() >= 15, "{}: {kinds:?}", at("receipt kinds"));
        assert_eq!(report["passed"], true, "{}: {report}", at("verify"));
        assert!(
            report["report"]["lines"].as_u64().unwrap() > 40,
            "{}",
            at("verify")
        );

        let status = vnx(&env, &server, &project, &["status", "--json"]);
        assert_eq!(status.code, 0, "{}: {}", at("status"), status.stderr);
        assert!(
            status.stdout.contains(pending) && status.stdout.contains(landed),
            "{}: {}",
            at("status"),
            status.stdout
        );

        let show = vnx(&env, &server, &project, &["show", pending, "--json"]);
        assert_eq!(show.code, 0, "{}: {}", at("show"), show.stderr);
        let shown: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
        assert_eq!(shown["status"], "done", "{}: {shown}", at("show"));

        let gate = vnx(&env, &server, &project, &["gate-check", pending]);
        assert_eq!(
            gate.code,
            0,
            "{}: {}{}",
            at("gate-check"),
            gate.stdout,
            gate.stderr
        );
        assert!(
            gate.stdout.contains("GO"),
            "{}: {}",
            at("gate-check"),
            gate.stdout
        );

        let merge = vnx(&env, &server, &project, &["merge", pending]);
        assert_eq!(
            merge.code,
            0,
            "{}: {}{}",
            at("merge"),
            merge.stdout,
            merge.stderr
        );
        let log = git(&env.home(), &project, &["log", "-1", "--format=%B", "main"]);
        assert!(
            log.contains(&format!("VNX-Dispatch: {pending}")),
            "{}: {log}",
            at("the merge commit")
        );

        let again = vnx(&env, &server, &project, &["audit-chain", "verify"]);
        assert_eq!(
            again.code,
            0,
            "{}: {}",
            at("verify after the merge"),
            again.stderr
        );
    }
}
