//! `vnx mcp --act` through an rmcp client that names itself: only the tools `mcp.act` allows
//! are listed, each does what its command does with the client named on its receipts, and a
//! server run inside a dispatch's worker (its environment, or its worktree as the directory)
//! is refused approving or merging that dispatch or one it started, with nothing written.
//! The Python SDK and the real claude drive it in `real_mcp/`.

use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, Implementation, InitializeRequestParams,
};
use rmcp::service::{RoleClient, RunningService};

use crate::common::{Fakes, Repo, configure, ledger_path, run};

/// Every acting tool allowed, and the implementer's work merged without gates.
pub const ACT_ALL: &str = "roles:\n  implementer: {gates: []}\nmcp: {act: all}\n";

type Client = RunningService<RoleClient, InitializeRequestParams>;

/// `vnx mcp --act` started by a client named `orchestrator 1.0`, as `setup` changes the
/// command (its environment, its directory).
async fn connect_acting(
    repo: &Repo,
    tmp: &std::path::Path,
    setup: impl FnOnce(&mut std::process::Command),
) -> Client {
    let mut cmd = repo.vnx();
    cmd.args(["mcp", "--act"]).env("TMPDIR", tmp);
    setup(&mut cmd);
    let transport = crate::common::mcp_stdio::spawn(cmd);
    let me = InitializeRequestParams::new(
        ClientCapabilities::default(),
        Implementation::new("orchestrator", "1.0"),
    );
    me.serve(transport).await.expect("the MCP handshake")
}

/// A tool's structured answer (`Ok`), or its tool error's text (`Err`).
async fn act(
    c: &Client,
    tool: &'static str,
    args: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let params = CallToolRequestParams::new(tool).with_arguments(args.as_object().unwrap().clone());
    let r = c
        .call_tool(params)
        .await
        .unwrap_or_else(|e| panic!("{tool} {args}: a protocol error: {e}"));
    let text = r
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone());
    if r.is_error == Some(true) {
        return Err(text.unwrap_or_default());
    }
    Ok(r.structured_content.expect("structured content"))
}

/// The tools the server lists.
async fn tools(c: &Client) -> Vec<String> {
    let mut names: Vec<String> = (c.list_all_tools().await.unwrap().into_iter())
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    names
}

/// The receipts on the ledger whose `event_type` is `kind` and that are about `id`.
fn receipts_of(repo: &Repo, kind: &str, id: &str) -> Vec<serde_json::Value> {
    repo.receipts(id)
        .into_iter()
        .filter(|r| r["event_type"] == kind)
        .collect()
}

