//! `vnx mcp`, the read-only MCP server, through an rmcp client: over the child process's
//! stdio (the binary as an MCP client starts it) and in-process over a duplex. Its answers
//! agree with the CLI's JSON, cite ledger lines that hash as cited, wait as `vnx wait` waits,
//! refuse bad input with MCP errors while the server goes on, and leave every file of the
//! project, its git directory and the user's vnx state byte for byte as they were.
//!
//! The answers are tested here; bad input and leaving everything as it was in
//! `mcp/guarantees.rs`, `vnx init --mcp` in `mcp/init.rs`, subscriptions, notifications and
//! waiting for any in `mcp/notify.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rmcp::model::{CallToolRequestParams, ErrorCode, ErrorData, ReadResourceRequestParams};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::{ServiceExt, model::ResourceContents};
use sha2::{Digest, Sha256};

use crate::common::{Repo, committed, configure, gate_check, ledger_path, run};

pub mod act;
mod guarantees;
mod init;
mod notify;

const GATES: &str = "gates:\n\
    \x20 tests: {kind: command, argv: [sh, -c, 'test -f demo-output.txt']}\n\
    roles:\n\
    \x20 implementer: {gates: [tests]}\n";

type Client = RunningService<RoleClient, ()>;

/// `vnx mcp` started in the repository as an MCP client starts it, with `TMPDIR` at `tmp`.
async fn connect(repo: &Repo, tmp: &Path) -> Client {
    let mut cmd = repo.vnx();
    cmd.arg("mcp").env("TMPDIR", tmp);
    let transport = crate::common::mcp_stdio::spawn(cmd);
    ().serve(transport).await.expect("the MCP handshake")
}

/// A tool's structured answer, or its MCP error.
async fn call(
    c: &Client,
    tool: &'static str,
    args: serde_json::Value,
) -> Result<serde_json::Value, ErrorData> {
    let params = CallToolRequestParams::new(tool).with_arguments(args.as_object().unwrap().clone());
    match c.call_tool(params).await {
        Ok(r) => {
            assert_eq!(r.is_error, Some(false), "{tool}: {r:?}");
            // The text content is the same JSON, for clients that read only text.
            let text = r.content[0].as_text().expect("text content").text.clone();
            let value = r.structured_content.expect("structured content");
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&text).unwrap(),
                value
            );
            Ok(value)
        }
        Err(ServiceError::McpError(e)) => Err(e),
        Err(e) => panic!("{tool}: {e}"),
    }
}

async fn ok(c: &Client, tool: &'static str, args: serde_json::Value) -> serde_json::Value {
    call(c, tool, args.clone())
        .await
        .unwrap_or_else(|e| panic!("{tool} {args}: {e:?}"))
}

/// The CLI's `--json` output.
fn cli_json(repo: &Repo, args: &[&str]) -> serde_json::Value {
    let r = run(repo.vnx().args(args));
    serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {} {}", r.stdout, r.stderr))
}

/// Asserts that every receipt an answer cites is the ledger line it names, hashing as cited.
fn assert_cites_the_ledger(repo: &Repo, answer: &serde_json::Value) {
    let ledger = std::fs::read(ledger_path(repo)).unwrap();
    let lines: Vec<&[u8]> = ledger
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let hash = |l: &[u8]| hex::encode(Sha256::digest(l));
    let ev = &answer["evidence"];
    assert_eq!(
        ev["ledger_head"]["line_sha256"],
        hash(lines[lines.len() - 1]),
        "{ev:#}"
    );
    for c in ev["receipts"].as_array().unwrap() {
        let sha = c["line_sha256"].as_str().unwrap();
        match c["line"].as_u64() {
            Some(n) => assert_eq!(hash(lines[n as usize - 1]), sha, "{c}"),
            None => assert!(lines.iter().any(|l| hash(l) == sha), "{c}"),
        }
    }
}

/// A repository with a gated, gate-checked done dispatch, a failed one and one that asked a
/// question (needs_input), the ledger checkpointed: (repo, done, failed, asked).
fn project() -> (Repo, String, String, String) {
    let repo = Repo::new();
    configure(&repo, GATES);
    let done = committed(&repo, "implementer");
    let (r, report) = gate_check(&repo, &done);
    assert_eq!(r.code, 0, "{report:#}");
    let failed = repo.dispatched("fail", false);
    let asked = repo.dispatched("ask", false);
    (repo, done, failed, asked)
}

