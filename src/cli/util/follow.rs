//! A follow-up: an ended dispatch continued with a new instruction, in its worktree, on its
//! branch and in its CLI session (`vnx follow-up`, and `vnx pr fix` and `vnx resume`, which
//! give it their own instruction), here or on the host the dispatch ran on.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use vnx::ids::DispatchId;

use vnx::actions::follow_up::{self, FollowUp, Told};

use crate::cli::CliError;
use crate::cli::util::context::desk_in;
use crate::cli::util::ids::check_dispatch_id;
use crate::cli::util::launch::{Started, read_instruction};
use crate::cli::util::output::{escape, say};
use crate::cli::util::settings;

/// Continue a dispatch with a new instruction, in the same worktree, branch and CLI session
///
/// Starts a new dispatch (its own id, receipts and report) that works on the branch and in
/// the worktree of the dispatch it continues, and resumes the CLI session that dispatch
/// recorded (each CLI's own way to resume, where it has one), so the worker sees the
/// earlier turns. Works after done, failed, needs_input, timeout and cancelled; a blocked
/// dispatch is cancelled first. Its `dispatch_started` names the dispatch it continues. A
/// dispatch whose branch was merged or released cannot be continued, nor one a later
/// follow-up continued already.
///
/// Provider, role and skills are the continued dispatch's; model, lane, posture and deadline
/// are too unless given. Without a recorded session (or for a CLI that cannot resume), the
/// worker starts a new session and is told the earlier instruction.
///
/// With --rebase, vnx first merges the base's current head into the branch in its worktree
/// (a merge the merge queue took out for a conflict is the usual reason), leaves conflicts
/// there with their markers, and tells the worker which files conflict and what changed on
/// the base; the worker finishes the merge and vnx commits it when it reports done. The
/// instruction is then optional (it is added to vnx's). The follow-up's `dispatch_started`
/// records the merge and the conflict it answers.
#[derive(clap::Args, Default)]
#[command(
    after_long_help = "Examples:\n  $ vnx follow-up D-5e6f7a8b9c0d --model commit --instruction \"in English, please\"\n  $ vnx follow-up D-0e1f2a3b4c5d --rebase"
)]
pub struct Args {
    /// The dispatch to continue (an id, or its start)
    #[arg(value_name = "ID")]
    id: String,
    /// The new instruction, as text
    #[arg(long, value_name = "TEXT", conflicts_with = "instruction_file")]
    instruction: Option<String>,
    /// The new instruction, from a file
    #[arg(long, value_name = "FILE")]
    instruction_file: Option<PathBuf>,
    /// Merge the base's current head into the branch first and have the worker resolve
    /// what conflicts
    #[arg(long)]
    rebase: bool,
    /// With --rebase, the branch to bring in [default: the one whose merge conflicted, else
    /// the dispatch's base]
    #[arg(long, value_name = "BRANCH", requires = "rebase")]
    base_ref: Option<String>,
    /// A short title for lists [default: the continued dispatch's title, else the
    /// instruction's first non-empty line]
    #[arg(long, value_name = "TEXT")]
    title: Option<String>,
    #[command(flatten)]
    repeat: crate::cli::util::launch::Repeat,
    /// Seconds without a sign of life before the worker is reported stalled
    #[arg(long, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=vnx::dispatch::MAX_DEADLINE_SECS))]
    stall_after: Option<u64>,
    /// Use this id for the follow-up instead of a fresh one
    #[arg(long = "new-id", value_name = "ID")]
    new_id: Option<String>,
    /// --sandbox/--no-sandbox [default: as the continued dispatch ran], --network
    #[command(flatten)]
    sandbox: crate::cli::util::launch::SandboxFlags,
    #[command(flatten)]
    started: Started,
    #[command(flatten)]
    tmux: crate::cli::util::settings::TmuxSocket,
}

/// A follow-up another command starts with an instruction of its own (`vnx pr fix`, `vnx
/// resume`): the rest is as `vnx follow-up` would take it without those flags.
pub(crate) struct Asked {
    /// The dispatch it continues.
    pub(crate) id: DispatchId,
    /// Its own id, when the caller chose it.
    pub(crate) new_id: Option<DispatchId>,
    /// Its title.
    pub(crate) title: String,
    /// Its instruction.
    pub(crate) instruction: String,
    /// How it is started: detached or waited for, JSON or text, its pull request opened
    /// when done.
    pub(crate) started: Started,
    /// `--tmux-socket`.
    pub(crate) tmux_socket: Option<String>,
}

