//! The acting tools of `vnx mcp --act` (ADR 0095): dispatch, wait, follow_up, approve,
//! deny, review, pr_open, pr_fix and pr_merge, and those the table of actions builds (merge,
//! cancel, dismiss: its rows that take the dispatch id only), each the vnx command
//! of the same name done in process through the library's actions (`vnx::actions`, ADR
//! 0083) with its constraints, gates and merge conditions, the MCP client named as who acts
//! on every receipt that names one. Only the tools the project's `mcp.act` lists are served;
//! a dispatch's own worker is refused deciding for itself or for a dispatch it started
//! (`vnx::actions::guard`), as a tool error that leaves the ledger as it was. A dispatch a
//! tool started is watched for the client (`mcp_watch`).

use clap::ValueEnum;
use rmcp::handler::server::common::{FromContextPart, schema_for_input};
use rmcp::handler::server::router::tool::{ToolRoute, ToolRouter};
use rmcp::handler::server::{tool::ToolCallContext, wrapper::Parameters};
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, ErrorData, Tool};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use serde::Deserialize;
use serde_json::json;
use std::pin::Pin;

use vnx::actions::act::{self, Action, Done, Reply};
use vnx::actions::follow_up::Begun;
use vnx::actions::guard::{self, Actor};
use vnx::actions::{Desk, merge, table};
use vnx::config::ActTool;
use vnx::ids::DispatchId;

use crate::cli::CliError;
use crate::cli::util::launch::PermissionArg;
use crate::cli::util::{context, settings};
use crate::mcp_server::{IdArgs, Server};

/// The longest `wait`, in seconds.
const MAX_WAIT: u64 = 600;

/// A new dispatch.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct DispatchArgs {
    /// The task, as text.
    instruction: String,
    /// The worker's role (its skills, gates, constraints) [default: `defaults.role`].
    role: Option<String>,
    /// The CLI that runs the worker [default: from the model, else `defaults.provider`].
    provider: Option<String>,
    /// The model [default: `defaults.model`].
    model: Option<String>,
    /// A short title for lists.
    title: Option<String>,
    /// The commit the worktree starts from (default HEAD).
    base_ref: Option<String>,
    /// Seconds before the worker is stopped (default 3600, at most 2592000).
    deadline_seconds: Option<u64>,
    /// The worker's permission posture: ask, edits (default) or full.
    permission: Option<String>,
    /// Plan first: the plan waits for approve or deny before any edit.
    #[serde(default)]
    plan: bool,
    /// Open its pull request when it ends done and its gates pass.
    #[serde(default)]
    open_pr: bool,
    /// Use this dispatch id (D-…) instead of a fresh one.
    dispatch_id: Option<String>,
    /// Hold the worker to a budget while it runs: `tokens=N`, `cost=X` or both, as
    /// `--budget` takes it (the role's and the project-day's hold too).
    budget: Option<String>,
    /// Gates of .vnx/config.yaml its merge requires beside its role's, as `--gate` names
    /// them (e.g. a `screenshots` gate for visual evidence).
    #[serde(default)]
    gates: Vec<String>,
    /// Dispatch ids it waits for: queued until each ended done (or merged, with
    /// `after_merged`), then started from their work (the one's head, or their heads merged);
    /// one that fails holds it, saying why.
    #[serde(default)]
    after: Vec<String>,
    /// With `after`: wait until each is merged, and start from the base.
    #[serde(default)]
    after_merged: bool,
}

/// A bounded wait.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct WaitArgs {
    /// The dispatches to wait for (1 to 64).
    dispatch_ids: Vec<String>,
    /// Give up after this many seconds (default 30, at most 600); those still running read
    /// `running`.
    timeout_seconds: Option<u64>,
    /// Return once any of them ended (`ended` names which; the others read `running`),
    /// not once each did (default false).
    #[serde(default)]
    any: bool,
}

/// A follow-up.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct FollowUpArgs {
    /// The ended dispatch to continue (D-…).
    dispatch_id: String,
    /// What to do next.
    instruction: String,
}

