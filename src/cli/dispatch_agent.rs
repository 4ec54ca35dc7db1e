//! `vnx dispatch-agent`: runs one worker in its own worktree and tmux pane.

use std::process::ExitCode;
use std::time::Duration;

use vnx::dispatch::Request;
use vnx::dispatch::queue::Ticket;
use vnx::provider::Lane;

use super::CliError;
use super::util::context::with_desk;
use super::util::launch::{LaneArg, SandboxFlags, Started, Task, read_instruction};
use super::util::output::{escape, say};
use super::util::settings;

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
    /// The model (for demo: commit, dirty, noop, fail, ask, forget, slow, stubborn or limit)
    /// [default: `defaults.model` in .vnx/config.yaml, with its provider]
    #[arg(long, value_name = "M")]
    model: Option<String>,
    #[command(flatten)]
    task_args: Task,
    /// Plan first: the worker works read-only (its CLI's plan mode where it has one) and
    /// ends with its plan, which waits for `vnx approve ID` (the same session then carries it
    /// out in --permission's posture) or `vnx deny ID --message M` (it plans again); a merge
    /// needs the approved plan [default: `roles.<role>.plan` in .vnx/config.yaml]
    #[arg(long)]
    plan: bool,
    /// headless (the CLI's non-interactive mode) or interactive (its TUI, completion by hooks
    /// and `vnx report`) [default: `defaults.lane` in .vnx/config.yaml, else the CLI's own]
    #[arg(long, value_enum, long_help = lane_help())]
    lane: Option<LaneArg>,
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
    /// Wait in the queue until each of these dispatches has ended done, then start from
    /// their work: the one's head, or their heads merged (refused with the conflicting paths
    /// when they do not merge). One that fails, is cancelled or expires holds this one,
    /// saying why; a follow-up that brings it to done lets this one start
    #[arg(long, value_name = "ID,…", value_delimiter = ',')]
    after: Vec<String>,
    /// With --after: wait until each is merged into its base, and start from the base
    #[arg(long, requires = "after")]
    after_merged: bool,
    #[command(flatten)]
    sandbox: SandboxFlags,
    #[command(flatten)]
    started: Started,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
    /// Run it on this remote host (declared under `hosts:` in .vnx/config.yaml), or on `any`
    /// host with a free slot: the base commit is pushed there, the host's vnx runs it in the
    /// host's tmux, and its receipts and branch come back here. While the host (every host,
    /// for `any`) runs as many as its `capacity`, it is queued here and starts on the first
    /// to free a slot. `here` (this machine) is the default
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
    /// Take issue N of the forge (`forge:` in .vnx/config.yaml) as the task: its title,
    /// labels and body quoted to the worker as data, never as instructions. Only an open
    /// issue, and by default only one opened by the repository's owners, members or
    /// collaborators (forge.issues.authors: any widens it). vnx claims it with
    /// forge.issues.claim_label and a comment, and the pull request it opens when the
    /// dispatch is done (always asked for) says it closes the issue
    #[arg(long, value_name = "N", conflicts_with_all = ["task", "instruction", "instruction_file", "host", "title"],
          value_parser = clap::value_parser!(u64).range(1..))]
    issue: Option<u64>,
    /// Seconds the supervisor retries appending the completion before leaving it for the
    /// next vnx command
    #[arg(long, value_name = "SECS", default_value_t = 30, hide = true)]
    completion_retry: u64,
}