/// Starts the follow-up `asked` for, as [`follow`] does.
pub(crate) fn follow_asked(asked: Asked) -> Result<ExitCode, CliError> {
    let args = Args {
        id: asked.id.to_string(),
        title: Some(asked.title),
        started: asked.started,
        tmux: crate::cli::util::settings::TmuxSocket {
            tmux_socket: asked.tmux_socket,
        },
        ..Args::default()
    };
    let project = settings::project()?;
    continue_with(&project, args, asked.id, asked.new_id, asked.instruction)
}

/// Continues the dispatch `args` names with its new instruction (`vnx follow-up`).
pub fn follow(args: Args) -> Result<ExitCode, CliError> {
    check_dispatch_id(&args.id)?;
    let new_id = crate::cli::util::ids::new_dispatch_id(args.new_id.as_deref())?;
    let instruction =
        if args.rebase && args.instruction.is_none() && args.instruction_file.is_none() {
            String::new()
        } else {
            read_instruction(
                args.instruction.as_deref(),
                args.instruction_file.as_deref(),
            )?
        };
    let project = settings::project()?;
    let id = crate::cli::util::ids::dispatch_id(&project, &args.id)?;
    continue_with(&project, args, id, new_id, instruction)
}

/// Continues dispatch `id` (as `args` asks) in a follow-up with this id and instruction:
/// here, or on the host it ran on.
fn continue_with(
    project: &vnx::project::Project,
    args: Args,
    id: DispatchId,
    new_id: Option<DispatchId>,
    instruction: String,
) -> Result<ExitCode, CliError> {
    let args = Args {
        id: id.to_string(),
        ..args
    };
    if let Some(host) = crate::cli::util::hosts::host_of(project, &id)? {
        if args.rebase {
            return Err(CliError::usage(format!(
                "{id} ran on {}: --rebase brings only a local dispatch onto its base",
                host.name
            )));
        }
        return crate::cli::util::remote::dispatch(
            &host.name,
            remote_request(&args, new_id, instruction),
            None,
            args.started.detach,
            args.started.json,
        );
    }
    let (overrides, override_reasons) = settings::constraint_overrides();
    let asked = FollowUp {
        id,
        new_id,
        instruction,
        rebase: args.rebase.then(|| args.base_ref.clone()),
        title: args.title.clone(),
        model: args.repeat.model.clone(),
        lane: args.repeat.lane.map(Into::into),
        permission: args.repeat.permission.map(Into::into),
        deadline_secs: args.repeat.deadline,
        stall_after: args.stall_after.map(Duration::from_secs),
        sandbox: args.sandbox.sandbox(),
        network: args.sandbox.network(),
        overrides,
        override_reasons,
        open_pr: args.started.open_pr,
    };
    crate::cli::util::pending::finish_pending(project);
    desk_in(project, args.tmux.tmux_socket.clone(), None, |desk| {
        args.started.launch(desk, |note| {
            Ok(follow_up::follow_up(desk, &asked, &|told| match told {
                Told::Start(n) => note(n),
                other => say!("{}", escape(&other.line())),
            })?)
        })
    })
}

/// The follow-up as the host's `vnx follow-up` takes it.
fn remote_request(
    args: &Args,
    id: Option<DispatchId>,
    instruction: String,
) -> vnx::remote::RemoteRequest {
    use clap::ValueEnum;
    let mut a: Vec<String> = vec!["--instruction".into(), instruction];
    let mut opt = |flag: &str, v: Option<String>| {
        if let Some(v) = v {
            a.push(flag.into());
            a.push(v);
        }
    };
    opt("--model", args.repeat.model.clone());
    // Only when given: a host's vnx from before titles takes none.
    opt("--title", args.title.clone());
    opt(
        "--lane",
        args.repeat
            .lane
            .and_then(|l| l.to_possible_value())
            .map(|p| p.get_name().to_owned()),
    );
    opt(
        "--permission",
        args.repeat
            .permission
            .and_then(|p| p.to_possible_value())
            .map(|p| p.get_name().to_owned()),
    );
    opt("--deadline", args.repeat.deadline.map(|d| d.to_string()));
    opt("--stall-after", args.stall_after.map(|d| d.to_string()));
    a.extend(args.sandbox.forwarded());
    vnx::remote::RemoteRequest {
        id,
        base_ref: String::new(),
        args: a,
        follows: Some(args.id.clone()),
        base_commit: None,
    }
}
