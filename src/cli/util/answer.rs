//! A blocked dispatch's pending prompt answered (`vnx approve`, `vnx deny`): the library's
//! action (`vnx::actions::answer`) done at the project's desk, its receipt rendered.

use std::process::ExitCode;

use vnx::actions::answer;
use vnx::receipts::PermissionAnswer;

use crate::cli::CliError;
use crate::cli::util::output::{Out, escape, say};

/// What `vnx approve` and `vnx deny` both take.
#[derive(clap::Args)]
pub struct Answering {
    /// The dispatch id
    id: String,
    /// Print the `dispatch_answered` receipt as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tmux: crate::cli::util::settings::TmuxSocket,
}

/// Answers the dispatch's pending prompt (`vnx approve` and `vnx deny`).
pub(crate) fn answer_one(
    args: Answering,
    decision: PermissionAnswer,
    message: Option<&str>,
) -> Result<ExitCode, CliError> {
    let (project, ids) = crate::cli::util::ids::project_for(&[args.id])?;
    let receipt =
        crate::cli::util::context::desk_in(&project, args.tmux.tmux_socket, None, |desk| {
            Ok(answer::answer(desk, &ids[0], decision, message)?)
        })?;
    let mut out = Out::new();
    if args.json {
        out.json(&receipt)?;
        return Ok(crate::cli::util::error::Exit::Ok.into());
    }
    // The whole id, not the prefix typed.
    let id = &receipt.dispatch_id;
    out.line(&format!("{id}  {}", escape(&answer::line(&receipt))))?;
    // The request is what a hook call in the worker's dispatch said; the pane is what vnx
    // could look at.
    match &receipt.pane_dialog {
        Some(dialog) => {
            out.line("  its pane showed:")?;
            for line in dialog.lines() {
                out.line(&format!("    {}", escape(line)))?;
            }
        }
        None => say!(
            "warning: no permission dialog was on {id}'s pane: {} is only what a hook call in \
             its dispatch said, which its worker can make itself (the receipt records no \
             pane_dialog)",
            answer::what(&receipt)
        ),
    }
    Ok(crate::cli::util::error::Exit::Ok.into())
}
