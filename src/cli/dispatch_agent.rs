//! `vnx dispatch-agent`: runs one worker in its own worktree and tmux pane.

use super::output::say;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::ValueEnum;
use vnx::dispatch::queue::{self, Submitted, Ticket};
use vnx::dispatch::{self, Context, Request};
use vnx::provider::{Lane, Permission};
use vnx::tmux::Tmux;

use super::CliError;
use super::output::Out;
use super::settings;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(super) enum LaneArg {
    Headless,
    Interactive,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(super) enum PermissionArg {
    Ask,
    Edits,
    Full,
}

/// Dispatch a worker CLI in its own git worktree and tmux pane
///
/// Validates everything first, then creates `.vnx-data/worktrees/dispatch-<id>` on branch
/// `dispatch/<id>`, records `dispatch_started`, and starts a tmux session whose pane runs the
/// worker under vnx's supervisor. Without --detach, waits for the completion receipt and exits
/// 0 if the worker succeeded, 1 otherwise.
///
/// Every dispatch is first checked against provider_constraints.yaml: a blocking violation
/// refuses it (exit 1) unless VNX_OVERRIDE_<ID>=1 is set and the constraint allows an
/// override. Each decision is recorded as a `constraint_decision` receipt.
///
/// A provider with a `concurrency:` limit in .vnx/config.yaml admits the dispatch when a slot
/// is free; otherwise it is queued (holding no worktree, session or slot; it starts when a
/// slot frees, by --priority, then arrival, unless --start-by passes first) or, with
/// `queue: {policy: reject}` or a full queue, rejected (exit 1). Each decision is a
/// `queue_decision` receipt.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx run --provider demo --model ask \"greet the user\"\n  $ vnx dispatch-agent --agent implementer --provider demo --model commit \\\n        --skill implementer --instruction \"add a greeting\""
)]
pub struct Args {
    /// The task, as text (the same as --instruction)
    #[arg(value_name = "INSTRUCTION", conflicts_with_all = ["instruction", "instruction_file"])]
    task: Option<String>,
    /// The worker's role (e.g. implementer, reviewer), which picks its skills, gates and
    /// constraints; the CLI that runs it is --provider [default: `defaults.role` in
    /// .vnx/config.yaml]
    #[arg(long, visible_alias = "role", value_name = "ROLE")]
    agent: Option<String>,
    /// The CLI that runs the worker: a built-in one or one declared in .vnx/config.yaml
    #[arg(long, value_name = "P", long_help = provider_help())]
    provider: Option<String>,
    /// The model (for demo: commit, dirty, noop, fail, ask, forget, slow or stubborn)
    /// [default: `defaults.model` in .vnx/config.yaml, with its provider]
    #[arg(long, value_name = "M")]
    model: Option<String>,
    /// The task, as text
    #[arg(long, value_name = "TEXT", conflicts_with = "instruction_file")]
    instruction: Option<String>,
    /// The task, from a file (`-`: standard input)
    #[arg(long, value_name = "FILE")]
    instruction_file: Option<PathBuf>,
    /// A short title for lists (status, show, the dashboard) [default: the instruction's
    /// first non-empty line, shortened]
    #[arg(long, value_name = "TEXT")]
    title: Option<String>,
    /// The commit the worktree starts from
    #[arg(long, value_name = "REF", default_value = "HEAD")]
    base_ref: String,
    /// Seconds before the worker is stopped (TERM, 5 s grace, KILL): 1 to 2592000 (30 days)
    #[arg(long, value_name = "SECS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..=vnx::dispatch::MAX_DEADLINE_SECS))]
    deadline: u64,
    /// The worker's permission posture; never skip-permissions unless `full`
    #[arg(long, value_enum, default_value = "edits")]
    permission: PermissionArg,
    /// headless (the CLI's non-interactive mode) or interactive (its TUI, completion by hooks
    /// and `vnx report`) [default: `defaults.lane` in .vnx/config.yaml, else the CLI's own]
    #[arg(long, value_enum, long_help = lane_help())]
    lane: Option<LaneArg>,
    /// A skill from skills/NAME/ to compose into the prompt (repeatable, in order) [default:
    /// the role's skills from .vnx/config.yaml]
    #[arg(long = "skill", value_name = "NAME")]
    skills: Vec<String>,
    /// Use this dispatch id instead of a fresh one
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Seconds without output, hook or report after which the worker is reported stalled
    /// (it is not stopped: --deadline decides) [default: stall_after_seconds in
    /// .vnx/config.yaml, else 300]
    #[arg(long, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=vnx::dispatch::MAX_DEADLINE_SECS))]
    stall_after: Option<u64>,
    /// When every slot of the provider (`concurrency:`) is taken and the dispatch is queued:
    /// higher starts first, equal priorities in order of arrival
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    priority: i32,
    /// The latest time a queued dispatch may start: an RFC 3339 time
    /// (2026-11-23T12:00:00Z) or a duration from now (90s, 10m, 2h, 1d); past it, it is
    /// closed as expired, never started
    #[arg(long, value_name = "WHEN", value_parser = parse_start_by)]
    start_by: Option<jiff::Timestamp>,
    #[command(flatten)]
    sandbox: SandboxFlags,
    #[command(flatten)]
    started: Started,
    #[command(flatten)]
    tmux: super::settings::TmuxSocket,
    /// Run it on this remote host (declared under `hosts:` in .vnx/config.yaml), or on `any`
    /// host with a free slot: the base commit is pushed there, the host's vnx runs it in the
    /// host's tmux, and its receipts and branch come back here. While the host (every host,
    /// for `any`) runs as many as its `capacity`, it is queued here and starts on the first
    /// to free a slot
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
    /// Seconds the supervisor retries appending the completion before leaving it for the
    /// next vnx command
    #[arg(long, value_name = "SECS", default_value_t = 30, hide = true)]
    completion_retry: u64,
}

