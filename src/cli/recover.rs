//! `vnx recover ID…`: records the end of lost dispatches whose worker reported before its
//! supervisor died.

use std::process::ExitCode;

use vnx::actions::Desk;

use super::CliError;
use super::util::context::desk_in;
use super::util::error::Exit;
use super::util::output::Out;

/// Record the end of lost dispatches from their workers' sealed reports
///
/// A dispatch is lost when its supervisor died (killed, the machine restarted) before it
/// recorded the end. If its worker had already run `vnx report`, the report is still there,
/// sealed for that dispatch with a secret only vnx's signing key makes: `recover` checks the
/// seal, then does what the supervisor would have done — commits a done worker's changes on
/// the dispatch branch, classifies and releases the worktree (work is never destroyed),
/// applies the phantom guard — and appends the signed `dispatch_completed`, marked
/// `recovered`. A dispatch without a sealed report is refused: close it with `vnx cancel`.
///
/// Every id named is tried, whatever became of the ones before it; each refusal is said on
/// stderr. Exits 0 when every dispatch named was recovered, 1 when one was refused (not
/// lost, no sealed report), 2 for an id never dispatched, 3 when recording failed (the
/// highest of these).
#[derive(clap::Args)]
pub struct Args {
    /// Dispatch ids, or their starts
    #[arg(value_name = "ID", required = true)]
    ids: Vec<String>,
    /// One JSON object per dispatch recovered
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (project, ids) = crate::cli::util::ids::project_for(&args.ids)?;
    desk_in(&project, args.tmux.tmux_socket, None, |desk| {
        let states = desk.states()?;
        let chosen = Desk::named(&states, &ids)?;
        let mut out = Out::new();
        let mut worst = Exit::Ok;
        for r in vnx::actions::recover::recover(desk, &chosen)? {
            match r {
                Ok(r) if args.json => {
                    out.json(&r)?;
                }
                Ok(r) => {
                    out.line(&crate::cli::util::pending::recovered_line(&r))?;
                }
                Err(e) => {
                    // Said in its turn: one refusal stops nothing else.
                    let e = CliError::from(e);
                    out.flush()?;
                    worst = worst.max(e.exit_status());
                    let _ = e.report();
                }
            }
        }
        out.flush()?;
        Ok(worst.into())
    })
}