#[tokio::test]
async fn only_the_allowed_tools_are_served_and_none_without_the_flag_or_the_config() {
    let repo = Repo::new();
    // No `mcp.act`: --act is a usage error that says what to write.
    let r = run(repo.vnx().args(["mcp", "--act"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("mcp: {act: [dispatch, wait, merge]}"),
        "{}",
        r.stderr
    );
    configure(&repo, "mcp: {act: [wait, dispatch]}\n");
    let tmp = tempfile::tempdir().unwrap();
    let c = connect_acting(&repo, tmp.path(), |_| {}).await;
    let listed = tools(&c).await;
    assert!(listed.contains(&"dispatch".to_owned()), "{listed:?}");
    assert!(listed.contains(&"wait".to_owned()), "{listed:?}");
    assert!(listed.contains(&"list_dispatches".to_owned()), "{listed:?}");
    for absent in ["merge", "approve", "cancel", "pr_merge"] {
        assert!(!listed.contains(&absent.to_owned()), "{listed:?}");
    }
    // A tool not allowed cannot be called either.
    let params = CallToolRequestParams::new("merge").with_arguments(
        serde_json::json!({"dispatch_id": "D-0a1b2c3d4e5f"})
            .as_object()
            .unwrap()
            .clone(),
    );
    assert!(c.call_tool(params).await.is_err());
    c.cancel().await.unwrap();
    // Without --act the server stays read-only, whatever the config allows.
    let c = super::connect(&repo, tmp.path()).await;
    assert!(
        !c.list_all_tools()
            .await
            .unwrap()
            .iter()
            .any(|t| t.name == "dispatch")
    );
    c.cancel().await.unwrap();
}

/// A dispatch a client asked for `after` another waits in the queue; whoever's command then
/// starts it (the first one's supervisor, or the CLI's `vnx wait`: the client is gone), its
/// start names the client that asked, not the drainer.
#[tokio::test]
async fn a_queued_dispatch_names_who_asked_whoever_starts_it() {
    let repo = Repo::new();
    configure(&repo, ACT_ALL);
    // The first runs a few seconds (a usage limit it waits out), started from the CLI.
    let (a, b) = ("D-0a1b2c3d4e71", "D-0a1b2c3d4e72");
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "demo",
        "--model",
        "limit",
        "--id",
        a,
        "--detach",
        "--instruction",
        "add the demo output",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let tmp = tempfile::tempdir().unwrap();
    let c = connect_acting(&repo, tmp.path(), |_| {}).await;
    let after = serde_json::json!({"instruction": "add more", "provider": "demo",
        "model": "commit", "dispatch_id": b, "after": [a]});
    act(&c, "dispatch", after).await.unwrap();
    c.cancel().await.unwrap();
    assert!(
        receipts_of(&repo, "dispatch_started", b).is_empty(),
        "it waits in the queue while {a} runs"
    );
    let r = run(repo.vnx().args(["wait", a, b, "--timeout", "60"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let started = &receipts_of(&repo, "dispatch_started", b)[0];
    assert_eq!(
        started["started_by"], "orchestrator 1.0 via MCP",
        "{started:#}"
    );
}

#[tokio::test]
async fn a_client_dispatches_waits_merges_and_is_named_on_each_receipt() {
    let repo = Repo::new();
    configure(&repo, ACT_ALL);
    let tmp = tempfile::tempdir().unwrap();
    let c = connect_acting(&repo, tmp.path(), |_| {}).await;
    let by = "orchestrator 1.0 via MCP";
    let demo = |model: &str| serde_json::json!({"instruction": "add the demo output", "provider": "demo", "model": model});
    let started = act(&c, "dispatch", demo("commit")).await.unwrap();
    let id = started["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(started["started_by"], by);
    let waited = act(
        &c,
        "wait",
        serde_json::json!({"dispatch_ids": [id], "timeout_seconds": 60}),
    )
    .await
    .unwrap();
    assert_eq!(waited["dispatches"][0]["status"], "done", "{waited:#}");
    // A merge needs a checkpoint the ledger extends (gate-check takes one; no gate here).
    let r = run(repo.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let merged = act(&c, "merge", serde_json::json!({"dispatch_id": id}))
        .await
        .unwrap();
    assert_eq!(merged["result"], "merged", "{merged:#}");
    assert_eq!(
        receipts_of(&repo, "dispatch_started", &id)[0]["started_by"],
        by
    );
    assert_eq!(receipts_of(&repo, "merge_completed", &id).len(), 1);
    assert_eq!(
        receipts_of(&repo, "merge", &id)[0]["by"],
        by,
        "the merge names its client"
    );
    // The same merge again is refused by the merge conditions, as a tool error.
    let again = act(&c, "merge", serde_json::json!({"dispatch_id": id}))
        .await
        .unwrap_err();
    assert!(again.contains("already merged"), "{again}");

    // A question: dismissed, and another followed up; each names the client.
    let asked = act(&c, "dispatch", demo("ask")).await.unwrap()["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let asked2 = act(&c, "dispatch", demo("ask")).await.unwrap()["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    act(
        &c,
        "wait",
        serde_json::json!({"dispatch_ids": [asked, asked2], "timeout_seconds": 60}),
    )
    .await
    .unwrap();
    let dismissed = act(&c, "dismiss", serde_json::json!({"dispatch_id": asked}))
        .await
        .unwrap();
    assert_eq!(dismissed["by"], by, "{dismissed:#}");
    assert_eq!(
        receipts_of(&repo, "dispatch_dismissed", &asked)[0]["by"],
        by
    );
    let followed = act(
        &c,
        "follow_up",
        serde_json::json!({"dispatch_id": asked2, "instruction": "go on"}),
    )
    .await
    .unwrap();
    let next = followed["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(
        receipts_of(&repo, "dispatch_started", &next)[0]["started_by"],
        by
    );

    // A review comment on a done dispatch's diff, then sent as a follow-up.
    let reviewed = act(&c, "dispatch", demo("commit")).await.unwrap()["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    act(
        &c,
        "wait",
        serde_json::json!({"dispatch_ids": [reviewed], "timeout_seconds": 60}),
    )
    .await
    .unwrap();
    let commented = act(
        &c,
        "review",
        serde_json::json!({"dispatch_id": reviewed, "at": "demo-output.txt:1", "comment": "say more", "send": true}),
    )
    .await
    .unwrap();
    assert!(commented["follow_up"].is_string(), "{commented:#}");
    assert_eq!(receipts_of(&repo, "review_comment", &reviewed)[0]["by"], by);

    // A running one cancelled; nothing to answer is a tool error; no forge is a tool error.
    let slow = act(&c, "dispatch", demo("slow")).await.unwrap()["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancelled = act(&c, "cancel", serde_json::json!({"dispatch_id": slow}))
        .await
        .unwrap();
    assert_eq!(cancelled["dispatch_id"], slow.as_str(), "{cancelled:#}");
    // The receipt names the client, though the completion is its supervisor's.
    let asked = receipts_of(&repo, "dispatch_cancel_requested", &slow);
    assert_eq!(asked.len(), 1, "{asked:#?}");
    assert_eq!(asked[0]["by"], by);
    assert_eq!(asked[0]["state"], "running");
    let nothing = act(&c, "deny", serde_json::json!({"dispatch_id": reviewed}))
        .await
        .unwrap_err();
    assert!(!nothing.is_empty());
    for tool in ["pr_open", "pr_fix", "pr_merge"] {
        let e = act(&c, tool, serde_json::json!({"dispatch_id": reviewed}))
            .await
            .unwrap_err();
        assert!(e.contains("forge"), "{tool}: {e}");
    }
    c.cancel().await.unwrap();
    run(repo.vnx().args(["wait", &slow, &next]));
}

#[tokio::test]
async fn a_worker_never_approves_or_merges_itself_or_what_it_started() {
    let repo = Repo::new();
    configure(&repo, ACT_ALL);
    let fakes = Fakes::new();
    // The worker: blocked on a permission prompt, so it waits to be approved.
    let worker = repo.dispatched_asking_claude(&fakes);
    let tmp = tempfile::tempdir().unwrap();
    // A client in its worktree, without its variables, is its worker.
    let worktree = repo
        .env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{worker}"));
    let c = connect_acting(&repo, tmp.path(), |cmd| {
        cmd.current_dir(&worktree);
    })
    .await;
    // It may dispatch: what it starts records it.
    let started = act(
        &c,
        "dispatch",
        serde_json::json!({"instruction": "x", "provider": "demo", "model": "commit"}),
    )
    .await
    .unwrap();
    let child = started["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(
        started["started_by"],
        format!("orchestrator 1.0 via MCP in the worker of {worker}")
    );
    act(
        &c,
        "wait",
        serde_json::json!({"dispatch_ids": [child], "timeout_seconds": 60}),
    )
    .await
    .unwrap();
    assert_eq!(
        receipts_of(&repo, "dispatch_started", &child)[0]["started_by_dispatch"],
        worker.as_str()
    );
    // Nothing else writes meanwhile: the child has ended and the worker waits on its prompt.
    assert_eq!(run(repo.vnx().args(["wait", &child])).code, 0);
    let blocked = || run(repo.vnx().args(["wait", "--until-blocked", &worker])).code == 1;
    assert!(crate::common::wait_for(blocked), "the worker blocks");
    let ledger = std::fs::read(ledger_path(&repo)).unwrap();
    for (tool, target, says) in [
        ("approve", &worker, "own work"),
        ("merge", &worker, "own work"),
        ("approve", &child, "which started"),
        ("deny", &child, "which started"),
        ("merge", &child, "which started"),
        // Refused before the forge is asked for anything.
        ("pr_merge", &child, "which started"),
    ] {
        let e = act(&c, tool, serde_json::json!({"dispatch_id": target}))
            .await
            .unwrap_err();
        assert!(
            e.contains("refused") && e.contains(says),
            "{tool} {target}: {e}"
        );
    }
    c.cancel().await.unwrap();
    // A variable names no dispatch by itself (no supervisor above the process): a worker
    // that sets `VNX_DISPATCH_ID`, to a made-up id (once its own prompt's approval) or its
    // own, outside its worktree, decides for none.
    for claimed in ["D-ffffffffffff".to_owned(), worker.clone()] {
        let c = connect_acting(&repo, tmp.path(), |cmd| {
            cmd.env("VNX_DISPATCH_ID", &claimed);
        })
        .await;
        let e = act(&c, "approve", serde_json::json!({"dispatch_id": worker}))
            .await
            .unwrap_err();
        assert!(
            e.contains("refused") && e.contains("decides for no dispatch"),
            "{claimed}: {e}"
        );
        c.cancel().await.unwrap();
    }
    assert_eq!(
        std::fs::read(ledger_path(&repo)).unwrap(),
        ledger,
        "a refusal wrote to the ledger"
    );
    // A client outside the dispatch approves it.
    let c = connect_acting(&repo, tmp.path(), |_| {}).await;
    let approved = act(&c, "approve", serde_json::json!({"dispatch_id": worker}))
        .await
        .unwrap();
    assert_eq!(approved["by"], "orchestrator 1.0 via MCP", "{approved:#}");
    c.cancel().await.unwrap();
    run(repo.vnx().args(["cancel", &worker]));
    run(repo.vnx().args(["wait", &worker]));
}

#[tokio::test]
async fn a_client_opens_and_merges_a_pull_request_and_is_named_on_its_receipts() {
    let (repo, forge, id, head) = crate::pr::gated();
    configure(&repo, "mcp: {act: all}\n");
    let tmp = tempfile::tempdir().unwrap();
    let c = connect_acting(&repo, tmp.path(), |cmd| {
        forge.env(cmd);
    })
    .await;
    let by = "orchestrator 1.0 via MCP";
    let opened = act(&c, "pr_open", serde_json::json!({"dispatch_id": id}))
        .await
        .unwrap();
    let number = opened["number"].as_u64().expect("a pull request number");
    assert_eq!(opened["head_commit"], head.as_str(), "{opened:#}");
    assert_eq!(receipts_of(&repo, "pr_opened", &id)[0]["by"], by);
    crate::pr::check(&forge, number, "ci", "success", "ok");
    forge.control(
        "review",
        Some(serde_json::json!({"pr": number, "author": "rev", "state": "APPROVED", "body": "ok"})),
    );
    let merged = act(&c, "pr_merge", serde_json::json!({"dispatch_id": id}))
        .await
        .unwrap();
    assert_eq!(merged["receipt"]["number"], number, "{merged:#}");
    assert_eq!(receipts_of(&repo, "pr_merged", &id)[0]["by"], by);
    c.cancel().await.unwrap();
}

/// The move of a dispatch waiting out a usage limit is a tool too, drawn from its row of the
/// table: the dispatch ends as moved and a follow-up on the next CLI continues it.
#[tokio::test]
async fn a_client_moves_a_limited_dispatch_to_the_next_cli_of_its_role() {
    let repo = Repo::new();
    let _tools = crate::limit_move::mover(&repo);
    configure(&repo, "mcp: {act: all}\n");
    let id = crate::usage_limits::limited(&repo, 3600);
    let tmp = tempfile::tempdir().unwrap();
    let c = connect_acting(&repo, tmp.path(), |_| {}).await;
    assert!(tools(&c).await.contains(&"move".to_owned()));
    let moved = act(&c, "move", serde_json::json!({"dispatch_id": id}))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(moved.to_string().contains("mover"), "{moved}");
    let failover = repo.events("dispatch_failover");
    assert_eq!(failover.len(), 1, "{failover:?}");
    assert_eq!(failover[0]["to"], "mover");
    assert_eq!(failover[0]["by"], "orchestrator 1.0 via MCP");
    c.cancel().await.unwrap();
}