/// The largest instruction file read: far more than any prompt a CLI takes.
const MAX_INSTRUCTION: u64 = 4 << 20;

pub fn run(mut args: Args) -> Result<ExitCode, CliError> {
    if args.task.is_none() && args.instruction.is_none() && args.instruction_file.is_none() {
        return Err(CliError::usage("no instruction given").with_hint(
            "give the task as an argument (`vnx run \"TASK\"`), or pass --instruction TEXT or \
             --instruction-file FILE",
        ));
    }
    let instruction = read_instruction(
        args.task.as_deref().or(args.instruction.as_deref()),
        args.instruction_file.as_deref(),
    )?;
    let new_id = super::error::new_dispatch_id(args.id.as_deref())?;
    let role = args.fill_defaults()?;
    let remote = args.host.clone().map(|host| {
        (
            host,
            remote_request(&args, new_id.clone(), instruction.clone()),
        )
    });
    let (overrides, override_reasons) = settings::constraint_overrides();
    let request = Request {
        id: new_id,
        role,
        provider: args.provider,
        model: args.model,
        instruction,
        base_ref: args.base_ref,
        deadline: Duration::from_secs(args.deadline),
        completion_retry: Duration::from_secs(args.completion_retry),
        stall_after: args.stall_after.map(Duration::from_secs),
        permission: args.permission.into(),
        lane: args.lane.map(Lane::from),
        skills: args.skills,
        overrides,
        override_reasons,
        continues: None,
        sandbox: args.sandbox.sandbox(),
        network: args.sandbox.network(),
        replay_of: None,
        title: args.title,
    };
    let ticket = Ticket {
        priority: args.priority,
        start_by: args.start_by,
    };
    if let Some((host, remote)) = remote {
        // Queued here while every host it may run on is at its capacity.
        let shown = vnx::dispatch::queue::entry::QueuedRequest::of(&request);
        return super::remote::dispatch(
            &host,
            remote,
            Some((shown, ticket)),
            args.started.detach,
            args.started.json,
        );
    }
    with_context(args.tmux.tmux_socket, |ctx| {
        args.started.start(ctx, &request, &ticket)
    })
}