#[tokio::test]
async fn lists_shows_and_waits_as_the_cli_does_citing_its_receipts() {
    let (repo, done, failed, asked) = project();
    let tmp = tempfile::tempdir().unwrap();
    let c = connect(&repo, tmp.path()).await;

    let tools = c.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "cost",
            "dispatch_diff",
            "dispatch_log",
            "gate_results",
            "list_dispatches",
            "merge_readiness",
            "provider_constraints",
            "show_dispatch",
            "tail_receipts",
            "verify_ledger",
            "wait_dispatches"
        ]
    );
    for t in &tools {
        let hint = t.annotations.as_ref().and_then(|a| a.read_only_hint);
        assert_eq!(hint, Some(true), "{} is not marked read-only", t.name);
    }

    // The list is `vnx status --json`, each dispatch's proof cited.
    let listed = ok(&c, "list_dispatches", serde_json::json!({})).await;
    let status = cli_json(&repo, &["status", "--json"]);
    assert_eq!(listed["dispatches"], status);
    assert_eq!(listed["matched"], 3);
    assert_cites_the_ledger(&repo, &listed);
    let cited: Vec<&str> = listed["evidence"]["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["dispatch_id"].as_str().unwrap())
        .collect();
    assert_eq!(cited, [done.as_str(), failed.as_str(), asked.as_str()]);
    let needs = ok(
        &c,
        "list_dispatches",
        serde_json::json!({"states": ["needs_input"]}),
    )
    .await;
    assert_eq!(needs["dispatches"].as_array().unwrap().len(), 1);
    assert_eq!(needs["dispatches"][0]["dispatch_id"], asked.as_str());
    let newest = ok(
        &c,
        "list_dispatches",
        serde_json::json!({"limit": 1, "provider": "demo"}),
    )
    .await;
    assert_eq!(newest["dispatches"][0]["dispatch_id"], asked.as_str());
    assert_eq!(newest["truncated"], true);

    // One dispatch is `vnx show ID --json`, with every receipt about it cited.
    let mut shown = ok(
        &c,
        "show_dispatch",
        serde_json::json!({"dispatch_id": done}),
    )
    .await;
    assert_cites_the_ledger(&repo, &shown);
    let ours = repo.receipts(&done).len();
    assert_eq!(
        shown["evidence"]["receipts"].as_array().unwrap().len(),
        ours
    );
    shown.as_object_mut().unwrap().remove("evidence");
    assert_eq!(shown, cli_json(&repo, &["show", &done, "--json"]));

    // Waiting returns on needs_input and failed as `vnx wait --json` does.
    let waited = ok(
        &c,
        "wait_dispatches",
        serde_json::json!({"dispatch_ids": [done, failed, asked], "timeout_seconds": 5}),
    )
    .await;
    let statuses: Vec<&str> = waited["dispatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["done", "failed", "needs_input"]);
    assert_eq!(waited["all_done"], false);
    let cli_wait = run(repo.vnx().args(["wait", &asked, "--json"]));
    let cli_wait: serde_json::Value = serde_json::from_str(cli_wait.stdout.trim()).unwrap();
    assert_eq!(waited["dispatches"][2], cli_wait);
    assert_cites_the_ledger(&repo, &waited);

    // A running dispatch is still `running` at the timeout.
    let slow = repo.dispatched("slow", true);
    let waited = ok(
        &c,
        "wait_dispatches",
        serde_json::json!({"dispatch_ids": [slow], "timeout_seconds": 1}),
    )
    .await;
    assert_eq!(waited["dispatches"][0]["status"], "running");
    run(repo.vnx().args(["cancel", &slow]));
    let waited = ok(
        &c,
        "wait_dispatches",
        serde_json::json!({"dispatch_ids": [slow], "timeout_seconds": 60}),
    )
    .await;
    assert_eq!(waited["dispatches"][0]["status"], "cancelled");

    // The worker's log and the diff.
    let log = ok(&c, "dispatch_log", serde_json::json!({"dispatch_id": done})).await;
    assert!(
        log["text"].as_str().unwrap().contains("reported done"),
        "{log:#}"
    );
    let tail = ok(
        &c,
        "dispatch_log",
        serde_json::json!({"dispatch_id": done, "max_bytes": 5}),
    )
    .await;
    assert_eq!(tail["text"], "done\n");
    assert_eq!(tail["truncated"], true);
    let diff = ok(
        &c,
        "dispatch_diff",
        serde_json::json!({"dispatch_id": done}),
    )
    .await;
    let cli_diff = run(repo.vnx().args(["show", &done, "--diff"])).stdout;
    assert_eq!(diff["diff"], cli_diff.as_str());
    assert!(cli_diff.contains("+++ b/demo-output.txt"), "{cli_diff}");
    let only = ok(
        &c,
        "dispatch_diff",
        serde_json::json!({"dispatch_id": done, "paths": ["elsewhere"]}),
    )
    .await;
    assert_eq!(only["diff"], "");
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn governance_answers_agree_with_the_cli() {
    let (repo, done, failed, _) = project();
    run(repo.vnx().args(["audit-chain", "checkpoint"]));
    let tmp = tempfile::tempdir().unwrap();
    let c = connect(&repo, tmp.path()).await;

    // Merge readiness: `merge --check`'s conditions, in order, with the same verdicts.
    for id in [&done, &failed] {
        let ready = ok(
            &c,
            "merge_readiness",
            serde_json::json!({"dispatch_id": id}),
        )
        .await;
        let check = cli_json(&repo, &["merge", id, "--check", "--json"]);
        assert_eq!(ready["result"], check["result"], "{ready:#}");
        assert_eq!(ready["plan"]["conditions"], check["plan"]["conditions"]);
        assert_cites_the_ledger(&repo, &ready);
    }
    let ready = ok(
        &c,
        "merge_readiness",
        serde_json::json!({"dispatch_id": done}),
    )
    .await;
    assert_eq!(ready["result"], "mergeable", "{ready:#}");

    // Gates: the signed result and the GO report.
    let gates = ok(&c, "gate_results", serde_json::json!({"dispatch_id": done})).await;
    assert_eq!(gates["required"], serde_json::json!(["tests"]));
    assert_eq!(gates["results"][0]["gate"], "tests");
    assert_eq!(gates["results"][0]["status"], "pass");
    assert_eq!(gates["report"]["decision"], "GO");
    assert_eq!(gates["report_attested"], true);
    assert_cites_the_ledger(&repo, &gates);

    // Receipts, verification, constraints, spend.
    let tail = ok(&c, "tail_receipts", serde_json::json!({"limit": 3})).await;
    let ledger = std::fs::read_to_string(ledger_path(&repo)).unwrap();
    let all_lines: Vec<serde_json::Value> = ledger
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = all_lines[all_lines.len() - 3..].to_vec();
    assert_eq!(tail["receipts"], serde_json::Value::from(last));
    let mine = ok(
        &c,
        "tail_receipts",
        serde_json::json!({"dispatch_id": failed, "event_type": "dispatch_completed"}),
    )
    .await;
    assert_eq!(mine["receipts"].as_array().unwrap().len(), 1);
    assert_eq!(mine["receipts"][0]["status"], "failed");

    let verified = ok(&c, "verify_ledger", serde_json::json!({"strict": true})).await;
    let cli = cli_json(&repo, &["audit-chain", "verify", "--json", "--strict"]);
    assert_eq!(verified["passed"], true);
    assert_eq!(verified["report"], cli["report"]);

    let constraints = ok(&c, "provider_constraints", serde_json::json!({})).await;
    let cli = cli_json(&repo, &["constraints", "list", "--json"]);
    assert_eq!(constraints["constraints"], cli["constraints"]);
    assert_eq!(constraints["sha256"], cli["sha256"]);

    let cost = ok(&c, "cost", serde_json::json!({"by": "model"})).await;
    let cli = cli_json(&repo, &["cost", "--by", "model", "--json"]);
    assert_eq!(cost["groups"], cli["groups"]);
    assert_eq!(cost["evidence"]["receipts"].as_array().unwrap().len(), 3);
    assert_cites_the_ledger(&repo, &cost);

    // Resources: the ledger byte for byte, the list, one dispatch.
    let resources = c.list_all_resources().await.unwrap();
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert!(uris.contains(&"vnx://ledger"), "{uris:?}");
    assert!(uris.contains(&"vnx://dispatches"), "{uris:?}");
    assert!(
        uris.contains(&format!("vnx://dispatch/{done}").as_str()),
        "{uris:?}"
    );
    let templates = c.list_all_resource_templates().await.unwrap();
    assert_eq!(templates[0].uri_template, "vnx://dispatch/{dispatch_id}");
    let text = |r: rmcp::model::ReadResourceResult| match &r.contents[0] {
        ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("{other:?}"),
    };
    let read = |uri: String| c.read_resource(ReadResourceRequestParams::new(uri));
    assert_eq!(text(read("vnx://ledger".into()).await.unwrap()), ledger);
    let one: serde_json::Value =
        serde_json::from_str(&text(read(format!("vnx://dispatch/{done}")).await.unwrap())).unwrap();
    assert_eq!(one["dispatch_id"], done.as_str());
    assert_cites_the_ledger(&repo, &one);
    let all: serde_json::Value =
        serde_json::from_str(&text(read("vnx://dispatches".into()).await.unwrap())).unwrap();
    assert_eq!(all["matched"], 3);
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn serves_in_process_over_a_duplex() {
    let repo = Repo::new();
    let id = repo.dispatched("commit", false);
    let settings = repo.mcp_settings(tempfile::tempdir().unwrap().path().join("scratch"));
    let (server_end, client_end) = tokio::io::duplex(1 << 16);
    let server = tokio::spawn(vnx_cli::mcp_server::Server::new(settings).serve_on(server_end));
    let c = ().serve(client_end).await.unwrap();
    let listed = ok(&c, "list_dispatches", serde_json::json!({})).await;
    assert_eq!(listed["dispatches"][0]["dispatch_id"], id.as_str());
    assert_eq!(listed["dispatches"][0]["status"], "done");
    assert_eq!(listed["dispatches"][0]["verified"], true);
    assert_cites_the_ledger(&repo, &listed);
    c.cancel().await.unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_evidence_members_are_the_documented_ones() {
    use crate::json_schema::documented;
    let repo = Repo::new();
    let id = repo.dispatched("commit", false);
    let tmp = tempfile::tempdir().unwrap();
    let c = connect(&repo, tmp.path()).await;
    let shown = ok(&c, "show_dispatch", serde_json::json!({"dispatch_id": id})).await;
    let keys = |v: &serde_json::Value| -> std::collections::BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(keys(&shown["evidence"]), documented("mcp-evidence-members"));
    assert_eq!(
        keys(&shown["evidence"]["receipts"][0]),
        documented("mcp-cited-members")
    );
    assert_eq!(
        keys(&shown["evidence"]["ledger_head"]),
        documented("mcp-cited-members")
    );
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn wait_returns_when_a_dispatch_is_blocked_on_a_permission_prompt() {
    let repo = Repo::new();
    let fakes = crate::common::Fakes::new();
    let id = repo.dispatched_asking_claude(&fakes);
    let tmp = tempfile::tempdir().unwrap();
    let c = connect(&repo, tmp.path()).await;
    // claude asks before `git commit`: the wait returns with the dispatch_blocked receipt.
    let waited = ok(
        &c,
        "wait_dispatches",
        serde_json::json!({"dispatch_ids": [id], "timeout_seconds": 60}),
    )
    .await;
    let settled = &waited["dispatches"][0];
    assert_eq!(settled["status"], "blocked", "{waited:#}");
    assert_eq!(settled["blocked"]["event_type"], "dispatch_blocked");
    assert_eq!(settled["blocked"]["tool"], "Bash");
    assert_cites_the_ledger(&repo, &waited);
    let listed = ok(
        &c,
        "list_dispatches",
        serde_json::json!({"states": ["blocked"]}),
    )
    .await;
    assert_eq!(listed["dispatches"][0]["dispatch_id"], id.as_str());
    assert_eq!(
        listed["dispatches"][0]["blocked"]["answer_with"],
        format!("vnx attach {id}")
    );
    c.cancel().await.unwrap();
    run(repo.vnx().args(["cancel", &id]));
    run(repo.vnx().args(["wait", &id]));
}

#[tokio::test]
async fn a_deleted_ledger_never_verifies() {
    let repo = Repo::new();
    let tmp = tempfile::tempdir().unwrap();
    let c = connect(&repo, tmp.path()).await;
    // Not written yet: nothing to check, as `audit-chain verify --allow-missing` says.
    let fresh = ok(&c, "verify_ledger", serde_json::json!({})).await;
    assert_eq!(
        (&fresh["missing"], &fresh["passed"]),
        (&true.into(), &true.into())
    );
    drop(c);
    repo.dispatch("commit", &["--instruction", "x"]);
    assert!(repo.server.sessions_end());
    run(repo.vnx().args(["audit-chain", "checkpoint"]));
    std::fs::remove_file(ledger_path(&repo)).unwrap();
    let c = connect(&repo, tmp.path()).await;
    let gone = ok(&c, "verify_ledger", serde_json::json!({})).await;
    assert_eq!(gone["missing"], true, "{gone}");
    assert_eq!(gone["passed"], false, "{gone}");
    assert!(
        gone["reason"]
            .as_str()
            .unwrap()
            .contains("does not exist, but"),
        "{gone}"
    );
}
