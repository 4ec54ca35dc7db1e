//! `vnx dismiss ID`: closes an ended dispatch's question without answering it, with a signed
//! `dispatch_dismissed` naming who dismissed it.

use std::process::ExitCode;

use vnx::dispatch::{dismiss, view};
use vnx::tmux::Tmux;

use super::CliError;
use super::output::{Out, escape};
use super::settings;

/// Close a dispatch's question you will not answer
///
/// For a dispatch that ended needing input (its worker asked something and stopped) when
/// you will not answer it with `vnx follow-up`: a signed `dispatch_dismissed` records who
/// dismissed it and the note, and the dispatch stops waiting for anyone (it leaves the
/// waiting count of `status`, `wait` and the dashboard). Nothing of its work changes: its
/// branch and worktree stay, to accept, merge or release later.
///
/// Refused (exit 1): a dispatch that does not ask anything (running, or ended otherwise),
/// or whose question is settled already (dismissed, continued by a follow-up, landed).
/// Exits 2 for an id that was never dispatched, 3 when the ledger could not be read.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx dismiss D-5c6d7e8f9a0b --note \"not needed after all\""
)]
pub struct Args {
    /// The dispatch id, or its start
    id: String,
    /// Why it is dismissed, recorded with it
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
    /// Print the `dispatch_dismissed` receipt as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (project, ids) = settings::project_for(std::slice::from_ref(&args.id))?;
    let ledger = project.ledger();
    let tmux = Tmux::new(settings::tmux_socket(None));
    let states = if ledger.exists() {
        view::list(&ledger, &tmux)?
    } else {
        Vec::new()
    };
    let state = super::error::named_dispatches(&states, &ids)?[0];
    let (attestor, trusted) = settings::attestation(None, &ledger)?;
    let by = settings::user();
    let receipt = dismiss::dismiss(
        &ledger,
        &attestor,
        &trusted,
        state,
        &by,
        args.note.as_deref(),
    )?;
    let mut out = Out::new();
    if args.json {
        out.json(&receipt)?;
    } else {
        out.line(&format!(
            "{}  question dismissed by {}; it waits for no one",
            receipt.dispatch_id,
            escape(&receipt.by)
        ))?;
    }
    Ok(super::error::Exit::Ok.into())
}
