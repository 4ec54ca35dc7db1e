//! `vnx accept ID`: accepts an ended dispatch's work as done by hand, when its worker ended
//! without `vnx report` (committing what it left uncommitted), with a signed
//! `dispatch_accepted` naming who accepted which commit.

use std::process::ExitCode;

use vnx::actions::accept;

use super::CliError;
use super::util::output::Out;

/// Accept an ended dispatch's work as done
///
/// For a dispatch whose worker ended without `vnx report` (needs_input, or failed, timeout
/// or cancelled) after you read its work (`vnx show ID --diff`) and found it good. What the
/// worker left uncommitted in its kept worktree is committed first, by vnx, as it commits
/// a reported worker's changes (the files vnx placed there left out, `VNX-Accepted-By` in
/// the message). The commit accepted is then its branch's tip, as the repository holds it; a signed
/// `dispatch_accepted` records it, who accepted (the user vnx runs as) and the note. The
/// dispatch then shows `done` (accepted by …), leaves the waiting list, and `vnx merge`
/// takes it as done: its gates still run and must pass, and a branch that moved after the
/// acceptance holds the merge.
///
/// Refused (exit 1): a dispatch still running (wait, or cancel it), one that reported done,
/// was accepted (at the same head), merged, released or continued by a follow-up; the
/// phantom guard: a role that writes files (`roles.<role>.writes`) with nothing committed
/// beyond its base; a kept worktree vnx cannot commit in (on a host, its HEAD off the
/// dispatch branch, or its `.git` pointed elsewhere). Exits 2 for an id that was never dispatched, 3 when git or the ledger could not be
/// read.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx accept D-4b5c6d7e8f9a --note \"read the diff; tests pass\""
)]
pub struct Args {
    /// The dispatch id, or its start
    id: String,
    /// Why the work is accepted, recorded with it
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
    /// Print the `dispatch_accepted` receipt as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (project, ids) = crate::cli::util::ids::project_for(std::slice::from_ref(&args.id))?;
    let receipt = super::util::context::desk_in(&project, None, None, |desk| {
        Ok(accept::accept(desk, &ids[0], args.note.as_deref())?)
    })?;
    let lines = accept::lines(&receipt);
    Out::new().recorded(args.json, &receipt, &receipt.dispatch_id, &lines)?;
    Ok(super::util::error::Exit::Ok.into())
}
