//! The orchestrating agent woken, not polling: a client subscribed to a dispatch's resource
//! is sent `notifications/resources/updated` as it changes state (its state now in `_meta`),
//! a dispatch a client started through `vnx mcp --act` is told to it without a subscribe, and
//! a wait for any of several dispatches returns when the first ends, the others running.

use rmcp::ServiceExt;
use rmcp::handler::client::ClientHandler;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ErrorCode, Implementation,
    InitializeRequestParams, NotificationMetaObject, ResourceUpdatedNotificationParam,
    SubscribeRequestParams, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, Peer, RoleClient, RunningService};
use tokio::sync::mpsc;

use super::act::ACT_ALL;
use crate::common::{Repo, configure, run};

/// How long a test waits for what it expects before it fails (nothing is timed).
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

/// A client that hears resource updates: each URI with the state `_meta` gives.
struct Hearing {
    me: ClientConfig,
    heard: mpsc::UnboundedSender<(String, Option<String>)>,
}

impl ClientHandler for Hearing {
    fn get_info(&self) -> ClientConfig {
        self.me.clone()
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        context: NotificationContext<RoleClient>,
    ) {
        // rmcp 3.11 moves the notification's `_meta` into the context's extensions (it takes
        // the extensions before their meta).
        let meta = (context.extensions)
            .get::<NotificationMetaObject>()
            .unwrap_or(&context.meta);
        let status = (meta.0.0.get("vnx/status"))
            .and_then(|s| s.as_str())
            .map(str::to_owned);
        let _ = self.heard.send((params.uri, status));
    }
}

type Heard = mpsc::UnboundedReceiver<(String, Option<String>)>;

/// `vnx mcp` with `args` started by a client named `manager 1.0` that hears updates.
async fn connect(
    repo: &Repo,
    tmp: &std::path::Path,
    args: &[&str],
) -> (RunningService<RoleClient, Hearing>, Heard) {
    let mut cmd = repo.vnx();
    cmd.args(args).env("TMPDIR", tmp);
    let (tx, rx) = mpsc::unbounded_channel();
    let me = InitializeRequestParams::new(
        ClientCapabilities::default(),
        Implementation::new("manager", "1.0"),
    );
    let client = Hearing { me, heard: tx };
    let c = (client.serve(crate::common::mcp_stdio::spawn(cmd)).await).expect("the MCP handshake");
    (c, rx)
}

/// A tool's structured answer (a tool error or a protocol error fails the test).
async fn tool(
    c: &Peer<RoleClient>,
    name: &'static str,
    args: serde_json::Value,
) -> serde_json::Value {
    let params = CallToolRequestParams::new(name).with_arguments(args.as_object().unwrap().clone());
    let call = tokio::time::timeout(PATIENCE, c.call_tool(params));
    let r = (call.await)
        .unwrap_or_else(|_| panic!("{name} {args}: no answer"))
        .unwrap_or_else(|e| panic!("{name} {args}: {e}"));
    assert_ne!(r.is_error, Some(true), "{name} {args}: {r:?}");
    r.structured_content.expect("structured content")
}

/// Hears updates until `uri` is told in state `status`; the states it was told on the way.
async fn until(heard: &mut Heard, uri: &str, status: &str) -> Vec<String> {
    let mut told = Vec::new();
    loop {
        let next = tokio::time::timeout(PATIENCE, heard.recv()).await;
        let (at, now) = (next.ok().flatten())
            .unwrap_or_else(|| panic!("{uri} was not told {status}; told {told:?}"));
        if at != uri {
            continue;
        }
        let now = now.expect("the state in _meta");
        told.push(now.clone());
        if now == status {
            return told;
        }
    }
}

/// The ids the wait's `ended` names, and each dispatch's status by id.
fn ended(waited: &serde_json::Value) -> (Vec<&str>, Vec<(&str, &str)>) {
    let ended = (waited["ended"].as_array().expect("ended").iter())
        .map(|v| v.as_str().unwrap())
        .collect();
    let statuses = (waited["dispatches"].as_array().unwrap().iter())
        .map(|d| {
            (
                d["dispatch_id"].as_str().unwrap(),
                d["status"].as_str().unwrap(),
            )
        })
        .collect();
    (ended, statuses)
}

