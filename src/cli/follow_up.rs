//! `vnx follow-up`: continues an ended dispatch with a new instruction, in its worktree, on
//! its branch and in its CLI session (the follow-up itself is `util::follow`'s, which
//! `vnx pr fix` and `vnx resume` start too).

use std::process::ExitCode;

use super::CliError;
pub use super::util::follow::Args;

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    super::util::follow::follow(args)
}
