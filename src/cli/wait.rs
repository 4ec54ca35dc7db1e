//! `vnx wait`: blocks until dispatches have completion receipts.

use std::process::ExitCode;
use vnx::ids::DispatchId;

use vnx::dispatch::view::{self};
use vnx::tmux::Tmux;

use super::CliError;
use super::util::settings;
use super::util::waiting::{UntilPr, Waiting};

/// Wait for dispatches to complete
///
/// Exits 0 when every dispatch completed with status done, 1 otherwise (failed, needs input,
/// timed out, cancelled, its supervisor was lost, the phantom guard corrected a `done` of a
/// writing role that changed nothing, the id was never dispatched, or, with
/// --until-blocked, it is blocked). With --json each dispatch prints one object: its
/// `dispatch_id`, its `status`, and the receipts that settled it as the ledger holds them
/// (`completion`, the phantom guard's `correction`, or `blocked`), and its pull request
/// (`pr`, as `vnx status --json` shows it) when it has one.
///
/// With --all, the dispatches waited for are every one running (also blocked or stalled)
/// or queued when the wait starts, named on stderr: each is printed as it ends, and the wait
/// returns when the last has (none running: nothing to wait for, exit 0).
///
/// With --until-pr, each dispatch that ended done is then waited on through its pull
/// request, read through the shared forge cache at most once per `forge.refresh_seconds`;
/// each change is printed as it arrives, and the exit says what came of it.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx wait D-6a7b8c9d0e1f --until-pr merged")]
pub struct Args {
    /// Dispatch ids, or their starts
    #[arg(
        value_name = "ID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    ids: Vec<String>,
    /// Every dispatch running (also blocked or stalled) or queued when the wait starts
    #[arg(long)]
    all: bool,
    /// One JSON object per dispatch as it settles (NDJSON)
    #[arg(long)]
    json: bool,
    /// Also return when a dispatch is blocked: its worker waits for a permission answer
    /// (give it with `vnx approve ID` or `vnx deny ID`)
    #[arg(long)]
    until_blocked: bool,
    /// Then wait on each done dispatch's pull request: `checks` (until they are all done:
    /// exit 1 if any failed), `merged` (until merged, or closed: exit 1) or `review` (until
    /// a new review decision, review or comment: exit 1 unless approved)
    #[arg(
        long,
        value_enum,
        value_name = "WHAT",
        conflicts_with = "until_blocked"
    )]
    until_pr: Option<UntilPr>,
    /// Give up after this many seconds; the dispatches still running are printed as such
    /// (exit 1)
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (project, named) = super::util::ids::project_for(&args.ids)?;
    let ids = if args.all {
        let tmux = Tmux::new(settings::tmux_socket(args.tmux.tmux_socket.clone()));
        let running = running(&project, &tmux)?;
        if running.is_empty() {
            super::util::output::say!("nothing is running: no dispatch to wait for");
            return Ok(super::util::error::Exit::Ok.into());
        }
        super::util::output::say!(
            "waiting for {} running or queued: {}",
            running.len(),
            running
                .iter()
                .map(DispatchId::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        );
        running
    } else {
        named
    };
    super::util::waiting::wait_for(
        &project,
        &ids,
        &Waiting {
            json: args.json,
            until_blocked: args.until_blocked,
            until_pr: args.until_pr,
            timeout: args.timeout,
            tmux_socket: args.tmux.tmux_socket,
        },
    )
}

/// The dispatches `--all` waits for: every one running (also blocked or stalled) or queued
/// now, in the order `vnx status` lists them.
fn running(project: &vnx::project::Project, tmux: &Tmux) -> Result<Vec<DispatchId>, CliError> {
    let ledger = project.ledger();
    if !ledger.exists() {
        return Ok(Vec::new());
    }
    Ok(view::list(&ledger, tmux)?
        .into_iter()
        .filter(|s| s.state.is_live() || s.state == view::State::Queued)
        .map(|s| s.id)
        .collect())
}
