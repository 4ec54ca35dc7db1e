//! The protocol side of `vnx mcp` (ADR 0035), the only async code vnx has: the tools and
//! resources as rmcp serves them on a current-thread tokio runtime. Each call is handed to
//! the synchronous library's answers (`vnx::mcp`) on tokio's blocking pool; a client's bad
//! input is an "invalid params" error, anything else an "internal error", both with the cause
//! in words. Subscriptions to dispatches and the notifications they bring are `mcp_watch`'s.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use rmcp::handler::server::{router::tool::ToolRouter, wrapper::Parameters};
use rmcp::model::{
    CallToolResult, ErrorData, Implementation, ListResourceTemplatesResult, ListResourcesResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    Resource, ResourceContents, ResourceTemplate, ServerCapabilities, ServerConfig,
    SubscribeRequestParams, UnsubscribeRequestParams,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use serde::Deserialize;

use vnx::actions::guard::Worker;
use vnx::config::ActTool;
use vnx::mcp::read::{self, Filter};
use vnx::mcp::watch::Watch;
use vnx::mcp::{McpError, Settings, govern, resources};

/// Serves MCP on this process's stdin and stdout until the client closes them. Starts the
/// one tokio runtime vnx has (current-thread, plus the blocking pool the answers run on).
pub fn serve_stdio(server: Server) -> Result<(), McpError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| McpError::Session {
            what: format!("could not start the async runtime: {e}"),
        })?;
    let result = runtime.block_on(async move {
        let (stdin, stdout) = rmcp::transport::stdio();
        server.serve_on((stdin, stdout)).await
    });
    // A wait still running in the blocking pool is abandoned; it only reads.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// The `vnx mcp` server: read-only tools and resources over one project, and with `--act`
/// the acting tools the project allows (`mcp_act`).
#[derive(Clone)]
pub struct Server {
    settings: Arc<Settings>,
    tool_router: ToolRouter<Server>,
    /// The dispatch's worker this server runs in, if it runs in one.
    worker: Option<Worker>,
    /// Whether acting tools are served.
    acting: bool,
    /// The dispatches this session's client watches (`mcp_watch`).
    watch: Arc<Mutex<Watch>>,
    /// Whether the task telling the client what changed runs.
    telling: Arc<AtomicBool>,
}

/// One dispatch.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct IdArgs {
    /// The dispatch id (D-…).
    pub(crate) dispatch_id: String,
}

/// A worker log's tail.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct LogArgs {
    /// The dispatch id (D-…).
    dispatch_id: String,
    /// The most bytes to return, from the end (default 65536, at most 1048576).
    max_bytes: Option<u64>,
}

/// A dispatch's diff.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct DiffArgs {
    /// The dispatch id (D-…).
    dispatch_id: String,
    /// A summary of the changed files (git diff --stat) instead of the patch.
    #[serde(default)]
    stat: bool,
    /// Only these paths, relative to the dispatch's worktree (no `..`).
    #[serde(default)]
    paths: Vec<String>,
    /// The most bytes to return (default 262144, at most 1048576).
    max_bytes: Option<u64>,
}

/// A bounded wait.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct WaitArgs {
    /// The dispatches to wait for (1 to 64).
    dispatch_ids: Vec<String>,
    /// Give up after this many seconds (default 30, at most 600); those still running read
    /// `running`.
    timeout_seconds: Option<u64>,
    /// Also return when a dispatch is blocked on a permission prompt (default true).
    until_blocked: Option<bool>,
    /// Return once any of them ended (`ended` names which; the others read `running`),
    /// not once each did (default false).
    #[serde(default)]
    any: bool,
}

/// The newest receipts.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
struct TailArgs {
    /// How many (default 20, at most 1000).
    limit: Option<u64>,
    /// Only receipts of this dispatch.
    dispatch_id: Option<String>,
    /// Only receipts of this event type (dispatch_completed, gate_result, …).
    event_type: Option<String>,
}

