//! `vnx recover ID…`: records the end of lost dispatches whose worker reported before its
//! supervisor died.

use std::process::ExitCode;

use vnx::dispatch::supervise::recover::{self, Recovery};
use vnx::dispatch::view;
use vnx::tmux::Tmux;
use vnx::worktree::Repo;

use super::CliError;
use super::output::Out;
use super::settings;

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
/// Exits 0 when every dispatch named was recovered, 1 when one was refused (not lost, no
/// sealed report, a dispatch directory changed after the start), 2 for an id never
/// dispatched, 3 when recording failed.
#[derive(clap::Args)]
pub struct Args {
    /// Dispatch ids, or their starts
    #[arg(value_name = "ID", required = true)]
    ids: Vec<String>,
    /// One JSON object per dispatch recovered
    #[arg(long)]
    json: bool,
    /// tmux socket name for dispatches whose start records none [default:
    /// $VNX_TMUX_SOCKET, else vnx]
    #[arg(long, value_name = "NAME")]
    tmux_socket: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (project, ids) = settings::project_for(&args.ids)?;
    let ledger = project.ledger();
    let tmux = Tmux::new(settings::tmux_socket(args.tmux_socket));
    let states = if ledger.exists() {
        view::list(&ledger, &tmux)?
    } else {
        Vec::new()
    };
    let chosen = super::error::named_dispatches(&states, &ids)?;
    let (attestor, trusted) = settings::attestation(None, &ledger)?;
    let repo = Repo::for_project(&project)?;
    let recovery = Recovery {
        repo: &repo,
        ledger: &ledger,
        trusted: &trusted,
        attestor: &attestor,
    };
    let mut out = Out::new();
    for s in chosen {
        let r = recover::recover(&recovery, s)?;
        if args.json {
            out.json(&r)?;
        } else {
            out.line(&format!(
                "{}  {}  teardown {}  (recovered; receipt {})",
                r.dispatch_id,
                r.status,
                r.teardown_class.map_or("-", |t| t.name()),
                &r.entry_hash[..12.min(r.entry_hash.len())]
            ))?;
        }
    }
    out.flush()?;
    Ok(super::error::Exit::Ok.into())
}
