//! `vnx deny ID`: refuses a blocked worker's pending permission prompt, as `vnx approve`
//! allows one, or sends the plan a dispatch of `--plan` waits with back; records who
//! answered.

use std::process::ExitCode;

use vnx::receipts::PermissionAnswer;

use super::CliError;

/// Refuse a blocked dispatch's pending permission prompt
///
/// The prompt `vnx status` shows as `blocked` is refused. A CLI whose permission hook can
/// wait for an answer is answered through it (the worker is told `--message`, or that a
/// person said no); the others by the key that refuses in their pane. A signed
/// `dispatch_answered`
/// records who answered what, and how.
///
/// A dispatch of `--plan` whose plan waits has the plan sent back instead: a signed
/// `plan_denied` with --message, then a follow-up in the same worktree and session plans
/// again, still read-only, told why.
///
/// Exits 0 when answered, 1 when the dispatch waits for no permission decision (or no plan,
/// or a plan other than --plan-sha256's), 2 for an id that was never dispatched, 3 when the
/// worker's pane could not be reached.
#[derive(clap::Args)]
pub struct Args {
    /// What the worker is told, where its CLI takes text with a refusal (through its hook), or
    /// with a plan sent back
    #[arg(long, value_name = "TEXT")]
    message: Option<String>,
    #[command(flatten)]
    answering: super::util::answer::Answering,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    super::util::answer::answer_one(
        args.answering,
        PermissionAnswer::Deny,
        args.message.as_deref(),
    )
}