/// The ledger's verification.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
struct VerifyArgs {
    /// Also fail an unchained ledger, a torn tail, or a ledger without a checkpoint.
    #[serde(default)]
    strict: bool,
}

/// Spend.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
struct CostArgs {
    /// Group by provider (default), model, role, day or dispatch.
    by: Option<String>,
    /// Only dispatches that completed on or after this UTC day (YYYY-MM-DD).
    since: Option<String>,
}

/// No arguments.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
struct NoArgs {}

/// The MCP error for `e`: its message and causes.
pub(crate) fn error(e: &McpError) -> ErrorData {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    if e.is_input() {
        ErrorData::invalid_params(text, None)
    } else {
        ErrorData::internal_error(text, None)
    }
}

/// The MCP error for a blocking task that did not finish: vnx's bug.
pub(crate) fn panicked(e: &tokio::task::JoinError) -> ErrorData {
    ErrorData::internal_error(
        format!("internal bug in vnx mcp ({e}); please report it"),
        None,
    )
}

impl Server {
    /// A server over the project `settings` describe.
    pub fn new(settings: Settings) -> Server {
        Server {
            settings: Arc::new(settings),
            tool_router: Server::tool_router(),
            worker: None,
            acting: false,
            watch: Arc::default(),
            telling: Arc::default(),
        }
    }

    /// The server with the acting tools `allowed` lists too (`vnx mcp --act`, ADR 0095),
    /// run in `worker` when it runs in a dispatch's worker.
    pub fn acting(settings: Settings, allowed: &[ActTool], worker: Option<Worker>) -> Server {
        Server {
            tool_router: Server::tool_router() + Server::act_router(allowed),
            worker,
            acting: true,
            ..Server::new(settings)
        }
    }

    /// The dispatch's worker this server runs in.
    pub(crate) fn worker(&self) -> Option<&Worker> {
        self.worker.as_ref()
    }

    /// The settings answers are made with.
    pub(crate) fn settings(&self) -> Arc<Settings> {
        Arc::clone(&self.settings)
    }

    /// What this session's client watches.
    pub(crate) fn watch(&self) -> &Arc<Mutex<Watch>> {
        &self.watch
    }

    /// Whether the task telling the client what changed runs.
    pub(crate) fn telling(&self) -> &AtomicBool {
        &self.telling
    }

    /// The tmux socket dispatches run on.
    pub(crate) fn tmux_socket(&self) -> String {
        self.settings.tmux_socket.clone()
    }

    /// Serves MCP on `transport` until the client goes away.
    pub async fn serve_on<T, E, A>(self, transport: T) -> Result<(), McpError>
    where
        T: rmcp::transport::IntoTransport<RoleServer, E, A>,
        E: std::error::Error + Send + Sync + 'static,
    {
        let session = |e: &dyn std::fmt::Display| McpError::Session {
            what: e.to_string(),
        };
        let running = self.serve(transport).await.map_err(|e| session(&e))?;
        running.waiting().await.map_err(|e| session(&e))?;
        Ok(())
    }

    /// Runs `answer` on the blocking pool with the settings.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        answer: impl FnOnce(&Settings) -> Result<T, McpError> + Send + 'static,
    ) -> Result<T, ErrorData> {
        let settings = Arc::clone(&self.settings);
        let answered = tokio::task::spawn_blocking(move || answer(&settings)).await;
        answered.map_err(|e| panicked(&e))?.map_err(|e| error(&e))
    }

    /// A tool's answer: the JSON as structured content and as text.
    pub(crate) async fn tool(
        &self,
        answer: impl FnOnce(&Settings) -> Result<serde_json::Value, McpError> + Send + 'static,
    ) -> Result<CallToolResult, ErrorData> {
        self.blocking(answer).await.map(CallToolResult::structured)
    }
}