#[tokio::test]
#[expect(
    deprecated,
    reason = "resources/subscribe is what a client that initializes sends"
)]
async fn a_subscriber_is_told_when_its_dispatch_changes_state() {
    let repo = Repo::new();
    let slow = repo.dispatched("slow", true);
    let tmp = tempfile::tempdir().unwrap();
    let (c, mut heard) = connect(&repo, tmp.path(), &["mcp"]).await;
    let resources = (c.peer_info().unwrap().capabilities.resources.clone()).unwrap();
    assert_eq!(resources.subscribe, Some(true));

    let uri = format!("vnx://dispatch/{slow}");
    c.subscribe(SubscribeRequestParams::new(uri.clone()))
        .await
        .unwrap();
    // Only a dispatch's resource, of a dispatch the ledger knows.
    for bad in [
        "vnx://ledger",
        "vnx://dispatch/D-000000000000",
        "vnx://dispatch/..",
    ] {
        match c.subscribe(SubscribeRequestParams::new(bad)).await {
            Err(rmcp::ServiceError::McpError(e)) => {
                assert_eq!(e.code, ErrorCode::INVALID_PARAMS, "{bad}: {e:?}")
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    let r = run(repo.vnx().args(["cancel", &slow]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let told = until(&mut heard, &uri, "cancelled").await;
    assert!(!told.contains(&"running".to_owned()), "told {told:?}");
    c.unsubscribe(UnsubscribeRequestParams::new(uri))
        .await
        .unwrap();
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn a_wait_for_any_returns_when_the_first_ends_the_others_running() {
    let repo = Repo::new();
    let slow = repo.dispatched("slow", true);
    let tmp = tempfile::tempdir().unwrap();
    let (c, _) = connect(&repo, tmp.path(), &["mcp"]).await;
    // One ends while the other works for an hour: the wait (up to 600 s) returns with it.
    let quick = repo.dispatched("commit", true);
    let waited = tool(
        &c,
        "wait_dispatches",
        serde_json::json!({"dispatch_ids": [slow, quick], "any": true, "timeout_seconds": 600}),
    )
    .await;
    let (done, statuses) = ended(&waited);
    assert_eq!(done, [quick.as_str()], "{waited:#}");
    assert_eq!(
        statuses,
        [(slow.as_str(), "running"), (quick.as_str(), "done")]
    );
    // Without `any`, each is waited for: the slow one is still running at the timeout.
    let all = tool(
        &c,
        "wait_dispatches",
        serde_json::json!({"dispatch_ids": [slow, quick], "timeout_seconds": 1}),
    )
    .await;
    assert_eq!(ended(&all), ended(&waited));
    c.cancel().await.unwrap();
    run(repo.vnx().args(["cancel", &slow]));
}

#[tokio::test]
async fn a_dispatch_a_client_started_is_told_to_it_without_a_subscribe() {
    let repo = Repo::new();
    configure(&repo, ACT_ALL);
    let tmp = tempfile::tempdir().unwrap();
    let (c, mut heard) = connect(&repo, tmp.path(), &["mcp", "--act"]).await;
    let demo = |model: &str| serde_json::json!({"instruction": "add the demo output", "provider": "demo", "model": model});
    let slow = tool(&c, "dispatch", demo("slow")).await;
    let slow = slow["dispatch_id"].as_str().unwrap().to_owned();
    let quick = tool(&c, "dispatch", demo("commit")).await;
    let quick = quick["dispatch_id"].as_str().unwrap().to_owned();
    // Its starter is told as it ends, having subscribed to nothing.
    until(&mut heard, &format!("vnx://dispatch/{quick}"), "done").await;
    // The acting wait takes `any` too.
    let waited = tool(
        &c,
        "wait",
        serde_json::json!({"dispatch_ids": [slow, quick], "any": true, "timeout_seconds": 600}),
    )
    .await;
    assert_eq!(ended(&waited).0, [quick.as_str()], "{waited:#}");
    // A cancel through the tools: told too, and the cancel's receipt names the client.
    let cancelled = tool(&c, "cancel", serde_json::json!({"dispatch_id": slow})).await;
    assert_eq!(cancelled["by"], "manager 1.0 via MCP", "{cancelled:#}");
    until(&mut heard, &format!("vnx://dispatch/{slow}"), "cancelled").await;
    c.cancel().await.unwrap();
}
