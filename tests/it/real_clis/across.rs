//! What vnx does with dispatches, done with every real CLI at once: best-of with one candidate
//! per CLI, `compare` across two of them, `replay` of one CLI's dispatch on each other CLI (its
//! waits through the MCP server), `vnx cost` and a token budget counting each CLI's recorded
//! usage, and the MCP server listing, waiting for and showing each CLI's dispatches. Offline,
//! against the scripted model server, in vnx's default posture.

use super::{Rig, explain};
use crate::common::{configure, run};

/// Every built-in coding CLI vnx runs, as its registry lists them (ollama is opencode's,
/// tested in `opencode`).
fn clis() -> Vec<&'static str> {
    vnx::provider::cli::programs()
}

/// The task every candidate gets: write `best.txt`, report done. aider has no tools and
/// cannot run `vnx report`: its applied edit decides its outcome.
fn task(marker: &str) -> String {
    format!(
        "{marker}\n\\@model write best.txt {marker}\n\\@model run vnx report --status done --summary wrote-best\n\\@model say Wrote it."
    )
}

/// A `--json` output's one object.
fn json(r: &crate::common::Run, at: &str) -> serde_json::Value {
    serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("{at}: {e}: {}\n{}", r.stdout, r.stderr))
}

/// A dispatch's `dispatch_completed` receipt.
fn completed(rig: &Rig, id: &str) -> serde_json::Value {
    rig.repo
        .receipts(id)
        .into_iter()
        .rfind(|r| r["event_type"] == "dispatch_completed")
        .unwrap_or_else(|| panic!("{id} has no dispatch_completed"))
}

/// Input tokens on a completion receipt.
fn input_tokens(c: &serde_json::Value) -> u64 {
    c["token_usage"]["input_tokens"].as_u64().unwrap_or(0)
}

