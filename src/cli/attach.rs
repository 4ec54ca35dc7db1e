//! `vnx attach ID`: attaches the terminal to a running dispatch's tmux pane.

use std::process::ExitCode;

use vnx::tmux::Tmux;

use super::CliError;
use super::settings;

/// Attach this terminal to a running dispatch's pane (detach with C-b d)
#[derive(clap::Args)]
pub struct Args {
    /// The dispatch id
    id: String,
    /// tmux socket name [default: $VNX_TMUX_SOCKET, else vnx]
    #[arg(long, value_name = "NAME")]
    tmux_socket: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    super::error::check_dispatch_id(&args.id)?;
    let tmux = Tmux::new(settings::tmux_socket(args.tmux_socket));
    let session = format!("vnx-{}", args.id);
    if !tmux.has_session(&session) {
        return Err(
            CliError::new(format!("dispatch {} has no running pane", args.id))
                .with_hint("`vnx status` lists dispatches; a finished one has no pane"),
        );
    }
    let err = vnx::process::exec(&tmux.attach_cmd(&session));
    Err(CliError::from_error(&err).context("could not attach to tmux"))
}
