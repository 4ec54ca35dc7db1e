//! `vnx status`: dispatches as the ledger and tmux show them.

use std::process::ExitCode;

use vnx::dispatch::view;
use vnx::tmux::Tmux;

use super::CliError;
use super::output::Out;
use super::settings;

/// List dispatches: running, blocked, stalled, done, failed, timeout or lost, with teardown
/// class and pane; a blocked one also says what it waits for
#[derive(clap::Args)]
pub struct Args {
    /// Print as JSON
    #[arg(long)]
    json: bool,
    /// tmux socket name [default: $VNX_TMUX_SOCKET, else vnx]
    #[arg(long, value_name = "NAME")]
    tmux_socket: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let project = settings::project()?;
    settings::finish_pending(&project);
    let tmux = Tmux::new(settings::tmux_socket(args.tmux_socket));
    let ledger = project.ledger();
    let states = if ledger.exists() {
        view::list(&ledger, &tmux)?
    } else {
        Vec::new()
    };
    let mut out = Out::new();
    if args.json {
        out.json(&states)?;
        return Ok(ExitCode::SUCCESS);
    }
    if states.is_empty() {
        out.line("no dispatches")?;
    }
    for s in &states {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        out.line(&format!(
            "{}  {:<11}  {:<10}  {}/{}  {}  {}",
            s.id,
            s.state,
            s.teardown_class.map_or("-", |t| t.name()),
            dash(&s.provider),
            dash(&s.model),
            dash(&s.role),
            if s.state.is_live() {
                dash(&s.session)
            } else {
                dash(&s.worktree)
            }
        ))?;
        if let Some(b) = &s.blocked {
            out.line(&format!("  waits for {}", b.describe()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