/// An answer to what a dispatch waits for.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct AnswerArgs {
    /// The dispatch id (D-…).
    dispatch_id: String,
    /// For a deny: why, told to the worker; for a plan: a note with the decision.
    message: Option<String>,
    /// For a plan that waits: the SHA-256 of the plan read (show_dispatch gives it); the
    /// decision is refused if the plan changed.
    plan_sha256: Option<String>,
    /// For an approve of a dispatch stopped at its budget: the tokens to add (`+N` of
    /// `vnx approve --budget`); it then continues in the same session.
    budget_tokens: Option<u64>,
    /// For an approve of a dispatch stopped at its budget: the US dollars to add (`+$X` of
    /// `vnx approve --budget`), alone or with budget_tokens.
    budget_usd: Option<f64>,
}

/// A review comment, or the open comments sent.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct ReviewArgs {
    /// The dispatch id (D-…).
    dispatch_id: String,
    /// Where the comment is: `FILE:LINE` of the dispatch's diff.
    at: Option<String>,
    /// The comment (with `at`).
    comment: Option<String>,
    /// Send the open comments to the worker as one follow-up.
    #[serde(default)]
    send: bool,
}

/// A pull request opened.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct PrOpenArgs {
    /// The dispatch id (D-…).
    dispatch_id: String,
    /// Open it as a draft (default: the forge config's).
    draft: Option<bool>,
}

/// A pull request merged.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct PrMergeArgs {
    /// The dispatch id (D-…).
    dispatch_id: String,
    /// merge, squash or rebase (default: the forge config's).
    method: Option<String>,
}

/// The tool's result for what an action did or why it could not.
fn result(done: Result<serde_json::Value, CliError>) -> CallToolResult {
    match done {
        Ok(value) => CallToolResult::structured(value),
        Err(e) => {
            let mut text = e.one_line();
            if let Some(hint) = e.hint() {
                text.push_str(&format!(" (hint: {hint})"));
            }
            CallToolResult::error(vec![ContentBlock::text(text)])
        }
    }
}

/// The dispatch `text` names, or a usage error.
fn id(text: &str) -> Result<DispatchId, CliError> {
    DispatchId::parse(text).map_err(|_| CliError::usage(format!("{text:?} is not a dispatch id")))
}

impl Server {
    /// The acting tools `allowed` lists (ADR 0095); the rest are not served, nor listed.
    pub(crate) fn act_router(allowed: &[ActTool]) -> ToolRouter<Server> {
        let mut router = Server::acting_tools();
        for row in table::ACTIONS.iter().filter(|r| r.tool_says.is_some()) {
            let schema = schema_for_input::<IdArgs>().expect("an id's schema is an object");
            let (name, says) = (row.tool.unwrap_or_default(), row.tool_says.map(Into::into));
            router.add_route(ToolRoute::new_dyn(
                Tool::new_with_raw(name, says, schema),
                on_the_id,
            ));
        }
        for tool in ActTool::all().into_iter().filter(|t| !allowed.contains(t)) {
            router.remove_route(tool.name());
        }
        router
    }

    /// Who acts: the MCP client as it named itself at initialize, in the worker this server
    /// runs in, if any.
    fn actor(&self, ctx: &RequestContext<RoleServer>) -> Actor {
        let info = ctx.peer.peer_info();
        let (name, version) = info.as_ref().map_or(("", ""), |i| {
            (i.client_info.name.as_str(), i.client_info.version.as_str())
        });
        Actor::mcp(name, version, self.worker().cloned())
    }

