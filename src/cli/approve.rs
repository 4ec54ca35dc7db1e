//! `vnx approve ID`: allows a blocked worker's pending permission prompt, through its CLI's
//! own mechanism where one exists, else by its key in the pane; or approves the plan a
//! dispatch of `--plan` waits with (`vnx::actions::plan`); records who answered.

use std::process::ExitCode;

use vnx::receipts::PermissionAnswer;

use super::CliError;

/// Allow a blocked dispatch's pending permission prompt
///
/// The prompt `vnx status` shows as `blocked` is allowed once. A CLI whose permission hook
/// can wait for an answer is answered through it (the decision vnx's waiting hook returns);
/// for the others the key their prompt takes is typed into the worker's pane.
/// A signed `dispatch_answered` records who answered what, and how; the request it names is
/// what a hook call in the worker's dispatch said (`request_from: worker_hook`, which the
/// worker could make itself), beside the lines of the CLI's dialog its pane showed
/// (`pane_dialog`, absent when no dialog was there).
///
/// A dispatch of `--plan` whose plan waits (`vnx show` prints it and its SHA-256) has the
/// plan approved instead: a signed `plan_approved` bound to the plan's SHA-256 (only the
/// plan whose hash --plan-sha256 names, when given), then a follow-up in the same worktree
/// and session carries it out in the role's posture, told the plan (and --message).
///
/// A dispatch stopped at its budget (`vnx show` says "budget reached: N of M tokens", or
/// "budget reached: $X of $Y" at its dollars) is raised with --budget +N (tokens) or +$X
/// (dollars) instead: a signed `budget_raised` names the new limit and who
/// raised it, then a follow-up continues the same session in the same worktree, held to the
/// raised budget with everything its chain used counted.
///
/// Exits 0 when answered, 1 when the dispatch waits for no permission decision (or no plan,
/// or a plan other than --plan-sha256's), 2 for an id that was never dispatched, 3 when the
/// worker's pane could not be reached.
#[derive(clap::Args)]
pub struct Args {
    /// With a plan: what the worker is told beside it (a prompt's approval takes none)
    #[arg(long, value_name = "TEXT")]
    message: Option<String>,
    /// For a dispatch stopped at its budget: raise it by N tokens (`+50000`, `+50k`), by X
    /// US dollars (`+$2`, `cost+2`) or both (`+50k,+$2`), and continue it
    #[arg(long, value_name = "+N|+$X", value_parser = super::util::answer::parse_raise,
          allow_hyphen_values = false, conflicts_with = "message")]
    budget: Option<vnx::dispatch::budget::Raise>,
    #[command(flatten)]
    answering: super::util::answer::Answering,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    if let Some(add) = args.budget {
        return super::util::answer::raise_one(args.answering, add);
    }
    super::util::answer::answer_one(
        args.answering,
        PermissionAnswer::Approve,
        args.message.as_deref(),
    )
}
