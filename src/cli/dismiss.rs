//! `vnx dismiss ID… | --all-asking | --all-answered`: closes ended dispatches' questions
//! without answering them, each with a signed `dispatch_dismissed` naming who dismissed it.

use std::process::ExitCode;

use vnx::actions::dismiss;
use vnx::dispatch::dismiss::Selection;

use super::CliError;
use super::util::error::Exit;
use super::util::output::{Out, say};

/// Close dispatches' questions you will not answer
///
/// For a dispatch that ended needing input (its worker asked something and stopped) when
/// you will not answer it with `vnx follow-up`: a signed `dispatch_dismissed` records who
/// dismissed it and the note, and the dispatch stops waiting for anyone (it leaves the
/// waiting count of `status`, `wait` and the dashboard). Nothing of its work changes: its
/// branch and worktree stay, to accept, merge or release later (`vnx tidy` keeps unlanded
/// work too, and says so).
///
/// Name the dispatches, or select them: --all-asking takes every question that waits,
/// --all-answered only those whose worker's last message asks nothing (lists label it
/// `said`: the worker answered and stopped without reporting). A failed or timed-out
/// dispatch asks nothing and waits for no one: no selection takes it.
///
/// Refused (exit 1): a dispatch named that does not ask anything (running, or ended
/// otherwise), or whose question is settled already (dismissed, continued by a follow-up,
/// landed); the others named are still dismissed. Exits 2 for an id that was never
/// dispatched, or nothing named, 3 when the ledger could not be read.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx dismiss D-5c6d7e8f9a0b --note \"not needed after all\"\n  $ vnx dismiss --all-answered"
)]
pub struct Args {
    /// The dispatch ids, or their starts
    #[arg(value_name = "ID")]
    ids: Vec<String>,
    /// Every ended dispatch whose question waits
    #[arg(long)]
    all_asking: bool,
    /// Every ended dispatch whose question waits and whose worker's last message asks
    /// nothing (it answered, and did not report)
    #[arg(long, conflicts_with = "all_asking")]
    all_answered: bool,
    /// Why they are dismissed, recorded with each
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
    /// Print each `dispatch_dismissed` receipt as a JSON line
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let selection = match (args.all_asking, args.all_answered) {
        (true, _) => Some(Selection::Asking),
        (_, true) => Some(Selection::Answered),
        _ => None,
    };
    if args.ids.is_empty() && selection.is_none() {
        return Err(CliError::usage("nothing named to dismiss").with_hint(
            "name dispatches (`vnx dismiss ID…`) or select them (`--all-asking`, \
             `--all-answered`)",
        ));
    }
    let (project, ids) = crate::cli::util::ids::project_for(&args.ids)?;
    let which = dismiss::Which { ids, selection };
    let dismissed = super::util::context::desk_in(&project, None, None, |desk| {
        Ok(dismiss::dismiss(desk, &which, args.note.as_deref())?)
    })?;
    if dismissed.is_empty() {
        say!("no question waits to be dismissed");
        return Ok(Exit::Ok.into());
    }
    let mut out = Out::new();
    let mut worst = Exit::Ok;
    let several = dismissed.len() > 1;
    for (_, done) in dismissed {
        let receipt = match done {
            Ok(r) => r,
            // One refusal stops nothing: each of the others is its own decision.
            Err(e) if several => {
                let e = CliError::from(e);
                e.report();
                worst = worst.max(e.exit_status());
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let line = [dismiss::line(&receipt)];
        out.recorded(args.json, &receipt, &receipt.dispatch_id, &line)?;
    }
    Ok(worst.into())
}