    /// Runs `act` at the project's desk as the client `ctx` names on the blocking pool; its
    /// JSON, or its error as a tool error. What it started is watched for the client.
    async fn act(
        &self,
        ctx: &RequestContext<RoleServer>,
        act: impl FnOnce(&Desk<'_>) -> Result<serde_json::Value, CliError> + Send + 'static,
    ) -> Result<CallToolResult, ErrorData> {
        let actor = self.actor(ctx);
        let socket = self.tmux_socket();
        let done = tokio::task::spawn_blocking(move || {
            context::with_desk_for(Some(socket), &actor, |desk| act(desk))
        })
        .await
        .map_err(|e| crate::mcp_server::panicked(&e))?;
        let answer = result(done);
        self.watch_started(&answer, &ctx.peer);
        Ok(answer)
    }

    /// Does `action` (`vnx::actions::act`) as the client `ctx` names: its answer, or why not.
    async fn act_on(
        &self,
        ctx: &RequestContext<RoleServer>,
        action: impl FnOnce() -> Result<Action, CliError> + Send + 'static,
    ) -> Result<CallToolResult, ErrorData> {
        self.act(ctx, move |desk| answer(desk, &action()?)).await
    }
}

/// A tool the table builds (`table::Row::tool_says`): its row's action on the dispatch its
/// only argument names, as a written tool taking [`IdArgs`] would do it.
fn on_the_id(
    mut call: ToolCallContext<'_, Server>,
) -> Pin<Box<dyn Future<Output = Result<CallToolResponse, ErrorData>> + Send + '_>> {
    Box::pin(async move {
        let Parameters(a) = Parameters::<IdArgs>::from_context_part(&mut call)?;
        let command = table::by_tool(&call.name).map_or("", |r| r.command);
        let done = call.service.act_on(&call.request_context, move || {
            let id = id(&a.dispatch_id)?;
            Action::on(command, id).ok_or_else(|| CliError::new(format!("no action {command:?}")))
        });
        Ok(done.await?.into())
    })
}

/// Does `action` at `desk` and answers what became of it: the dispatch, the line that says
/// so, who acted and the follow-up it started; an action not done as asked (not stopped, not
/// merged) is a tool error.
fn answer(desk: &Desk<'_>, action: &Action) -> Result<serde_json::Value, CliError> {
    let done = act::act(desk, action, &crate::cli::util::acts::action_settings())?;
    let said = done.line();
    // Not done as asked, as the library's code says (a merge refused, a cancel that did not
    // stop it): a tool error with the library's line.
    if done.code() != 0 {
        return Err(CliError::new(said));
    }
    let mut answer = json!({"dispatch_id": action.dispatch_id(), "said": said, "by": desk.by});
    match &done {
        Done::FollowedUp(begun) => answer = started(begun, desk.by, action.dispatch_id()),
        Done::Merged(entry) => answer["result"] = merge::result_name(entry.result).into(),
        Done::Commented(at) => answer["commented"] = at.to_string().into(),
        Done::Sent(sending, _) => answer["sent"] = sending.line().into(),
        _ => {}
    }
    if let Some(next) = done.follow_up().filter(|_| answer["follow_up"].is_null()) {
        answer["follow_up"] = json!(next);
    }
    Ok(answer)
}

/// Refuses `actor` deciding (`doing`) for `target` when it is that dispatch's worker or
/// one it started (`vnx::actions::guard::may_govern`).
fn govern(desk: &Desk<'_>, doing: &str, target: &DispatchId) -> Result<(), CliError> {
    let Some(actor) = desk.actor else {
        return Ok(());
    };
    Ok(guard::may_govern(desk.ctx.ledger, actor, doing, target)?)
}