impl Args {
    /// Completes the role, provider, model and lane left out from `defaults:` in
    /// .vnx/config.yaml (see [`vnx::config::Defaults::fill`]), and returns the role.
    fn fill_defaults(&mut self) -> Result<String, CliError> {
        let project = settings::project()?;
        let defaults = project.load_config()?.defaults;
        let filled = defaults.fill(vnx::config::Named {
            role: self.agent.take(),
            provider: self.provider.take(),
            model: self.model.take(),
            lane: self.lane.map(Lane::from),
        });
        self.provider = filled.provider;
        self.model = filled.model;
        self.lane = filled.lane.map(LaneArg::from);
        self.agent = filled.role;
        self.agent.clone().ok_or_else(|| {
            CliError::usage("no role given").with_hint(
                "pass --agent ROLE (e.g. implementer), or set `defaults: {role: ROLE}` in \
                 .vnx/config.yaml",
            )
        })
    }
}

/// `--provider`'s long help: the built-in CLIs, from the registry.
fn provider_help() -> String {
    format!(
        "The CLI that runs the worker: {}, or one declared in .vnx/config.yaml [default: \
         inferred from --model, else `defaults.provider` in .vnx/config.yaml, else {}]",
        vnx::provider::Provider::NAMES.join(", "),
        vnx::provider::Provider::DEFAULT.name()
    )
}

/// `--lane`'s long help: each built-in CLI's own lane, from the registry.
fn lane_help() -> String {
    let interactive: Vec<&str> = vnx::provider::cli::CLIS
        .iter()
        .filter(|c| c.default_lane() == Lane::Interactive)
        .map(|c| c.provider().name())
        .collect();
    format!(
        "headless (the CLI's non-interactive mode) or interactive (its TUI, completion by hooks \
         and `vnx report`) [default: `defaults.lane` in .vnx/config.yaml with its provider, \
         else interactive for {}, else headless]",
        interactive.join(", ")
    )
}

/// The request as the host's `vnx dispatch-agent` takes it (the instruction as text).
fn remote_request(
    args: &Args,
    id: Option<vnx::ids::DispatchId>,
    instruction: String,
) -> vnx::remote::RemoteRequest {
    let mut a: Vec<String> = Vec::new();
    let mut opt = |flag: &str, v: Option<String>| {
        if let Some(v) = v {
            a.push(flag.into());
            a.push(v);
        }
    };
    let name =
        |v: &dyn Fn() -> Option<clap::builder::PossibleValue>| v().map(|p| p.get_name().to_owned());
    opt("--agent", args.agent.clone());
    opt("--provider", args.provider.clone());
    opt("--model", args.model.clone());
    opt("--instruction", Some(instruction));
    // Only when given: a host's vnx from before titles takes none.
    opt("--title", args.title.clone());
    opt("--deadline", Some(args.deadline.to_string()));
    opt(
        "--permission",
        name(&|| args.permission.to_possible_value()),
    );
    opt(
        "--lane",
        args.lane.and_then(|l| name(&|| l.to_possible_value())),
    );
    opt("--stall-after", args.stall_after.map(|s| s.to_string()));
    opt("--priority", Some(args.priority.to_string()));
    opt("--start-by", args.start_by.map(|t| t.to_string()));
    for skill in &args.skills {
        opt("--skill", Some(skill.clone()));
    }
    a.extend(args.sandbox.forwarded());
    vnx::remote::RemoteRequest {
        id,
        base_ref: args.base_ref.clone(),
        args: a,
        follows: None,
        base_commit: None,
    }
}

/// `--start-by`: an RFC 3339 time, or a duration from now (`90s`, `10m`, `2h`, `1d`).
fn parse_start_by(text: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let (n, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    n.parse::<i64>()
        .ok()
        .filter(|_| secs > 0)
        .and_then(|n| n.checked_mul(secs))
        .and_then(|s| jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_secs(s)).ok())
        .ok_or_else(|| {
            format!("{text:?} is neither an RFC 3339 time (2026-11-23T12:00:00Z) nor a duration like 90s, 10m, 2h or 1d")
        })
}

impl From<PermissionArg> for Permission {
    fn from(p: PermissionArg) -> Permission {
        match p {
            PermissionArg::Ask => Permission::Ask,
            PermissionArg::Edits => Permission::Edits,
            PermissionArg::Full => Permission::Full,
        }
    }
}

