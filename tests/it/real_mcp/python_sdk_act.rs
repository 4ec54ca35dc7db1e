//! `vnx mcp --act` under the official Python MCP SDK (`tests/support/mcp_client.py`): every
//! acting tool called by an orchestrator outside the dispatches, each receipt naming the
//! client; and a stand-in worker that runs the client from inside its own dispatch and is
//! refused approving or merging itself and the dispatch it started, with nothing of those
//! on the ledger. `#[ignore]`d with the SDK's other test: `bin/test` runs
//! `real_mcp::python_sdk` whenever the SDK is installed, and says so when it is not.

use std::process::Command;

use crate::common::{Fakes, Repo, configure, hermetic, ledger_path, repo_dir, run};

/// The SDK's python (installed if missing).
fn python() -> String {
    let out = Command::new(repo_dir().join("tests/support/install-mcp-client.sh"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run install-mcp-client.sh");
    assert!(
        out.status.success(),
        "install-mcp-client.sh failed: this test needs PyPI, or a filled $VNX_CLI_CACHE"
    );
    let python = String::from_utf8(out.stdout).unwrap();
    python.lines().last().unwrap().trim().to_owned()
}

/// The client's run of `calls` (tool, JSON) against `vnx mcp --act` in `repo`.
fn client(python: &str, repo: &Repo, calls: &[(&str, String)]) -> serde_json::Value {
    let mut cmd = Command::new(python);
    hermetic(&mut cmd, &repo.env.home());
    cmd.current_dir(repo.env.path())
        .env("VNX_TMUX_SOCKET", repo.server.0.socket())
        .env("VNX_MCP_ARGS", "--act")
        .arg(repo_dir().join("tests/support/mcp_client.py"))
        .arg(env!("CARGO_BIN_EXE_vnx"));
    for (tool, args) in calls {
        cmd.args([tool, args.as_str()]);
    }
    let r = run(cmd);
    assert_eq!(r.code, 0, "[python client] {}\n{}", r.stdout, r.stderr);
    serde_json::from_str(r.stdout.trim()).unwrap()
}

/// The ledger's receipts of `kind` about `id`.
fn receipts(repo: &Repo, kind: &str, id: &str) -> Vec<serde_json::Value> {
    (repo.receipts(id).into_iter())
        .filter(|r| r["event_type"] == kind)
        .collect()
}

#[test]
#[ignore = "needs the Python MCP SDK (mcp from PyPI, tests/support/install-mcp-client.sh)"]
fn python_sdk_client_calls_every_acting_tool_named_on_each_receipt() {
    let python = python();
    let repo = Repo::new();
    configure(&repo, crate::mcp::act::ACT_ALL);
    let fakes = Fakes::new();
    let asking = repo.dispatched_asking_claude(&fakes);
    let asking2 = repo.dispatched_asking_claude(&fakes);
    // A merge needs a checkpoint the ledger extends.
    let r = run(repo.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let demo = |model: &str| {
        format!(
            r#"{{"instruction": "add the demo output", "provider": "demo", "model": "{model}"}}"#
        )
    };
    let last = r#"{"dispatch_id": "$LAST_DISPATCH_ID"}"#.to_owned();
    let wait = r#"{"dispatch_ids": ["$LAST_DISPATCH_ID"], "timeout_seconds": 60}"#.to_owned();
    let id = |d: &str| format!(r#"{{"dispatch_id": "{d}"}}"#);
    let v = client(
        &python,
        &repo,
        &[
            ("dispatch", demo("commit")),
            ("wait", wait.clone()),
            ("merge", last.clone()),
            ("dispatch", demo("ask")),
            ("wait", wait.clone()),
            ("dismiss", last.clone()),
            ("dispatch", demo("ask")),
            ("wait", wait.clone()),
            (
                "follow_up",
                r#"{"dispatch_id": "$LAST_DISPATCH_ID", "instruction": "go on"}"#.to_owned(),
            ),
            ("dispatch", demo("commit")),
            ("wait", wait.clone()),
            (
                "review",
                r#"{"dispatch_id": "$LAST_DISPATCH_ID", "at": "demo-output.txt:1", "comment": "more", "send": true}"#.to_owned(),
            ),
            ("dispatch", demo("slow")),
            ("cancel", last.clone()),
            ("approve", id(&asking)),
            (
                "deny",
                format!(r#"{{"dispatch_id": "{asking2}", "message": "not that"}}"#),
            ),
            ("pr_open", id(&asking)),
            ("pr_fix", id(&asking)),
            ("pr_merge", id(&asking)),
        ],
    );
    let names: Vec<&str> = (v["tools"].as_array().unwrap().iter())
        .filter_map(|t| t.as_str())
        .collect();
    for tool in vnx::config::ActTool::all() {
        assert!(names.contains(&tool.name()), "{names:?}");
    }
    let calls = v["calls"].as_array().unwrap();
    let by = "vnx-tests-python 1.0 via MCP";
    for (n, call) in calls.iter().enumerate().take(16) {
        assert!(call["error"].is_null(), "call {n}: {call:#}");
    }
    let merged = calls[0]["structured"]["dispatch_id"].as_str().unwrap();
    assert_eq!(calls[1]["structured"]["dispatches"][0]["status"], "done");
    assert_eq!(calls[2]["structured"]["result"], "merged");
    assert_eq!(
        receipts(&repo, "dispatch_started", merged)[0]["started_by"],
        by
    );
    assert_eq!(receipts(&repo, "merge_completed", merged).len(), 1);
    let dismissed = calls[3]["structured"]["dispatch_id"].as_str().unwrap();
    assert_eq!(
        receipts(&repo, "dispatch_dismissed", dismissed)[0]["by"],
        by
    );
    let followed = calls[8]["structured"]["dispatch_id"].as_str().unwrap();
    assert_eq!(
        receipts(&repo, "dispatch_started", followed)[0]["started_by"],
        by
    );
    let reviewed = calls[9]["structured"]["dispatch_id"].as_str().unwrap();
    assert_eq!(receipts(&repo, "review_comment", reviewed)[0]["by"], by);
    let sent = calls[11]["structured"]["follow_up"].as_str().unwrap();
    assert_eq!(
        receipts(&repo, "dispatch_started", sent)[0]["started_by"],
        by
    );
    let cancelled = calls[12]["structured"]["dispatch_id"].as_str().unwrap();
    assert_eq!(
        receipts(&repo, "dispatch_cancel_requested", cancelled)[0]["by"],
        by
    );
    assert_eq!(receipts(&repo, "dispatch_answered", &asking)[0]["by"], by);
    assert_eq!(receipts(&repo, "dispatch_answered", &asking2)[0]["by"], by);
    // No forge configured: each pull-request tool says so.
    for call in &calls[16..] {
        assert!(
            call["error"].as_str().unwrap().contains("forge"),
            "{call:#}"
        );
    }
    for d in [&asking, &asking2, followed, sent] {
        run(repo.vnx().args(["cancel", d]));
        run(repo.vnx().args(["wait", d]));
    }
}

#[test]
#[ignore = "needs the Python MCP SDK (mcp from PyPI, tests/support/install-mcp-client.sh)"]
fn python_sdk_client_in_a_worker_is_refused_deciding_for_itself_and_its_dispatch() {
    let python = python();
    let repo = Repo::new();
    configure(&repo, crate::mcp::act::ACT_ALL);
    let fakes = Fakes::new();
    let out = tempfile::tempdir().unwrap();
    let answers = out.path().join("answers.json");
    // The worker's shell runs the client inside its dispatch, as an agent would start vnx's
    // MCP server: it dispatches, waits, then tries to decide for itself and for its dispatch.
    let script = out.path().join("worker.sh");
    std::fs::write(
        &script,
        format!(
            "VNX_MCP_ARGS=--act exec '{python}' '{client}' '{vnx}' \
             dispatch '{{\"instruction\": \"x\", \"provider\": \"demo\", \"model\": \"commit\"}}' \
             wait '{{\"dispatch_ids\": [\"$LAST_DISPATCH_ID\"], \"timeout_seconds\": 60}}' \
             approve \"{{\\\"dispatch_id\\\": \\\"$VNX_DISPATCH_ID\\\"}}\" \
             merge \"{{\\\"dispatch_id\\\": \\\"$VNX_DISPATCH_ID\\\"}}\" \
             approve '{{\"dispatch_id\": \"$LAST_DISPATCH_ID\"}}' \
             merge '{{\"dispatch_id\": \"$LAST_DISPATCH_ID\"}}' \
             pr_merge '{{\"dispatch_id\": \"$LAST_DISPATCH_ID\"}}' > '{answers}'\n",
            client = repo_dir().join("tests/support/mcp_client.py").display(),
            vnx = env!("CARGO_BIN_EXE_vnx"),
            answers = answers.display(),
        ),
    )
    .unwrap();
    let instruction = format!(
        "@fake run sh {}\n@fake run vnx report --status done --summary tried",
        script.display()
    );
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        .env("VNX_OVERRIDE_NO_SKIP_PERMISSIONS", "1")
        .env(
            "VNX_OVERRIDE_NO_SKIP_PERMISSIONS_REASON",
            "a test's stand-in worker",
        )
        .args([
            "dispatch-agent",
            "--agent",
            "implementer",
            "--provider",
            "codex",
        ])
        .args([
            "--lane",
            "headless",
            "--permission",
            "full",
            "--deadline",
            "240",
        ])
        .args(["--json", "--instruction", &instruction]);
    let r = run(cmd);
    let worker = crate::common::completion(&r)["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let log = (repo.env.path()).join(format!(".vnx-data/dispatches/{worker}/worker.log"));
    let text = std::fs::read_to_string(&answers).unwrap_or_else(|e| {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        panic!(
            "{e}: the worker did not run the client: {}\n{log}",
            r.stdout
        )
    });
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let calls = v["calls"].as_array().unwrap();
    assert!(calls[0]["error"].is_null(), "{v:#}");
    let child = calls[0]["structured"]["dispatch_id"].as_str().unwrap();
    assert_eq!(
        calls[0]["structured"]["started_by"],
        format!("vnx-tests-python 1.0 via MCP in the worker of {worker}")
    );
    assert_eq!(
        receipts(&repo, "dispatch_started", child)[0]["started_by_dispatch"],
        worker.as_str()
    );
    assert_eq!(calls[1]["structured"]["dispatches"][0]["status"], "done");
    for (call, says) in
        calls[2..6]
            .iter()
            .zip(["own work", "own work", "which started", "which started"])
    {
        let e = call["error"]
            .as_str()
            .unwrap_or_else(|| panic!("not refused: {call:#}"));
        assert!(e.contains("refused") && e.contains(says), "{e}");
    }
    // pr_merge is refused before the forge is even asked for.
    assert!(
        calls[6]["error"].as_str().unwrap().contains("refused"),
        "{v:#}"
    );
    for d in [worker.as_str(), child] {
        for kind in [
            "dispatch_answered",
            "merge",
            "merge_completed",
            "plan_approved",
        ] {
            assert_eq!(
                receipts(&repo, kind, d),
                Vec::<serde_json::Value>::new(),
                "{kind} {d}"
            );
        }
    }
    let ledger = std::fs::read_to_string(ledger_path(&repo)).unwrap();
    assert!(!ledger.contains("\"event_type\":\"merge"), "{ledger}");
}