#[tool_router(router = acting_tools, vis = "pub(crate)")]
impl Server {
    /// Dispatches a worker.
    #[tool(
        name = "dispatch",
        description = "Start a worker on a task in its own worktree, as `vnx dispatch-agent --detach` does (constraints checked, queued when every slot of its CLI is taken). Returns its dispatch id; `wait` waits for it, and this client is sent notifications/resources/updated of vnx://dispatch/ID whenever its state changes (resources/unsubscribe stops them). The dispatch_started receipt names this client."
    )]
    async fn dispatch(
        &self,
        Parameters(a): Parameters<DispatchArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.act(&ctx, move |desk| start_dispatch(desk, a)).await
    }

    /// Waits for dispatches.
    #[tool(
        name = "wait",
        description = "Wait, as `vnx wait` does, until each dispatch (with any: true, the first of them) completed (done, failed, needs_input, timeout, cancelled), was lost, or is blocked on a prompt, for at most timeout_seconds (default 30, at most 600); still running ones read `running`, and `ended` names those that did. A dispatch this client started is also told as it changes: notifications/resources/updated of vnx://dispatch/ID."
    )]
    async fn wait(&self, Parameters(a): Parameters<WaitArgs>) -> Result<CallToolResult, ErrorData> {
        let how = vnx::mcp::read::Waiting {
            until_blocked: true,
            any: a.any,
            timeout: Some(a.timeout_seconds.unwrap_or(30).min(MAX_WAIT)),
        };
        self.tool(move |s| vnx::mcp::read::wait(s, &a.dispatch_ids, how))
            .await
    }

    /// Continues an ended dispatch.
    #[tool(
        name = "follow_up",
        description = "Continue an ended dispatch with a new instruction in its worktree, branch and CLI session, as `vnx follow-up --detach` does. Returns the new dispatch id."
    )]
    async fn follow_up(
        &self,
        Parameters(a): Parameters<FollowUpArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.act_on(&ctx, move || {
            Ok(Action::FollowUp(id(&a.dispatch_id)?, a.instruction))
        })
        .await
    }

    /// Allows what a dispatch waits for.
    #[tool(
        name = "approve",
        description = "Allow the permission prompt a dispatch's worker waits on, or approve the plan it waits with, as `vnx approve` does; with budget_tokens or budget_usd, raise the budget it stopped at and continue it, as `vnx approve --budget +N,+$X` does. Refused for a dispatch's own worker on itself or a dispatch it started."
    )]
    async fn approve(
        &self,
        Parameters(a): Parameters<AnswerArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.act_on(&ctx, move || decided(true, a)).await
    }

    /// Refuses what a dispatch waits for.
    #[tool(
        name = "deny",
        description = "Refuse the permission prompt a dispatch's worker waits on (message: why, told to the worker), or send back the plan it waits with, as `vnx deny` does. Refused for a dispatch's own worker on itself or a dispatch it started."
    )]
    async fn deny(
        &self,
        Parameters(a): Parameters<AnswerArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.act_on(&ctx, move || decided(false, a)).await
    }

    /// Comments on a dispatch's diff, or sends the comments.
    #[tool(
        name = "review",
        description = "Comment on a line of a dispatch's diff (at: FILE:LINE, comment: text), as `vnx review --comment` does, and/or send its open comments to its worker as one follow-up (send: true), as `vnx review --send` does."
    )]
    async fn review(
        &self,
        Parameters(a): Parameters<ReviewArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.act(&ctx, move |desk| review(desk, a)).await
    }

    /// Opens a dispatch's pull request.
    #[tool(
        name = "pr_open",
        description = "Push a done dispatch's recorded head and open (or update) its pull request, as `vnx pr open` does (needs `forge:` in the config)."
    )]
    async fn pr_open(
        &self,
        Parameters(a): Parameters<PrOpenArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.act(&ctx, move |desk| {
            let setup = crate::cli::util::forge::Setup::new(std::slice::from_ref(&a.dispatch_id))?
                .acting_for(desk.by);
            let request = vnx::forge::open::Request {
                draft: a.draft,
                base: None,
            };
            let id = &setup.ids[0];
            let receipt = setup.within(|ctx, forge, config| {
                vnx::forge::open::open(ctx, forge, config, id, &request)
            })?;
            Ok(serde_json::to_value(&receipt).unwrap_or_default())
        })
        .await
    }

    /// Fixes a dispatch's pull request forward.
    #[tool(
        name = "pr_fix",
        description = "Start a follow-up told the failing checks and the reviews of a dispatch's pull request, as `vnx pr fix --detach` does. Returns the follow-up's dispatch id."
    )]
    async fn pr_fix(
        &self,
        Parameters(a): Parameters<IdArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.act(&ctx, move |desk| {
            let setup = crate::cli::util::forge::Setup::new(std::slice::from_ref(&a.dispatch_id))?;
            let data = setup.project.data_dir();
            let id = &setup.ids[0];
            let fix = setup.within(|ctx, forge, _| vnx::actions::pr::fix(ctx, forge, &data, id))?;
            let begun = vnx::actions::follow_up::begin(desk, &fix.follow_up, &|_| {})
                .inspect_err(|_| fix.abandon(&data))?;
            let mut json = started(&begun, desk.by, Some(&fix.follow_up.id));
            json["fixing"] = fix.line().into();
            Ok(json)
        })
        .await
    }

    /// Merges a dispatch's pull request.
    #[tool(
        name = "pr_merge",
        description = "Merge a dispatch's pull request on the forge when vnx's merge conditions and the forge's checks hold, as `vnx pr merge` does. Refused for a dispatch's own worker on itself or a dispatch it started."
    )]
    async fn pr_merge(
        &self,
        Parameters(a): Parameters<PrMergeArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.act(&ctx, move |desk| {
            // Refused before the forge is asked for anything.
            if let Ok(named) = DispatchId::parse(&a.dispatch_id) {
                govern(desk, "pr merge", &named)?;
            }
            let setup = crate::cli::util::forge::Setup::new(std::slice::from_ref(&a.dispatch_id))?
                .acting_for(desk.by);
            let id = &setup.ids[0];
            govern(desk, "pr merge", id)?;
            let method = (a.method.as_deref().map(|m| {
                vnx::receipts::PrMergeMethod::chosen(m).ok_or_else(|| {
                    CliError::usage(format!("method {m:?} is not merge, squash or rebase"))
                })
            }))
            .transpose()?;
            let merged = setup.within(|ctx, forge, config| {
                vnx::forge::merge::merge(ctx, forge, config, id, method)
            })?;
            Ok(serde_json::to_value(&merged).unwrap_or_default())
        })
        .await
    }
}

