//! `vnx follow-up`: continues an ended dispatch with a new instruction, in its worktree, on
//! its branch and in its CLI session (the library's `actions::follow_up`, started here or on
//! the dispatch's host by `util::follow`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use vnx::actions::follow_up::FollowUp;

use super::CliError;
use super::util::ids::check_dispatch_id;
use super::util::launch::{Started, read_instruction};
use super::util::settings;

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
#[derive(clap::Args)]
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
    repeat: super::util::launch::Repeat,
    /// Seconds without a sign of life before the worker is reported stalled
    #[arg(long, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=vnx::dispatch::MAX_DEADLINE_SECS))]
    stall_after: Option<u64>,
    /// Hold the follow-up to a budget while it runs, its chain's usage counted:
    /// `tokens=N`, `cost=X` or both [default: the budget of the dispatch it continues]
    #[arg(long, value_name = "tokens=N,cost=X",
          value_parser = super::util::launch::parse_budget)]
    budget: Option<vnx::receipts::Budget>,
    /// Use this id for the follow-up instead of a fresh one
    #[arg(long = "new-id", value_name = "ID")]
    new_id: Option<String>,
    /// --sandbox/--no-sandbox [default: as the continued dispatch ran], --network
    #[command(flatten)]
    sandbox: super::util::launch::SandboxFlags,
    #[command(flatten)]
    started: Started,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    check_dispatch_id(&args.id)?;
    let new_id = super::util::ids::new_dispatch_id(args.new_id.as_deref())?;
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
    let id = super::util::ids::dispatch_id(&project, &args.id)?;
    let (overrides, override_reasons) = settings::constraint_overrides();
    let asked = FollowUp {
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
        budget: args.budget.clone(),
        ..FollowUp::of(id)
    };
    super::util::follow::start(&project, &asked, &args.started, args.tmux.tmux_socket)
}