#[test]
#[ignore = "needs every real CLI (~2 GB from npm and PyPI, tests/support/install-clis.sh)"]
fn best_of_compare_replay_budgets_and_mcp_work_with_every_real_cli() {
    let rig = Rig::new();
    configure(
        &rig.repo,
        "gates:\n  tests: {kind: command, argv: [sh, -c, 'test -s best.txt']}\nroles:\n  implementer: {gates: [tests]}\n",
    );

    // Best-of: one candidate per CLI, run at once, each gated; the winner by the rule.
    let mut cmd = rig.vnx();
    cmd.args([
        "best-of",
        "--agent",
        "implementer",
        "--json",
        "--deadline",
        "300",
    ])
    .args(["--instruction", &task("best of seven")]);
    for cli in clis() {
        cmd.args(["--candidate", cli]);
    }
    let r = run(cmd);
    let decision = json(&r, "best-of");
    assert_eq!(r.code, 0, "[best-of] {decision:#}\n{}", r.stderr);
    let candidates = decision["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), clis().len(), "{decision:#}");
    let mut ids = Vec::new();
    for (cli, c) in clis().iter().zip(candidates) {
        let at = format!("[{cli}: best-of candidate]");
        let id = c["dispatch_id"].as_str().unwrap().to_owned();
        let completion = completed(&rig, &id);
        assert_eq!(c["provider"], *cli, "{at} {c:#}");
        assert_eq!(c["status"], "done", "{at} {c:#}\n{}", explain(&completion));
        assert_eq!(c["gate_decision"], "GO", "{at} {c:#}");
        assert!(input_tokens(&completion) > 0, "{at} no usage: {completion}");
        assert_eq!(
            rig.repo.on_branch(&id, "best.txt"),
            "best of seven\n",
            "{at}"
        );
        ids.push(id);
    }
    // Every one passed with the same change: the first given wins, the rest lose to it.
    assert_eq!(decision["winner"], ids[0].as_str(), "{decision:#}");

    // compare: two CLIs' results side by side, from their receipts and branches.
    let aider = clis().iter().position(|c| *c == "aider").unwrap();
    let r = run(rig.vnx().args(["compare", &ids[0], &ids[aider], "--json"]));
    assert_eq!(r.code, 0, "[compare] {}", r.stderr);
    let compared = json(&r, "compare");
    for side in ["a", "b"] {
        assert_eq!(compared[side]["status"], "done", "{compared:#}");
        assert_eq!(
            compared[side]["gates"],
            serde_json::json!([["tests", "pass"]]),
            "{compared:#}"
        );
        assert!(
            compared[side]["tokens"].as_u64().unwrap_or(0) > 0,
            "{compared:#}"
        );
    }
    assert_eq!(compared["common"], serde_json::json!(["best.txt"]));

    // replay: the claude candidate's task on each other CLI, and the aider candidate's on
    // claude, detached; the MCP server waits for all of them.
    let mut replays = Vec::new();
    for (cli, original) in clis()[1..]
        .iter()
        .map(|cli| (*cli, &ids[0]))
        .chain([("claude", &ids[aider])])
    {
        let r = run(rig
            .vnx()
            .args(["replay", original, "--provider", cli, "--detach"]));
        assert_eq!(r.code, 0, "[{cli}: replay] {}{}", r.stdout, r.stderr);
        replays.push((cli, original.clone(), r.stdout.trim().to_owned()));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(mcp::waits_lists_and_shows(&rig, &replays));
    for (cli, original, replay) in &replays {
        let at = format!("[{cli}: replay of {original}]");
        let c = completed(&rig, replay);
        assert_eq!(c["status"], "done", "{at} {}", explain(&c));
        assert!(input_tokens(&c) > 0, "{at} no usage: {c}");
        let started = &rig.repo.receipts(replay)[0];
        assert_eq!(started["provider"], *cli, "{at} {started}");
        assert_eq!(
            started["replay_of"]["dispatch_id"],
            original.as_str(),
            "{at}"
        );
        assert_eq!(started["replay_of"]["identical"], true, "{at} {started}");
    }

    // cost: every CLI's recorded tokens, by provider.
    let r = run(rig.vnx().args(["cost", "--by", "provider", "--json"]));
    assert_eq!(r.code, 0, "[cost] {}", r.stderr);
    let spent = json(&r, "cost");
    for cli in clis() {
        let group = spent["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == cli)
            .unwrap_or_else(|| panic!("[{cli}: cost] no group: {spent:#}"));
        assert_eq!(group["dispatches"], 2, "[{cli}: cost] {group}");
        assert_eq!(group["unreported"], 0, "[{cli}: cost] {group}");
        assert!(
            group["input_tokens"].as_u64().unwrap_or(0) > 0,
            "[{cli}: cost] {group}"
        );
    }

    // A budget over every CLI: its recorded usage is spent, so each CLI's next dispatch is
    // refused before anything exists, naming the budget.
    let constraints = rig.repo.env.path().join("provider_constraints.yaml");
    let mut text = std::fs::read_to_string(&constraints).unwrap();
    text.push_str(&format!(
        "budgets:\n  - id: every-cli\n    provider: [{}]\n    period: day\n    max_tokens: 1\n    reason: a trial allowance\n    audit_severity: blocking\n",
        clis().join(", ")
    ));
    std::fs::write(&constraints, text).unwrap();
    rig.repo.env.git(&["commit", "-q", "-am", "budgets"]);
    for cli in clis() {
        let r = rig.dispatch(cli, "headless", &task("over budget"));
        assert_eq!(r.code, 1, "[{cli}: budget] {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("every-cli"),
            "[{cli}: budget] {}",
            r.stderr
        );
    }
    let r = run(rig.vnx().args(["cost", "--json"]));
    let spent = json(&r, "cost");
    assert_eq!(spent["budgets"][0]["id"], "every-cli", "{spent:#}");
    assert_eq!(spent["budgets"][0]["reached"], true, "{spent:#}");

    rig.repo.verify_ok();
    assert!(rig.repo.server.sessions_end(), "no tmux session left");
}

/// The MCP server (`vnx mcp`, as an MCP client starts it) on the replays of every CLI.
mod mcp {
    use rmcp::ServiceExt;
    use rmcp::model::CallToolRequestParams;
    use rmcp::service::{RoleClient, RunningService};

    use super::super::Rig;

    type Client = RunningService<RoleClient, ()>;

    async fn ok(c: &Client, tool: &'static str, args: serde_json::Value) -> serde_json::Value {
        let params =
            CallToolRequestParams::new(tool).with_arguments(args.as_object().unwrap().clone());
        let r = c
            .call_tool(params)
            .await
            .unwrap_or_else(|e| panic!("[mcp {tool} {args}] {e}"));
        assert_eq!(r.is_error, Some(false), "[mcp {tool} {args}] {r:?}");
        r.structured_content.expect("structured content")
    }

    /// Waits for every replay through the server, then lists each CLI's dispatches and reads
    /// each replay's log through it.
    pub(super) async fn waits_lists_and_shows(rig: &Rig, replays: &[(&str, String, String)]) {
        let mut cmd = rig.vnx();
        cmd.arg("mcp");
        let transport = crate::common::mcp_stdio::spawn(cmd);
        let c: Client = ().serve(transport).await.expect("the MCP handshake");
        let ids: Vec<&str> = replays.iter().map(|(_, _, id)| id.as_str()).collect();
        // A bounded wait (at most 600 s a call): again while any is still running.
        let mut settled = serde_json::Value::Null;
        for _ in 0..3 {
            settled = ok(
                &c,
                "wait_dispatches",
                serde_json::json!({"dispatch_ids": ids, "timeout_seconds": 300, "until_blocked": false}),
            )
            .await;
            let text = settled.to_string();
            if !text.contains("\"running\"") {
                break;
            }
        }
        for (cli, _, id) in replays {
            let at = format!("[{cli}: mcp]");
            assert!(
                settled.to_string().contains(id.as_str()),
                "{at} {settled:#}"
            );
            let listed = ok(&c, "list_dispatches", serde_json::json!({"provider": cli})).await;
            let text = listed.to_string();
            assert!(text.contains(id.as_str()), "{at} {listed:#}");
            let shown = ok(&c, "show_dispatch", serde_json::json!({"dispatch_id": id})).await;
            assert_eq!(shown["provider"], *cli, "{at} {shown:#}");
            let log = ok(&c, "dispatch_log", serde_json::json!({"dispatch_id": id})).await;
            assert!(
                log["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("best.txt"),
                "{at} the log lacks the file the worker wrote: {log:#}"
            );
        }
        let spent = ok(&c, "cost", serde_json::json!({"by": "provider"})).await;
        for (cli, _, _) in replays {
            assert!(
                spent.to_string().contains(&format!("\"key\":\"{cli}\"")),
                "[{cli}: mcp cost] {spent:#}"
            );
        }
        c.cancel().await.unwrap();
    }
}