impl From<Lane> for LaneArg {
    fn from(l: Lane) -> LaneArg {
        match l {
            Lane::Headless => LaneArg::Headless,
            Lane::Interactive => LaneArg::Interactive,
        }
    }
}

impl From<LaneArg> for Lane {
    fn from(l: LaneArg) -> Lane {
        match l {
            LaneArg::Headless => Lane::Headless,
            LaneArg::Interactive => Lane::Interactive,
        }
    }
}

/// The instruction given as text or in a file.
pub(super) fn read_instruction(
    text: Option<&str>,
    file: Option<&std::path::Path>,
) -> Result<String, CliError> {
    match (text, file) {
        (Some(text), _) => Ok(text.to_owned()),
        // `-`: standard input (how a remote launch sends it: an argument crossing ssh is
        // limited to 128 KiB).
        (None, Some(path)) if path.as_os_str() == "-" => {
            use std::io::Read;
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .take(MAX_INSTRUCTION + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| {
                    CliError::new("could not read the instruction from stdin").with_cause(&e)
                })?;
            if bytes.len() as u64 > MAX_INSTRUCTION {
                return Err(CliError::usage(format!(
                    "the instruction on stdin is over {} MiB",
                    MAX_INSTRUCTION >> 20
                )));
            }
            String::from_utf8(bytes).map_err(|e| {
                CliError::new("the instruction on stdin is not UTF-8 text")
                    .with_cause(&e.utf8_error())
                    .with_hint("instructions are UTF-8 text")
            })
        }
        (None, Some(path)) => {
            let bytes = super::output::read_bounded(path, MAX_INSTRUCTION).map_err(|e| {
                CliError::new(format!("could not read {}", path.display()))
                    .with_cause(&e)
                    .with_hint(format!(
                        "an instruction file is a regular file of at most {} MiB",
                        MAX_INSTRUCTION >> 20
                    ))
            })?;
            String::from_utf8(bytes).map_err(|e| {
                CliError::new(format!("{} is not UTF-8 text", path.display()))
                    .with_cause(&e.utf8_error())
                    .with_hint("instructions are UTF-8 text")
            })
        }
        (None, None) => Err(CliError::usage("no instruction given")
            .with_hint("pass --instruction TEXT or --instruction-file FILE")),
    }
}