/// `dispatch`: the request filled from the config's defaults, planned and started.
fn start_dispatch(desk: &Desk<'_>, a: DispatchArgs) -> Result<serde_json::Value, CliError> {
    let permission = a.permission.as_deref().unwrap_or("edits");
    let permission = PermissionArg::from_str(permission, false).map_err(|_| {
        CliError::usage(format!(
            "permission {permission:?} is not ask, edits or full"
        ))
    })?;
    let deadline = a.deadline_seconds.unwrap_or(3600);
    if !(1..=vnx::dispatch::MAX_DEADLINE_SECS).contains(&deadline) {
        return Err(CliError::usage(format!(
            "deadline_seconds must be 1 to {}",
            vnx::dispatch::MAX_DEADLINE_SECS
        )));
    }
    let defaults = desk.ctx.project.load_config()?.defaults;
    let named = vnx::config::Named {
        role: a.role,
        provider: a.provider,
        model: a.model,
        lane: None,
    };
    let (overrides, override_reasons) = settings::constraint_overrides();
    let asked = vnx::dispatch::Request {
        base_ref: a.base_ref.unwrap_or_else(|| "HEAD".to_owned()),
        deadline: std::time::Duration::from_secs(deadline),
        permission: permission.into(),
        overrides,
        override_reasons,
        title: a.title,
        gates: a.gates,
        ..vnx::dispatch::Request::of(a.instruction)
    };
    let mut request = vnx::actions::start::asked(&defaults, named, a.plan, asked)
        .ok_or_else(crate::cli::util::launch::no_role)?;
    request.id = crate::cli::util::ids::new_dispatch_id(a.dispatch_id.as_deref())?;
    let project = desk.ctx.project;
    request.after =
        crate::cli::util::ids::awaited(project, &a.after, a.after_merged, request.id.as_ref())?;
    request.budget = (a.budget.as_deref())
        .map(crate::cli::util::launch::parse_budget)
        .transpose()
        .map_err(CliError::usage)?;
    let ticket = vnx::dispatch::queue::Ticket {
        priority: 0,
        start_by: None,
    };
    let started = vnx::actions::start::start(desk, &request, &ticket, a.open_pr, &|_| {})?;
    Ok(submitted(&started.submitted, desk.by))
}