#[tool_router]
impl Server {
    /// Lists dispatches.
    #[tool(
        description = "List vnx dispatches as `vnx status --json` shows them (state, provider, model, role, branch, head, proof receipt, whether the ledger verifies through it), filtered by ids, states, provider, role, model or running; the newest `limit`. Read-only; cites the receipts it was derived from.",
        annotations(read_only_hint = true)
    )]
    async fn list_dispatches(
        &self,
        Parameters(filter): Parameters<Filter>,
    ) -> Result<CallToolResult, ErrorData> {
        self.tool(move |s| read::list(s, &filter)).await
    }

    /// Shows one dispatch.
    #[tool(
        description = "One vnx dispatch whole, as `vnx show ID --json`: state and reason, lane, permission, base, head, teardown, timings, tokens, gate results, merge commit, best-of group, and its receipts. Read-only; cites every receipt about it.",
        annotations(read_only_hint = true)
    )]
    async fn show_dispatch(
        &self,
        Parameters(a): Parameters<IdArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.tool(move |s| read::show(s, &a.dispatch_id)).await
    }

    /// A worker log's tail.
    #[tool(
        description = "The end of a dispatch's worker log (the file vnx writes under .vnx-data/dispatches/ID/), at most max_bytes. Read-only.",
        annotations(read_only_hint = true)
    )]
    async fn dispatch_log(
        &self,
        Parameters(a): Parameters<LogArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.tool(move |s| read::log(s, &a.dispatch_id, a.max_bytes))
            .await
    }

    /// A dispatch's diff.
    #[tool(
        description = "A dispatch's changes against its base (committed, uncommitted and untracked while its worktree exists, else its branch), as a patch or --stat, optionally only of some paths, at most max_bytes. Read-only: git refreshes no index.",
        annotations(read_only_hint = true)
    )]
    async fn dispatch_diff(
        &self,
        Parameters(a): Parameters<DiffArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.tool(move |s| read::diff(s, &a.dispatch_id, a.stat, &a.paths, a.max_bytes))
            .await
    }

    /// Waits for dispatches.
    #[tool(
        description = "Wait, as `vnx wait --until-blocked --json` does, until each dispatch (with any: true, the first of them) completed (done, failed, needs_input, timeout, cancelled), was lost, or is blocked on a permission prompt, for at most timeout_seconds; still running ones read `running`. Returns each dispatch's status, the receipts that settled it, and `ended`: those that did.",
        annotations(read_only_hint = true)
    )]
    async fn wait_dispatches(
        &self,
        Parameters(a): Parameters<WaitArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let how = read::Waiting {
            until_blocked: a.until_blocked.unwrap_or(true),
            any: a.any,
            timeout: a.timeout_seconds,
        };
        self.tool(move |s| read::wait(s, &a.dispatch_ids, how))
            .await
    }

    /// The newest receipts.
    #[tool(
        description = "The newest receipts on the ledger, byte for byte as JSON, optionally of one dispatch or one event type (as `vnx receipts tail --json`).",
        annotations(read_only_hint = true)
    )]
    async fn tail_receipts(
        &self,
        Parameters(a): Parameters<TailArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.tool(move |s| {
            govern::tail_receipts(
                s,
                a.limit,
                a.dispatch_id.as_deref(),
                a.event_type.as_deref(),
            )
        })
        .await
    }

    /// The ledger's verification.
    #[tool(
        description = "Verify the ledger as `vnx audit-chain verify --json` does: both hash links, seq, epochs, anchored checkpoints, the witness and merge trailers; every violation by line and kind.",
        annotations(read_only_hint = true)
    )]
    async fn verify_ledger(
        &self,
        Parameters(a): Parameters<VerifyArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.tool(move |s| govern::verify_ledger(s, a.strict)).await
    }

    /// A dispatch's gate results.
    #[tool(
        description = "A dispatch's gates: those its role requires, each gate's newest signed gate_result (status, head, contract, run), the newest gate_report (GO or HOLD), and receipts about it that no trusted key signed.",
        annotations(read_only_hint = true)
    )]
    async fn gate_results(
        &self,
        Parameters(a): Parameters<IdArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.tool(move |s| govern::gates(s, &a.dispatch_id)).await
    }

    /// Whether a dispatch can merge.
    #[tool(
        description = "Whether a dispatch can merge now: the conditions of `vnx merge ID --check --json` in order (ledger_verifies, checkpoint_extended, dispatch_done, branch_at_recorded_head, gates_passed, base_compatible, main_checkout_ready), each with what was found. Checks only; merges nothing.",
        annotations(read_only_hint = true)
    )]
    async fn merge_readiness(
        &self,
        Parameters(a): Parameters<IdArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.tool(move |s| govern::merge_readiness(s, &a.dispatch_id))
            .await
    }

    /// The provider constraints.
    #[tool(
        description = "provider_constraints.yaml as vnx reads it (`vnx constraints list --json`): each constraint and token budget with its rule, severity, enforcement, reason and override variables, and the file's SHA-256.",
        annotations(read_only_hint = true)
    )]
    async fn provider_constraints(
        &self,
        Parameters(_): Parameters<NoArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.tool(govern::constraints).await
    }

    /// Spend.
    #[tool(
        description = "Tokens the receipts recorded (`vnx cost --json`), grouped by provider, model, role, day or dispatch, and where each token budget stands.",
        annotations(read_only_hint = true)
    )]
    async fn cost(&self, Parameters(a): Parameters<CostArgs>) -> Result<CallToolResult, ErrorData> {
        self.tool(move |s| govern::cost(s, a.by.as_deref(), a.since.as_deref()))
            .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                .build(),
        )
        .with_server_info(Implementation::new("vnx", env!("CARGO_PKG_VERSION")))
        .with_instructions(if self.acting {
            let tools: Vec<&str> = ActTool::all().into_iter().map(ActTool::name).collect();
            format!(
                "vnx: dispatches, worker logs and diffs, waiting for dispatches, receipts, ledger \
                 verification, gate results, merge readiness, provider constraints and spend; \
                 and the acting tools this project allows ({}), each what its vnx command does \
                 under the same constraints, gates and merge conditions, each receipt naming \
                 this client. A dispatch's own worker never approves or merges itself or a \
                 dispatch it started. A dispatch this client starts is told to it as it changes \
                 state (notifications/resources/updated of vnx://dispatch/ID); wait with \
                 any: true returns when the first of several ends.",
                tools.join(", ")
            )
        } else {
            "vnx, read-only: dispatches, worker logs and diffs, waiting for dispatches, \
             receipts, ledger verification, gate results, merge readiness, provider \
             constraints and spend. Nothing here dispatches, merges or writes; every answer's \
             `evidence` names the receipts (line SHA-256) it was derived from. Subscribe to \
             vnx://dispatch/ID to be told (notifications/resources/updated) as it changes \
             state; wait_dispatches with any: true returns when the first of several ends."
                .to_owned()
        })
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let listed = self.blocking(resources::list).await?;
        Ok(ListResourcesResult::with_all_items(
            listed
                .into_iter()
                .map(|r| {
                    Resource::new(r.uri, r.name)
                        .with_description(r.description)
                        .with_mime_type(r.mime)
                })
                .collect(),
        ))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new(resources::DISPATCH_TEMPLATE, "dispatch")
                .with_description("One dispatch whole, with its receipts and evidence")
                .with_mime_type("application/json"),
        ]))
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.subscribe_to(request.uri, &context.peer).await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.unsubscribe_from(&request.uri)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri.clone();
        let (mime, text) = self
            .blocking(move |s| resources::read(s, &request.uri))
            .await?;
        Ok(
            ReadResourceResult::new(vec![ResourceContents::text(text, uri).with_mime_type(mime)])
                .into(),
        )
    }
}
