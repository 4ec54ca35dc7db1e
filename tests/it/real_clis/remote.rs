//! The real claude, codex and gemini on a remote host: `vnx dispatch-agent --host` over the
//! real loopback sshd of `common::Remote`, the host's own vnx running the CLI in the host's
//! tmux against the scripted model server, and the work landed here. The host is set up as a
//! user sets up a machine: the CLIs' config in its HOME, and the CLIs on PATH and their keys
//! in the environment its ssh sessions get (its sshd's `SetEnv`). The local vnx has neither:
//! nothing of the CLIs' environment crosses ssh.

use std::path::Path;

use super::{
    ModelServer, asks_before_committing, blocked_then_resumed_then_completed, cli_bin,
    committed_by_vnx, compliant, explain, in_lane, path_with, seed_home, step,
};
use crate::common::{Remote, completion, configure, gate_check, run};

/// The local vnx, in an environment whose CLI variables point nowhere: were they passed to
/// the host, its CLIs would fail.
pub(super) fn local(repo: &crate::common::Repo) -> std::process::Command {
    let mut cmd = repo.vnx();
    cmd.env("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
        .env("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9")
        .env("CODEX_HOME", "/nonexistent")
        .env("MOCK_API_KEY", "not-this-one");
    cmd
}

/// `vnx dispatch-agent --host box` of `cli` in `lane` (see [`local`]), not yet run.
fn on_host(
    repo: &crate::common::Repo,
    cli: &str,
    lane: &str,
    deadline: &str,
    instruction: &str,
) -> std::process::Command {
    let mut cmd = local(repo);
    cmd.args(["dispatch-agent", "--host", "box", "--agent", "implementer"])
        .args(["--provider", cli, "--lane", lane, "--deadline", deadline])
        .args(["--instruction", instruction]);
    cmd
}

/// The host's sessions' environment: the seeded CLI variables and PATH with the CLIs.
fn host_login(home: &Path, clone: &Path, bin: &Path, port: u16) -> Vec<(String, String)> {
    let mut env = seed_home(home, port, clone);
    let path = path_with(bin).into_string().expect("PATH is UTF-8");
    env.push(("PATH".into(), path));
    env
}

/// The model server, and a host whose sessions point the CLIs at it (declared as `box`,
/// with a gate that wants a `.txt` file).
fn host_rig() -> (Remote, ModelServer) {
    let bin = cli_bin();
    let server = ModelServer::start();
    let remote = Remote::with_login(|home, clone| host_login(home, clone, &bin, server.port));
    configure(
        &remote.repo,
        "gates:\n  tests: {kind: command, argv: [sh, -c, 'ls *.txt']}\nroles:\n  implementer: {gates: [tests]}\n",
    );
    (remote, server)
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_clis_dispatch_on_a_remote_host() {
    let (remote, server) = host_rig();
    let repo = &remote.repo;
    // The host's sessions find each CLI (the same kind of session the dispatches start in).
    let r = run(repo.vnx().args(["doctor", "--host", "box", "--json"]));
    let doctor: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("[doctor --host] {e}: {} {}", r.stdout, r.stderr));
    for cli in ["claude", "codex", "gemini"] {
        let check = doctor["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == cli)
            .unwrap_or_else(|| panic!("[{cli} doctor --host] no check: {doctor}"));
        assert!(
            check["ok"] == true && check.get("warn").is_none(),
            "[{cli} doctor --host] {check}"
        );
    }

    let mut runs = Vec::new();
    for lane in ["headless", "interactive"] {
        for cli in ["claude", "codex", "gemini"] {
            runs.push((cli, lane));
        }
    }
    let mut done = Vec::new();
    for &(cli, lane) in &runs {
        let at = step(cli, lane, "on host box");
        let marker = format!("remote {cli} {lane}");
        let file = format!("remote-{cli}-{lane}.txt");
        let mut cmd = on_host(
            repo,
            cli,
            lane,
            "120",
            &in_lane(cli, lane, &marker, &file, "wrote-it"),
        );
        let r = run(cmd.arg("--json"));
        let c = completion(&r);
        // The branch came back with the worker's change and the host's commit trailers.
        let id = committed_by_vnx(repo, &c, &at, (cli, lane), &marker, &file);
        assert_eq!(c["remote"]["host"], "box", "{at} {c}");
        assert_eq!(r.code, 0, "{at} {}", r.stderr);
        assert!(
            remote.host_has_completion(&id),
            "{at} not on the host's ledger"
        );
        // The prompt reached the model server from the host's CLI.
        assert!(
            server
                .requests()
                .iter()
                .any(|q| q["body"].to_string().contains(&marker)),
            "{at} the model server never saw the prompt"
        );
        done.push((at, id, file));
    }
    // A question is not success; its answer goes to the host, which resumes the same session.
    for cli in ["claude", "codex", "gemini"] {
        let at = step(cli, "headless", "question on host box");
        let asked = format!("remote question of {cli}");
        let mut cmd = on_host(
            repo,
            cli,
            "headless",
            "120",
            &format!("{asked}\n\\@model ask"),
        );
        let r = run(cmd.arg("--json"));
        let c = completion(&r);
        assert_eq!(
            c["status"],
            "needs_input",
            "{at} {} {}",
            r.stderr,
            explain(&c)
        );
        assert_eq!(r.code, 1, "{at}");
        let id = c["dispatch_id"].as_str().unwrap().to_owned();
        let session = c["session_id"].as_str().unwrap_or_default().to_owned();
        assert!(!session.is_empty(), "{at} no session id: {c}");

        let at = step(cli, "headless", "follow-up on host box");
        let marker = format!("remote follow-up of {cli}");
        let file = format!("remote-{cli}-followed.txt");
        let mut cmd = local(repo);
        cmd.args(["follow-up", &id, "--json", "--deadline", "120"])
            .args(["--instruction", &compliant(&marker, &file, "answered")]);
        let r = run(cmd);
        let f = completion(&r);
        assert_eq!(f["status"], "done", "{at} {} {}", r.stderr, explain(&f));
        assert_eq!(f["remote"]["host"], "box", "{at} {f}");
        assert_eq!(f["teardown_class"], "committed", "{at} {f}");
        assert_eq!(f["session_id"].as_str(), Some(session.as_str()), "{at} {f}");
        let next = f["dispatch_id"].as_str().unwrap().to_owned();
        let started = repo
            .receipts(&next)
            .into_iter()
            .find(|r| r["event_type"] == "dispatch_started")
            .unwrap();
        assert_eq!(started["continues"]["dispatch_id"], id.as_str(), "{at}");
        assert_eq!(started["continues"]["session_id"], session.as_str(), "{at}");
        assert_eq!(repo.on_branch(&id, &file), format!("{marker}\n"), "{at}");
        let saw_both = server.requests().iter().any(|q| {
            let body = q["body"].to_string();
            body.contains(&marker) && body.contains(&asked)
        });
        assert!(saw_both, "{at} no request held both turns");
        done.push((at, next, file));
    }
    // The mirrored host lines and their re-attestations verify here.
    repo.verify_ok();
    let mirrored = remote
        .lines()
        .iter()
        .filter(|l| l.contains("\"event_type\":\"remote_receipt\""))
        .count();
    assert!(mirrored >= 2 * runs.len(), "{mirrored} host lines mirrored");
    // Each passes its gate here and lands with `vnx merge`.
    for (at, id, _) in &done {
        let (r, report) = gate_check(repo, id);
        assert_eq!(r.code, 0, "{at} gate-check: {report}");
        assert_eq!(report["decision"], "GO", "{at} {report}");
        let r = run(repo.vnx().args(["merge", id]));
        assert_eq!(r.code, 0, "{at} merge: {}{}", r.stdout, r.stderr);
    }
    let landed = repo.env.git(&["ls-tree", "--name-only", "HEAD"]);
    for (at, _, file) in &done {
        assert!(landed.contains(file.as_str()), "{at} not landed: {landed}");
    }
    repo.verify_ok();
    assert!(
        remote.host_tmux.sessions_end(),
        "no tmux session left on the host"
    );
}

/// The real TUIs on a host ask before `git commit` (codex: before running outside its
/// sandbox): the host's `dispatch_blocked` reaches `vnx wait --until-blocked` and `status`
/// here; a person answers in the host's pane (as `vnx attach` would let them), and the
/// dispatch goes on and completes, its branch back here.
#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_tuis_block_on_a_remote_host_and_go_on_when_answered() {
    let (remote, _server) = host_rig();
    let repo = &remote.repo;
    for cli in ["claude", "gemini", "codex"] {
        let at = step(cli, "interactive", "permission prompt on host box");
        let marker = format!("remote {cli} asks before committing");
        let file = format!("remote-{cli}-blocked.txt");
        let instruction = asks_before_committing(cli, &marker, &file);
        let mut cmd = on_host(repo, cli, "interactive", "300", &instruction);
        let r = run(cmd.arg("--detach"));
        assert_eq!(r.code, 0, "{at} {}", r.stderr);
        let id = r.stdout.trim().to_owned();
        let r = run(repo.vnx().args(["wait", "--until-blocked", "--json", &id]));
        let blocked: serde_json::Value = serde_json::from_str(r.stdout.trim())
            .unwrap_or_else(|e| panic!("{at} {e}: {} {}", r.stdout, r.stderr));
        let blocked = crate::common::settled_receipt(blocked);
        assert_eq!(blocked["event_type"], "dispatch_blocked", "{at} {blocked}");
        assert_eq!(blocked["waiting_for"], "permission", "{at} {blocked}");
        assert_eq!(blocked["remote"]["host"], "box", "{at} {blocked}");
        let status = run(repo.vnx().args(["status", "--json", &id]));
        let list: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        assert_eq!(list[0]["status"], "blocked", "{at} {list}");

        // Answered in the host's pane; the worker goes on and completes.
        let session = format!("vnx-{id}");
        let key = if cli == "codex" { "y" } else { "1" };
        remote.host_tmux.send_keys(&session, &[key]);
        let resumed = crate::common::wait_for(|| {
            std::fs::read_to_string(remote.host_ledger())
                .unwrap_or_default()
                .lines()
                .any(|l| l.contains("\"dispatch_resumed\"") && l.contains(&id))
        });
        if !resumed {
            remote.host_tmux.send_keys(&session, &["Enter"]);
        }
        let r = run(repo.vnx().args(["wait", "--json", &id]));
        let c = crate::common::settled_receipt(
            serde_json::from_str(r.stdout.trim())
                .unwrap_or_else(|e| panic!("{at} {e}: {} {}", r.stdout, r.stderr)),
        );
        assert_eq!(c["status"], "done", "{at} {}", explain(&c));
        assert_eq!(c["teardown_class"], "committed", "{at} {c}");
        assert_eq!(repo.on_branch(&id, &file), format!("{marker}\n"), "{at}");
        blocked_then_resumed_then_completed(repo, &id, &at);
        let (r, report) = gate_check(repo, &id);
        assert_eq!(r.code, 0, "{at} gate-check: {report}");
        let r = run(repo.vnx().args(["merge", &id]));
        assert_eq!(r.code, 0, "{at} merge: {}{}", r.stdout, r.stderr);
    }
    repo.verify_ok();
    assert!(
        remote.host_tmux.sessions_end(),
        "no tmux session left on the host"
    );
}
