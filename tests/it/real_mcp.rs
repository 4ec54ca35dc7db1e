//! `vnx mcp` as the real claude's MCP server, offline: `vnx init --mcp claude` registers it in
//! the project's `.mcp.json`, claude is pointed at that file, and the scripted model
//! (`tests/support/model_server.py`, `@model tool …`) calls `mcp__vnx__list_dispatches`. What
//! the tool returned is read where the model sees it: the `tool_result` in claude's next
//! request to the model. And the official Python SDK (`mcp` from PyPI,
//! `tests/support/mcp_client.py`) as a second client. `#[ignore]`d like the real-CLI tests
//! (see `real_clis.rs`); `.ci/run` runs each when its registry is reachable.

use std::process::Command;

use sha2::{Digest, Sha256};

use crate::common::{hermetic, ledger_path, repo_dir, run};
use crate::real_clis::Rig;

mod python_sdk_act;
mod real_claude_act;
mod real_claude_graph;

/// A rig whose project lets an MCP client do every act, with one dispatch and a checkpoint
/// (a merge needs one the ledger extends), and `.mcp.json` registering `vnx mcp --act`.
fn acting_rig() -> Rig {
    let rig = Rig::new();
    crate::common::configure(&rig.repo, crate::mcp::act::ACT_ALL);
    let r = rig.repo.dispatch("commit", &["--instruction", "x"]);
    assert_eq!(r.code, 0, "[demo dispatch] {}", r.stderr);
    let r = run(rig.repo.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(r.code, 0, "[checkpoint] {}", r.stderr);
    let r = run(rig.repo.vnx().args(["init", "--mcp", "claude"]));
    assert_eq!(r.code, 0, "[init --mcp claude] {}", r.stderr);
    let file = rig.repo.env.path().join(".mcp.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    config["mcpServers"]["vnx"]["args"] = serde_json::json!(["mcp", "--act"]);
    std::fs::write(&file, config.to_string()).unwrap();
    rig
}

/// `claude -p PROMPT` in the rig's project with vnx's MCP server, `tools` allowed, stopped
/// after `secs` seconds.
fn claude(rig: &Rig, prompt: &str, secs: &str, tools: &str) -> Command {
    let mut cmd = Command::new("timeout");
    hermetic(&mut cmd, &rig.repo.env.home());
    cmd.current_dir(rig.repo.env.path())
        .env("PATH", &rig.path)
        .env("VNX_TMUX_SOCKET", rig.repo.server.0.socket())
        .envs(rig.env.iter().map(|(k, v)| (k, v)))
        .args([secs, "claude", "-p", prompt])
        .args(["--output-format", "stream-json", "--verbose"])
        .args(["--mcp-config", ".mcp.json", "--strict-mcp-config"])
        .args(["--allowedTools", tools])
        .stdin(std::process::Stdio::null());
    cmd
}

/// The text of the `tool_result` answering tool call `id`, as claude sent it to the model.
fn tool_result(requests: &[serde_json::Value], id: &str) -> Option<String> {
    requests.iter().find_map(|r| {
        r["body"]["messages"].as_array()?.iter().find_map(|m| {
            m["content"].as_array()?.iter().find_map(|b| {
                if b["type"] != "tool_result" || b["tool_use_id"] != id {
                    return None;
                }
                match &b["content"] {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Array(parts) => Some(
                        parts
                            .iter()
                            .filter_map(|p| p["text"].as_str())
                            .collect::<String>(),
                    ),
                    _ => None,
                }
            })
        })
    })
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_claude_calls_vnx_mcp_and_the_model_sees_the_dispatches_with_their_evidence() {
    let rig = Rig::new();
    let r = rig.repo.dispatch("commit", &["--instruction", "x"]);
    assert_eq!(r.code, 0, "[demo dispatch] {}", r.stderr);
    let id = crate::common::completion(&r)["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = run(rig.repo.vnx().args(["init", "--mcp", "claude"]));
    assert_eq!(r.code, 0, "[init --mcp claude] {}", r.stderr);

    let prompt = "List the dispatches.\n\\@model tool mcp__vnx__list_dispatches {\"states\": [\"done\"]}\n\\@model say Listed.";
    let cmd = claude(&rig, prompt, "120", "mcp__vnx__list_dispatches");
    let r = run(cmd);
    assert_eq!(r.code, 0, "[claude -p] {}\n{}", r.stdout, r.stderr);

    let requests = rig.server.requests();
    let offered = requests.iter().any(|q| {
        q["summary"]["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|n| n == "mcp__vnx__list_dispatches"))
    });
    assert!(offered, "[claude] never offered the model vnx's tools");
    // The tool_use id as claude echoed it back to the model.
    let call = requests
        .iter()
        .find_map(|q| {
            q["body"]["messages"].as_array()?.iter().find_map(|m| {
                m["content"].as_array()?.iter().find_map(|b| {
                    (b["type"] == "tool_use" && b["name"] == "mcp__vnx__list_dispatches")
                        .then(|| b["id"].as_str().map(str::to_owned))
                        .flatten()
                })
            })
        })
        .expect("[model server] scripted the tool call");
    let text = tool_result(&requests, &call).expect("[claude] sent the tool's result back");
    let answer: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("[tool_result] {e}: {text}"));
    assert_eq!(
        answer["dispatches"][0]["dispatch_id"],
        id.as_str(),
        "{answer:#}"
    );
    assert_eq!(answer["dispatches"][0]["status"], "done");
    assert_eq!(answer["matched"], 1);
    // The evidence the model can cite is the ledger's: the completion's line, hashed.
    let ledger = std::fs::read(ledger_path(&rig.repo)).unwrap();
    let completion = ledger
        .split(|b| *b == b'\n')
        .find(|l| {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap_or_default();
            v["event_type"] == "dispatch_completed" && v["dispatch_id"] == id.as_str()
        })
        .unwrap();
    assert_eq!(
        answer["evidence"]["receipts"][0]["line_sha256"],
        hex::encode(Sha256::digest(completion)),
        "{answer:#}"
    );
}

#[test]
#[ignore = "needs the Python MCP SDK (mcp from PyPI, tests/support/install-mcp-client.sh)"]
fn python_sdk_client_lists_calls_and_reads_vnx_mcp() {
    let out = Command::new(repo_dir().join("tests/support/install-mcp-client.sh"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run install-mcp-client.sh");
    assert!(
        out.status.success(),
        "install-mcp-client.sh failed: this test needs PyPI, or a filled $VNX_CLI_CACHE"
    );
    let python = String::from_utf8(out.stdout).unwrap();
    let python = python.lines().last().unwrap().trim().to_owned();
    let repo = crate::common::Repo::new();
    let id = repo.dispatched("commit", false);
    let mut cmd = Command::new(&python);
    hermetic(&mut cmd, &repo.env.home());
    cmd.current_dir(repo.env.path())
        .env("VNX_TMUX_SOCKET", repo.server.0.socket())
        .arg(repo_dir().join("tests/support/mcp_client.py"))
        .arg(env!("CARGO_BIN_EXE_vnx"))
        .args(["list_dispatches", "{}"])
        .args([
            "dispatch_diff",
            &format!("{{\"dispatch_id\": \"{id}\", \"stat\": true}}"),
        ])
        .args(["show_dispatch", "{\"dispatch_id\": \"D-nope\"}"])
        .args(["tail_receipts", "{\"limit\": 5000}"]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "[python client] {}\n{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["server"], "vnx");
    assert_eq!(v["tools"].as_array().unwrap().len(), 11, "{v:#}");
    assert!(
        v["resources"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(format!("vnx://dispatch/{id}"))),
        "{v:#}"
    );
    let calls = v["calls"].as_array().unwrap();
    assert_eq!(
        calls[0]["structured"]["dispatches"][0]["dispatch_id"],
        id.as_str()
    );
    assert_eq!(calls[0]["structured"]["dispatches"][0]["status"], "done");
    assert!(
        calls[1]["structured"]["diff"]
            .as_str()
            .unwrap()
            .contains("demo-output.txt"),
        "{v:#}"
    );
    assert!(
        calls[2]["error"]
            .as_str()
            .unwrap()
            .contains("unknown dispatch D-nope"),
        "{v:#}"
    );
    assert!(
        calls[3]["error"]
            .as_str()
            .unwrap()
            .contains("over the maximum of 1000"),
        "{v:#}"
    );
    assert_eq!(
        v["ledger"].as_str().unwrap(),
        std::fs::read_to_string(ledger_path(&repo)).unwrap()
    );
}
