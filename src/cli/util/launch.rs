//! Starting a dispatch from the command line, shared by `dispatch-agent`, `follow-up`,
//! `replay`, `best-of`, `pr fix` and `resume`: the dispatch context of the project here, the
//! instruction read from text or a file, the lane, posture and sandbox flags, and the start
//! itself (detached, or waited for in the foreground).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::ValueEnum;
use vnx::actions::{self, Desk, start::Note};
use vnx::dispatch::Request;
use vnx::dispatch::queue::{Submitted, Ticket};
use vnx::provider::{Lane, Permission};

use crate::cli::CliError;
use crate::cli::util::output::{Out, escape, say};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum LaneArg {
    Headless,
    Interactive,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum PermissionArg {
    Ask,
    Edits,
    Full,
}

/// The largest instruction file read: far more than any prompt a CLI takes.
const MAX_INSTRUCTION: u64 = 4 << 20;

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
pub(crate) fn read_instruction(
    text: Option<&str>,
    file: Option<&std::path::Path>,
) -> Result<String, CliError> {
    let (bytes, what) = match (text, file) {
        (Some(text), _) => return Ok(text.to_owned()),
        // `-`: standard input (how a remote launch sends it: an argument crossing ssh is
        // limited to 128 KiB).
        (None, Some(path)) if path.as_os_str() == "-" => {
            let bytes = crate::cli::util::output::read_stdin(MAX_INSTRUCTION)
                .map_err(|e| {
                    CliError::new("could not read the instruction from stdin").with_cause(&e)
                })?
                .ok_or_else(|| {
                    CliError::usage(format!(
                        "the instruction on stdin is over {} MiB",
                        MAX_INSTRUCTION >> 20
                    ))
                })?;
            (bytes, "the instruction on stdin".to_owned())
        }
        (None, Some(path)) => {
            let bytes = vnx::files::read_named(path, MAX_INSTRUCTION).map_err(|e| {
                CliError::new(format!("could not read {}", path.display()))
                    .with_cause(&e)
                    .with_hint(format!(
                        "an instruction file is a regular file of at most {} MiB",
                        MAX_INSTRUCTION >> 20
                    ))
            })?;
            (bytes, path.display().to_string())
        }
        (None, None) => {
            return Err(CliError::usage("no instruction given")
                .with_hint("pass --instruction TEXT or --instruction-file FILE"));
        }
    };
    String::from_utf8(bytes).map_err(|e| {
        CliError::new(format!("{what} is not UTF-8 text"))
            .with_cause(&e.utf8_error())
            .with_hint("instructions are UTF-8 text")
    })
}

/// Why a dispatch has no role: none given, and no `defaults.role`.
pub(crate) fn no_role() -> CliError {
    CliError::usage("no role given").with_hint(
        "pass --agent ROLE (e.g. implementer), or set `defaults: {role: ROLE}` in \
         .vnx/config.yaml",
    )
}

/// What a new dispatch (each candidate of a best-of) is asked to do, and on what terms.
#[derive(clap::Args)]
pub(crate) struct Task {
    /// The task, as text
    #[arg(long, value_name = "TEXT", conflicts_with = "instruction_file")]
    pub instruction: Option<String>,
    /// The task, from a file (`-`: standard input)
    #[arg(long, value_name = "FILE")]
    pub instruction_file: Option<std::path::PathBuf>,
    /// A short title for lists (status, show, the dashboard) [default: the instruction's
    /// first non-empty line, shortened]
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
    /// The commit the worktree starts from
    #[arg(long, value_name = "REF", default_value = "HEAD")]
    pub base_ref: String,
    /// Seconds before the worker is stopped (TERM, 5 s grace, KILL): 1 to 2592000 (30 days)
    #[arg(long, value_name = "SECS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..=vnx::dispatch::MAX_DEADLINE_SECS))]
    pub deadline: u64,
    /// The worker's permission posture; never skip-permissions unless `full`
    #[arg(long, value_enum, default_value = "edits")]
    pub permission: PermissionArg,
    /// A skill from skills/NAME/ to compose into the prompt (repeatable, in order) [default:
    /// the role's skills from .vnx/config.yaml]
    #[arg(long = "skill", value_name = "NAME")]
    pub skills: Vec<String>,
    /// Hold the worker to a budget while it runs: `tokens=N`, `cost=X` (US dollars) or both
    /// (its follow-ups and its best-of group count against it); at 80 % it is warned, at
    /// 100 % interrupted and left needing input [default: the role's and the project's]
    #[arg(long, value_name = "tokens=N,cost=X", value_parser = parse_budget)]
    pub budget: Option<vnx::receipts::Budget>,
    /// A gate of .vnx/config.yaml this task's merge requires beside its role's (repeatable;
    /// e.g. a `screenshots` gate for visual evidence); its follow-ups keep it
    #[arg(long = "gate", value_name = "NAME")]
    pub gates: Vec<String>,
}

/// `--budget`'s text as a budget (a usage error says what is wrong and how to write it).
pub(crate) fn parse_budget(text: &str) -> Result<vnx::receipts::Budget, String> {
    vnx::dispatch::budget::parse(text).map_err(|e| match e.hint() {
        Some(hint) => format!("{e}\n  hint: {hint}"),
        None => e.to_string(),
    })
}

impl Task {
    /// The request for this task, as `role`, told `instruction`, in the sandbox `sandbox`
    /// asks for; provider, model and lane left to the defaults, as the caller may change.
    pub(crate) fn request(
        &self,
        role: String,
        instruction: String,
        sandbox: &SandboxFlags,
    ) -> Request {
        let (overrides, override_reasons) = crate::cli::util::settings::constraint_overrides();
        Request {
            gates: self.gates.clone(),
            role,
            base_ref: self.base_ref.clone(),
            deadline: std::time::Duration::from_secs(self.deadline),
            permission: self.permission.into(),
            skills: self.skills.clone(),
            overrides,
            override_reasons,
            sandbox: sandbox.sandbox(),
            network: sandbox.network(),
            title: self.title.clone(),
            budget: self.budget.clone(),
            ..Request::of(instruction)
        }
    }
}

/// What a follow-up or a replay may change about the dispatch it repeats; each left out is
/// that dispatch's.
#[derive(clap::Args, Default)]
pub(crate) struct Repeat {
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
#[derive(clap::Args, Default, Clone, Copy, Debug)]
pub(crate) struct SandboxFlags {
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
pub(crate) enum NetworkArg {
    On,
    Off,
}

impl SandboxFlags {
    /// `Some(true)` for --sandbox, `Some(false)` for --no-sandbox, else `None` (the config).
    pub(crate) fn sandbox(&self) -> Option<bool> {
        match (self.sandbox, self.no_sandbox) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }

    /// The network asked for, if any.
    pub(crate) fn network(&self) -> Option<vnx::sandbox::Network> {
        self.network.map(|n| match n {
            NetworkArg::On => vnx::sandbox::Network::On,
            NetworkArg::Off => vnx::sandbox::Network::Off,
        })
    }
}

/// How a dispatch is started from the command line: in the background (`--detach`), or
/// waited for; its launch or completion as JSON or text.
#[derive(clap::Args, Default)]
pub(crate) struct Started {
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
    pub(crate) fn start(
        &self,
        desk: &Desk<'_>,
        request: &Request,
        ticket: &Ticket,
    ) -> Result<ExitCode, CliError> {
        self.launch(desk, |told| {
            Ok(vnx::actions::start::start(
                desk,
                request,
                ticket,
                self.open_pr,
                told,
            )?)
        })
    }

    /// Starts a dispatch with `act` (which says each note through the function it is given),
    /// then prints its id (detached) or waits for it.
    pub(crate) fn launch(
        &self,
        desk: &Desk<'_>,
        act: impl FnOnce(&dyn Fn(Note)) -> Result<actions::start::Started, CliError>,
    ) -> Result<ExitCode, CliError> {
        // Ctrl-C is caught from before the launch, so it never kills this process between
        // the start and the wait.
        let interrupted = Arc::new(AtomicBool::new(false));
        if !self.detach {
            signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&interrupted))
                .map_err(|e| {
                    CliError::from_error(&e).context("could not install a Ctrl-C handler")
                })?;
        }
        let started = act(&|note| say!("{}", escape(&note.line())))?;
        let launched = match started.submitted {
            Submitted::Started(launched) => {
                for s in &launched.not_copied {
                    say!(
                        "note: worktree.copy_ignored: {} not copied: {}",
                        escape(&s.dir),
                        escape(&s.why)
                    );
                }
                launched
            }
            // Queued: its id (detached), or a wait through its start to its end.
            Submitted::Queued {
                id,
                position,
                why,
                for_room,
                ..
            } => {
                let provider = started.provider.as_str();
                if for_room {
                    // Nothing on this machine frees memory for it: a drain starts it.
                    say!(
                        "queued {id} at position {position}: {why}; it starts when there is \
                         room: `vnx wait {id}` (or any vnx command that reads dispatch \
                         state, such as `vnx status`) starts it then (`vnx cancel {id}`)"
                    );
                } else {
                    say!(
                        "queued {id} at position {position}: {why}; it starts when that ends \
                         (`vnx status {id}`, `vnx cancel {id}`)"
                    );
                }
                if self.detach {
                    return print_queued(&mut Out::new(), &id, Some(provider), position, self.json);
                }
                return self.wait(desk, &id, &started.role, &interrupted);
            }
        };
        if self.detach {
            let mut out = Out::new();
            if self.json {
                out.json(&launched)?;
            } else {
                out.line(launched.id.as_str())?;
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
        self.wait(desk, &launched.id, &started.role, &interrupted)
    }

    /// Waits in the foreground for dispatch `id` (of `role`) to end and prints how it ended;
    /// then, when its pull request is opened when it is done (`--open-pr`, or
    /// `roles.<role>.open_pr`, `forge.open_on_done`), waits for that.
    fn wait(
        &self,
        desk: &Desk<'_>,
        id: &vnx::ids::DispatchId,
        role: &str,
        interrupted: &AtomicBool,
    ) -> Result<ExitCode, CliError> {
        let project = desk.ctx.project;
        // Asked before the wait: its answer is then ready the moment the dispatch ends.
        let opens_pr = self.open_pr || crate::cli::util::open_pr::opens_when_done(project, role);
        let waited = crate::cli::util::foreground::wait_or_interrupt(desk, id, interrupted)?;
        let mut out = Out::new();
        let code = crate::cli::util::waiting::report(&mut out, &waited, self.json);
        if opens_pr {
            out.flush()?;
            crate::cli::util::open_pr::await_open_when_done(project, id);
        }
        code
    }
}

/// A detached dispatch that was queued: its id, or (`json`) its place as docs/json.md
/// documents it.
pub(crate) fn print_queued(
    out: &mut Out,
    id: &vnx::ids::DispatchId,
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
        out.line(id.as_str())?;
    }
    Ok(ExitCode::SUCCESS)
}