pub fn run(mut args: Args) -> Result<ExitCode, CliError> {
    if let Some(number) = args.issue {
        return run_issue(args, number);
    }
    if args.task.is_none()
        && args.task_args.instruction.is_none()
        && args.task_args.instruction_file.is_none()
    {
        return Err(CliError::usage("no instruction given").with_hint(
            "give the task as an argument (`vnx run \"TASK\"`), or pass --instruction TEXT or \
             --instruction-file FILE",
        ));
    }
    let instruction = read_instruction(
        args.task
            .as_deref()
            .or(args.task_args.instruction.as_deref()),
        args.task_args.instruction_file.as_deref(),
    )?;
    let new_id = super::util::ids::new_dispatch_id(args.id.as_deref())?;
    if !args.after.is_empty()
        && args
            .host
            .as_deref()
            .is_some_and(|h| h != vnx::place_name::HERE)
    {
        return Err(
            CliError::usage("--after runs on this machine only").with_hint(
                "start the dependent here (without --host), or wait for its dependencies with \
             `vnx wait` and then run it on the host",
            ),
        );
    }
    let project = settings::project()?;
    let after =
        super::util::ids::awaited(&project, &args.after, args.after_merged, new_id.as_ref())?;
    let defaults = project.load_config()?.defaults;
    let request = args.request(&defaults, new_id, instruction, after)?;
    let ticket = Ticket {
        priority: args.priority,
        start_by: args.start_by,
    };
    let remote = (args.host.clone())
        .filter(|host| host != vnx::place_name::HERE)
        .map(|host| {
            let remote = vnx::actions::remote::request_for_host(&request, &ticket, args.plan);
            (host, remote)
        });
    if let Some((host, remote)) = remote {
        // Queued here while every host it may run on is at its capacity.
        let shown = vnx::dispatch::queue::entry::QueuedRequest::of(&request);
        return super::util::remote::dispatch(
            &host,
            remote,
            Some((shown, ticket)),
            args.started.detach,
            args.started.json,
        );
    }
    with_desk(args.tmux.tmux_socket, |desk| {
        args.started.start(desk, &request, &ticket)
    })
}

/// `vnx run --issue N`: the issue read, checked and taken as the task of a dispatch asked
/// for by the other flags, its pull request opened when it is done.
fn run_issue(mut args: Args, number: u64) -> Result<ExitCode, CliError> {
    let new_id = super::util::ids::new_dispatch_id(args.id.as_deref())?;
    let setup = super::util::forge::Setup::new(&[])?;
    let defaults = setup.project.load_config()?.defaults;
    let request = args.request(&defaults, new_id, String::new(), None)?;
    // Its pull request is what closes the issue: always asked for, and waited for.
    args.started.open_pr = true;
    with_desk(args.tmux.tmux_socket, |desk| {
        args.started.launch(desk, |told| {
            let taken = setup.within(|ctx, forge, config| {
                let w = vnx::actions::issues::Intake {
                    forge_ctx: ctx,
                    forge,
                    config,
                };
                vnx::actions::issues::take_named(desk, &w, number, request, told)
            })?;
            say!(
                "took issue #{} ({}) by {}",
                taken.issue.number,
                escape(&taken.issue.url),
                escape(&taken.issue.author)
            );
            for note in &taken.notes {
                say!("note: {}", escape(note));
            }
            Ok(taken.started)
        })
    })
}

impl Args {
    /// The dispatch these flags ask for as `id`, told `instruction`, waiting for `after`,
    /// completed from the config's `defaults`.
    fn request(
        &mut self,
        defaults: &vnx::config::Defaults,
        id: Option<vnx::ids::DispatchId>,
        instruction: String,
        after: Option<vnx::receipts::Awaited>,
    ) -> Result<Request, CliError> {
        let named = vnx::config::Named {
            role: self.agent.take(),
            provider: self.provider.take(),
            model: self.model.take(),
            lane: self.lane.map(Lane::from),
        };
        let asked = Request {
            id,
            completion_retry: Duration::from_secs(self.completion_retry),
            stall_after: self.stall_after.map(Duration::from_secs),
            after,
            ..self
                .task_args
                .request(String::new(), instruction, &self.sandbox)
        };
        vnx::actions::start::asked(defaults, named, self.plan, asked)
            .ok_or_else(super::util::launch::no_role)
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