/// Runs `f` with the dispatch context of the project here: its ledger, the tmux socket
/// (`--tmux-socket`, else the environment's), vnx's binary and the signing key.
pub(super) fn with_context<T>(
    tmux_socket: Option<String>,
    f: impl FnOnce(&Context<'_>) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let project = settings::project()?;
    settings::finish_pending(&project);
    let ledger = project.ledger();
    let tmux = Tmux::new(settings::tmux_socket(tmux_socket));
    let vnx = std::env::current_exe()
        .map_err(|e| CliError::from_error(&e).with_hint("could not find vnx's own binary"))?;
    let key_path = settings::key_path(None)?;
    let attestor = settings::attestor(Some(key_path.clone()))?;
    let machine = settings::machine();
    let shared_cache = settings::user_cache_dir();
    // The worker runs in this command's environment, not the tmux server's.
    let env: Vec<_> = settings::env_all().collect();
    let ctx = Context {
        env: Some(&env),
        machine: &machine,
        attestor: &attestor,
        key_path: &key_path,
        project: &project,
        ledger: &ledger,
        tmux: &tmux,
        vnx: &vnx,
        find_program: &settings::find_program,
        probe_version: &|binary| {
            vnx::provider::version::probe_shared(
                binary,
                &project.cache_dir(),
                shared_cache.as_deref(),
            )
        },
    };
    f(&ctx)
}

/// What a follow-up or a replay may change about the dispatch it repeats; each left out is
/// that dispatch's.
#[derive(clap::Args)]
pub(super) struct Repeat {
    /// The model [default: the earlier dispatch's, when the provider stays the same]
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// headless or interactive [default: the earlier dispatch's, when the provider stays the
    /// same]
    #[arg(long, value_enum)]
    pub lane: Option<LaneArg>,
    /// The worker's permission posture [default: the earlier dispatch's]
    #[arg(long, value_enum)]
    pub permission: Option<PermissionArg>,
    /// Seconds before the worker is stopped [default: the earlier dispatch's]
    #[arg(long, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=vnx::dispatch::MAX_DEADLINE_SECS))]
    pub deadline: Option<u64>,
}

/// Whether the worker runs in a bubblewrap sandbox, and its network.
#[derive(clap::Args, Clone, Copy, Debug)]
pub(super) struct SandboxFlags {
    /// Run the worker in a bubblewrap sandbox: it writes only its worktree, its dispatch
    /// directory and its CLI's state; the system and the main checkout are read-only; the
    /// home directory is hidden [default: `sandbox.enabled` in .vnx/config.yaml]
    #[arg(long, conflicts_with = "no_sandbox")]
    sandbox: bool,
    /// Run the worker without a sandbox, whatever the config says
    #[arg(long)]
    no_sandbox: bool,
    /// The sandbox's network: on, or off (loopback only, and the ports `sandbox.loopback`
    /// relays) [default: `sandbox.network` in .vnx/config.yaml, else on]
    #[arg(long, value_enum, value_name = "ON|OFF")]
    network: Option<NetworkArg>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(super) enum NetworkArg {
    On,
    Off,
}

impl SandboxFlags {
    /// `Some(true)` for --sandbox, `Some(false)` for --no-sandbox, else `None` (the config).
    pub(super) fn sandbox(&self) -> Option<bool> {
        match (self.sandbox, self.no_sandbox) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }

    /// The flags again, as a remote host's vnx takes them: a sandbox asked for here is asked
    /// for there (never silently dropped).
    pub(super) fn forwarded(&self) -> Vec<String> {
        let mut a = Vec::new();
        match self.sandbox() {
            Some(true) => a.push("--sandbox".to_owned()),
            Some(false) => a.push("--no-sandbox".to_owned()),
            None => {}
        }
        if let Some(n) = self.network {
            let name = n.to_possible_value().map(|p| p.get_name().to_owned());
            a.extend(["--network".to_owned(), name.unwrap_or_default()]);
        }
        a
    }

    /// The network asked for, if any.
    pub(super) fn network(&self) -> Option<vnx::sandbox::Network> {
        self.network.map(|n| match n {
            NetworkArg::On => vnx::sandbox::Network::On,
            NetworkArg::Off => vnx::sandbox::Network::Off,
        })
    }
}

/// How a dispatch is started from the command line: in the background (`--detach`), or
/// waited for; its launch or completion as JSON or text.
#[derive(clap::Args)]
pub(super) struct Started {
    /// Return once the worker has started
    #[arg(long)]
    pub detach: bool,
    /// Print the completion receipt (or, with --detach, the launch) as JSON
    #[arg(long)]
    pub json: bool,
    /// When it ends done and its role's gates pass, push its head and open (or update) its
    /// pull request, as `vnx pr open` would (needs `forge:`; see forge.open_on_done)
    #[arg(long)]
    pub open_pr: bool,
}

impl Started {
    /// Plans and launches the request, then prints its id (detached) or waits for it.
    pub(super) fn start(
        &self,
        ctx: &Context<'_>,
        request: &Request,
        ticket: &Ticket,
    ) -> Result<ExitCode, CliError> {
        let plan = dispatch::plan(ctx, request)?;
        if self.open_pr {
            super::pr::request_open_when_done(ctx.project, &plan.spec.id)?;
        }
        if let Some(action) = plan.egress.strictest() {
            let what = match action {
                vnx::egress::Action::Warn => "sent as they are",
                _ => "redacted in the prompt; included files holding one are not copied",
            };
            say!(
                "egress policy: secrets found ({}): {what}; the egress_decision receipt \
                 records them",
                dispatch::start::egress::list(&plan.egress.findings)
            );
        }
        if let (Some(c), Some(record)) = (&request.continues, &plan.spec.continues)
            && record.session_id.is_none()
        {
            match &c.session_id {
                None => say!(
                    "{} recorded no CLI session: the follow-up starts a new one, told the \
                     earlier instruction",
                    c.id()
                ),
                Some(_) => say!(
                    "{} cannot resume a session in the {} lane: the follow-up starts a new \
                     one, told the earlier instruction",
                    plan.spec.provider,
                    plan.spec.lane.name()
                ),
            }
        }
        // Ctrl-C is caught from before the launch, so it never kills this process between
        // the start and the wait.
        let interrupted = Arc::new(AtomicBool::new(false));
        if !self.detach {
            signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&interrupted))
                .map_err(|e| {
                    CliError::from_error(&e).context("could not install a Ctrl-C handler")
                })?;
        }
        let launched = match queue::submit(ctx, &plan, request, ticket)? {
            Submitted::Started(launched) => launched,
            Submitted::Queued {
                id,
                position,
                capacity,
            } => {
                return self.queued(
                    ctx,
                    (&plan.spec.provider, &plan.spec.role),
                    &id,
                    position,
                    capacity,
                    &interrupted,
                );
            }
        };
        if launched.tmux_server_restarts > 0 {
            say!(
                "note: tmux's server on socket {} shut down under the start of {} {} time{} \
                 (\"server exited unexpectedly\"); it started on a fresh one",
                launched.tmux_socket,
                launched.id,
                launched.tmux_server_restarts,
                if launched.tmux_server_restarts == 1 {
                    ""
                } else {
                    "s"
                }
            );
        }
        let mut out = Out::new();
        if self.detach {
            if self.json {
                out.json(&launched)?;
            } else {
                out.line(&launched.id)?;
                say!(
                    "started {} in {} (tmux -L {} attach -t {})",
                    launched.id,
                    launched.worktree.display(),
                    launched.tmux_socket,
                    launched.session
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        say!(
            "dispatched {} (Ctrl-C to cancel it or leave it running)",
            launched.id
        );
        // Asked before the wait: its answer is then ready the moment the dispatch ends.
        let opens_pr = self.opens_pr(ctx, &plan.spec.role);
        let waited = super::foreground::wait_or_interrupt(ctx, &launched.id, &interrupted)?;
        let code = super::wait::report(&mut out, &waited, self.json);
        if opens_pr {
            out.flush()?;
            super::pr::await_open_when_done(ctx.project, &launched.id);
        }
        code
    }

    /// Whether its pull request is opened when it is done: asked here (`--open-pr`), or by
    /// the role or the project (`roles.<role>.open_pr`, `forge.open_on_done`).
    fn opens_pr(&self, ctx: &Context<'_>, role: &str) -> bool {
        self.open_pr || super::pr::opens_when_done(ctx.project, role)
    }

    /// A dispatch that was queued: its id (detached), or a wait through its start to its end.
    fn queued(
        &self,
        ctx: &Context<'_>,
        (provider, role): (&str, &str),
        id: &vnx::ids::DispatchId,
        position: u32,
        capacity: u32,
        interrupted: &AtomicBool,
    ) -> Result<ExitCode, CliError> {
        let mut out = Out::new();
        say!(
            "queued {id} at position {position}: every {provider} slot ({capacity}) is taken; \
             it starts when one frees (`vnx status {id}`, `vnx cancel {id}`)"
        );
        if self.detach {
            return print_queued(&mut out, id, Some(provider), position, self.json);
        }
        let waited = super::foreground::wait_or_interrupt(ctx, id, interrupted)?;
        let code = super::wait::report(&mut out, &waited, self.json);
        if self.opens_pr(ctx, role) {
            out.flush()?;
            super::pr::await_open_when_done(ctx.project, id);
        }
        code
    }
}

/// A detached dispatch that was queued: its id, or (`json`) its place as docs/json.md
/// documents it.
pub(super) fn print_queued(
    out: &mut Out,
    id: &str,
    provider: Option<&str>,
    position: u32,
    json: bool,
) -> Result<ExitCode, CliError> {
    if json {
        out.json(&serde_json::json!({
            "dispatch_id": id,
            "state": "queued",
            "provider": provider,
            "queue_position": position,
        }))?;
    } else {
        out.line(id)?;
    }
    Ok(ExitCode::SUCCESS)
}