/// What a start answers: the dispatch, started or queued, and who asked.
fn submitted(s: &vnx::dispatch::queue::Submitted, by: &str) -> serde_json::Value {
    use vnx::dispatch::queue::Submitted;
    match s {
        Submitted::Started(l) => json!({
            "dispatch_id": l.id,
            "state": "started",
            "worktree": l.worktree,
            "started_by": by,
        }),
        Submitted::Queued { id, position, .. } => json!({
            "dispatch_id": id,
            "state": "queued",
            "queue_position": position,
            "started_by": by,
        }),
    }
}

/// What a follow-up's start answers: the new dispatch, where, who asked, what it continues.
fn started(begun: &Begun, by: &str, continues: Option<&DispatchId>) -> serde_json::Value {
    match begun {
        Begun::OnHost(launched) => json!({
            "dispatch_id": launched.dispatch_id,
            "state": "started",
            "host": launched.host,
            "started_by": by,
        }),
        Begun::Here(started) => {
            let mut answer = submitted(&started.submitted, by);
            answer["continues"] = json!(continues);
            answer
        }
    }
}

/// `approve` (`approving`) and `deny`: a raise of the budget the dispatch stopped at (approve
/// only), else what it waits for answered, its plan or its prompt.
fn decided(approving: bool, a: AnswerArgs) -> Result<Action, CliError> {
    let id = id(&a.dispatch_id)?;
    if a.budget_tokens.is_some() || a.budget_usd.is_some() {
        let add = vnx::dispatch::budget::Raise {
            tokens: a.budget_tokens.unwrap_or(0),
            usd: a.budget_usd.unwrap_or(0.0),
        };
        let valid = vnx::dispatch::budget::parse_raise(&add.text()).is_ok_and(|r| r == add);
        if !approving || !valid || a.budget_usd.is_some_and(|u| u <= 0.0) {
            return Err(CliError::usage(
                "budget_tokens and budget_usd (above 0) go with approve only".to_owned(),
            ));
        }
        let micros = vnx::dispatch::state::micros(add.usd);
        return Ok(Action::RaiseBudget(id, add.tokens, micros));
    }
    let reply = Reply {
        plan_sha256: a.plan_sha256,
        message: a.message,
    };
    Ok(if approving {
        Action::Approve(id, reply)
    } else {
        Action::Deny(id, reply)
    })
}

/// `review`: a comment recorded and/or the open comments sent.
fn review(desk: &Desk<'_>, a: ReviewArgs) -> Result<serde_json::Value, CliError> {
    let id = id(&a.dispatch_id)?;
    let comment = match (a.at, a.comment) {
        (Some(at), Some(text)) => Some(answer(desk, &Action::Comment(id.clone(), at, text))?),
        (None, None) if a.send => None,
        _ => {
            return Err(CliError::usage(
                "give `at` (FILE:LINE) and `comment` together, or `send: true`",
            ));
        }
    };
    let sent = a
        .send
        .then(|| answer(desk, &Action::SendReview(id)))
        .transpose()?;
    let mut answer = json!({});
    for part in comment.into_iter().chain(sent) {
        for (key, value) in part.as_object().into_iter().flatten() {
            if key != "said" {
                answer[key] = value.clone();
            }
        }
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The MCP server offers exactly the actions the library's table gives it, each tool the
    /// table's.
    #[test]
    fn the_mcp_server_offers_the_actions_the_table_gives_it() {
        use vnx::actions::table::{Front, by_tool, offered};
        let served = Server::act_router(&ActTool::all()).list_all().into_iter();
        let mut served: Vec<&str> = served
            .map(|t| by_tool(&t.name).map_or("(not in the table)", |r| r.command))
            .collect();
        served.sort_unstable();
        let mut table = offered(Front::Mcp);
        table.sort_unstable();
        assert_eq!(served, table);
    }
}
